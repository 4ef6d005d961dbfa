"""The claim rules C1-C5 (the task, the state and the length): each reads the results and returns (parts, notes,
fixed verdict or None), every part judged by one rule of judge/parts.py. The claims' table (report/claims.py)
states each in plain words."""
import math
import statistics

from data import LEADING_DIGITS
from judge import stats
from judge.parts import (
    BY_CONSTRUCTION,
    NOT_MEASURED,
    Part,
    differs,
    identical,
    margin_for,
    rate,
    ratio_about,
    ratio_above,
    same,
    speeds,
)
from judge.stats import pair
from judge.tables import (
    seed_finals,
    speed,
)
from measures.cost import bptt_profile
from report import fidelity
from report.rules import NotJudged, need

C1_STEPS = fidelity.C1_STEPS  # C1: the report's step budget to accuracy 1.0 at maxlen 10 (its home: fidelity.py)
CARRY_SLOWDOWN = 4.0  # C2: the report's "carry is ~4x slower per step"
ABOUT = (math.sqrt(12), math.sqrt(20))  # C2: "~4x" = nearer 4 than 3 or 5: the geometric midpoints (ANALYSIS_PLAN §2)


def c1(r):
    """C1 as a rate: seeds exact by C1_STEPS, on this project's fixed evaluation batch and (series with eval_fresh)
    on fresh sums at each evaluation, as the source evaluated."""
    parts = []
    for fresh in (False, True):
        s = next((x for x in r["pt_main"]["series"] if bool(x["settings"].get("eval_fresh")) == fresh), None)
        what = "fresh held-out sums at each evaluation (the source's metric)" if fresh else "the fixed evaluation batch"
        text = f"most seeds exact by step {C1_STEPS} on {what}"
        if s is None:
            parts.append(Part(text, NOT_MEASURED, "binomial (rate 1/2)", "-", "no `eval_fresh` series in pt_main "
                              "yet (ANALYSIS_PLAN.md §8)"))
            continue
        if s["steps"][-1] < C1_STEPS:  # e.g. runs cut short: they cannot show what happens by then
            raise NotJudged(f"pt_main's runs stop at step {s['steps'][-1]}, before step {C1_STEPS}")
        firsts = s["first_exact"]
        k = sum(f is not None and f <= C1_STEPS for f in firsts)
        part = rate(text, k, len(firsts), f"exact by step {C1_STEPS}:")
        part.stat += "; first exact step per seed: " + ", ".join("never" if f is None else str(f) for f in firsts)
        parts.append(part)
    return parts, [], None


def ceiling_step(*series):
    """The first evaluation step from which every seed of every series stays at accuracy 1.0 (None: never)."""
    steps = series[0]["steps"]
    for i, st in enumerate(steps):
        if all(a == 1.0 for s in series for c in s["accuracy"] for a in c[i:]):
            return st
    return None


def c2(r):
    parts, notes = [], []
    for eid, claim in (("hidden_mode_len5", "faster"), ("hidden_mode_len50", "alike")):
        res = r[eid]
        c, n = need(res, eid, hidden_mode="carry"), need(res, eid, hidden_mode="none")
        maxlen = c["settings"]["maxlen"]
        a, b, paired = speeds(n, c)
        if claim == "faster":
            parts.append(differs(f"maxlen {maxlen}: none learns faster than carry", "none", a, "carry", b, paired,
                                 margin_for(c)))
        else:
            parts.append(same(f"maxlen {maxlen}: none and carry alike", "none", a, "carry", b, paired, margin_for(c),
                              runs=(n, c)))
            top = ceiling_step(c, n)
            if top is not None and top <= c["steps"][len(c["steps"]) // 2]:
                notes.append(f"at maxlen {maxlen} both modes are at the ceiling: every seed exact from step {top} "
                             f"on, so only the evaluations before step {top} can differ")
    claim_maxlen = need(r["hidden_mode_len5"], "hidden_mode_len5", hidden_mode="carry")["settings"]["maxlen"]
    cost = bptt_profile(r.get("cost_to_exact"))
    if cost is None:
        notes.append("~4x slower: not measured (`cost_to_exact`, which times the source code's undetached carry, "
                     "not run yet)")
    else:
        reset, mean_depth = cost["reset"], (cost["reset"] + 1) / 2
        parts.append(ratio_above("carry slower per step (the source code's undetached step over a one-batch step, "
                                 f"averaged over its {reset}-step reset cycle)", cost["cycle"], 1.0))
        parts.append(ratio_about(f"carry about {CARRY_SLOWDOWN:g}x slower per step (nearer {CARRY_SLOWDOWN:g} than "
                                 f"{CARRY_SLOWDOWN - 1:g} or {CARRY_SLOWDOWN + 1:g})", cost["cycle"], *ABOUT))

        def gm(v):
            g, lo, hi = stats.geometric(v)
            return f"{g:.1f}x [{lo:.1f}, {hi:.1f}]"

        by_depth = ", ".join(f"{d}: {gm(v)}" for d, v in cost["by_depth"].items())
        notes.append(f"the source's evaluate() replaced the carried state every {reset} steps with one carrying no "
                     f"graph, so a step back-propagated through at most {reset} batches (mean {mean_depth:g}) and "
                     f"the cost of a run grows linearly with its length; cost ratio by depth (geometric mean over "
                     f"seeds, {1 - stats.ALPHA:.0%} CI), measured on "
                     f"`cost_to_exact`'s {cost['label']} at maxlen {cost['maxlen']} (the claim is at maxlen "
                     f"{claim_maxlen}): "
                     f"{by_depth}; {'extrapolated' if cost['extrapolated'] else 'interpolated'} "
                     f"{gm(cost['at_reset'])} at depth {reset}, "
                     f"{gm(cost['cycle'])} averaged over the cycle")
    c5 = need(r["hidden_mode_len5"], "hidden_mode_len5", hidden_mode="carry")
    n5 = need(r["hidden_mode_len5"], "hidden_mode_len5", hidden_mode="none")
    wall = statistics.mean(c5["sec_per_step"]) / statistics.mean(n5["sec_per_step"])
    notes.append(f"wall clock carry/none at maxlen {c5['settings']['maxlen']} with the state detached (this "
                 f"project): {wall:.2f}x (shown, not judged: measured while worker processes share the cores)")
    return parts, notes, None


def below_top(series, bound):
    """Per seed, the final per-digit accuracy over the digits below the top one, bounded from the stored per-digit
    accuracy over all T = maxlen + 1 digits: "upper" counts the top digit wrong, "lower" counts it right."""
    t = series["settings"]["maxlen"] + 1
    finals = [c[-1] if c and c[-1] is not None else 0.0 for c in series["digit_accuracy"]]
    return [max(0.0, (d * t - (bound == "lower")) / (t - 1)) for d in finals]


def top_digit_forced():
    """Whether the test split's top digit is always 1 and the training split's always 0 (data.LEADING_DIGITS):
    a model that sees only the digit pair at that step (no recurrence) then gets it wrong on every test sum."""
    (_, tr_hi), (te_lo, _) = LEADING_DIGITS["train"], LEADING_DIGITS["test"]
    return 2 * te_lo >= 10 and 2 * (tr_hi - 1) + 1 < 10


def c3(r):
    base = need(r["no_rnn"], "no_rnn", cell="linear")
    rnn = next((s for s in r["no_rnn"]["series"] if s["settings"].get("cell", "rnn") != "linear"), None)
    if rnn is None:
        raise NotJudged("no_rnn has no recurrent series")
    fb = seed_finals(base)
    forced = top_digit_forced() and base["settings"].get("eval_split", "test") == "test"
    stat = f"final exact-match accuracy {sum(x == 0 for x in fb)}/{len(fb)} seeds at 0"
    if forced:
        parts = [Part("every no-RNN seed's final exact-match accuracy is 0", BY_CONSTRUCTION if all(
            x == 0 for x in fb) else "contradicted", "none: by construction", "-", stat + "; the test sums' top "
            "digit is always 1 and the training sums' always 0, and without recurrence the model sees (0, 0) "
            "there, so it cannot be right on any test sum whatever it learns")]
    else:
        parts = [Part("every no-RNN seed's final exact-match accuracy is 0", "holds" if all(x == 0 for x in fb)
                      else "contradicted", "count per seed (no test)", "-", stat)]
    notes = []
    if base.get("digit_accuracy") and rnn.get("digit_accuracy"):
        a, b, paired = pair(rnn, below_top(rnn, "lower"), base, below_top(base, "upper"))
        parts.append(differs("per-digit accuracy below the top digit: the RNN's above no-RNN's (a test that can "
                             "fail)", "RNN (lower bound)", a,
                             "no RNN (upper bound)", b, paired, margin=None))
        notes.append(f"the per-digit part can fail (the digits below the top one carry no forced answer): no RNN's "
                     f"final per-digit accuracy below the top digit is at most "
                     f"{statistics.fmean(below_top(base, 'upper')):.3f} (chance: 0.1), the RNN's at least "
                     f"{statistics.fmean(below_top(rnn, 'lower')):.3f}")
    else:
        notes.append("per-digit accuracy not recorded: only the by-construction part can be shown")
    return parts, notes, None


def c4(r):
    res = r["hidden_mode_1layer"]
    modes = [(s["settings"].get("hidden_mode"), s) for s in res["series"]]
    if len(modes) < 2:
        raise NotJudged("hidden_mode_1layer has fewer than two hidden modes")
    parts, notes = [], []
    for i, (ma, sa) in enumerate(modes):
        for mb, sb in modes[i + 1:]:
            if identical(sa, sb):
                parts.append(Part(f"{ma} and {mb} alike", BY_CONSTRUCTION, "none: identical by construction", "-",
                                  f"bitwise-equal curves on every seed (learning speed {speed(sa):.3f})"))
                notes.append(f"{ma} and {mb} are the same computation (an explicit zero state equals none passed); "
                             "the run store trains it once and serves both, so their equality is by construction, "
                             "not a finding")
                continue
            a, b, paired = speeds(sa, sb)
            parts.append(same(f"{ma} and {mb} alike", ma, a, mb, b, paired, margin_for(sa), runs=(sa, sb)))
    return parts, notes, None


def _early_share(split, control):
    """', of which X% in the first half of training': where the split-vs-control accuracy gap lies."""
    if control is None or len(split["steps"]) < 2:
        return ""
    gap = [statistics.fmean((c or 0.0) - (s or 0.0) for s, c in zip(ss, cc, strict=False))
           for ss, cc in zip(zip(*split["accuracy"], strict=False), zip(*control["accuracy"], strict=False),
                             strict=False)]
    total, half = sum(max(0.0, g) for g in gap), len(gap) // 2
    if total <= 0:
        return ""
    return (f"; {sum(max(0.0, g) for g in gap[:half]) / total:.0%} of the accuracy gap between the two lies in "
            f"the first half of training")


def c5(r):
    parts, notes = [], []
    split = {s["settings"]["maxlen"]: s for s in r["maxlen"]["series"]}
    control = {s["settings"]["maxlen"]: s for s in r["maxlen_control"]["series"]} if "maxlen_control" in r else None
    if len(split) < 2:
        raise NotJudged("MAXLEN_VALUES has fewer than two lengths")
    ms = sorted(split)
    deficit = {}
    for where, group in (("report's split", split), ("train-range control", control)):
        if group is None:
            notes.append("train-range control: not run yet (`maxlen_control`)")
            continue
        gs = sorted(group)
        if len(gs) < 2:
            continue
        longest = gs[-1]  # fixed in advance (ANALYSIS_PLAN.md §4): no "fastest" length picked from the data
        a, b, paired = speeds(group[longest], group[gs[0]])
        deficit[where] = statistics.fmean(a) - statistics.fmean(b)
        parts.append(differs(f"{where}: maxlen {gs[0]} slower than maxlen {longest}", f"maxlen {longest}", a,
                             f"maxlen {gs[0]}", b, paired, margin_for(group[longest])))
    if len(ms) >= 3:
        a, b, paired = speeds(split[ms[-1]], split[ms[-2]])
        parts.append(same(f"saturates: maxlen {ms[-1]} and {ms[-2]} alike", f"maxlen {ms[-1]}", a,
                          f"maxlen {ms[-2]}", b, paired, margin_for(split[ms[-1]]),
                          runs=(split[ms[-1]], split[ms[-2]])))
        gains = []
        for lo, hi in zip(ms, ms[1:], strict=False):
            c = stats.Comparison(*speeds(split[hi], split[lo])[:2])
            lo_ci, hi_ci = c.interval(1 - 2 * stats.ALPHA)
            gains.append(f"{lo}->{hi}: {c.diff:+.4f} [{lo_ci:+.4f}, {hi_ci:+.4f}]")
        notes.append(f"gain in learning speed from each length to the next, report's split ({1 - 2 * stats.ALPHA:.0%} "
                     f"CI; margin ±{margin_for(split[ms[-1]]):.3g}): " + ", ".join(gains))
    if len(deficit) == 2 and deficit["report's split"] > 0:
        share = 1 - deficit["train-range control"] / deficit["report's split"]
        notes.append(f"the split's shift explains {share:.0%} of the maxlen {ms[0]} deficit (learning-speed "
                     f"deficit {deficit['report' + chr(39) + 's split']:.3f} on the split, "
                     f"{deficit['train-range control']:.3f} on train-range sums)" + _early_share(split[ms[0]],
                                                                                          control.get(ms[0])))
    notes.append("learning speed by maxlen, report's split" + (" / train-range control" if control else "") + ": "
                 + ", ".join(f"{m}: {speed(split[m]):.3f}" + (f" / {speed(control[m]):.3f}" if control and m in
                                                              control else "") for m in ms))
    return parts, notes, None
