"""Per-series numbers of a result (learning speed, first exact step, final accuracy) and its default section.

What a chart's section and the claims both read: the measurements' own sections (measures/) build on the default
section here, so they need nothing of the report (report/page.py), which finds each section in its plan
(machinery/plans.py: section).
"""
import json
import statistics

import plot
from judge import stats


def seed_speeds(series, upto=None):
    """Per seed: the area under its exact-match accuracy curve (its first `upto` evaluations when given)."""
    return [statistics.fmean(a if a is not None else 0.0 for a in curve[:upto] or curve[:1])
            for curve in series["accuracy"]]


def speed(series):
    """Area under the exact-match accuracy curve, mean over seeds."""
    return statistics.fmean(seed_speeds(series))


def seed_finals(series):
    return [c[-1] if c and c[-1] is not None else 0.0 for c in series["accuracy"]]


def seed_first_steps(series):
    """Per seed, the first step at accuracy 1.0; "never" counts as one evaluation interval after the cap."""
    steps = series["steps"]
    never = steps[-1] + (steps[0] if len(steps) < 2 else steps[-1] - steps[-2])
    return [never if f is None else f for f in series["first_exact"]]


def first_exact(series):
    """Median over seeds of the first step at accuracy 1.0 (None if most never got there), and how many did."""
    return stats.median_first(series["first_exact"]), sum(f is not None for f in series["first_exact"])


def final_accuracy(series):
    return statistics.mean(seed_finals(series))


def fmt_first(series):
    med, hit = first_exact(series)
    return f"{'never' if med is None else f'{med:g}'} ({hit}/{len(series['seeds'])})"


def fmt_cell(value, hit, n, diverged=0):
    """One heatmap cell as text: the median first exact step or 'never', the seeds that reached 1.0, divergence."""
    return f"{'never' if value is None else f'{value:g}'} ({hit}/{n}{f', {diverged} diverged' if diverged else ''})"


def heat_rows(result):
    """Per heatmap row: its cells as text (fmt_cell, with diverged seeds)."""
    return [[fmt_cell(*c, d) for c, d in zip(row, drow, strict=True)]
            for row, drow in zip(plot.heatmap_cells(result), plot.heatmap_diverged(result), strict=True)]


FIRST_EXACT_WORDS = "median first step at held-out exact-match accuracy 1.0 (seeds reaching it/seeds)"  # console's


def summary_line(result):
    """The console's one line on a result: what its numbers are (FIRST_EXACT_WORDS), then each curve's or cell's."""
    if "heatmap" in result:
        hm = result["heatmap"]
        rows = "; ".join(f"{r}: " + ", ".join(row) for r, row in zip(hm["rows"], heat_rows(result), strict=False))
        return f"{FIRST_EXACT_WORDS}, {hm['row_name']} by {hm['col_name']} {hm['cols']}: {rows}"
    parts = []
    for s in result["series"]:
        ms = 1e3 * statistics.mean(s["sec_per_step"])
        extra = f", {ms:.1f} ms/step" if result["id"].startswith("hidden_mode") else ""
        div = f", diverged {sum(s['diverged'])}/{len(s['seeds'])} seeds" if any(s["diverged"]) else ""
        parts.append(f"{s['label']}: {fmt_first(s)}{extra}{div}")
    return f"{FIRST_EXACT_WORDS}: " + "; ".join(parts)


def section(result):
    lines = [f"## `{result['id']}`: {result['title']}", "", f"![{result['id']}]({result['id']}.png)", ""]
    if "heatmap" in result:
        hm, n = result["heatmap"], len(result["series"][0]["seeds"])
        lines += [f"Median over seeds of the first step at accuracy 1.0 within the {hm['cap']}-step cap, and how many "
                  f"of the {n} seeds reached 1.0; \"never\" when the median seed did not (a seed that never "
                  f"reaches 1.0 ranks after every step); rows {hm['row_name']}, columns {hm['col_name']}.", "",
                  "| " + hm["row_name"] + " \\ " + hm["col_name"] + " | " + " | ".join(map(str, hm["cols"])) + " |",
                  "|---" * (len(hm["cols"]) + 1) + "|"]
        lines += [f"| {r} | " + " | ".join(row) + " |" for r, row in zip(hm["rows"], heat_rows(result), strict=False)]
    else:
        lines += ["| curve | first step at 1.0, median (seeds reaching) | final accuracy | learning speed | "
                  "ms/step | diverged |", "|---|---|---|---|---|---|"]
        for s in result["series"]:
            lines.append(f"| {s['label']} | {fmt_first(s)} | {final_accuracy(s):.3f} | {speed(s):.3f} | "
                         f"{1e3 * statistics.mean(s['sec_per_step']):.2f} | {sum(s['diverged'])}/{len(s['seeds'])} |")
    first = result["series"][0]["settings"]
    common = {k: v for k, v in first.items() if all(s["settings"].get(k) == v for s in result["series"])}
    lines += ["", f"Constants shared by every curve: `{json.dumps(common)}`; seeds {result['config']['seeds']}; "
              f"trained on {result['device']} with torch {result['torch']}, {plot.trained_in(result)}.", ""]
    return lines
