"""The exact_adder study: the worst-case suite (exact.py), the attack (adversary.py), the proof attempt (proof.py),
their hook (evaluate.py) and their chart and section (exact_report.py)."""
