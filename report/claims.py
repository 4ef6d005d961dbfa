"""plots/README.md, generated from the result JSONs: every number in it is read from them.

Per experiment: its chart, its constants and a table of headline numbers. Then the source
report's claims C1-C10 (EXPERIMENTS.md), each split into parts, each part judged by one rule of
judge/parts.py (tests: judge/stats.py) and shown with its test, margin and statistic; report/robust.py adjusts
the family of tests (Holm), re-judges every part on runs cut to half their length and with each seed left out.
The file is long because it holds ten rules, one per claim; the vocabulary, the robustness checks and the
findings across experiments live beside it.

"Learning speed" below is the area under the accuracy curve: the mean over seeds and over
evaluation points of exact-match test accuracy (a diverged seed counts 0 from its divergence on),
so 1.0 means exact from the first evaluation and 0 means never right.

Settings of one experiment share seeds, so comparisons are paired seed by seed (judge/stats.py says which
test and why); "alike" is equivalence within the plan's margin. A claim whose premise an edit removed (a cell,
a value, an init no longer in the constants) is reported as "not judged" with the reason, never a
traceback. Every sentence that states a finding is computed from the stored numbers, and series are
found by their settings (stats.find_series), never by their label.
"""
import json
import math
import statistics
import textwrap
from pathlib import Path

import experiments
import plot
from data import LEADING_DIGITS
from judge import stats
from judge.parts import (
    BY_CONSTRUCTION,
    NOT_MEASURED,
    PLAN,
    Part,
    differs,
    first_before,
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
    fmt_cell,
    fmt_first,
    seed_finals,
    speed,
)
from machinery import fingerprint, runner
from measures.cost import bptt_profile
from report import answers, fidelity, findings, margins, other_numerics, robust

C1_STEPS = fidelity.C1_STEPS  # C1: the report's step budget to accuracy 1.0 at maxlen 10 (its home: fidelity.py)
CARRY_SLOWDOWN = 4.0  # C2: the report's "carry is ~4x slower per step"
ABOUT = (math.sqrt(12), math.sqrt(20))  # C2: "~4x" = nearer 4 than 3 or 5: the geometric midpoints (ANALYSIS_PLAN §2)
PILOT_SEEDS = 10  # seeds 0..9 were seen while ANALYSIS_PLAN.md was written (its pilot)
C9_SENSITIVITY = (0.1, 0.5)  # C9: the early window also shown at these fractions of the steps (not deciding)
C9_EARLY = 0.25  # C9: "early" = the evaluations in the first quarter of the planned steps (learning speed over them)


class NotJudged(Exception):
    """A claim's premise is absent from the results (an edited constant removed it): one line says which."""


def seed_drops(series):
    """Per seed, how far its accuracy fell in total between consecutive evaluations (0 for a rising curve)."""
    out = []
    for curve in series["accuracy"]:
        vals = [a for a in curve if a is not None]  # a diverged seed: up to its divergence
        out.append(sum(max(0.0, a - b) for a, b in zip(vals, vals[1:], strict=False)))
    return out


def never_learned(series):
    """Seeds that did not diverge yet stayed at accuracy 0 on every evaluation ("fails to learn")."""
    return sum(not d and all(not a for a in c) for c, d in zip(series["accuracy"], series["diverged"], strict=True))


def need(result, what, **settings):
    """The series of `result` with these settings, or NotJudged naming what the constants lack."""
    s = stats.find_series(result, **settings)
    if s is None:
        raise NotJudged(f"{what}: no series with " + ", ".join(f"{k} {v}" for k, v in settings.items()))
    return s


# --- the claims ---


def _c1(r):
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


def _c2(r):
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


def _c3(r):
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


def _c4(r):
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


def _c5(r):
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


def _c6(r):
    series = r["lr"]["series"]
    const = [x for x in series if not x["settings"].get("milestones")]
    sched = next((x for x in series if x["settings"].get("milestones")), None)
    lr = {x["settings"]["lr"]: x for x in const}
    parts, notes = [], []
    for v, x in lr.items():
        if v >= 0.1:
            n, div, dead = len(x["seeds"]), sum(x["diverged"]), never_learned(x)
            part = rate(f"lr {v:g} diverges to NaN (most seeds)", div, n, "diverged")
            part.stat += f"; fails to learn (accuracy 0 on every evaluation, no NaN) {dead}/{n}"
            parts.append(part)
            if dead:
                first = [c[0] for c in x["loss"] if c and c[0] is not None]
                notes.append(f"lr {v:g}: {div}/{n} seeds diverge but {dead}/{n} fail to learn (accuracy 0 on all "
                             f"{len(x['steps'])} evaluations)"
                             + (f"; first-window loss up to {max(first):.3g}" if first else ""))
    low = [v for v in lr if v <= 0.01]
    if not low:
        notes.append("oscillation not judged: LR_VALUES has no constant lr <= 0.01 to compare with")
    else:
        base = max(low)
        for v, x in lr.items():
            if 0.01 < v < 0.1:
                a, b, paired = pair(x, seed_drops(x), lr[base], seed_drops(lr[base]))
                parts.append(differs(f"lr {v:g} oscillates more than lr {base:g} (accuracy drops summed)",
                                     f"lr {v:g}", a, f"lr {base:g}", b, paired, margin=None))
    if sched is None or not const:
        notes.append("schedule not judged: the lr sweep has no " + ("schedule" if sched is None else "constant lr"))
    else:
        parts.append(schedule_first(sched, const))
    notes.append("median first step at 1.0: " + ", ".join(f"{x['label']} {fmt_first(x)}" for x in series))
    if not parts:
        raise NotJudged("LR_VALUES has no lr >= 0.01 and no schedule")
    return parts, notes, None


def schedule_first(sched, const):
    """C6's "the schedule reaches 1.0 first": a sign test against every constant lr. Holds when each shows the
    schedule earlier (intersection-union: the largest p); contradicted when some constant lr is shown earlier (the
    smallest such p times their number, Bonferroni). No comparator is picked from the data (ANALYSIS_PLAN.md §3)."""
    tests = []
    for x in const:
        a, b, _ = pair(x, x["first_exact"], sched, sched["first_exact"])
        tests.append((x["label"], stats.SignTest(a, b)))
    toward = [t.p if t.later > t.earlier else 1.0 for _, t in tests]
    away = [t.p for _, t in tests if t.earlier > t.later]
    p_holds, p_against = max(toward), min(1.0, len(tests) * min(away)) if away else 1.0
    worst = max(tests, key=lambda lt: (lt[1].p if lt[1].later > lt[1].earlier else 2.0, -lt[1].diff))
    stat = (f"{sched['label']} {fmt_first(sched)}; against each constant lr (later / earlier / tied seeds): "
            + ", ".join(f"{lab} {t.later}/{t.earlier}/{t.ties}" for lab, t in tests))
    part = Part("the schedule reaches 1.0 first (before every constant lr; never censored)", "undecided",
                "sign tests vs every constant lr", "-", stat, tests[0][1].n,
                [("sign tests, all (IUT)", p_holds, "holds"), ("sign test, some lr earlier (Bonferroni)", p_against,
                                                               "contradicted")],
                worst[1].diff, None, worst[1].seeds_needed,
                f"the closest constant lr is {worst[0]} ({worst[1].later} seeds later, {worst[1].earlier} earlier)")
    part.decide(part.raw())
    return part


def _c7(r):
    layers = {s["settings"]["num_layers"]: s for s in r["layers"]["series"]}
    ns = sorted(layers)
    if len(ns) < 2:
        raise NotJudged("LAYERS_VALUES has fewer than two depths")
    parts = []
    for n, m in zip(ns, ns[1:], strict=False):
        a, b, paired = speeds(layers[n], layers[m])
        parts.append(differs(f"{m} layers slower than {n}", f"{n} layers", a, f"{m} layers", b, paired,
                             margin_for(layers[n])))
    notes = []
    zero = {s["settings"]["num_layers"]: s for s in r.get("layers_zero", {}).get("series", [])}
    held = [m for (n, m), p in zip(zip(ns, ns[1:], strict=False), parts, strict=True) if p.outcome == "holds"]
    if zero and held:
        bits = []
        for m in held:
            if m in zero:
                a, b, paired = speeds(zero[m], layers[m])
                found, c = stats.above(a, b, paired)
                bits.append(f"{m} layers {statistics.fmean(a):.3f} vs {statistics.fmean(b):.3f} "
                            f"({'zero above carry' if found else 'carry above zero' if found is False else 'undecided'}"
                            f": {c.stat()})")
        zs = sorted(zero)
        drops = []
        for n, m in zip(zs, zs[1:], strict=False):
            a, b, paired = speeds(zero[n], zero[m])
            if stats.above(a, b, paired)[0] is True:
                drops.append(m)
        if bits:
            removed = all("zero above carry" in b for b in bits) and not set(drops) & set(held)
            notes.append("`layers_zero` (an explicit zero state each batch) vs carry, learning speed where the depth "
                         "penalty holds: " + "; ".join(bits) + ". With a zero state an added layer is shown slower "
                         "at " + (", ".join(f"{m} layers" for m in drops) if drops else "no depth")
                         + (": the zero state removes the depth penalty here. The source guessed (§2.3.2) that "
                            "deeper networks are more sensitive to the state passed in, and rejected the guess "
                            "itself (§3.3.2: no clear effect at 1-4 layers; §3.3.3: no interaction of mode and "
                            "depth); these data point the other way, judged in C10" if removed else ""))
    hm = r.get("heat_layers_mode")
    if hm and {"carry", "zero"} <= set(hm["heatmap"]["rows"]) and hm["heatmap"]["col_name"] == "num_layers":
        cells = dict(zip(hm["heatmap"]["rows"], plot.heatmap_cells(hm), strict=True))
        notes.append(f"`heat_layers_mode` (maxlen {hm['series'][0]['settings'].get('maxlen')}), median first exact "
                     "step carry / zero by layers: " + ", ".join(
                         f"{n}: {fmt_cell(*a)} / {fmt_cell(*b)}" for n, a, b in
                         zip(hm["heatmap"]["cols"], cells["carry"], cells["zero"], strict=True)))
    return parts, notes, None


def _c8(r):
    series = {s["settings"]["h0_init"]: s for s in r["h0_init"]["series"]}
    if "zero" not in series:
        raise NotJudged("H0_INITS has no zero")
    if len(series) < 2:
        raise NotJudged("H0_INITS has no init besides zero")
    parts = []
    for k, s in series.items():
        if k != "zero":
            a, b, paired = speeds(series["zero"], s)
            parts.append(differs(f"zero learns faster than {k}", "zero", a, k, b, paired, margin_for(s)))
    first = series["zero"]
    notes = []
    if first["settings"].get("hidden_mode", "carry") == "carry":
        notes.append(f"nearly alike by construction: in carry mode h0_init sets only the state before the first of "
                     f"{first['settings'].get('steps', first['steps'][-1])} batches (each later batch starts from "
                     f"the previous one's final state), as in the source's code; the source's wording (§3.4, "
                     f"\"隐藏单元初始化\", initialization of the hidden state) names that initial state and nothing "
                     f"else, so a variant that uses h0 at every batch would test another claim (for zero it is "
                     f"hidden_mode zero: C4, C7, C10). The tests can still fail: an init whose first batch sets "
                     f"the model back (a 10x larger state) would show")
    return parts, notes, None


def _cell(r, cell, nl=None):
    settings = {"cell": cell} if nl is None else {"cell": cell, "nonlinearity": nl}
    s = stats.find_series(r["cells"], **settings)
    if s is None:
        raise NotJudged(f"CELLS has no {cell}" + (f"/{nl}" if nl else ""))
    return s


def _name(s):
    st = s["settings"]
    return f"{st['cell']}/{st['nonlinearity']}" if st.get("cell") == "rnn" else st.get("cell", s["label"])


def _window(series, fraction):
    """The evaluations within the first `fraction` of the planned steps (a step count: the same in a run cut short)."""
    horizon = fraction * series["settings"].get("steps", series["steps"][-1])
    return max(1, sum(st <= horizon for st in series["steps"]))


def _c9(r):
    tanh, gru, lstm = _cell(r, "rnn", "tanh"), _cell(r, "gru"), _cell(r, "lstm")
    every = r["cells"]["series"]
    early = _window(gru, C9_EARLY)
    steps = tanh["steps"]
    never_at = steps[-1] + (steps[-1] - steps[-2] if len(steps) > 1 else steps[0])  # for the Wilcoxon shown beside
    parts = []
    for s in every:
        if s is not tanh:
            a, b, _ = pair(s, s["first_exact"], tanh, tanh["first_exact"])
            parts.append(first_before(f"rnn/tanh converges before {_name(s)} (first exact step, never censored)",
                                      _name(s), a, "rnn/tanh", b, never_at))
    for s in every:
        if s is not gru:
            a, b, paired = speeds(gru, s, early)
            parts.append(differs(f"GRU rises faster than {_name(s)} early (learning speed over the first {early} "
                                 f"evaluations, to step {gru['steps'][early - 1]})", "gru", a, _name(s), b, paired,
                                 margin_for(gru, early)))
    a, b, paired = speeds(gru, lstm)
    parts.append(differs("LSTM learns slower than GRU (learning speed, whole run)", "gru", a, "lstm", b, paired,
                         margin_for(gru)))
    firsts = {_name(s): s["first_exact"] for s in every}
    meds = ", ".join(f"{k} {'never' if stats.median_first(v) is None else f'{stats.median_first(v):g}'} "
                     f"({sum(f is not None for f in v)}/{len(v)})" for k, v in firsts.items())
    windows = []
    for frac in C9_SENSITIVITY:
        w = _window(gru, frac)
        bits = []
        for s in every:
            if s is not gru:
                c = stats.Comparison(*speeds(gru, s, w)[:2])
                bits.append(f"{_name(s)} {c.diff:+.3f} (p = {c.p:.3f})")
        windows.append(f"to step {gru['steps'][w - 1]}: " + ", ".join(bits))
    notes = ["learning speed over the whole run: " + ", ".join(f"{_name(s)} {speed(s):.3f}" for s in every),
             f"median first exact step: {meds} (\"LSTM later than rnn/tanh\" is the part rnn/tanh before lstm)",
             "GRU minus each cell in learning speed over other early windows (raw p, not deciding; the plan fixes "
             f"{C9_EARLY:.0%}): " + "; ".join(windows)]
    return parts, notes, None


def _c10(r):
    """§3.3.3: the hidden-state mode does not interact with depth. Per seed, the slope over depth of the
    zero-minus-carry gap in learning speed (least squares); alike with 0 within the margin per added layer."""
    carry = {s["settings"]["num_layers"]: s for s in r["layers"]["series"]}
    zero = {s["settings"]["num_layers"]: s for s in r["layers_zero"]["series"]}
    ds = sorted(set(carry) & set(zero))
    if len(ds) < 2:
        raise NotJudged("layers and layers_zero share fewer than two depths")
    gaps = {}
    for d in ds:
        a, b, paired = speeds(zero[d], carry[d])
        if not paired:
            raise NotJudged(f"layers and layers_zero share no seeds at {d} layers")
        gaps[d] = [x - y for x, y in zip(a, b, strict=True)]
    margin = margin_for(carry[ds[0]])
    mean_d = statistics.fmean(ds)
    sxx = sum((d - mean_d) ** 2 for d in ds)
    slopes = [sum((d - mean_d) * gaps[d][i] for d in ds) / sxx for i in range(len(gaps[ds[0]]))]
    part = same(f"the zero-minus-carry gap does not change with depth (per-seed slope over {ds[0]}-{ds[-1]} layers, "
                f"a linear contrast)", "slope per layer", slopes, "0", [0.0] * len(slopes), margin=margin)
    part.margin += " per layer (a 25-step delay per added layer)"
    notes = ["zero-minus-carry gap in learning speed by depth: " + ", ".join(
        f"{d}: {statistics.fmean(gaps[d]):+.4f}" for d in ds) + " (`layers_zero` vs `layers`; the source read it "
        "off a one-run heatmap of first exact steps, `heat_layers_mode` here)"]
    return [part], notes, None


CLAIMS = [  # (id, claim, rule in plain words, experiments needed, evaluator)
    ("C1", "the RNN reaches accuracy 1.0 within 200 steps at maxlen 10 (§2.2)",
     f"most seeds exact by step {C1_STEPS} (binomial test of 1/2), on the fixed evaluation batch and on fresh sums "
     "at each evaluation (the source's metric)", ["pt_main"], _c1),
    ("C2", "at maxlen 5 `none` learns faster than `carry`; at maxlen 50 they are alike; `carry` is ~4x slower "
           "per step (§2.3.1)",
     "learning speed: none above carry at maxlen 5 (paired t), alike at maxlen 50 (TOST); the source code's "
     "undetached step over a one-batch step (`cost_to_exact`): above 1x (slower) and within "
     f"[{ABOUT[0]:.2f}x, {ABOUT[1]:.2f}x] (about {CARRY_SLOWDOWN:g}x); the wall-clock ratio is shown, not judged",
     ["hidden_mode_len5", "hidden_mode_len50"], _c2),
    ("C3", "without the RNN (embedding + linear) the task is not learned (§2.3.2)",
     "no-RNN final exact-match accuracy 0 on every seed (by construction where the test split forces the top "
     "digit); per-digit accuracy below the top digit below the RNN's (paired t)", ["no_rnn"], _c3),
    ("C4", "with 1 layer the three hidden modes are alike (§2.3.2)",
     "learning speed of every pair of modes alike (TOST)", ["hidden_mode_1layer"], _c4),
    ("C5", "short numbers learn slower; gains saturate around maxlen 50-70 (§3.1)",
     "learning speed: the shortest maxlen below the longest, on the report's split and on held-out sums from the "
     "training range (`maxlen_control`); the two longest alike (TOST)", ["maxlen"], _c5),
    ("C6", "lr > 0.01 oscillates, 0.1 and 0.5 diverge to NaN; the step schedule reaches 1.0 first (§3.2)",
     "lr >= 0.1: most seeds diverge (binomial test of 1/2); each lr in (0.01, 0.1): summed accuracy drops above "
     "the largest lr <= 0.01's (paired t); the schedule's first exact step before every constant lr's (sign tests)",
     ["lr"], _c6),
    ("C7", "more layers learn slower (§3.3)", "learning speed drops with each added layer (each consecutive pair)",
     ["layers"], _c7),
    ("C8", "a zero initial hidden state learns best (§3.4)", "learning speed of zero above each other h0_init",
     ["h0_init"], _c8),
    ("C9", "rnn/tanh and GRU are best; LSTM is slower (§3.5)",
     "rnn/tanh converges first (first exact step before each other cell's, sign test, never censored); GRU rises "
     f"fastest early (learning speed over the first {C9_EARLY:.0%} of steps, above each other cell); LSTM slower "
     "than GRU (learning speed)", ["cells"], _c9),
    ("C10", "the hidden-state mode does not interact with depth (§3.3.3)",
     "per seed, the slope over depth of the zero-minus-carry gap in learning speed alike with 0 (TOST, a 25-step "
     "delay per added layer)", ["layers", "layers_zero"], _c10),
]
PLAIN = {  # each claim in a few plain words, for the report's first section
    "C1": "reaches exact sums within 200 steps (maxlen 10)",
    "C2": "no state beats carried state at 5 digits, ties at 50; carry ~4x slower per step",
    "C3": "without recurrence the task is not learned",
    "C4": "with one layer the state modes are alike",
    "C5": "short numbers learn slower; gains level off at 50-70 digits",
    "C6": "lr above 0.01 oscillates, 0.1/0.5 blow up; the step schedule is first",
    "C7": "more layers learn slower",
    "C8": "a zero initial state learns best",
    "C9": "tanh RNN and GRU are best, LSTM slower",
    "C10": "state mode and depth do not interact",
}


PREMISE_ERRORS = (KeyError, IndexError, ValueError, TypeError, StopIteration, ZeroDivisionError,
                  statistics.StatisticsError)  # what a rule raises when its result lacks what it reads


def judge_claim(results, claim):
    """(parts, notes, fixed verdict or None) of one claim, before the family is adjusted (report/robust.py);
    a missing experiment or premise gives no parts, one note and "-" or "not judged"."""
    cid, _, _, needs, fn = claim
    missing = [n for n in needs if n not in results]
    if missing:
        return [], [f"not run yet ({', '.join(missing)})"], "-"
    try:
        return fn(results)
    except NotJudged as e:
        return [], [f"{cid} not judged: {e}"], "not judged"
    except PREMISE_ERRORS as e:  # a premise no NotJudged check foresaw: still one line, never a traceback
        return [], [f"{cid} not judged: its results lack what the rule reads ({type(e).__name__}: {e})"], "not judged"


def settled(results):
    """{claim id: (parts, notes, verdict)} after the family adjustment, half-length and leave-one-out checks."""
    return robust.settle(results, CLAIMS, judge_claim)


def seed_counts(results):
    """'n = 10 seeds' (or 'n = 10-30 seeds') over the claims' experiments."""
    ns = sorted({len(s.get("seeds") or []) for c in CLAIMS for e in c[3] if e in results
                 for s in results[e].get("series", [])})
    return "no results" if not ns else f"n = {ns[0]} seeds" if len(ns) == 1 else f"n = {ns[0]}-{ns[-1]} seeds"


def unseen_lines(results, verdicts):
    """Where the claims' results hold seeds beyond the pilot's (ANALYSIS_PLAN.md: seeds 0..PILOT_SEEDS-1 were seen
    while it was written): each verdict on the unseen seeds alone beside the one on all seeds; [] otherwise."""
    fresh = robust.unseen(results, PILOT_SEEDS)
    if fresh == results:
        return []
    there, _ = robust.judged(fresh, CLAIMS, judge_claim)
    words = {cid: fixed or robust.claim_verdict(parts) for cid, (parts, _, fixed) in there.items()}
    moved = [f"{cid} {verdicts[cid][2]} -> {words[cid]}" for cid in words
             if words[cid].split(" (")[0] != verdicts[cid][2].split(" (")[0]]
    return [f"Seeds 0-{PILOT_SEEDS - 1} were the pilot the plan was written after; on the later seeds alone "
            + ("every verdict is the same." if not moved else "these verdicts differ: " + "; ".join(moved) + "."), ""]


def claims_table(results, judged=None):
    """The claims' sections: (one line per claim, then the rules, the table of parts and the notes), as
    report/answers.py writes them; judged: settled(results), if made."""
    verdicts, sizes = judged or settled(results)
    try:
        notes = fidelity.claim_notes(results)  # where the source's own figure reads differently
    except PREMISE_ERRORS:  # an edit removed what a note compares: the claims stand without the notes
        notes = {}
    return answers.lines(CLAIMS, PLAIN, verdicts, sizes, notes)


def wrap(lines, width=answers.MAX_LINE - 60):
    """Prose lines longer than answers.MAX_LINE wrapped (a bullet's continuation indented); table rows are kept."""
    out = []
    for line in lines:
        if len(line) <= answers.MAX_LINE or line.startswith("|"):
            out.append(line)
            continue
        indent = "  " if line.lstrip().startswith(("- ", "* ")) else ""
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
    return out


def stale_lines(results):
    """A warning naming every shown result made by other code than the current one (empty when none is)."""
    hooks = runner.every_hook()
    stale = {eid: files for eid, r in results.items() if (files := fingerprint.stale_files(r, hooks))}

    def why(files):
        return "made before code fingerprints were recorded" if files == ["unknown"] else f"{', '.join(files)} changed"

    if not stale:
        return []
    head = "**Stale results:** made by other code than the current one (rerun `python source.py` to update): "
    first = next(iter(stale.values()))
    common = [f for f in first if f != "unknown" and all(f in files for files in stale.values())]
    if len(stale) < 3 or not common:
        return [head + "; ".join(f"`{eid}` ({why(files)})" for eid, files in stale.items()) + ".", ""]
    extra = {eid: [f for f in files if f not in common] for eid, files in stale.items()}
    besides = "; ".join(f"`{eid}` also {', '.join(rest)}" for eid, rest in extra.items() if rest)
    return [head + f"all {len(stale)} of them ({', '.join(f'`{e}`' for e in stale)}): {why(common)}"
            + (f". Besides: {besides}" if besides else "") + ".", ""]


def numerics_lines(results):
    """Which numerics family made the numbers shown (machinery/numerics.py), and what that family is."""
    made = {}
    for eid, r in results.items():
        made.setdefault((r.get("fingerprint") or {}).get("numerics", "unrecorded"), []).append(eid)
    if not made:
        return []
    described = next((r["numerics"] for r in results.values() if isinstance(r.get("numerics"), dict)), None)
    what = ("" if described is None else f" ({described.get('vendor')} CPU: ATen {described.get('aten')}, MKL "
            f"{described.get('mkl')}, oneDNN {'on' if described.get('onednn') else 'off'}, probe "
            f"{described.get('probe')})")
    if len(made) == 1:
        family = next(iter(made))
        return [f"Numbers made in numerics family **{family}**{what}. The default family, `portable`, gives the same "
                "bits on every x86-64 CPU with AVX2, Intel or AMD (`machinery/numerics.py`).", ""]
    return ["Numbers made in more than one numerics family (`machinery/numerics.py`): "
            + "; ".join(f"**{f}**: {', '.join(f'`{e}`' for e in eids)}" for f, eids in made.items()) + ".", ""]


def safe_section(result):
    """The experiment's report section; one line instead when its result lacks what the section reads."""
    try:
        return experiments.section(experiments.EXPERIMENTS[result["id"]]())(result)
    except PREMISE_ERRORS + (AttributeError, ImportError) as e:
        return [f"## `{result.get('id', '?')}`: {result.get('title', '')}", "",
                f"Section not written: the result lacks what it reads ({type(e).__name__}: {e}).", ""]


def write_report(out_dir, quick=False):
    out_dir = Path(out_dir)
    results = {}
    for eid in experiments.EXPERIMENTS:  # the study's order, so the report reads like the study
        path = out_dir / f"{eid}.json"
        if path.exists():
            results[eid] = json.loads(path.read_text())
    judged = settled(results)
    first, detail = claims_table(results, judged)
    lines = ["# Results", "",
             "Generated by `python source.py` from the JSON files beside this page; do not edit by hand."
             + (" **Quick mode: tiny settings, not the study's results.**" if quick else ""), "",
             f"## The source report's claims: answers (plan {PLAN}, {seed_counts(results)})", "",
             *first, "", *unseen_lines(results, judged[0]),
             "Learning speed = mean exact-match test accuracy over all evaluations and seeds (area under the "
             "accuracy curve, 1.0 = exact from the first evaluation). Accuracy = exact match of the whole sum on "
             "a fixed batch of held-out test sums.", "", *numerics_lines(results), *stale_lines(results),
             "## The source report's claims: how they were judged", ""]
    lines += detail + [""] + margins.lines(judged[0], judged[1], out_dir)
    try:
        lines += fidelity.section(results)
    except PREMISE_ERRORS as e:
        lines += ["## Source code vs this project", "",
                  f"Not written: the results lack what it compares ({type(e).__name__}: {e}).", ""]
    lines += findings.lines(results)
    lines += other_numerics.lines(out_dir, judged[0], list(experiments.EXPERIMENTS), settled)
    for result in results.values():
        lines += safe_section(result)
    (out_dir / "README.md").write_text("\n".join(wrap(lines)) + "\n")
    return results
