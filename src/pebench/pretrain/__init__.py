"""Pretraining the embedded tiny base (`pebench pretrain`) and the base shipped with the package."""
