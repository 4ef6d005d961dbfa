"""Chart and report section of exact_adder (measurements in exact.py, adversary.py, proof.py).

Every number written here is read from the stored result: each series' per-seed "extra" holds the suite's stages
("suite"), on seed 0 the example sums ("examples"), and where the plan asked for them "attack" and "proof".
"""
import statistics

import numpy as np

from measures.exact import verdicts
from measures.exact.verdicts import digits_word, params
from plot import count_axis, footer, header, plt, save, value_axis


def suite_of(s):
    return [e["suite"] for e in s["extra"]]


def passed(s):
    """Seeds of a series that passed the whole suite."""
    return sum(x["passed"] for x in suite_of(s))


def stop_stage(x):
    """The length of the stage a seed failed at, or None when it passed every stage."""
    return None if x["passed"] else x["stages"][-1]["length"]


def first_wrong(x):
    """'check at length: wrong/sums' of the first failing check of a seed, or None."""
    for st in x["stages"]:
        for c in st["checks"]:
            if c["wrong"]:
                return f"{c['check']} at {st['length']:,}: {c['wrong']}/{c['sums']}"
    return None


def shortest(x):
    """The stored failing sum of a seed with the fewest digits (exact.shortest_failure), or None (passed, or a
    result made before failures were stored)."""
    return x.get("shortest_failure")


def smallest_failing_length(s):
    """Fewest digits of a stored failing sum over a series' seeds, or None when no seed stored one."""
    return min((shortest(x)["digits"] for x in suite_of(s) if shortest(x)), default=None)


SHOWN = 2  # failing seeds whose sums a table cell shows (the shortest ones; the JSON holds every seed's)


def failure_cell(seeds, xs, width=60):
    """The shortest failing sums of the SHOWN failing seeds with the fewest digits (cut to `width` characters here;
    the JSON holds them in full) and how many more seeds fail; results made before failures were stored give the
    first failing check instead."""
    out = []
    failing = [(seed, x) for seed, x in zip(seeds, xs, strict=True) if not x["passed"]]
    failing.sort(key=lambda sx: shortest(sx[1])["digits"] if shortest(sx[1]) else float("inf"))
    for seed, x in failing[:SHOWN]:
        f = shortest(x)
        if f is None:
            out.append(f"seed {seed}: {first_wrong(x)}")
        else:
            text = f["sum"] if f["sum"] is not None else f"(row {f['row']} of {f['check']}, too long to store)"
            text = text if len(text) <= width else text[: width - 1] + "…"
            out.append(f"seed {seed}: `{text}` ({digits_word(f['digits'])}, {f['check']})")
    more = len(failing) - SHOWN
    return "; ".join(out) + (f"; {more} more failing seed{'s' if more > 1 else ''} in the JSON" if more > 0 else
                             "") if out else "none"


def min_margin(x):
    return min(c["margin"] for st in x["stages"] for c in st["checks"])


def size_of(s):
    """(layers, hidden units) of a series, from its settings."""
    return s["settings"]["num_layers"], s["settings"]["hidden_size"]


def frontier(result):
    """{layers: [(hidden, seeds passed, seeds, label)]}: per network size, its series passing the most seeds.

    Sizes are read from the settings: the size sweep has one series per size, the recipes share theirs
    (today 2 x 64), where the best recipe stands for the size.
    """
    best = {}
    for s in result["series"]:
        k = size_of(s)
        if k not in best or passed(s) > passed(best[k]):  # ties: the first planned
            best[k] = s
    out = {}
    for (layers, hidden), s in best.items():
        out.setdefault(layers, []).append((hidden, passed(s), len(s["seeds"]), s["label"]))
    return {k: sorted(v) for k, v in out.items()}


def smallest_series(result, goal):
    """The series with the fewest parameters whose pass fraction is >= goal (experiments.EXACT_GOAL); None if none."""
    ok = [s for s in result["series"] if passed(s) / len(s["seeds"]) >= goal]
    return min(ok, key=params) if ok else None  # ties: the first planned


def smallest(result, goal):
    """(label, parameters) of smallest_series; None if none passes."""
    s = smallest_series(result, goal)
    return None if s is None else (s["label"], params(s))


def planned(result, what):
    """The series whose plan asked for `what` ("attack" or "proof") on some seed by EXACT_ATTACK_RUNS' or
    EXACT_PROOF_RUN's selection (the hardened series have their own rule: every seed that passes the suite)."""
    return [s for s, r in zip(result["series"], result["config"]["runs"], strict=True)
            if (r.get("after") or {}).get("args", {}).get(what) is not None
            and (r.get("after") or {}).get("args", {}).get("harden") is None]


MISSING = {"attack": "no adversarial search: EXACT_ATTACK_RUNS selects none of the planned runs",
           "proof": "no proof attempt: EXACT_PROOF_RUN selects none of the planned runs"}


def heading(result):
    """What exact_adder measured, in words that claim no exactness beyond the proofs' (verdicts.py says per seed)."""
    maxlen = result["series"][0]["settings"].get("maxlen") if result.get("series") else None
    return ("worst-case suite, adversarial searches, hardening and proofs for every length (rnn/tanh trained on "
            f"{maxlen} digits)")


def wrap(label, width=26, whole=False):
    """A long series label over at most two lines (legend entries that fit the figure); whole: every line."""
    import textwrap

    lines = textwrap.wrap(label, width)
    return "\n".join(lines if whole else lines[:2]) + ("…" if len(lines) > 2 and not whole else "")


def exact_chart(result, path, goal):
    """The sums (seed 0 of today's recipe and of the smallest passing net), the frontier, recipes and the attack.

    goal: the fraction of seeds a size must pass (experiments.EXACT_GOAL)."""
    series = result["series"]
    best = smallest_series(result, goal)
    shown = [series[0]] + ([best] if best is not None and best is not series[0] else [])
    examples = [(s, (s["extra"][0] or {}).get("examples", [])) for s in shown]
    width = max((len(ex["true"]) for _, exs in examples for ex in exs), default=1)
    lines = max(2.0, sum(1.5 + 4.6 * len(exs) for _, exs in examples))  # text rows: heading, 4 per sum, gaps
    fig = plt.figure(figsize=(16, 9.5 + 0.2 * lines), layout="constrained")  # rows spaced by their own labels
    grid = fig.add_gridspec(3, 2, height_ratios=[0.2 * lines, 4.2, 4])
    ax = fig.add_subplot(grid[0, :])
    ax.axis("off")
    label_cols = 24  # columns left of the digits: the sum's name, then the row's
    ax.set(xlim=(-label_cols, width), ylim=(lines, -0.5))
    y = 0.0
    for s, exs in examples:
        ax.text(-label_cols, y, f"{s['label']} ({s['settings']['num_layers']} x {s['settings']['hidden_size']}), "
                "seed 0", fontsize=10, weight="bold", va="center")
        y += 1.5
        for ex in exs:
            for row, text in (("a", ex["a"]), ("b", ex["b"]), ("true sum", ex["true"]), ("model", ex["model"])):
                if row == "a":
                    ax.text(-label_cols, y, ex["name"], fontsize=9, va="center")
                ax.text(-1, y, row, fontsize=9, va="center", ha="right", family="monospace")
                for i, ch in enumerate(text[-width:].rjust(width)):
                    wrong = row == "model" and ch != ex["true"][i]
                    ax.text(i + 0.5, y, ch, family="monospace", fontsize=9, ha="center", va="center",
                            color="red" if wrong else "black", weight="bold" if wrong else "normal")
                y += 1
            y += 0.6
    ax.set_title("the model's answer under the true sum, digits most significant first (wrong digits in red)",
                 fontsize=10)
    ax = fig.add_subplot(grid[1, 0])
    sized = [s for s in series if s["label"] == f"{s['settings']['num_layers']} x {s['settings']['hidden_size']}"]
    by_layers = {}
    for s in sized:  # one line per depth joins only runs of one recipe (the size sweep's)
        by_layers.setdefault(s["settings"]["num_layers"], []).append((s["settings"]["hidden_size"], passed(s)))
    for j, (layers, rows) in enumerate(sorted(by_layers.items())):
        rows.sort()
        ax.plot([r[0] for r in rows], [r[1] for r in rows], marker="o", color=f"C{j}",
                label=f"{layers} layer(s), size sweep")
    recipes = [s for s in series if s not in sized]
    if recipes:
        best = max(recipes, key=passed)  # another recipe (other training): a separate point, never joined
        st = best["settings"]
        ax.plot([st["hidden_size"]], [passed(best)], marker="*", markersize=14, linestyle="none", color="C3",
                label=f"{st['num_layers']} layer(s): {wrap(best['label'], 40)}")
    n_seeds = len(result["config"]["seeds"])
    ax.axhline(goal * n_seeds, color="gray", linestyle=":",
               label=f"goal: {goal:.0%} of seeds pass ({goal * n_seeds:g} of {n_seeds})")
    value_axis(ax, [s["settings"]["hidden_size"] for s in sized] + ([st["hidden_size"]] if recipes else []))
    ax.set(xlabel="hidden units per layer", ylabel="seeds passing the whole suite",
           title="seeds passing the worst-case suite vs network size",
           ylim=(-0.3, len(result["config"]["seeds"]) + 0.3))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.14), ncol=2, frameon=False)
    ax = fig.add_subplot(grid[1, 1])
    first = suite_of(series[0])[0]
    lengths = first.get("lengths", result["config"]["runs"][0]["after"]["args"]["suite"]["lengths"])
    all_digits = first.get("families", {}).get("all_digits")  # the first stage: every sum of <= this many digits
    bottom = np.zeros(len(series))
    for j, length in enumerate([*lengths, None]):
        counts = np.array([sum(stop_stage(x) == length for x in suite_of(s)) for s in series])
        label = ("passed" if length is None else f"first wrong in all sums of ≤ {length} digits"
                 if j == 0 and length == all_digits else f"first wrong at {length:,} digits")
        ax.barh(range(len(series)), counts, left=bottom, color="C2" if length is None else f"C{j + 3}", label=label)
        bottom += counts
    for i, s in enumerate(series):  # the shortest stored failing sum of the series, beside its bar
        small = smallest_failing_length(s)
        if small is not None:
            ax.text(bottom[i] + 0.1, i, f"shortest failing sum: {small:,} digits", va="center", fontsize=7)
    ax.set_xlim(0, len(result["config"]["seeds"]) * 1.6)  # room right of the bars for their notes
    count_axis(ax, len(result["config"]["seeds"]))
    ax.set(yticks=range(len(series)), xlabel="seeds", title="where each seed first fails the worst-case suite")
    ax.set_yticklabels([wrap(s["label"], 34, whole=True) for s in series], fontsize=8)
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)  # below the bars, never on them
    ax = fig.add_subplot(grid[2, 0])
    attacked = [s for s in series if any(e and "attack" in e for e in s["extra"])]
    for j, s in enumerate(attacked):  # one colour per series, one line per attacked seed (its worst search)
        curves = [np.array(e["attack"]["curve"]) for e in s["extra"] if e and "attack" in e]
        for k, c in enumerate(curves):
            ax.plot(c[:, 0], c[:, 1], color=f"C{j}", alpha=0.8,
                    label=f"{wrap(s['label'], 40)} ({len(curves)} seed{'s' if len(curves) > 1 else ''})" if k == 0
                    else None)
    ax.axhline(0, color="red", linestyle=":")
    ax.set(xscale="log", xlabel="candidate sums tried", ylabel="smallest margin found (logit units)",
           title="adversarial search (float32 re-implementation of the step)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.12), ncol=2, frameon=False)
    if not planned(result, "attack"):
        ax.text(0.5, 0.5, MISSING["attack"].replace(": ", ":\n"), ha="center", va="center", transform=ax.transAxes)
    ax = fig.add_subplot(grid[2, 1])
    for s in series:
        for seed, p in verdicts.measured(s, "proof")[:1]:  # one seed per series (the first tried): boxes per
            # (carry in, pair)
            w = np.array([np.nan if v is None else v for v in p["box_width"]])
            m = np.array([np.nan if v is None else v for v in p["box_margin"]])
            name = f"{wrap(s['label'], 30)}, seed {seed} ({'proven' if p['proven'] else 'not proven'})"
            ax.scatter(w, m, s=10, label=name)
    ax.axhline(0, color="red", linestyle=":")
    ax.set(xscale="log", xlabel="widest side of the box (per digit pair and carry in)",
           ylabel="bound on the output margin", title="proof attempts: boxes at the end of the search")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.12), ncol=2, frameon=False)
    if not planned(result, "proof"):
        ax.text(0.5, 0.5, MISSING["proof"].replace(": ", ":\n"), ha="center", va="center", transform=ax.transAxes)
    for a in fig.axes[1:]:
        a.grid(alpha=0.3)
    save(fig, path, heading(result))


def exact_section(result, goal):
    """exact_adder's part of plots/README.md; goal: the fraction of seeds a size must pass (experiments.EXACT_GOAL)."""
    series, n = result["series"], len(result["config"]["seeds"])
    suite = result["config"]["runs"][0]["after"]["args"]["suite"]
    xs0 = suite_of(series[0])
    fam = next((x["families"] for s in series for x in suite_of(s) if "families" in x), None)
    lines = header({**result, "title": heading(result)}) + [
        f"The worst-case suite, stopped at a seed's first wrong sum: at {suite['lengths'][0]:,} digits "
        f"{suite['chain_sums']} sums for every longest carry chain k in {suite['chains']}, 99…9 + 1, 1 + 99…9, "
        f"99…9 + 99…9 and {suite['gain_sums']} sums whose result gains a digit through a chain into the top; then "
        f"99…9 + 1, 1 + 99…9 and 99…9 + 99…9 at " + ", ".join(f"{v:,}" for v in suite["lengths"][1:])
        + f" digits, with {suite['random_sums']} random sums at {suite['lengths'][1]:,} and {suite['long_random']} "
        f"at {suite['lengths'][-1]:,}. Margin = the right digit's logit minus the best wrong one, smallest over "
        "every digit of every sum a seed was run on."]
    if fam is not None:
        lines += ["", "The suite now also holds the phantom-carry families, run first so that a seed's shortest "
                  "failures are found first and cheaply: every sum of two operands of ≤ "
                  f"{fam['all_digits']} digits ({100 ** fam['all_digits']:,} pair sequences; shorter sums are in it "
                  "as sums with leading zero pairs), then at "
                  + ", ".join(f"{v:,}" for v in fam["short_lengths"]) + f" and {suite['lengths'][0]:,} digits, "
                  f"besides the chains: for every k, {fam['short_run_sums']} (short stages) or {fam['run_sums']} "
                  f"({suite['lengths'][0]:,} digits) sums with a run of k pairs summing to 9 and no carry coming in "
                  "(the run starts the sum or follows a pair summing to ≤ 8), d…d + (9-d)…(9-d) for d = 0..9 "
                  f"(every run length up to {fam['whole_run_lengths']}), each of the 100 digit pairs repeated up to "
                  f"the top with carry in 0 and with carry in 1, and {fam['known']} sums earlier checks found wrong. "
                  "Stages: " + ", ".join(f"{v:,}" for v in xs0[0]["lengths"]) + " digits. The previous suite had "
                  "only carry chains (9-pairs after a pair that carries), 99…9 cases and random sums, which a model "
                  "that invents a carry after 9-pairs with none coming in passes: **the pass counts below fall "
                  "versus the previous suite's.** Every failing sum is stored in full (up to "
                  f"{fam['failures_kept']} per check, both operands most significant digit first, [d x n] = n "
                  "digits d, cut to the shortest prefix that is still wrong); the table shows each failing seed's "
                  "shortest."]
    lines += ["", "| series | layers x units | parameters | settings | seeds passing | smallest failing length | "
              "shortest failing sums | median smallest margin |", "|---|---|---|---|---|---|---|---|"]
    for s in series:
        st, xs = s["settings"], suite_of(s)
        keys = ("lr", "steps", "milestones", "chain_fraction")
        small = smallest_failing_length(s)
        lines.append(f"| {s['label']} | {st['num_layers']} x {st['hidden_size']} | {params(s):,} | "
                     + ", ".join(f"{k} {st[k]}" for k in keys if st.get(k)) + f" | {passed(s)}/{len(xs)} | "
                     + (digits_word(small) if small is not None else "none fails" if passed(s) == len(xs) else
                        "not stored") + f" | {failure_cell(s['seeds'], xs)} | "
                     + f"{statistics.median(min_margin(x) for x in xs):.2f} |")
    best = smallest(result, goal)
    lines += ["", (f"Smallest network passing the whole suite for ≥ {goal:.0%} of {n} seeds: "
                   f"**{best[0]}** ({best[1]:,} parameters besides the embedding)." if best else
                   f"No network passed the whole suite for ≥ {goal:.0%} of {n} seeds.")]
    for layers, rows in sorted(frontier(result).items()):
        lines.append(f"- {layers} layer(s): " + ", ".join(f"{h} units {p}/{k}" for h, p, k, _ in rows) + ".")
    for what in ("attack", "proof"):  # an edit of the constants may have removed either
        if not planned(result, what):
            lines += ["", MISSING[what][0].upper() + MISSING[what][1:] + "."]
    lines += ["", "**Verdicts per seed.** *Proven*: proof.check closed (every sum of every length is right, in "
              "float32 arithmetic); *no failure found*: the suite passed and, where attacked, the adversarial "
              "searches found no failing sum (the tests are named in the column *by*: no failure found is not a "
              "proof); *failing*: a wrong sum was found (smallest failing length: the fewest digits of one).", "",
              *verdicts.verdict_table(result)]
    hardened = verdicts.harden_lines(result)
    if hardened:
        lines += ["", "**Hardening** (measures/exact/harden.py): the trained model is fine-tuned in rounds of attack "
                  "(its own search stream) → windows of 16, 30 and 60 pairs around the worst sums found → Adam "
                  "steps on those windows alternating with ordinary, carry-chain-rich and 9-run training-split sums, "
                  "until the attack finds nothing; with saturation, a term mean(1 - h²) then drives every unit "
                  "towards ±1 and the rounds go on until the proof also closes:", *hardened]
    attacks = verdicts.attack_lines(result)
    if attacks:
        lines += ["", "**Adversarial searches** (adversary.py; a hardened seed is attacked only if it passed the "
                  "suite):", *attacks]
    proofs = verdicts.proof_lines(result)
    if proofs:
        lines += ["", "**Proofs** (proof.py):", *proofs]
    return lines + footer(result)
