"""The one boundary between a plan, which holds functions, and what results and the run store keep: short names.

A plan (experiments.py) holds its "after" hook, chart, section and keep step as functions (a hook with its arguments
bound by functools.partial). A result JSON, a run's store key and a measurement's key keep each by its short name,
fn.__name__, so moving a function to another file changes no key: recorded() is where a plan becomes what is kept.
"""
from functools import partial


def function(fn):
    """The function itself of a plan's hook, chart or section (a functools.partial: the function it binds)."""
    return fn.func if isinstance(fn, partial) else fn


def short(fn):
    """The short name a result and the store keep for a function: its __name__."""
    return function(fn).__name__


def after(hook):
    """A run's "after" hook as results and store keys keep it: {"fn": short name, "args": its bound arguments}."""
    if hook is None:
        return None
    return {"fn": short(hook), "args": dict(hook.keywords) if isinstance(hook, partial) else {}}


def hooks(runs):
    """{short name: function} of the "after" hooks of planned runs (what machinery/fingerprint.py fingerprints)."""
    return {short(r["after"]): function(r["after"]) for r in runs if r.get("after")}


def recorded(plan):
    """The plan as a result records it: each run's hook, and the chart, section and keep step, by short name."""
    runs = [{**r, "after": after(r["after"])} if r.get("after") else r for r in plan["runs"]]
    return {**plan, "runs": runs, **{k: short(plan[k]) for k in ("chart", "section", "keep") if k in plan}}


def stops_at_exact(plan):
    """Whether each run of a plan (or of a result's config) ends at its first exact evaluation: a heatmap plan's
    runs do (a cell is its first exact step), and so do those of a plan that says stop_at_exact."""
    return bool(plan.get("stop_at_exact") or plan.get("heatmap"))
