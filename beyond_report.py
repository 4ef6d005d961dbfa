"""Charts and plots/README.md sections of the experiments beyond the report (length_generalization,
carry_chains, hidden_size_min, cost_to_exact; hidden_probe's are in probe.py): fn(result, path) draws
its PNG, fn(result) returns its report section as markdown lines.

Every number written here is read from the result (its series and each seed's "extra"). A seed is
"exact" at a test length when all of that length's sums came out right on the full number of sums
asked for (a length evaluated on fewer sums, because a shorter one already failed, never counts).
"""
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import beyond  # noqa: E402
import experiments  # noqa: E402
import report  # noqa: E402
from plot import band  # noqa: E402

GOAL_LENGTH, GOAL_FRACTION = beyond.GOAL_LENGTH, beyond.GOAL_FRACTION


def header(result):
    rid = result["id"]
    return [f"## `{rid}`: {result['title']}", "", f"![{rid}]({rid}.png)", ""]


def footer(result):
    return ["", f"Seeds {result['config']['seeds']}; trained and measured on {result['device']} in "
                f"{result['wall_seconds']:.0f} s (torch {result['torch']}).", ""]


def save(fig, path, title):
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def length_chart(result, path):
    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    for k, s in enumerate(result["series"]):
        color, x = f"C{k % 10}", s["extra"][0]["lengths"]
        for ax, key in ((axes[0], "accuracy"), (axes[2], "digit_accuracy")):
            vals = [[1 - v if key == "digit_accuracy" else v for v in e[key]] for e in s["extra"]]
            if key == "digit_accuracy":
                vals = [[max(v, 1e-8) for v in c] for c in vals]  # error 0 drawn at the 1e-8 floor
            mean, lo, hi = band(vals)
            ax.plot(x, mean, color=color, marker="o", label=s["label"])
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, linewidth=0)
        axes[1].plot(x, [beyond.exact_fraction(s, i) for i in range(len(x))], color=color, marker="o", label=s["label"])
    axes[0].set(ylabel="exact-match accuracy", ylim=(-0.02, 1.02), title="exact match (mean, min-max band)")
    axes[1].set(ylabel="fraction of seeds exact", ylim=(-0.02, 1.02), title="seeds with every test sum right")
    axes[1].axhline(GOAL_FRACTION, color="gray", linestyle=":")
    axes[2].set(ylabel="per-digit error rate (0 drawn at 1e-8)", yscale="log", title="per-digit error")
    for ax in axes:
        ax.set(xscale="log", xlabel="test length (digits per operand)")
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
            n_ok = sum(beyond.seed_exact(e, i) for e in s["extra"])
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
        far = beyond.longest_exact(s)
        return (lengths.index(far) if far else -1, [beyond.exact_fraction(s, i) for i in range(len(lengths))])

    top = max(key(s) for s in trained)
    best = [s for s in trained if key(s) == top]
    far = beyond.longest_exact(best[0])
    lines = [f"**Best configuration** (trained on {maxlen} digits; ranked by how far and by the fraction of seeds "
             f"exact at each length): " + ", ".join(f"`{s['label']}`" for s in best)
             + (" (tied: the same fractions at every length)" if len(best) > 1 else "")
             + f", {GOAL_FRACTION:.0%} or more of seeds exact up to "
             + (f"{far:,}-digit sums." if far else "no test length (not even the shortest).")]
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
            n_ok = sum(beyond.seed_exact(e, i) for e in s["extra"])
            reached = beyond.exact_fraction(s, i) >= GOAL_FRACTION and n_sums >= 1000
            found = "**reached**" if reached else "**not reached**" if n_sums >= 1000 else "**not checked**"
            lines.append(f"Goal (exact on {GOAL_LENGTH:,}-digit sums for >= {GOAL_FRACTION:.0%} of seeds, on "
                         f">= 1,000 sums), `{s['label']}`: {found}, {n_ok}/{len(s['extra'])} seeds exact on "
                         f"{n_sums:,} sums" + ("" if n_sums >= 1000 else " (fewer than the goal asks)") + ".")
            for j in range(i + 1, len(lengths)):
                n_ok = sum(beyond.seed_exact(e, j) for e in s["extra"])
                digit = statistics.mean(e["digit_accuracy"][j] for e in s["extra"])
                lines.append(f"At {lengths[j]:,} digits it holds for {n_ok}/{len(s['extra'])} seeds "
                             f"({asked[s['label']][j]:,} sums each), mean per-digit accuracy {digit:.7f}.")
    return [" ".join(lines), ""]


def chain_chart(result, path):
    fig, ax = plt.subplots(figsize=(9, 5))
    for k, s in enumerate(result["series"]):
        mean, lo, hi = band([e["accuracy"] for e in s["extra"]])
        x = s["extra"][0]["chains"]
        ax.plot(x, mean, color=f"C{k}", marker="o", label=s["label"])
        ax.fill_between(x, lo, hi, color=f"C{k}", alpha=0.15, linewidth=0)
    ax.axvline(beyond.longest_chain_possible(result["series"][0]["settings"]["maxlen"]), color="gray",
               linestyle=":", label="longest chain a training sum can hold")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(-0.3, 1.3 * max(result["series"][0]["extra"][0]["chains"]))
    ax.set(xlabel="longest carry chain k (digit sums of 9 after a generating pair)",
           ylabel="exact-match accuracy", ylim=(-0.02, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path, result["title"])


def chain_section(result):
    chains = result["series"][0]["extra"][0]["chains"]
    ex = result["series"][0]["extra"][0]
    lines = header(result) + [
        f"Exact-match accuracy (mean over seeds) on {ex['n_sums']} sums of {ex['length']:,} digits whose longest "
        f"carry chain is exactly k; trained on {result['series'][0]['settings']['maxlen']} digits, whose sums hold "
        f"no chain longer than {beyond.longest_chain_possible(result['series'][0]['settings']['maxlen'])}.", "",
        "| cell | first failing k: mean / per seed | " + " | ".join(f"k={k}" for k in chains)
        + " | 99…9 + 1 | 1 + 99…9 |", "|---|---" + "|---" * len(chains) + "|---|---|"]
    for s in result["series"]:
        acc = [statistics.mean(e["accuracy"][i] for e in s["extra"]) for i in range(len(chains))]
        f = beyond.first_fail(s)
        n = len(s["extra"])
        per_seed = ", ".join("never" if k is None else str(k) for k in beyond.seed_first_fails(s))
        lines.append(f"| {s['label']} | {'never' if f is None else f} / {per_seed} | "
                     + " | ".join(f"{a:.3f}" for a in acc)
                     + f" | {sum(e['nines_plus_one'] for e in s['extra'])}/{n} | "
                     f"{sum(e['one_plus_nines'] for e in s['extra'])}/{n} |")
    lines += ["", "Per cell, the chain length at which it first fails (smallest k where the mean over seeds drops "
              "below 1; in brackets the median over seeds of each seed's own first failing k): " + "; ".join(
                  f"{s['label']} {'never' if beyond.first_fail(s) is None else f'k = {beyond.first_fail(s)}'} "
                  f"({'never' if beyond.median_first_fail(s) is None else f'k = {beyond.median_first_fail(s)}'})"
                  for s in result["series"])
              + ". The last two columns count seeds that get the whole worst-case sum right."]
    return lines + footer(result)


def size_chart(result, path):
    table = beyond.size_table(result)
    cells, sizes = list(table), sorted(next(iter(table.values())))
    frac = np.array([[table[c][h][0] / table[c][h][1] for h in sizes] for c in cells])
    fig, ax = plt.subplots(figsize=(1.2 * len(sizes) + 3, 0.8 * len(cells) + 2))
    im = ax.imshow(frac, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for r, c in np.ndindex(frac.shape):
        ok, n, med = table[cells[r]][sizes[c]]
        ax.text(c, r, f"{ok}/{n}" + (f"\n{med:g} st." if med else ""), ha="center", va="center", fontsize=8,
                color="white" if frac[r, c] < 0.6 else "black")
    ax.set_xticks(range(len(sizes)), [str(h) for h in sizes])
    ax.set_yticks(range(len(cells)), cells)
    ax.set(xlabel="hidden_size (units per layer)", title=result["title"])
    fig.colorbar(im, ax=ax, label="fraction of seeds reaching accuracy 1.0")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def size_section(result):
    table = beyond.size_table(result)
    sizes = sorted(next(iter(table.values())))
    cap = result["series"][0]["settings"]["steps"]
    lines = header(result) + [
        f"Seeds reaching exact accuracy within {cap} steps (median first exact step) per hidden size; "
        f"minimal size = smallest with at least {experiments.SIZE_SUCCESS:.0%} of seeds succeeding.", "",
        "| cell | minimal size | smallest with any seed | " + " | ".join(f"h={h}" for h in sizes) + " |",
        "|---|---|---" + "|---" * len(sizes) + "|"]
    for cell, row in table.items():
        m, any_seed = beyond.minimal_size(row), beyond.minimal_size(row, 1e-9)
        cells = [f"{row[h][0]}/{row[h][1]}" + (f" ({row[h][2]:g})" if row[h][2] else "") for h in sizes]
        lines.append(f"| {cell} | {m if m else 'none'} | {any_seed if any_seed else 'none'} | "
                     + " | ".join(cells) + " |")
    return lines + footer(result)


def cost_chart(result, path):
    rows = beyond.cost_rows(result)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, j, name in ((axes[0], 1, "training steps"), (axes[1], 2, "training sums"),
                        (axes[2], 3, "wall seconds (training + evaluations)")):
        for k, (s, row) in enumerate(zip(result["series"], rows, strict=False)):
            ax.bar(k, row[j] or 0, color=f"C{k}", alpha=0.6)
            per_seed = s["first_exact"] if j < 3 else s["first_exact_sec"]
            scale = s["settings"].get("batch_size", beyond.BATCH_SIZE) if j == 2 else 1
            ax.plot([k] * len(per_seed), [v * scale for v in per_seed if v is not None]
                    + [np.nan] * sum(v is None for v in per_seed), "k.", markersize=6)
        ax.set_xticks(range(len(rows)), [r[0] for r in rows], rotation=20, ha="right", fontsize=8)
        ax.set(title=name, ylabel="median (bar) and per seed (dots)")
        ax.grid(alpha=0.3, axis="y")
    save(fig, path, f"{result['title']}: each run stops at its first exact evaluation")


def cost_section(result):
    rows = beyond.cost_rows(result)
    cap = result["series"][0]["settings"]["steps"]
    every = result["series"][0]["settings"]["eval_every"]
    lines = header(result) + [
        f"Median over seeds of the training steps, training sums and wall seconds (training and the evaluations "
        f"every {every} steps, one CPU thread) until the first evaluation with every held-out sum right "
        f"(cap {cap} steps).", "", "| series | steps | examples | seconds | seeds reaching | ms/step |",
        "|---|---|---|---|---|---|"]
    def fmt(v, f):
        return "never" if v is None else f.format(v)

    for label, steps, examples, secs, hit, ms in rows:
        lines.append(f"| {label} | {fmt(steps, '{:g}')} | {fmt(examples, '{:,.0f}')} | {fmt(secs, '{:.1f}')} | "
                     f"{hit}/{len(result['config']['seeds'])} | {ms:.2f} |")
    lines += [""] + answer_232(result, rows)
    return lines + footer(result)


def answer_232(result, rows):
    """The source study's §2.3.2 question, answered from this result's numbers (report.compare: beyond seed noise)."""
    by = {r[0]: r for r in rows}
    carry = next((s for s in result["series"] if s.get("extra")), None)
    if carry is None:
        return []
    none = next((s for s in result["series"] if s["label"] == carry["label"].split(",")[0]), None)
    c = by[carry["label"]]
    bptt = next(e for e in carry["extra"] if e)
    d, sec = bptt["depths"], bptt["sec_per_step"]
    n_seeds = len(result["config"]["seeds"])
    fast = [r for r in rows if r[0] != c[0] and r[1] is not None]
    head = ["### Why the model learns with no hidden state passed in (source study §2.3.2)", ""]
    text = ["The state given to `nn.RNN` is only the initial state of each sum, the state before its units digit; "
            "the recurrence from one digit to the next, which carries the carry, runs inside the layer whatever "
            "is passed in."]
    if fast:
        text.append("With nothing passed (zeros) the model learns the task here: " + ", ".join(
            f"{r[0]} reaches its first exact evaluation after a median {r[1]:g} steps ({r[4]}/{n_seeds} seeds)"
            for r in fast) + ".")
    else:
        text.append("No series without a passed state reached an exact evaluation in this run.")
    if none is not None:
        n = by[none["label"]]

        def steps(r):
            return "never gets there" if r[1] is None else f"needs a median {r[1]:g} steps"

        effect = report.compare(report.seed_first_steps(carry), report.seed_first_steps(none))
        verdict = {1: "passing the state in slows learning beyond seed noise",
                   -1: "passing the state in speeds learning beyond seed noise",
                   0: "passing the state in makes no difference beyond seed noise"}[effect]
        text.append(f"With the previous batch's final state passed in (carry mode, detached), {c[0]} {steps(c)} "
                    f"({c[4]} seeds reaching) at {c[5]:.2f} ms/step; without it {steps(n)} ({n[4]} seeds reaching) "
                    f"at {n[5]:.2f} ms/step: {verdict} (that state belongs to unrelated sums).")
    ratios = [e["sec_per_step"][-1] / e["sec_per_step"][0] for e in carry["extra"] if e]
    grows = report.compare(ratios, [1.0]) == 1
    text.append("The source code's carry mode never detached that state, so step n back-propagated through all n "
                "batches so far. Measured on this model, one step back-propagating through "
                + ", ".join(f"{k} batch{'es' if k > 1 else ''} takes {1e3 * v:.1f} ms"
                            for k, v in zip(d, sec, strict=False))
                + f" ({statistics.fmean(ratios):.1f}x the depth-1 step at depth {d[-1]}, mean over seeds): "
                + ("the cost of step n grew with n, so a run's with the square of its length." if grows else
                   "the cost did not grow with depth beyond seed noise here."))
    return head + [" ".join(text), ""]
