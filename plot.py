"""Charts drawn from an experiment's result dict (the JSON in plots/): nothing here trains.

line_chart: loss and exact-match accuracy vs training step, two panels, the mean over seeds with
a min-max band; a diverged seed is left out of the mean from its divergence on and the legend
says how many diverged. heatmap: one annotated cell per setting, the median over seeds of the first
step at accuracy 1.0, with "never" its own value (ranked after every step, drawn hatched in a colour outside
the map, never confused with reaching 1.0 at the cap), the number of seeds that reached 1.0 and, framed in
red, how many diverged. Colours run as in the source's heatmaps: dark = few steps, light = many.
"""
import math
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


def legend_label(series):
    n_div, n = sum(series["diverged"]), len(series["seeds"])
    return series["label"] + (f"  [diverged {n_div}/{n}]" if n_div else "")


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
        label = legend_label(s) + (f"  (identical to {twin['label']})" if twin else "")
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
    ax_acc.legend(fontsize=8, loc="lower right")


def finish(fig, result, path):
    n_seeds = max(len(s["seeds"]) for s in result["series"])
    title = f"{result['title']}  (mean and min-max band over {n_seeds} seeds)"
    width = int(fig.get_size_inches()[0] * 9)  # characters that fit the figure's width at the default font
    fig.suptitle("\n".join(textwrap.wrap(title, width)))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def line_chart(result, path):
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.5))
    line_panels(result, ax_loss, ax_acc)
    finish(fig, result, path)


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
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=hm["cap"], aspect="auto")
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
    ax.set_yticks(range(len(hm["rows"])), [str(r) for r in hm["rows"]])
    ax.set(xlabel=hm["col_name"], ylabel=hm["row_name"], title=result["title"])
    fig.colorbar(im, ax=ax, label=f"median first exact step\n(hatched: never in {hm['cap']}; red: diverged)")
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


def save(fig, path, title):
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
