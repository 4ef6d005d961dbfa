"""carry_chains: exact match vs the longest carry chain in long sums, and the worst cases 99...9 + 1.
Measurement, summary, chart and report section.

chain_eval is an "after" hook (plan format: machinery/plans.py): accuracy on sums whose longest carry chain is exactly
k (data.carry_chain_data), and whether 99...9 + 1 and 1 + 99...9 come out right.
"""
import statistics

from data import LEADING_DIGITS, carry_chain_data, check_int, measure_rng
from measures.beyond import evaluate_sums, predict_correct, worst_cases
from plot import band, footer, header, plt, save


def chain_eval(model, state, run, seed, length, chains, sums, quick=False):
    """Exact-match accuracy on `sums` sums of `length` digits per longest-carry-chain length k in chains.

    Also whether 99...9 + 1 and 1 + 99...9 of `length` digits come out right. quick: length 20.
    """
    if quick:
        length, sums = min(length, 20), min(sums, 20)
    length = check_int("length", length, 1)
    chains = sorted({min(check_int("chain", k, 0), length - 1) for k in chains})
    out = {"length": length, "chains": chains, "accuracy": [], "digit_accuracy": [], "n_sums": sums}
    for k in chains:
        rng = measure_rng(seed, "long_sums", length, k)
        acc, digit, _ = evaluate_sums(model, lambda n, k=k, rng=rng: carry_chain_data(n, length, k, rng), sums,
                                      carried=state)
        out["accuracy"].append(acc)
        out["digit_accuracy"].append(digit)
    ok, _ = predict_correct(model, *worst_cases(length), carried=state)
    out["nines_plus_one"], out["one_plus_nines"] = bool(ok[0]), bool(ok[1])
    return out

def longest_chain_possible(maxlen, split="train"):
    """Longest carry chain (9-sums a carry crosses) a maxlen-digit sum of `split` can hold.

    The carry must be generated at some position and then cross digit sums of 9 above it; the top position
    can pass it on only if two leading digits of the split can sum to 9 (train 0-4: at most 8; test 5-9: 10+).
    """
    low, high = LEADING_DIGITS[split]
    top_passes = 2 * low <= 9 <= 2 * (high - 1)
    return max(0, maxlen - (1 if top_passes else 2))

def first_fail(series):
    """Smallest chain length k at which the mean exact-match accuracy over seeds drops below 1 (None: never)."""
    chains = series["extra"][0]["chains"]
    for i, k in enumerate(chains):
        if statistics.mean(e["accuracy"][i] for e in series["extra"]) < 1.0:
            return k
    return None

def seed_first_fails(series):
    """Per seed, the smallest chain length k at which not every sum came out right (None: never)."""
    return [next((k for k, a in zip(e["chains"], e["accuracy"], strict=False) if a < 1.0), None)
            for e in series["extra"]]

def median_first_fail(series):
    """Median over seeds of seed_first_fails (a seed that never fails ranks above every k); None: most never fail."""
    fails = seed_first_fails(series)
    never = max(series["extra"][0]["chains"]) + 1
    med = statistics.median_low([never if f is None else f for f in fails])
    return None if med == never else med


def chain_chart(result, path):
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(9, 5))
    for k, s in enumerate(result["series"]):
        mean, lo, hi = band([e["accuracy"] for e in s["extra"]])
        x = s["extra"][0]["chains"]
        ax.plot(x, mean, color=f"C{k}", marker="o", label=s["label"])
        ax.fill_between(x, lo, hi, color=f"C{k}", alpha=0.15, linewidth=0)
    ax.axvline(longest_chain_possible(result["series"][0]["settings"]["maxlen"]), color="gray",
               linestyle=":", label="longest chain a training sum can hold")
    ax.set_xscale("symlog", linthresh=1)  # k = 0 has a place of its own; ticks read as chain lengths, not powers
    top = max(result["series"][0]["extra"][0]["chains"])
    ticks = [k for k in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if k < 0.7 * top] + [top]
    ax.set_xticks(ticks, [f"{k:,}" for k in ticks])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlim(-0.3, 1.3 * top)
    ax.set(xlabel="longest carry chain k (digit sums of 9 after a generating pair)",
           ylabel="exact-match accuracy", ylim=(-0.02, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    save(fig, path, result["title"], result)

def chain_section(result):
    chains = result["series"][0]["extra"][0]["chains"]
    ex = result["series"][0]["extra"][0]
    lines = header(result) + [
        f"Exact-match accuracy (mean over seeds) on {ex['n_sums']} sums of {ex['length']:,} digits whose longest "
        f"carry chain is exactly k; trained on {result['series'][0]['settings']['maxlen']} digits, whose sums hold "
        f"no chain longer than {longest_chain_possible(result['series'][0]['settings']['maxlen'])}.", "",
        "| cell | first failing k: mean / per seed | " + " | ".join(f"k={k}" for k in chains)
        + " | 99…9 + 1 | 1 + 99…9 |", "|---|---" + "|---" * len(chains) + "|---|---|"]
    for s in result["series"]:
        acc = [statistics.mean(e["accuracy"][i] for e in s["extra"]) for i in range(len(chains))]
        f = first_fail(s)
        n = len(s["extra"])
        per_seed = ", ".join("never" if k is None else str(k) for k in seed_first_fails(s))
        lines.append(f"| {s['label']} | {'never' if f is None else f} / {per_seed} | "
                     + " | ".join(f"{a:.3f}" for a in acc)
                     + f" | {sum(e['nines_plus_one'] for e in s['extra'])}/{n} | "
                     f"{sum(e['one_plus_nines'] for e in s['extra'])}/{n} |")
    lines += ["", "Per cell, the chain length at which it first fails (smallest k where the mean over seeds drops "
              "below 1; in brackets the median over seeds of each seed's own first failing k): " + "; ".join(
                  f"{s['label']} {'never' if first_fail(s) is None else f'k = {first_fail(s)}'} "
                  f"({'never' if median_first_fail(s) is None else f'k = {median_first_fail(s)}'})"
                  for s in result["series"])
              + ". The last two columns count seeds that get the whole worst-case sum right."]
    return lines + footer(result)
