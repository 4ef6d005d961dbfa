"""The report: the source's claims judged (claims.py), their statistics (stats.py), per-series numbers and the
default section (tables.py), fidelity to the source code and report (fidelity.py)."""
