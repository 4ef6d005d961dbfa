"""Source code vs this project: what the source study's code ran, what this project ran, and where they differ.

SOURCE is a fixed table of facts about the source code (`../shared/seed/source-code/handout/pt.py`, one entry per
experiment, naming the function it comes from; where the code has no function, the report's figure and text),
written in this project's setting names. "Ours" is always read from a stored result's settings, so the comparison
is of what was actually run. SOURCE_FIGURES holds numbers read off the report's figures (report.pdf), not computed.

section(results) writes the report's "Source code vs this project" section; claim_notes(results) gives, per claim
id, a sentence for the claims table where the source's figure and ours lead a reader to different conclusions.
Every number about our runs in either is computed from `results` (id -> result JSON, as page.write_report loads
them).

Over 300 lines: the fixed tables (SOURCE, SOURCE_FIGURES: about 50 lines) and one short note per claim where the
source's figure and ours differ, each reading the same results; they sit together so one file answers "what did
the source run".
"""
import json
import math
import statistics

import plot
from measures.cost import SOURCE_RESET

SOURCE_EVERY = SOURCE_RESET  # the source evaluates (and records a loss) when step % 50 == 0: after 1, 51, ... updates
SOURCE_EVAL_SUMS = 200  # fresh test sums drawn for every evaluation by the source's evaluate()
C1_STEPS = 200  # the report's "accuracy 1.0 within 200 steps" (§2.2)

_COMMON = {"cell": "rnn", "nonlinearity": "relu", "hidden_size": 64, "embed_size": 32, "hidden_mode": "carry",
           "h0_init": "randn"}  # both source model classes' defaults (myPTRNNModel has no other options)
_MODES = ["carry", "none", "zero"]  # the source's h_not 'True' / 'False' / 'Zero'

SOURCE = {  # experiment id -> where in the source it comes from, and its constants in our setting names
    "pt_main": {"from": "pt.pt_main", "runs": 1,
                "set": {**_COMMON, "num_layers": 3, "maxlen": 10, "lr": 0.005, "steps": 500}},
    "pt_adv_main": {"from": "pt.pt_adv_main (myAdvPTRNNModel defaults)", "runs": 1,
                    "set": {**_COMMON, "num_layers": 2, "maxlen": 10, "lr": 0.025, "milestones": [150, 300],
                            "gamma": 0.2, "steps": 500}},
    "hidden_mode_len5": {"from": "no function; report fig. 1 (title, 6 evaluations) and §2.3.2 (2 layers)", "runs": 5,
                         "set": {"hidden_mode": _MODES, "num_layers": 2, "maxlen": 5, "steps": 300}},
    "hidden_mode_len50": {"from": "no function; report fig. 2 (title, 6 evaluations) and §2.3.2 (2 layers)",
                          "runs": 5, "set": {"hidden_mode": _MODES, "num_layers": 2, "maxlen": 50, "steps": 300}},
    "no_rnn": {"from": "no function; report fig. 3 (title, 6 evaluations)", "runs": 5,
               "set": {"maxlen": 5, "steps": 300}},
    "hidden_mode_1layer": {"from": "pt.experiment_h_not", "runs": 5,
                           "set": {"hidden_mode": _MODES, "num_layers": 1, "maxlen": 5, "lr": 0.01, "steps": 300}},
    "maxlen": {"from": "pt.experiment_maxlen", "runs": 5,
               "set": {**_COMMON, "num_layers": 2, "maxlen": [5, 10, 25, 50, 70], "lr": 0.001, "steps": 500}},
    "lr": {"from": "pt.experiment_lr", "runs": 1,
           "set": {**_COMMON, "num_layers": 2, "maxlen": 5, "lr": [0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5],
                   "milestones": [[], [100]], "gamma": 0.5, "steps": 1000}},
    "heat_lr_maxlen": {"from": "pt.experiment_maxlen_lr", "runs": 1,
                       "set": {**_COMMON, "num_layers": 3, "lr": [0.001, 0.002, 0.005, 0.01, 0.05],
                               "maxlen": [5, 10, 25, 50, 70], "steps": 500}},
    "layers": {"from": "pt.experiment_layer", "runs": 5,
               "set": {**_COMMON, "num_layers": [1, 2, 3, 4], "maxlen": 5, "lr": 0.001, "steps": 1000}},
    "layers_zero": {"from": "no function; report §3.3.2 figure (layers 1-4, 20 evaluations)", "runs": 5,
                    "set": {"num_layers": [1, 2, 3, 4], "hidden_mode": "zero", "maxlen": 5, "steps": 1000}},
    "heat_layers_mode": {"from": "pt.experiment_layer_h_not (the report's text says a 500 cap; the code's is 700)",
                         "runs": 1, "set": {"hidden_mode": _MODES, "num_layers": [1, 2, 3, 4, 5], "maxlen": 10,
                                            "lr": 0.001, "steps": 700}},
    "h0_init": {"from": "pt.experiment_hidden", "runs": 5,
                "set": {"h0_init": ["randn", "randn10", "zero", "xavier", "xavier_he"], "hidden_mode": "carry",
                        "num_layers": 2, "maxlen": 5, "lr": 0.001, "steps": 1000}},
    "cells": {"from": "pt.experiment_model (its LSTM/GRU branches name an undefined `device`)", "runs": 5,
              "set": {"cell": ["gru", "lstm", "rnn"], "nonlinearity": ["relu", "tanh"], "hidden_mode": "carry",
                      "h0_init": "randn", "num_layers": 2, "maxlen": 5, "lr": 0.001, "steps": 1000}},
}

SOURCE_FIGURES = {  # read off report.pdf's figures (colours matched to the colour bar, curves traced); approximate
    # §2.2 screenshot, one run: exact-match accuracy by evaluation index i (after 50 i + 1 updates)
    "pt_main_first_index": 4,
    # fig. 6, one run per lr: lr 0.1 and 0.5 show loss NaN and accuracy 0 at every evaluation
    "lr_nan": [0.1, 0.5],
    # §3.2.3 heatmap, one run per cell, the source's (index + 1) * 50 convention, "never" = 500
    "heat_lr_maxlen": [[500, 500, 500, 500, 500], [500, 450, 300, 300, 300], [500, 300, 200, 200, 300],
                       [500, 250, 200, 150, 150], [500, 500, 350, 350, 500]],
    # §3.3.3 heatmap, rows carry / none / zero, columns 1-5 layers, same convention, "never" = 700
    "heat_layers_mode": [[550, 400, 600, 700, 700], [700, 450, 350, 700, 550], [600, 450, 500, 700, 700]],
    # fig. 9, 5-run means: first evaluation index at which the mean accuracy is >= 0.99 (None: not by index 14;
    # the legend hides the later points of rnn/relu)
    "cells_first_099": {"rnn/relu": None, "rnn/tanh": 9, "lstm": 12, "gru": 12},
}


def _fmt(v):
    return json.dumps(v) if isinstance(v, list) else f"{v:g}" if isinstance(v, float) else str(v)


def _ours(result, key):
    """What the stored runs used for `key`: one value, a sorted list of the values they vary over, or None."""
    vals = {json.dumps(s["settings"][key]) for s in result["series"] if key in s["settings"]}
    if not vals:
        return None
    out = sorted((json.loads(v) for v in vals), key=json.dumps)
    return out[0] if len(out) == 1 else out


def _same(src, ours):
    """Equal, ignoring the order of the values a constant varies over."""
    if isinstance(src, list) and isinstance(ours, list):
        return sorted(map(json.dumps, src)) == sorted(map(json.dumps, ours))
    return src == ours


def compare(eid, result):
    """(same, differ) lists of text for experiment `eid`: the source's constants against those `result` ran."""
    same, differ = [], []
    for key, val in SOURCE[eid]["set"].items():
        ours = _ours(result, key)
        if _same(val, ours):
            same.append(f"{key} {_fmt(val)}")
        else:
            differ.append(f"{key} {_fmt(val)} → {_fmt(ours)}")
    return same, differ


def constants_rows(results):
    """Markdown rows: per experiment, the source's constants that match ours and those that differ."""
    rows = ["| experiment | source | same as ours | source → ours (as run) |", "|---|---|---|---|"]
    for eid, src in SOURCE.items():
        if eid not in results:
            rows.append(f"| `{eid}` | {src['from']} | not run yet | |")
            continue
        same, differ = compare(eid, results[eid])
        differ.append(f"runs per curve {src['runs']} → {len(results[eid]['config']['seeds'])} seeds")
        rows.append(f"| `{eid}` | {src['from']} | {', '.join(same)} | {'; '.join(differ)} |")
    return rows


def _interval(series):
    steps = series["steps"]
    return steps[0] if steps else None


def as_source_heat(series, cap):
    """The source's heatmap number for our run: (index + 1) * 50 of its first exact evaluation, never = cap.

    The source evaluates after 50 i + 1 updates and prints (i + 1) * 50; our evaluation at step 50 k is the nearest
    one (i = k), so our first exact step f reads as f + 50; reaching it only at the cap (no source evaluation after
    cap - 49 updates) or never reads as the cap. Median over seeds. None if we did not evaluate every 50 steps.
    """
    if _interval(series) != SOURCE_EVERY:
        return None
    return statistics.median(cap if f is None else min(f + SOURCE_EVERY, cap) for f in series["first_exact"])


def p_fresh_exact(acc, sums=SOURCE_EVAL_SUMS):
    """Chance that `sums` fresh test sums are all right for a model exact on a fraction `acc` of sums."""
    return acc ** sums


def p_shown_by(series, seed_index, step, sums=SOURCE_EVAL_SUMS):
    """Chance that the source's metric (a fresh batch of `sums` per evaluation) shows 1.0 at some evaluation
    up to `step`, estimated from our stored accuracy on the fixed held-out batch at each evaluation."""
    miss = 1.0
    for s, a in zip(series["steps"], series["accuracy"][seed_index], strict=False):
        if s <= step and a is not None:
            miss *= 1 - p_fresh_exact(a, sums)
    return 1 - miss


def _firsts(series):
    return ", ".join("never" if f is None else str(f) for f in series["first_exact"])


def _grid(result):
    """Our heatmap: per row, per column, the series of that cell."""
    hm = result["heatmap"]
    cell = {(s["settings"][hm["row_name"]], s["settings"][hm["col_name"]]): s for s in result["series"]}
    return [[cell.get((r, c)) for c in hm["cols"]] for r in hm["rows"]]


def _source_grid(result):
    """Our heatmap in the source's convention (as_source_heat per cell; None where not comparable)."""
    cap = result["heatmap"]["cap"]
    return [[None if c is None else as_source_heat(c, cap) for c in row] for row in _grid(result)]


def _hfmt(v):
    return "never" if v is None or isinstance(v, str) else f"{v:g}"


def _heat_rows(result, source_grid):
    """Markdown table: per cell, source figure / ours in the source's convention / our median first step."""
    hm = result["heatmap"]
    rows = [f"| {hm['row_name']} \\ {hm['col_name']} | " + " | ".join(map(str, hm["cols"])) + " |",
            "|---" * (len(hm["cols"]) + 1) + "|"]
    ours = [[v for v, _, _ in row] for row in plot.heatmap_cells(result)]  # median first step, None = never
    for r, src_row, conv_row, vals in zip(hm["rows"], source_grid, _source_grid(result), ours, strict=False):
        out = [f"{src} / {'-' if conv is None else f'{conv:g}'} / {_hfmt(v)}"
               for src, conv, v in zip(src_row, conv_row, vals, strict=False)]
        rows.append(f"| {r} | " + " | ".join(out) + " |")
    return rows


def _fastest(values, cols):
    """The columns with the smallest value (a "never" cell counts as slower than any number), and that value."""
    key = [float("inf") if v is None or isinstance(v, str) else v for v in values]
    best = min(key)
    return [c for c, v in zip(cols, key, strict=False) if v == best], best


def _c1_note(results):
    s = results["pt_main"]["series"][0]
    within = sum(f is not None and f <= C1_STEPS for f in s["first_exact"])
    n = len(s["first_exact"])
    if within == n:
        return None
    i = SOURCE_FIGURES["pt_main_first_index"]
    layers = s["settings"].get("num_layers")
    return (f"source §2.2 (one run, 3 layers): 1.0 first at the evaluation after {SOURCE_EVERY * i + 1} updates "
            f"(plotted at {SOURCE_EVERY * i}); ours ({layers} layers): {within}/{n} seeds exact by step {C1_STEPS} "
            f"(first exact per seed: {_firsts(s)})")


def _c6_note(results):
    series = {s["settings"]["lr"]: s for s in results["lr"]["series"] if not s["settings"].get("milestones")}
    parts = []
    for lr in SOURCE_FIGURES["lr_nan"]:
        s = series.get(lr)
        if s is not None and not all(s["diverged"]):
            parts.append(f"lr {lr:g} diverged in {sum(s['diverged'])}/{len(s['diverged'])} seeds")
    if not parts:
        return None
    return (f"source fig. 6 (one run each): lr {', '.join(f'{v:g}' for v in SOURCE_FIGURES['lr_nan'])} went to NaN "
            f"(accuracy 0 throughout); ours: {', '.join(parts)}")


def _c7_note(results):
    r = results["heat_layers_mode"]
    hm = r["heatmap"]
    src = dict(zip(_MODES, SOURCE_FIGURES["heat_layers_mode"], strict=False))
    parts, differ = [], False
    for mode, conv in zip(hm["rows"], _source_grid(r), strict=False):
        if mode not in src or None in conv:
            continue
        src_best, src_v = _fastest(src[mode], hm["cols"])
        our_best, our_v = _fastest(conv, hm["cols"])
        differ |= src_best != our_best
        parts.append(f"{mode}: source {src_best} ({src_v:g}), ours {our_best} ({our_v:g})")
    if not differ:
        return None
    return (f"fastest depth (layers) in the maxlen {_ours(r, 'maxlen')} heatmap of §3.3.3, in the source's "
            f"convention (source one run, ours the median of {len(r['config']['seeds'])} seeds): " + "; ".join(parts))


def _first_mean_at(series, level):
    """First evaluation step at which the mean over seeds of the accuracy is >= level (None: never)."""
    for i, step in enumerate(series["steps"]):
        vals = [c[i] if c[i] is not None else 0.0 for c in series["accuracy"]]
        if statistics.mean(vals) >= level:
            return step
    return None


def _c9_note(results):
    ours = {s["label"]: _first_mean_at(s, 0.99) for s in results["cells"]["series"]}
    src = SOURCE_FIGURES["cells_first_099"]
    src_steps = {k: None if v is None else SOURCE_EVERY * v for k, v in src.items()}  # same scale as ours

    def rank(d, a, b):  # where a stands against b: "trails", "ties", "leads" (never ranks last)
        x, y = (math.inf if d.get(k) is None else d[k] for k in (a, b))
        return "ties" if x == y else "trails" if x > y else "leads"

    pairs = [(a, b) for a, b in (("lstm", "rnn/tanh"), ("lstm", "gru")) if a in ours and b in ours]
    differ = [(a, b) for a, b in pairs if rank(src_steps, a, b) != rank(ours, a, b)]
    if not differ:
        return None  # LSTM stands against rnn/tanh and GRU as in the source's figure
    fmt_src = ", ".join(f"{k} {'>' + str(SOURCE_EVERY * 14 + 1) if v is None else SOURCE_EVERY * v + 1}"
                        for k, v in src.items())
    fmt_ours = ", ".join(f"{k} {'never' if v is None else v}" for k, v in ours.items())
    return (f"first evaluation with mean accuracy >= 0.99, source fig. 9 (updates): {fmt_src}; ours (steps): "
            f"{fmt_ours}: " + "; ".join(f"in the source {a} {rank(src_steps, a, b)} {b}, here it "
                                         f"{rank(ours, a, b)} it" for a, b in differ))


NOTES = {"C1": (["pt_main"], _c1_note), "C6": (["lr"], _c6_note), "C7": (["heat_layers_mode"], _c7_note),
         "C9": (["cells"], _c9_note)}  # claim id -> (experiments needed, note)


def claim_notes(results):
    """Claim id -> a sentence with both numbers, for each claim whose source figure and ours read differently."""
    notes = {}
    for cid, (needs, fn) in NOTES.items():
        if all(n in results for n in needs):
            note = fn(results)
            if note:
                notes[cid] = note
    return notes


def _protocol_lines(results):
    lines = [
        "- **Carried state (hidden_mode carry).** Source: never detached, its backward pass kept the graph "
        "(`retain_graph` on), so every "
        "step back-propagates through all batches since the last evaluation (each evaluation overwrites the state "
        "with one computed without a graph); current PyTorch refuses it. Ours: detached every batch.",
        f"- **Held-out metric.** Source: a fresh draw of {SOURCE_EVAL_SUMS} test sums per evaluation, so a curve "
        "mixes model and sample, and 1.0 on 200 sums is easier to hit than on 1,000. Ours: one fixed batch of "
        "1,000 per run.",
        "- **Operand length.** Source: operands are drawn with `digitlen = maxlen - 1`, i.e. at most maxlen - 1 "
        "digits (train below 5·10^(maxlen-2), test 5·10^(maxlen-2) to 10^(maxlen-1)) in maxlen + 1 steps: its "
        "'maxlen 5' is 4-digit addition. Ours: maxlen digits, as EXPERIMENTS.md specifies.",
        "- **Data.** Source: floats times 10^digitlen, so at maxlen 25-70 only the ~16 leading digits are random. "
        "Ours: exact at any length.",
        f"- **Evaluation timing.** Source: after 1, {SOURCE_EVERY + 1}, {2 * SOURCE_EVERY + 1}, ... updates, "
        "never after the last 49; its loss point is the single batch at that step. Ours: after 50, 100, ..., "
        "steps updates; loss is the mean of each 50-step window.",
        f"- **Heatmap number.** Source: (index + 1) · {SOURCE_EVERY} of the first evaluation at 1.0, i.e. 49 updates "
        "after it happened, and the cap when never reached (indistinguishable from reaching it at the last "
        "evaluation). Ours: the step of the evaluation, median over seeds.",
        "- **Runs.** Source: unseeded; pt_main, pt_adv_main, lr and both heatmaps are single runs. Ours: seeds "
        "0-4 per curve (more for the experiments beyond the report).",
    ]
    if "pt_main" in results:
        s = results["pt_main"]["series"][0]
        if _interval(s) == SOURCE_EVERY:
            p = ", ".join(f"{p_shown_by(s, i, C1_STEPS):.2f}" for i in range(len(s["seeds"])))
            lines.append(
                f"- **Effect on pt_main (C1), computed from our stored curves.** The source's §2.2 chart plots "
                f"evaluation i at {SOURCE_EVERY}·i (after {SOURCE_EVERY}·i + 1 updates), so its 200 and our step "
                f"200 are the same point of training. First exact step per seed on our 1,000 sums: {_firsts(s)}. "
                f"The chance that the source's metric ({SOURCE_EVAL_SUMS} fresh sums per evaluation) would have "
                f"shown 1.0 by step {C1_STEPS}, estimated as 1 - Π(1 - acc^{SOURCE_EVAL_SUMS}) over our "
                f"evaluations up to {C1_STEPS}: {p} per seed. This assumes our 1,000-sum accuracy is the model's "
                "true rate; it does not model the source's shorter operands or undetached state.")
    return lines


def _figure_lines(results):
    lines = []
    notes = claim_notes(results)
    for cid, note in sorted(notes.items()):
        lines.append(f"- **{cid} differs.** {note}.")
    for eid, title in (("heat_lr_maxlen", "§3.2.3 lr x maxlen"), ("heat_layers_mode", "§3.3.3 hidden_mode x layers")):
        if eid not in results or "heatmap" not in results[eid]:
            continue
        lines += ["", f"{title} heatmap, each cell: source figure (one run) / ours in the source's convention "
                      f"(median of {len(results[eid]['config']['seeds'])} seeds) / ours (median first step):", ""]
        lines += _heat_rows(results[eid], SOURCE_FIGURES[eid])
    if "heat_lr_maxlen" in results:  # which cells reach 1.0 before the cap, both in the source's convention
        hm = results["heat_lr_maxlen"]["heatmap"]
        cap = hm["cap"]
        for r, src_row, conv_row in zip(hm["rows"], SOURCE_FIGURES["heat_lr_maxlen"],
                                        _source_grid(results["heat_lr_maxlen"]), strict=False):
            if None in conv_row:
                continue
            reached_src = [c for c, v in zip(hm["cols"], src_row, strict=False) if v < cap]
            reached_ours = [c for c, v in zip(hm["cols"], conv_row, strict=False) if v < cap]
            if reached_src != reached_ours:
                lines += ["", f"- **lr {r:g} reads differently.** Within {cap} steps the source's run reached 1.0 at "
                              f"maxlen {reached_src or 'none'}; the median of ours at maxlen {reached_ours or 'none'} "
                              "(both in the source's convention)."]
    return lines or ["- No figure reads differently from ours (of those compared: C1, C6, C7, C9 and both heatmaps)."]


def section(results):
    """Markdown lines of the "Source code vs this project" section."""
    lines = ["## Source code vs this project", "",
             "The source's constants come from its code (`pt.py`, function named per row; the report's figure "
             "where the code has none); ours are read from each stored result's settings. Constants common to "
             "all its runs: batch 200, hidden 64, embedding 32, Adam, ReLU RNN, first carried state randn.", ""]
    lines += constants_rows(results) + ["", "### Differences kept on purpose", ""] + _protocol_lines(results)
    lines += ["", "### The source's figures beside ours", "",
              "Source numbers are read off report.pdf's figures (approximate); ours are computed from the JSON.", ""]
    lines += _figure_lines(results) + [""]
    return lines
