"""The report, plots/README.md (page.py): the source's claims (claims.py) judged by their rules (rules.py,
rules_task.py, rules_training.py), what each verdict survives (robust.py), the claims on the page (answers.py), the
margin as a curve (margins.py), findings across experiments (findings.py), verdicts under another numerics family
(other_numerics.py), fidelity to the source code and report (fidelity.py). The tests and the vocabulary they are
stated in live below, in judge/."""
