"""The machinery that runs and caches: the runner, the run store, code fingerprints, numerics, the Ray cluster.
Nothing here decides a number."""
