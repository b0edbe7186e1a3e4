"""The recipe of `pebench run`: the protocol top to bottom (`pipeline`), its stages (`foundation`,
`training`, `probing`), how a stage is stored or reused (`stage_io`), the stage keys (`keys`) and
what the run shares with its stages (`context`)."""
