"""The plan vocabulary, and the one boundary between a plan, which holds functions, and what results and the run
store keep: short names.

The words experiments.py states its plans in: run (one curve: model and training settings), heatmap (a grid of runs),
cell_settings, settings_of and selects (which planned runs have given settings), shrink (a plan cut to --quick's
caps), chart and section (the functions that draw a plan's PNG and write its part of the report); ConstantError, what
a constant no run can use raises (machinery/checks.py checks the constants).

A plan holds its "after" hook, chart, section and keep step as functions (a hook with its arguments bound by
functools.partial). A result JSON, a run's store key and a measurement's key keep each by its short name,
fn.__name__, so moving a function to another file changes no key: recorded() is where a plan becomes what is kept.

The plan format (what an experiment function of experiments.py returns; source.py runs it, machinery/runner.py caches
it):

    {"title": str,            # its {setting} fields ({maxlen}, {num_layers}, ...) are its first run's (runner.planned)
     "runs": [{"label": str, "model": ModelConfig fields, "train": train.train_run settings,   # run(label, ...)
               "after": hook}, ...],   # optional, per run: partial(fn, **args) or fn
     "seeds": N,               # optional: its number of seeds when --seeds is not given (default SEEDS)
     "stop_at_exact": True,    # optional: each run ends at its first exact evaluation (a heatmap's runs do)
     "heatmap": {...},         # optional: a grid of runs (heatmap())
     "chart": fn, "section": fn,   # optional: its own chart and report section (chart(), section(): else the defaults)
     "keep": fn}               # optional: keep(result, out_dir) writes a file its hooks made (a certificate) beside it

A hook is called as hook(model, state, run, seed) on each trained model (state: the one a carry-mode training ended
with, else None); its JSON-ready return is stored per seed as the series' "extra". A chart draws plots/<id>.png and a
section writes the experiment's part of plots/README.md in place of the default line chart and table. --quick shrinks
every plan to experiments.QUICK's caps (runner.planned calls shrink).
"""
from functools import partial

import plot
from judge import tables
from models import MODEL_KEYS, ModelConfig
from train import DEFAULTS, SETTINGS, check_settings


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


class ConstantError(ValueError):
    """A constant of experiments.py holds a value no run can use; the message names it, its value and what is
    allowed."""


def settings_of(run):
    """A planned run's settings, as a result's series stores them."""
    return {**run["model"], **run["train"]}


TRAIN_DEFAULTS = {k: v for k, v in DEFAULTS.items() if k in SETTINGS}  # what a run leaves unset


def selects(sel, run):
    """Whether a planned run has every setting of `sel` (a setting it leaves unset has train_run's default)."""
    have = {**TRAIN_DEFAULTS, **settings_of(run)}
    return all(k in have and have[k] == v for k, v in sel.items())


def run(label, **settings):
    """One curve: ModelConfig fields go to the model, the rest to train.train_run."""
    try:
        model = ModelConfig(**{k: v for k, v in settings.items() if k in MODEL_KEYS}).to_dict()
        train = check_settings({"milestones": [], **{k: v for k, v in settings.items() if k not in MODEL_KEYS}})
    except ValueError as e:
        raise ConstantError(f"run {label!r}: {e}") from None
    return {"label": label, "model": model, "train": train}


def heatmap(title, rows, cols, row_name, col_name, cap, make):
    """A grid of runs, make(row, col) -> settings; each cell: median first step at accuracy 1.0."""
    rows, cols = list(rows), list(cols)
    runs = [run(f"{row_name}={r}, {col_name}={c}", steps=cap, **make(r, c)) for r in rows for c in cols]
    return {"title": title, "runs": runs,
            "heatmap": {"rows": rows, "cols": cols, "row_name": row_name, "col_name": col_name, "cap": cap}}


def cell_settings(cell, nl):
    """A (cell, nonlinearity) pair as run settings (None: relu)."""
    return {"cell": cell, "nonlinearity": nl or "relu"}


def shrink(plan, caps, eval_size):
    """A plan shrunk to --quick's caps (experiments.QUICK: {"steps", "every", "maxlen_div"}) and at most eval_size
    held-out sums per evaluation (labels kept, so the chart still names the settings)."""
    runs = []
    for r in plan["runs"]:
        t = dict(r["train"])
        scale = caps["steps"] / t["steps"]
        t.update(steps=min(t["steps"], caps["steps"]), maxlen=max(1, round(t["maxlen"] / caps["maxlen_div"])),
                 loss_every=caps["every"], eval_every=caps["every"],
                 eval_size=min(t.get("eval_size", eval_size), eval_size),
                 milestones=sorted({max(1, round(m * scale)) for m in t["milestones"]}))
        if r.get("after"):  # the measurement shrinks itself (its test lengths, sums) when told it is quick
            r = {**r, "after": partial(r["after"], quick=True)}
        runs.append({**r, "train": t})
    plan = {**plan, "runs": runs}
    if "heatmap" in plan:
        plan["heatmap"] = {**plan["heatmap"], "cap": caps["steps"]}
    return plan


def chart(plan):
    """The function that draws a plan's plots/<id>.png: its own "chart", else the line chart (plot.draw)."""
    return plan.get("chart", plot.draw)


def section(plan):
    """The function that writes a plan's part of plots/README.md: its own "section", else the table (tables.section)."""
    return plan.get("section", tables.section)
