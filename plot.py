"""Charts drawn from an experiment's result dict (the JSON in plots/): nothing here trains.

line_chart: loss and exact-match accuracy vs training step, two panels, the mean over seeds with
a min-max band; a diverged seed is left out of the mean from its divergence on and the legend
says how many diverged. heatmap: one annotated cell per setting, the median over seeds.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
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


def line_chart(result, path):
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, s in enumerate(result["series"]):
        color = f"C{i % 10}"
        for ax, x, key in ((ax_loss, s["loss_steps"], "loss"), (ax_acc, s["steps"], "accuracy")):
            mean, lo, hi = band(s[key])
            ax.plot(x, mean, color=color, marker=".", label=legend_label(s))
            ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0)
    n_seeds = max(len(s["seeds"]) for s in result["series"])
    ax_loss.set(xlabel="training step", ylabel="cross-entropy loss (mean of window)", yscale="log",
                title="training loss")
    ax_acc.set(xlabel="training step", ylabel="exact-match accuracy (held-out test sums)", ylim=(-0.02, 1.02),
               title="test accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{result['title']}  (mean and min-max band over {n_seeds} seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def heatmap(result, path):
    hm = result["heatmap"]
    values = np.array(hm["values"], dtype=float)  # (rows, cols)
    fig, ax = plt.subplots(figsize=(1.3 * len(hm["cols"]) + 3, 0.8 * len(hm["rows"]) + 2))
    im = ax.imshow(values, cmap="viridis_r", vmin=0, vmax=hm["cap"], aspect="auto")
    for r in range(values.shape[0]):
        for c in range(values.shape[1]):
            v = values[r, c]
            text = f"{v:g}" + (" (cap)" if v >= hm["cap"] else "")
            red, green, blue, _ = im.cmap(im.norm(v))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # perceived luminance of the cell
            ax.text(c, r, text, ha="center", va="center", color="white" if dark else "black", fontsize=9)
    ax.set_xticks(range(len(hm["cols"])), [str(c) for c in hm["cols"]])
    ax.set_yticks(range(len(hm["rows"])), [str(r) for r in hm["rows"]])
    ax.set(xlabel=hm["col_name"], ylabel=hm["row_name"], title=result["title"])
    fig.colorbar(im, ax=ax, label=f"median first step at accuracy 1.0 (cap {hm['cap']} = never)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def draw(result, path):
    """The chart that suits `result`: a heatmap if it has one, else the two line panels."""
    (heatmap if "heatmap" in result else line_chart)(result, path)
