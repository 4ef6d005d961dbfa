"""length_generalization: trained on N digits, exact on sums of 10 ... 100,000 digits? Measurement, summary,
chart and report section.

length_eval is an "after" hook (plan format: machinery/plans.py): exact-match / per-digit accuracy on test sums of each
length, evaluated in chunks of sums and of time steps (beyond.evaluate_sums; the hidden state is carried
from one time chunk to the next, so the result equals one pass over the whole sum). A seed is "exact" at a
test length when all of that length's sums came out right on the full number of sums asked for (a length
evaluated on fewer sums, because a shorter one already failed, never counts).

Its fields, one list per seed with one entry per test length: "accuracy" is the exact-match accuracy on the full
number of sums asked for, null where only the fallback sums were evaluated ("reduced"), whose exact-match accuracy
is "fallback_accuracy" (null where the full number was evaluated): counting accuracy == 1.0 counts exact seeds.
"digit_accuracy" and "eval_sec" are over the "n_sums" sums evaluated, whichever they were.
"""
import statistics

from data import check_int, gen_data, measure_rng
from measures.beyond import evaluate_sums
from plot import band, footer, header, plt, save

GOAL_LENGTH, GOAL_FRACTION = 10000, 0.8  # the goal: exact at 10,000 digits for >= 8/10 seeds


def length_eval(model, state, run, seed, lengths, sums, fallback_sums, quick=False):
    """Accuracy at each test length (sums[i] random test-split sums of lengths[i] digits).

    A length is evaluated on fallback_sums only (and marked reduced) once the model failed to be exact
    at a shorter length: a model wrong on 1,000-digit sums is not exact on longer ones, and the long
    evaluations are the expensive part. quick: only lengths <= 100, at most 50 sums.
    """
    if quick:
        keep = [i for i, length in enumerate(lengths) if length <= 100]
        lengths, sums = [lengths[i] for i in keep], [min(50, sums[i]) for i in keep]
        fallback_sums = min(fallback_sums, 10)
    out = {k: [] for k in ("lengths", "accuracy", "fallback_accuracy", "digit_accuracy", "n_sums", "reduced",
                           "eval_sec")}
    exact_so_far = True
    for length, n in zip(lengths, sums, strict=False):
        length, n = check_int("length", length, 1), check_int("sums", n, 1)
        n_used = n if exact_so_far else min(n, fallback_sums)
        rng = measure_rng(seed, "long_sums", length)
        acc, digit, sec = evaluate_sums(model, lambda k, length=length, rng=rng: gen_data(k, length, "test", rng),
                                        n_used, carried=state)
        exact_so_far = exact_so_far and acc == 1.0
        full = n_used == n  # on fewer sums, the exact-match accuracy is stored apart: it is no evidence of exactness
        for k, v in zip(out, (length, acc if full else None, None if full else acc, digit, n_used, not full, sec),
                        strict=True):
            out[k].append(v)
    return out

def seed_exact(extra, i):
    """Whether one seed's length_eval was exact at the i-th length on all the sums asked for (results stored before
    "fallback_accuracy" existed hold a fallback score in "accuracy", hence the "reduced" check)."""
    return extra["accuracy"][i] == 1.0 and not extra["reduced"][i]

def scored(extra):
    """One seed's exact-match accuracy at each length, on whichever sums were evaluated there (the chart's)."""
    fallback = extra.get("fallback_accuracy") or [None] * len(extra["accuracy"])
    return [f if a is None else a for a, f in zip(extra["accuracy"], fallback, strict=True)]


def exact_fraction(series, i):
    """Fraction of seeds exact at the i-th test length."""
    return statistics.mean(seed_exact(e, i) for e in series["extra"])

def longest_exact(series, fraction=GOAL_FRACTION):
    """Longest test length up to which (at every length) >= fraction of seeds are exact; None if not even the first."""
    best = None
    for i, length in enumerate(series["extra"][0]["lengths"]):
        if exact_fraction(series, i) < fraction:
            break
        best = length
    return best


def length_chart(result, path):
    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    n = len(result["series"])
    markers = "osD^vP*Xh<>"
    for k, s in enumerate(result["series"]):
        color, lengths = f"C{k % 10}", s["extra"][0]["lengths"]
        x = [v * 10 ** (0.05 * (k - (n - 1) / 2)) for v in lengths]  # sideways, so series at one value all show
        style = dict(color=color, marker=markers[k % len(markers)], markersize=6, markeredgecolor="white",
                     label=s["label"], linestyle=("-", "--", ":", "-.")[k % 4])
        for ax, key in ((axes[0], "accuracy"), (axes[2], "digit_accuracy")):
            vals = [[1 - v for v in e[key]] if key == "digit_accuracy" else scored(e) for e in s["extra"]]
            if key == "digit_accuracy":
                vals = [[max(v, 1e-8) for v in c] for c in vals]  # error 0 drawn at the 1e-8 floor
            mean, lo, hi = band(vals)
            ax.plot(x, mean, **style)
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, linewidth=0)
        axes[1].plot(x, [exact_fraction(s, i) for i in range(len(lengths))], **style)
    axes[0].set(ylabel="exact-match accuracy", ylim=(-0.02, 1.02), title="exact match (mean, min-max band)")
    axes[1].set(ylabel="fraction of seeds exact", ylim=(-0.02, 1.02), title="seeds with every test sum right")
    axes[1].axhline(GOAL_FRACTION, color="gray", linestyle=":", label=f"goal: {GOAL_FRACTION:.0%} of seeds exact")
    axes[2].set(ylabel="per-digit error rate (0 drawn at 1e-8)", yscale="log", title="per-digit error")
    for ax in axes:
        ax.set(xscale="log", xlabel="test length (digits per operand; series shifted sideways to stay visible)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower left")
    save(fig, path, result["title"])

def length_section(result):
    lengths = result["series"][0]["extra"][0]["lengths"]
    lines = header(result) + [
        "Seeds exact (every test sum right) at each test length, with the number of sums asked for; "
        "mean per-digit accuracy below it. A seed that failed a shorter length is only checked on a few sums "
        "at the longer ones (it never counts as exact there).", "",
        "| series | train maxlen | " + " | ".join(f"{n:,} digits" for n in lengths) + " |",
        "|---|---" + "|---" * len(lengths) + "|"]
    for s in result["series"]:
        cells = []
        for i in range(len(lengths)):
            n_ok = sum(seed_exact(e, i) for e in s["extra"])
            asked = max(e["n_sums"][i] for e in s["extra"])
            digit = statistics.mean(e["digit_accuracy"][i] for e in s["extra"])
            cells.append(f"{n_ok}/{len(s['extra'])} ({asked:,} sums)<br>{digit:.7f}")
        lines.append(f"| {s['label']} | {s['settings']['maxlen']} | " + " | ".join(cells) + " |")
    secs = [statistics.mean(e["eval_sec"][i] / e["n_sums"][i] for s in result["series"] for e in s["extra"])
            for i in range(len(lengths))]
    lines += ["", "Evaluation time per sum (mean over all models, one CPU thread, sums evaluated in chunks of "
              "250 and 2,000 time steps with the state carried between chunks): "
              + ", ".join(f"{n:,} digits {1e3 * t:.2f} ms" for n, t in zip(lengths, secs, strict=False)) + ".", ""]
    lines += goal_lines(result)
    return lines + footer(result)

def goal_lines(result):
    """The best configuration and the issue's goal (trained on 10 digits, >= 8/10 seeds exact at 10,000 digits on
    >= 1,000 sums), from the stored numbers; says when the compared series were checked on unequal numbers of sums."""
    lengths = result["series"][0]["extra"][0]["lengths"]
    maxlen = result["series"][0]["settings"]["maxlen"]  # the cell comparison's train length
    trained = [s for s in result["series"] if s["settings"]["maxlen"] == maxlen]

    def key(s):  # how far >= GOAL_FRACTION of seeds stay exact, then the fraction exact at each length
        far = longest_exact(s)
        return (lengths.index(far) if far else -1, [exact_fraction(s, i) for i in range(len(lengths))])

    top = max(key(s) for s in trained)
    best = [s for s in trained if key(s) == top]
    far = longest_exact(best[0])
    lines = [f"**Best configuration** (trained on {maxlen} digits; ranked by how far and by the fraction of seeds "
             f"exact at each length): " + ", ".join(f"`{s['label']}`" for s in best)
             + (" (tied: the same fractions at every length)" if len(best) > 1 else "")
             + f", {GOAL_FRACTION:.0%} or more of seeds exact on random sums up to "
             + (f"{far:,} digits (random sums, not the worst cases: `exact_adder` tests those)." if far else
                "no test length (not even the shortest).")]
    asked = {s["label"]: [max(e["n_sums"][i] for e in s["extra"]) for i in range(len(lengths))] for s in trained}
    unequal = [i for i in range(len(lengths)) if len({a[i] for a in asked.values()}) > 1]
    if unequal:
        lines.append("The compared series were not checked on equal numbers of sums: " + "; ".join(
            f"at {lengths[i]:,} digits " + ", ".join(f"{k} {a[i]:,}" for k, a in asked.items()) for i in unequal)
            + " sums per seed, so the ranking at those lengths compares unequal evidence.")
    if GOAL_LENGTH in lengths:
        i = lengths.index(GOAL_LENGTH)
        for s in best:
            n_sums = min(e["n_sums"][i] for e in s["extra"])
            n_ok = sum(seed_exact(e, i) for e in s["extra"])
            reached = exact_fraction(s, i) >= GOAL_FRACTION and n_sums >= 1000
            found = "**reached**" if reached else "**not reached**" if n_sums >= 1000 else "**not checked**"
            lines.append(f"Goal (exact on {GOAL_LENGTH:,}-digit random sums for >= {GOAL_FRACTION:.0%} of seeds, on "
                         f">= 1,000 sums), `{s['label']}`: {found}, {n_ok}/{len(s['extra'])} seeds exact on "
                         f"{n_sums:,} sums" + ("" if n_sums >= 1000 else " (fewer than the goal asks)") + ".")
            for j in range(i + 1, len(lengths)):
                n_ok = sum(seed_exact(e, j) for e in s["extra"])
                digit = statistics.mean(e["digit_accuracy"][j] for e in s["extra"])
                lines.append(f"At {lengths[j]:,} digits it holds for {n_ok}/{len(s['extra'])} seeds "
                             f"({asked[s['label']][j]:,} sums each), mean per-digit accuracy {digit:.7f}.")
    return [" ".join(lines), ""]
