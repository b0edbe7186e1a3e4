"""The data: fictitious persons from the paper's pools, its 40 events, captions and questions,
renderers (procedural, flux), the dataset directory (build, load, card) and the release importer."""
