"""Judging: the statistics (stats.py), per-series numbers and the default section (tables.py) and the vocabulary
a part of a verdict is stated in (parts.py). Below measures/ and report/: it imports only the core (plot), so any
measure's section and the claims can say "X faster than Y (paired t ...)" in one call."""
