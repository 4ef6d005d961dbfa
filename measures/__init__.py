"""Measurements of trained models, one module per family: its "after" hook, chart and section (planned in
experiments.py)."""
