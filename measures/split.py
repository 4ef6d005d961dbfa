"""The split's shift: how much of "short numbers learn slower" (claim C5) is the train/test split itself.

Training operands lie in [0, 5·10^(maxlen-1)) and test operands in [5·10^(maxlen-1), 10^maxlen), so the
top result digit is 0 in every training sum and 1 in every test sum, and leading operand digits 5-9 never
occur in training. Two measurements separate that shift from the length:
    position_errors  an "after" hook (plan format: machinery/plans.py) on the maxlen runs: the error rate at each result
                     digit position on held-out test-range and train-range sums, and both exact-match rates
    maxlen_control   the experiment that reruns the maxlen sweep evaluated on held-out train-range sums
                     (train.py's eval_split="train"; training itself is identical)
Below them, the summaries the report reads, the chart and the maxlen sweep's report section.
"""
import statistics

import numpy as np
import torch

import plot
from data import SPLITS, check_int, gen_data, measure_rng
from judge import tables
from plot import plt

QUICK_SUMS = 100  # held-out sums per range in --quick runs


@torch.no_grad()
def position_errors(model, state, run, seed, sums, quick=False):
    """Per range ("test", "train"): exact-match rate and error rate at each result position (units first).

    `sums` held-out sums of the run's maxlen per range, on the model's own device; a carry-mode model is
    evaluated as train.evaluate does (from `state`, the one its training ended with, not advancing it).
    """
    sums = min(check_int("sums", sums, 1), QUICK_SUMS) if quick else check_int("sums", sums, 1)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = {"sums": sums}
    for split in ("test", "train"):
        rng = measure_rng(seed, "split", SPLITS.index(split))
        data = gen_data(sums, run["train"]["maxlen"], split, rng)
        num1, num2, result = (torch.from_numpy(v).to(device) for v in data)
        wrong = model(num1, num2, state).argmax(-1) != result  # (N, maxlen + 1)
        out[f"{split}_exact"] = 1.0 - wrong.any(dim=1).double().mean().item()
        out[f"{split}_errors"] = wrong.double().mean(dim=0).cpu().tolist()
    model.train(was_training)
    return out


def has_positions(result):
    return all(e and "test_errors" in e for s in result["series"] for e in s.get("extra") or [None])


def mean_errors(series, split):
    """Error rate per result position (units first), mean over seeds."""
    return np.mean([e[f"{split}_errors"] for e in series["extra"]], axis=0)


def mean_exact(series, split):
    return statistics.fmean(e[f"{split}_exact"] for e in series["extra"])


def top_share(series, split, top=2):
    """Share of all wrong digits that sit at the `top` highest result positions (None: no errors at all)."""
    err = mean_errors(series, split)
    return float(err[-top:].sum() / err.sum()) if err.sum() > 0 else None


def maxlen_chart(result, path):
    """Loss, accuracy, and the per-position error rates on test-range (solid) and train-range (dashed) sums."""
    if not has_positions(result):  # a result stored before the hook existed
        return plot.line_chart(result, path)
    fig, axes = plt.subplots(1, 3, figsize=(20, 4.5), width_ratios=[1, 1, 1.7])
    plot.line_panels(result, axes[0], axes[1])
    from matplotlib.lines import Line2D

    # one row per maxlen: a thin line over the positions the sum has (no wrong digit there), a marker sized by
    # the wrong digits at each position that has any, test range above the row's line and train range below it
    ax, series = axes[2], result["series"]
    n = len(series[0]["extra"]) * series[0]["extra"][0]["sums"]  # seeds x held-out sums per range
    per = 10_000  # wrong digits are counted per this many sums
    styles = {"test": dict(marker="o", offset=-0.16), "train": dict(marker="x", offset=0.16)}
    for i, s in enumerate(series):
        ax.plot([0, len(mean_errors(s, "test")) - 1], [i, i], color=f"C{i % 10}", linewidth=1)
        for split, style in styles.items():
            err = mean_errors(s, split)[::-1] * per  # from the top result digit down, per 10,000 sums
            at = np.nonzero(err)[0]
            ax.scatter(at, i + style["offset"] + 0 * at, s=14, marker=style["marker"], color=f"C{i % 10}",
                       linewidths=1.2)
            for x, v in zip(at, err[at], strict=True):  # the count above (test) or below (train) its mark,
                up = (6 + 7 * (x % 2)) * (1 if split == "test" else -1)  # staggered so neighbours' counts part
                ax.annotate(f"{v:.0f}", (x, i + style["offset"]), textcoords="offset points", ha="center",
                            xytext=(0, up), fontsize=6.5, va="center", color=f"C{i % 10}")
    ax.set_yticks(range(len(series)), [plot.words(s["label"]) for s in series], fontsize=8)
    ax.set_ylim(len(series) - 0.5, -0.6)
    ax.set_xlim(-1.5, max(len(mean_errors(s, "test")) for s in series) + 1)
    ax.set(xlabel="result digit position from the top (0 = the leading digit, the final carry out)",
           title=f"wrong digits per {per:,} sums at each position, after training ({n:,} sums per range)")
    ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], color="grey", marker="o", linestyle="none",
                      label="test-range sums (leading digit always 1)"),
               Line2D([], [], color="grey", marker="x", linestyle="none",
                      label="train-range sums (leading digit always 0)"),
               Line2D([], [], color="grey", label="the sum's positions: a line without marks = no wrong digit")]
    by_series = plot.legend_below(fig, axes[1], ncol=len(series))
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.06))
    fig.set_size_inches(20, 5.4)
    plot.finish(fig, result, path, by_series + 1)


def maxlen_section(result):
    """The default section of the maxlen sweep, then each model's errors on test-range vs train-range sums."""
    lines = tables.section(result)
    if not has_positions(result):
        return lines
    n = result["series"][0]["extra"][0]["sums"]

    def share(s, where):
        v = top_share(s, where)
        return "no errors" if v is None else f"{v:.2f}"

    lines += ["### The split's shift", "",
              f"Each trained model on {n:,} held-out sums from the test range (top result digit 1) and {n:,} from "
              f"the training range (top result digit 0): exact match, and the share of its wrong digits at the two "
              f"highest result positions (mean over seeds; per position in the right panel of the chart).", "",
              "| curve | exact, test range | exact, train range | top-2 share of errors, test | same, train |",
              "|---|---|---|---|---|"]
    gaps = []
    for s in result["series"]:
        test, train = mean_exact(s, "test"), mean_exact(s, "train")
        gaps.append((test - train, s["label"]))
        lines.append(f"| {s['label']} | {test:.3f} | {train:.3f} | {share(s, 'test')} | {share(s, 'train')} |")
    diff, label = max(gaps, key=lambda g: abs(g[0]))
    lines += ["", f"Largest gap between the ranges: {label}, exact match {diff:+.3f} on test-range sums relative to "
              f"train-range sums. The learning curves on train-range sums are `maxlen_control`; claim C5 is judged "
              f"on both.", ""]
    return lines
