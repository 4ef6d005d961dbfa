"""Measurements of trained models, one module per family: its "after" hook, chart and section (planned in
experiments.py); the exact_adder study in exact/, the smallest provable adders (small_adder, exact_frontier) in
smallest/."""
