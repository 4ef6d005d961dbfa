"""Charts drawn from an experiment's result dict (the JSON in plots/): nothing here trains.

line_chart: loss and exact-match accuracy vs training step, two panels, the mean over seeds with
a min-max band; a diverged seed is left out of the mean from its divergence on and the legend
says how many diverged. heatmap: one annotated cell per setting, the median over seeds of the first
step at accuracy 1.0, with "never" its own value (ranked after every step, drawn hatched in a colour outside
the map, never confused with reaching 1.0 at the cap), the number of seeds that reached 1.0 and, framed in
red, how many diverged. Colours run as in the source's heatmaps: dark = few steps, light = many.
"""
import math
import re
import statistics
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402


def curves(values):
    """List of per-seed curves with None gaps -> float array (seeds, points) with NaN gaps."""
    return np.array([[np.nan if v is None else v for v in c] for c in values], dtype=float).reshape(len(values), -1)


def band(values):
    """(mean, min, max) over seeds at each point, ignoring NaN gaps; NaN where no seed has a value."""
    arr = curves(values)
    has = ~np.isnan(arr).all(axis=0)
    mean, lo, hi = (np.full(arr.shape[1], np.nan) for _ in range(3))
    mean[has] = np.nanmean(arr[:, has], axis=0)
    lo[has] = np.nanmin(arr[:, has], axis=0)
    hi[has] = np.nanmax(arr[:, has], axis=0)
    return mean, lo, hi


SETTING_WORDS = {  # a setting's code name -> words a chart's reader needs no code to read
    "hidden_mode": "initial state of each batch", "num_layers": "layers", "lr": "learning rate",
    "maxlen": "digits per operand", "h0_init": "first state (carried)", "hidden_size": "units per layer",
}
VALUE_WORDS = {  # (setting, value) -> words; the values of models.py's and train.py's options
    ("hidden_mode", "carry"): "state carried between batches (detached)",
    ("hidden_mode", "none"): "no state passed (torch's zeros)",
    ("hidden_mode", "zero"): "explicit zero state",
    ("h0_init", "randn"): "first state random normal",
    ("h0_init", "randn10"): "first state random normal x 10",
    ("h0_init", "zero"): "first state zeros",
    ("h0_init", "xavier"): "first state Xavier uniform",
    ("h0_init", "xavier_he"): "first state He (Kaiming) uniform",
}
ROW_WORDS = {"carry": "carried", "none": "none passed", "zero": "explicit zeros"}  # heatmap rows of hidden_mode


def setting_words(part):
    """One "name=value" part of a series label in words ("num_layers=2" -> "2 layers"); other parts unchanged."""
    name, eq, value = part.partition("=")
    if not eq:
        return part
    if (name, value) in VALUE_WORDS:
        return VALUE_WORDS[(name, value)]
    if name == "num_layers":
        return f"{value} layer" + ("" if value == "1" else "s")
    if name == "maxlen":
        return f"{value}-digit operands"
    if name == "hidden_size":
        return f"{value} units"
    if name == "lr":
        return f"learning rate {value}"
    return f"{SETTING_WORDS.get(name, name)} {value}"


def words(label):
    """A series label in words: "lr=0.01, x0.5 at [100]" -> "learning rate 0.01, halved at step 100"."""
    schedule = re.search(r"x([\d.]+) at \[([\d, ]+)\]$", label)  # train.py's step schedule, "x0.5 at [100]"
    if schedule:
        factor, steps = schedule.groups()
        label = label[:schedule.start()] + ("halved" if factor == "0.5" else f"multiplied by {factor}") + \
            " at step" + ("s " if "," in steps else " ") + steps
    return ", ".join(setting_words(part) for part in label.split(", "))


def legend_label(series):
    n_div, n = sum(series["diverged"]), len(series["seeds"])
    return words(series["label"]) + (f"  [diverged {n_div}/{n}]" if n_div else "")


def family_note(result):
    """"" for the default numerics family (portable); else a line naming the family the numbers were made in."""
    family = (result.get("numerics") or {}).get("family") or (result.get("fingerprint") or {}).get("numerics")
    return "" if family in (None, "portable") else (f"numerics family {family} (not the default, portable): "
                                                    "other last bits, other weights from the same seeds")


def twin_of(series, earlier):
    """The earlier series whose seeds' loss and accuracy curves are bitwise the same (None if none is)."""
    return next((e for e in earlier if e["seeds"] == series["seeds"] and e["accuracy"] == series["accuracy"]
                 and e.get("loss") == series.get("loss")), None)


def eval_range(result):
    """Which held-out sums the accuracy is measured on: 'test' or 'train' (train.py's eval_split), or 'mixed'."""
    splits = {s.get("settings", {}).get("eval_split", "test") for s in result["series"]}
    return splits.pop() if len(splits) == 1 else "mixed"


def line_panels(result, ax_loss, ax_acc):
    """Loss and exact-match accuracy of every series on two axes (mean line, min-max band).

    A series identical to an earlier one (e.g. hidden_mode zero and none: one computation) is drawn dashed with
    hollow markers over it and says so in the legend, so neither hides the other.
    """
    for i, s in enumerate(result["series"]):
        color = f"C{i % 10}"
        twin = twin_of(s, result["series"][:i])
        style = dict(linestyle="--", marker="o", markerfacecolor="none", markersize=7, linewidth=2) if twin else \
            dict(marker=".")
        label = legend_label(s) + (f"  (identical to {words(twin['label'])})" if twin else "")
        for ax, x, key in ((ax_loss, s["loss_steps"], "loss"), (ax_acc, s["steps"], "accuracy")):
            mean, lo, hi = band(s[key])
            ax.plot(x, mean, color=color, label=label, **style)
            if not twin:
                ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0)
    where = {"test": "held-out test-range sums", "train": "held-out train-range sums"}.get(eval_range(result),
                                                                                           "held-out sums")
    ax_loss.set(xlabel="training step", ylabel="cross-entropy loss (mean of window)", yscale="log",
                title="training loss")
    ax_acc.set(xlabel="training step", ylabel=f"exact-match accuracy ({where})", ylim=(-0.02, 1.02),
               title="accuracy on " + where.removeprefix("held-out "))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)


def legend_below(fig, ax, handles=None, ncol=None):
    """The legend of `ax` under every panel of `fig`, never over a curve (finish() leaves it room)."""
    handles, labels = (handles, [h.get_label() for h in handles]) if handles else ax.get_legend_handles_labels()
    ncol = ncol or min(len(labels), 4 if max(map(len, labels)) < 40 else 2)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=9, frameon=False)
    return math.ceil(len(labels) / ncol)  # rows of legend


def finish(fig, result, path, legend_rows=0, what="mean and min-max band"):
    n_seeds = max(len(s["seeds"]) for s in result["series"])
    title = f"{result['title']}  ({what} over {n_seeds} seeds)"
    width = int(fig.get_size_inches()[0] * 9)  # characters that fit the figure's width at the default font
    lines = textwrap.wrap(title, width) + textwrap.wrap(family_note(result), width)
    fig.suptitle("\n".join(lines))
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, (0.12 + 0.22 * legend_rows) / height if legend_rows else 0, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


SMALL_MULTIPLES = 6  # a line chart with at least this many series draws each series' accuracy in a panel of its own


def line_chart(result, path):
    if len(result["series"]) >= SMALL_MULTIPLES:
        return small_multiples(result, path)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.5))
    line_panels(result, ax_loss, ax_acc)
    rows = legend_below(fig, ax_acc)
    fig.set_size_inches(12, 4.5 + 0.25 * rows)
    finish(fig, result, path, rows)


def nan_median(arr):
    """Median over seeds (axis 0) ignoring NaN gaps; NaN where no seed has a value (and no warning about it)."""
    out = np.full(arr.shape[1] if arr.ndim == 2 else 0, np.nan)
    has = ~np.isnan(arr).all(axis=0) if arr.size else np.zeros(0, bool)
    out[has] = np.nanmedian(arr[:, has], axis=0)
    return out


def small_multiples(result, path):
    """Many series: the median loss of each on one panel (no bands), and each series' accuracy in its own panel,
    every seed a thin line and the median a thick one, so no curve hides another."""
    series = result["series"]
    cols = math.ceil(len(series) / 2)
    fig = plt.figure(figsize=(4 + 2.8 * cols, 6.5))
    grid = fig.add_gridspec(2, cols + 2)
    ax_loss = fig.add_subplot(grid[:, :2])
    where = {"test": "test-range", "train": "train-range"}.get(eval_range(result), "held-out")
    first = None
    for i, s in enumerate(series):
        color = f"C{i % 10}"
        loss = curves(s["loss"])
        median = nan_median(np.where(np.isfinite(loss), loss, np.nan))
        ax_loss.plot(s["loss_steps"], median, color=color, marker=".", label=legend_label(s))
        ax = fig.add_subplot(grid[i // cols, 2 + i % cols], sharex=first, sharey=first)
        first = first or ax
        acc = curves(s["accuracy"])
        for c in acc:
            ax.plot(s["steps"], c, color=color, linewidth=0.6, alpha=0.5)
        ax.plot(s["steps"], nan_median(acc), color=color, linewidth=2.2)
        n_div = sum(s["diverged"])
        ax.set_title("\n".join(textwrap.wrap(legend_label(s), 30)), fontsize=9, color=color)
        at = [a for a in s.get("diverged_at") or [] if a is not None]
        if n_div:
            when = f"at step {min(at)}" + (f"-{max(at)}" if max(at) > min(at) else "") if at else ""
            ax.text(0.5, 0.5, f"diverged (loss NaN/inf)\n{when}\nin {n_div} of {len(s['seeds'])} seeds", ha="center",
                    va="center", transform=ax.transAxes, fontsize=9, color=color)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        if i % cols == 0:
            ax.set_ylabel(f"exact match ({where} sums)", fontsize=8)
        if i // cols == 1 or i + cols >= len(series):
            ax.set_xlabel("training step", fontsize=8)
        ax.tick_params(labelsize=7)
    ax_loss.set(xlabel="training step", ylabel="cross-entropy loss (median over seeds)", yscale="log",
                title="training loss (median over seeds)")
    ax_loss.grid(alpha=0.3)
    rows = legend_below(fig, ax_loss, ncol=min(len(series), 4))
    fig.set_size_inches(4 + 2.8 * cols, 6.5 + 0.25 * rows)
    finish(fig, result, path, rows, what="accuracy: each seed thin, median thick; loss: median;")


def heatmap_cells(result):
    """Per heatmap cell (rows x cols, runs row-major): (median first exact step or None = never, seeds reaching, seeds).

    Computed from each seed's stored first exact step: a seed that never reached accuracy 1.0 ranks after
    every step (infinity), so the median is "never" exactly when the median seed never got there.
    """
    hm, cells = result["heatmap"], iter(result["series"])
    out = []
    for _ in hm["rows"]:
        row = []
        for _ in hm["cols"]:
            firsts = next(cells)["first_exact"]
            med = statistics.median(math.inf if f is None else f for f in firsts)
            row.append((None if med == math.inf else med, sum(f is not None for f in firsts), len(firsts)))
        out.append(row)
    return out


def heatmap_diverged(result):
    """Per heatmap cell (rows x cols, like heatmap_cells): how many of its seeds diverged (loss NaN/inf)."""
    hm, cells = result["heatmap"], iter(result["series"])
    return [[sum(next(cells)["diverged"]) for _ in hm["cols"]] for _ in hm["rows"]]


def cell_text(value, hit, n, diverged=0):
    return (("never" if value is None else f"{value:g}") + f"\n{hit}/{n} seeds"
            + (f"\n{diverged} diverged" if diverged else ""))


HEAT_CMAP = "magma"  # the source's seaborn heatmaps use its default sequential map: dark = few steps, light = many
NEVER_COLOR = "#9ecae1"  # "never" cells: a colour outside the map, hatched, so never is not read as the cap


def heatmap(result, path):
    hm, cells, div = result["heatmap"], heatmap_cells(result), heatmap_diverged(result)
    values = np.array([[np.nan if v is None else v for v, _, _ in row] for row in cells], dtype=float)
    cmap = matplotlib.colormaps[HEAT_CMAP].with_extremes(bad=NEVER_COLOR)  # NaN = never: its own color
    fig, ax = plt.subplots(figsize=(1.3 * len(hm["cols"]) + 3, 0.9 * len(hm["rows"]) + 2))
    reached = values[~np.isnan(values)]
    low, high = (reached.min(), reached.max()) if reached.size else (0, hm["cap"])
    if high - low < 1:  # one value (or none): a scale around it
        low, high = low - 25, high + 25
    low -= 0.15 * (high - low)  # the fewest steps dark, not black
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=low, vmax=high, aspect="auto")
    for r, c in np.ndindex(values.shape):
        dark = False
        if np.isnan(values[r, c]):
            ax.add_patch(matplotlib.patches.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="//",
                                                      edgecolor="white", linewidth=0))
        else:
            red, green, blue, _ = im.cmap(im.norm(values[r, c]))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # perceived luminance of the cell
        if div[r][c]:  # diverged seeds: a red frame around the cell
            ax.add_patch(matplotlib.patches.Rectangle((c - 0.46, r - 0.46), 0.92, 0.92, fill=False,
                                                      edgecolor="red", linewidth=2))
        ax.text(c, r, cell_text(*cells[r][c], div[r][c]), ha="center", va="center",
                color="white" if dark else "black", fontsize=8, weight="bold" if div[r][c] else "normal")
    ax.set_xticks(range(len(hm["cols"])), [str(c) for c in hm["cols"]])
    ax.set_yticks(range(len(hm["rows"])), [ROW_WORDS.get(str(r), str(r)) if hm["row_name"] == "hidden_mode" else
                                           str(r) for r in hm["rows"]])
    ax.set(xlabel=SETTING_WORDS.get(hm["col_name"], hm["col_name"]),
           ylabel=SETTING_WORDS.get(hm["row_name"], hm["row_name"]),
           title="\n".join([result["title"], *([family_note(result)] if family_note(result) else [])]))
    fig.colorbar(im, ax=ax, label=f"median first exact step (scale: the steps reached)\n"
                                  f"(hatched: never in {hm['cap']}; red frame: diverged)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [[cell_text(*cell, d) for cell, d in zip(row, drow, strict=True)] for row, drow in zip(cells, div,
                                                                                                 strict=True)]


def draw(result, path):
    """The chart that suits `result`: a heatmap if it has one, else the two line panels."""
    (heatmap if "heatmap" in result else line_chart)(result, path)


# --- shared by the experiment families' own charts and report sections ---


def header(result):
    rid = result["id"]
    return [f"## `{rid}`: {result['title']}", "", f"![{rid}]({rid}.png)", ""]


def trained_in(result):
    """'in 1,234 s', or why no training time is shown: a file written by a rerun that trained nothing holds that
    rerun's wall time (seconds), not the training's."""
    wall = result.get("wall_seconds")
    if not isinstance(wall, (int, float)) or wall < 1:
        return "training time not kept (this file was last written by a rerun that trained nothing)"
    return f"in {wall:,.0f} s"


def footer(result):
    return ["", f"Seeds {result['config']['seeds']}; trained and measured on {result['device']} with torch "
                f"{result['torch']}, {trained_in(result)}.", ""]


def value_axis(ax, values):
    """A log x axis labelled with the values drawn on it (hidden sizes 16, 32), not as powers of ten (2 x 10^1)."""
    ax.set_xscale("log")
    ax.set_xticks(sorted(set(values)), [str(h) for h in sorted(set(values))])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def count_axis(ax, n):
    """An x axis of seed counts, ticked in whole numbers up to n (the room the axis has beyond n is for notes)."""
    ax.set_xticks(range(0, n + 1, max(1, n // 5)))


def save(fig, path, title, result=None):
    """Title the figure (with its numerics family when not the default), lay it out and write it."""
    note = family_note(result) if result else ""
    fig.suptitle(title + (f"\n{note}" if note else ""))
    if fig.get_layout_engine() is None:  # a figure made with layout="constrained" keeps its own
        fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
