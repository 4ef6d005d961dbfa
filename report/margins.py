"""The margin as a curve: for every "alike" part of the claims, how its Holm-adjusted TOST p-value falls as the margin
widens, drawn as plots/margins.png beside the report.

The margin is drawn as a delay in steps (learning-speed margin x the run's steps; ANALYSIS_PLAN.md §2), so parts of
runs of different lengths share one axis, with the plan's delay (judge.parts.DELAY) marked. Each p-value is the
TOST p-value times the Holm multiplier the part's test had on the data (held fixed along the curve), so a curve
crosses the level the decisions use (stats.ALPHA, adjusted within the claim) at the smallest margin that would
decide it. The axis runs past the last crossing; parts with identical numbers (the same computation) share one
curve and one label.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from judge import stats  # noqa: E402
from judge.parts import DELAY  # noqa: E402

CHART = "margins.png"  # beside the report
POINTS = 301  # margins evaluated along the axis
PAST = 1.25  # the axis runs this far past the last crossing


def equivalences(verdicts):
    """[(claim id, part text, Comparison, steps S, Holm multiplier)] of every TOST part, in the claims' order."""
    out = []
    for cid, (parts, _, _) in verdicts.items():
        for p in parts:
            c = getattr(p, "comparison", None)
            if p.test.startswith("TOST") and isinstance(c, stats.Comparison) and p.bound:
                k = p.multipliers[0] if p.multipliers else 1
                out.append((cid, p.text, c, DELAY / p.bound, k))
    return out


def crossing(c, k):
    """The smallest learning-speed margin at which the adjusted TOST p-value is below stats.ALPHA."""
    return c.smallest_margin(stats.ALPHA / k)


def curve(c, k, margins):
    """The adjusted TOST p-value of `c` at each learning-speed margin: non-increasing as the margin widens."""
    return [min(1.0, k * c.p_alike(m)) for m in margins]


def merged(found):
    """Parts with the same numbers (e.g. two modes that are one computation) as one entry, their labels joined."""
    out = []
    for cid, text, c, steps, k in found:
        twin = next((o for o in out if o[2].a == c.a and o[2].b == c.b and o[3] == steps), None)
        if twin is None:
            out.append([cid, text, c, steps, k])
        else:  # tied p-values: Holm gives them one adjusted value, the larger multiplier's
            twin[1] += f" (= {text}: the same numbers)"
            twin[4] = max(twin[4], k)
    return [tuple(o) for o in out]


def chart(found, path):
    """Draw every equivalence's adjusted p-value against the margin as a delay in steps; False: none."""
    if not found:
        return False
    found = merged(found)
    widest = PAST * max(max(crossing(c, k) * steps for _, _, c, steps, k in found), DELAY)
    delays = np.linspace(0, widest, POINTS)
    fig, ax = plt.subplots(figsize=(9, 6.5))
    styles = ["-", "--", "-.", ":"]
    for i, (cid, text, c, steps, k) in enumerate(found):
        ys = curve(c, k, delays / steps)
        x = crossing(c, k) * steps
        line, = ax.plot(delays, ys, ls=styles[i % len(styles)], lw=1.6,
                        label=f"{cid}: {text} (Holm x{k}; passes from {x:.0f} steps)")
        ax.plot([x], [stats.ALPHA], "o", color=line.get_color(), ms=5)
    ax.axhline(stats.ALPHA, color="black", lw=0.8, ls="--", label=f"level the decisions use: Holm-adjusted p < "
                                                                    f"{stats.ALPHA:g}")
    ax.axvline(DELAY, color="grey", lw=0.8, ls=":", label=f"the plan's margin: a {DELAY}-step delay")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 1.5)
    ax.set_xlim(0, widest)
    ax.set_xlabel("margin as a delay in steps (learning-speed margin x the run's steps)")
    ax.set_ylabel("TOST p-value x Holm multiplier")
    ax.set_title("Where each 'alike' would pass: adjusted TOST p-value against the margin")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1, frameon=False)  # below: no
    # curve hidden under it
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def lines(verdicts, sizes, out_dir):
    """The report's paragraph and the chart (written to out_dir); [] when no part is an equivalence."""
    found = equivalences(verdicts)
    if not chart(found, out_dir / CHART):
        return []
    passes = "; ".join(f"{cid} {text}: from a {crossing(c, k) * steps:.0f}-step delay (±{crossing(c, k):.3g})"
                       for cid, text, c, steps, k in merged(found))
    return ["### The margins as curves", "",
            f"Each 'alike' part's TOST p-value times its Holm multiplier as the margin widens, drawn as a delay in "
            f"steps; it is decided where its curve crosses {stats.ALPHA:g} (the plan's margin: {DELAY} steps).", "",
            f"Smallest passing margins at the adjusted level: {passes}.", "", f"![margins]({CHART})", ""]
