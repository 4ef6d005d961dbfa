"""Why is the adder add.py ships right at every length? The interval-box proof (proof.py: one step's image of a
box, the search for boxes and their check), what it reasons about (abstraction.py: the model as float64 arrays and
the contexts), the float32 arithmetic it holds for (rounding.py: the error bound every box is widened by and the
assumptions a certificate records), the second checker written apart from it (recheck.py), the certificate file
(certificate_file.py: its format and reader; certificate.py: writing one and re-checking it from the file alone,
`python -m proof.certificate FILE`), the measurement behind the checkers' tanh allowance (tanh_error.py) and the
floor, a 2-unit adder built by a rule and proven (constructed.py). It imports only the core (models); the
experiments that search for provable models live in measures/exact/ and measures/smallest/."""
