"""The margin as a curve: for every "alike" part of the claims, how its TOST p-value falls as the margin widens.

A reader who would draw the line elsewhere than MARGIN (judge/parts.py says why 0.02) reads off where each
equivalence passes: the curve crosses the level at the part's smallest passing margin (the far end of its 90%
interval; unadjusted, as the table's "passes from"). Drawn as plots/margins.png beside the report.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from judge import stats  # noqa: E402
from judge.parts import MARGIN  # noqa: E402

CHART = "margins.png"  # beside the report
WIDEST = 0.06  # the chart's margin axis runs from 0 to this (learning-speed units)
POINTS = 241  # margins evaluated along that axis


def equivalences(verdicts):
    """[(claim id, part text, its Comparison)] of every part judged by TOST, in the claims' order."""
    return [(cid, p.text, p.comparison) for cid, (parts, _, _) in verdicts.items() for p in parts
            if p.test.startswith("TOST") and getattr(p, "comparison", None) is not None]


def curve(comparison, margins):
    """The TOST p-value of `comparison` at each margin (unadjusted): non-increasing as the margin widens."""
    return [comparison.p_alike(m) for m in margins]


def chart(found, path):
    """Draw every equivalence's p-value against the margin, with the level and the study's margin; False: none."""
    if not found:
        return False
    margins = np.linspace(0, WIDEST, POINTS)
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for cid, text, c in found:
        ax.plot(margins, curve(c, margins), label=f"{cid}: {text}")
    ax.axhline(stats.ALPHA, color="black", lw=0.8, ls="--", label=f"level {stats.ALPHA:g}")
    ax.axvline(MARGIN, color="grey", lw=0.8, ls=":", label=f"the study's margin {MARGIN:g}")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 1.05)
    ax.set_xlabel("margin (learning speed: mean exact-match accuracy over evaluations)")
    ax.set_ylabel("TOST p-value (unadjusted)")
    ax.set_title("Where each 'alike' would pass: TOST p-value against the margin")
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def lines(verdicts, out_dir):
    """The report's paragraph and the chart (written to out_dir); [] when no part is an equivalence."""
    found = equivalences(verdicts)
    if not chart(found, out_dir / CHART):
        return []
    passes = "; ".join(f"{cid} {text}: from ±{c.smallest_margin():.3g}" for cid, text, c in found)
    return ["### The margins as curves", "",
            f"Each 'alike' part's TOST p-value as the margin widens (unadjusted; the table adjusts them together). "
            f"It passes where its curve crosses {stats.ALPHA:g}: {passes}.", "", f"![margins]({CHART})", ""]
