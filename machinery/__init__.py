"""The machinery that plans, runs and caches: the plan vocabulary (plans.py) and the constants' checks (checks.py),
the runner, the run store, code fingerprints, numerics, the Ray cluster. Nothing here decides a number."""
