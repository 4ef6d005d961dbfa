"""The exact_adder study: is a trained adder exact on its worst cases? The worst-case suite (exact.py) and its sum
families (families.py), failing sums kept in full (sums.py), the attack (adversary.py), hardening (harden.py), the
hook that runs them and the proof (evaluate.py), per-seed verdicts and kept certificates (verdicts.py), the chart and
section (exact_report.py). The proof itself is in proof/."""
