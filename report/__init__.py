"""The report: the source's claims judged (claims.py), what each verdict survives (robust.py), findings across
experiments (findings.py), fidelity to the source code and report (fidelity.py). The tests and the vocabulary
they are stated in live below, in judge/."""
