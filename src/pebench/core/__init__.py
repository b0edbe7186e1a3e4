"""What every part of pebench uses: errors, registries, atomic file I/O, progress and logging,
the process group of a multi-process launch, and the code and environment fingerprints that
stage keys hold."""
