"""How small can a provable adder be? small_adder: adders of a few units trained by routes, their readout fitted by
a linear program (small.py, readout.py, small_report.py); exact_frontier: a proven adder pruned unit by unit
(prune.py), its units to cut shrunk first (shrink.py), re-hardened and re-proven after each cut (frontier.py), its
chart, section and certificates (frontier_report.py). Built on measures/exact/ (suite, hardening, verdicts) and
proof/."""
