"""plots/README.md, generated from the result JSONs: every number in it is read from them.

Per experiment: its chart, its constants and a table of headline numbers. Then the source
report's claims C1-C9 (EXPERIMENTS.md), each split into parts, each part judged by one rule of
stats.py and shown with its test, margin and statistic.

"Learning speed" below is the area under the accuracy curve: the mean over seeds and over
evaluation points of exact-match test accuracy (a diverged seed counts 0 from its divergence on),
so 1.0 means exact from the first evaluation and 0 means never right.

Settings of one experiment share seeds, so comparisons are paired seed by seed (stats.py says which
test and why); "alike" is equivalence within MARGIN. A claim whose premise an edit removed (a cell,
a value, an init no longer in the constants) is reported as "not judged" with the reason, never a
traceback. Every sentence that states a finding is computed from the stored numbers, and series are
found by their settings (stats.find_series), never by their label.
"""
import json
import statistics
from pathlib import Path

import experiments
import plot
from machinery import fingerprint, plans
from measures.cost import bptt_profile
from report import fidelity, stats
from report.stats import pair
from report.tables import (
    fmt_cell,
    fmt_first,
    seed_finals,
    seed_first_steps,
    seed_speeds,
    speed,
)

MARGIN = 0.02  # "alike": learning speeds within this many accuracy units (2 points of mean exact-match accuracy)
C1_STEPS = fidelity.C1_STEPS  # C1: the report's step budget to accuracy 1.0 at maxlen 10 (its home: fidelity.py)
NOT_LEARNED = 0.1  # C3: final exact-match accuracy below this on every seed = "not learned"
CARRY_SLOWDOWN = 4.0  # C2: the report's "carry is ~4x slower per step"
C9_EARLY = 0.25  # C9: "early" = the first quarter of the run's evaluations (learning speed over them)
VERDICT_RULE = (
    "Each claim splits into parts. Settings of one experiment share seeds (seed s: same initial weights, training "
    "stream and test batch), so a part comparing two settings is a **paired t-test** over seeds on the per-seed "
    f"differences (two-sided, level {stats.ALPHA:g}; Welch's unpaired t-test where the sides share no seeds; "
    "stats.py says why not a sign test: at 5 seeds it can never reach p < 0.05). A part *holds* when the "
    "claimed direction is shown, is *contradicted* when the opposite is shown; a claimed difference that is "
    f"shown to be smaller than the margin ({MARGIN:g} in learning speed, TOST at level {stats.ALPHA:g}) is "
    "*alike* (counts against the claim); a claim that two settings are alike *holds* only when TOST shows it. "
    "Otherwise a part is *undecided at n = 5*, with the seeds a study would need to decide it (80% power). "
    "Verdict: **confirmed** = every part holds; **mixed** = some hold; **refuted** = none holds and some are "
    "contradicted or alike; **undecided** = none is decided. A part *true by construction* (two settings that are "
    "the same computation) is shown and not counted.")


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


# --- parts: one comparison each, with the test, margin and statistic it was judged on ---


class Part:
    """One judged part of a claim: what was compared, its outcome and the numbers behind it."""

    def __init__(self, text, outcome, test="-", margin="-", stat="-", n=None):
        self.text, self.outcome, self.test, self.margin, self.stat = text, outcome, test, margin, stat
        self.n = n  # seeds the part was judged on (None: not a test over seeds)

    def row(self):
        return (self.text, self.test, self.margin, self.stat, self.outcome)


def _mean(v, fmt):
    return fmt.format(statistics.fmean(v))


def differs(text, name_a, a, name_b, b, paired=True, margin=MARGIN, fmt="{:.3f}"):
    """The part "a is above b": holds / contradicted / alike (within margin; None: no margin) / undecided."""
    found, c = stats.above(a, b, paired)
    outcome = {True: "holds", False: "contradicted"}.get(found)
    if outcome is None and margin is not None and stats.alike(a, b, margin, paired)[0]:
        outcome = "alike"
    stat = f"{name_a} {_mean(a, fmt)} vs {name_b} {_mean(b, fmt)}; {c.stat()}"
    if outcome is None:
        outcome = "undecided"
        stat += "; " + stats.undecided_note(c)
    return Part(text, outcome, c.test, "-" if margin is None else f"{margin:g}", stat, c.n)


def same(text, name_a, a, name_b, b, paired=True, margin=MARGIN, fmt="{:.3f}"):
    """The part "a and b are alike": holds (TOST within margin) / contradicted (apart beyond it) / undecided."""
    found, c = stats.alike(a, b, margin, paired)
    lo, hi = c.interval(1 - 2 * stats.ALPHA)
    stat = (f"{name_a} {_mean(a, fmt)} vs {name_b} {_mean(b, fmt)}; {c.stat()}; "
            f"{1 - 2 * stats.ALPHA:.0%} CI of the gap [{lo:+.3g}, {hi:+.3g}]")
    outcome = {True: "holds", False: "contradicted"}.get(found)
    if outcome is None:
        outcome = "undecided"
        stat += "; " + stats.undecided_note(c, margin)
    return Part(text, outcome, f"TOST ({c.test})", f"±{margin:g}", stat, c.n)


def speeds(sa, sb, upto=None):
    """Paired per-seed learning speeds of two series: (a, b, paired)."""
    return pair(sa, seed_speeds(sa, upto), sb, seed_speeds(sb, upto))


BY_CONSTRUCTION = "true by construction"  # a part no measurement could contradict: shown, not counted


def verdict(outcomes):
    """Part outcomes -> the claim's verdict (VERDICT_RULE); parts true by construction do not count."""
    outcomes = [o for o in outcomes if o != BY_CONSTRUCTION]
    if outcomes and all(o == "holds" for o in outcomes):
        return "confirmed"
    if any(o == "holds" for o in outcomes):
        return "mixed"
    return "refuted" if any(o in ("contradicted", "alike") for o in outcomes) else "undecided"


def need(result, what, **settings):
    """The series of `result` with these settings, or NotJudged naming what the constants lack."""
    s = stats.find_series(result, **settings)
    if s is None:
        raise NotJudged(f"{what}: no series with " + ", ".join(f"{k} {v}" for k, v in settings.items()))
    return s


def identical(sa, sb):
    """Two series with the same seeds and bitwise-equal accuracy curves (the same computation)."""
    return sa["seeds"] == sb["seeds"] and sa["accuracy"] == sb["accuracy"]


# --- the claims ---


def _c1(r):
    firsts = r["pt_main"]["series"][0]["first_exact"]
    ok = [f is not None and f <= C1_STEPS for f in firsts]
    stat = (f"first step at 1.0 per seed: {', '.join('never' if f is None else str(f) for f in firsts)} "
            f"(by step {C1_STEPS}: {sum(ok)}/{len(ok)})")
    outcome = "holds" if all(ok) else "partly holds" if any(ok) else "contradicted"
    parts = [Part(f"every seed exact by step {C1_STEPS}", outcome, "count per seed (no test)", "-", stat)]
    found = "confirmed" if all(ok) else "mixed" if any(ok) else "refuted"
    return parts, [], found


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
            parts.append(differs(f"maxlen {maxlen}: none learns faster than carry", "none", a, "carry", b, paired))
        else:
            parts.append(same(f"maxlen {maxlen}: none and carry alike", "none", a, "carry", b, paired))
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
        parts.append(differs(
            f"carry ~{CARRY_SLOWDOWN:g}x slower per step (the source code's undetached step, averaged over its "
            f"{reset}-step reset cycle: depth 1..{reset}, mean {mean_depth:g})", "ratio", cost["cycle"],
            "claimed", [CARRY_SLOWDOWN], paired=False, margin=None, fmt="{:.1f}"))
        by_depth = ", ".join(f"{d}: {statistics.fmean(v):.1f}x" for d, v in cost["by_depth"].items())
        notes.append(f"the source's evaluate() replaced the carried state every {reset} steps with one carrying no "
                     f"graph, so a step back-propagated through at most {reset} batches (mean {mean_depth:g}) and "
                     f"the cost of a run grows linearly with its length; cost ratio by depth, measured on "
                     f"`cost_to_exact`'s {cost['label']} at maxlen {cost['maxlen']} (the claim is at maxlen "
                     f"{claim_maxlen}): "
                     f"{by_depth}; {'extrapolated' if cost['extrapolated'] else 'interpolated'} "
                     f"{statistics.fmean(cost['at_reset']):.1f}x at depth {reset}, "
                     f"{statistics.fmean(cost['cycle']):.1f}x averaged over the cycle (mean over seeds)")
    c5 = need(r["hidden_mode_len5"], "hidden_mode_len5", hidden_mode="carry")
    n5 = need(r["hidden_mode_len5"], "hidden_mode_len5", hidden_mode="none")
    wall = statistics.mean(c5["sec_per_step"]) / statistics.mean(n5["sec_per_step"])
    notes.append(f"wall clock carry/none at maxlen {c5['settings']['maxlen']} with the state detached (this "
                 f"project): {wall:.2f}x (shown, not judged: measured while worker processes share the cores)")
    return parts, notes, None


def _c3(r):
    base = need(r["no_rnn"], "no_rnn", cell="linear")
    rnn = next((s for s in r["no_rnn"]["series"] if s["settings"].get("cell", "rnn") != "linear"), None)
    if rnn is None:
        raise NotJudged("no_rnn has no recurrent series")
    fb = seed_finals(base)
    below = all(a < NOT_LEARNED for a in fb)
    a, b, paired = pair(rnn, seed_finals(rnn), base, fb)
    parts = [Part(f"every no-RNN seed's final accuracy below {NOT_LEARNED:g}", "holds" if below else "contradicted",
                  "count per seed (no test)", "-", f"{sum(x < NOT_LEARNED for x in fb)}/{len(fb)} seeds below"),
             differs("the RNN's final accuracy above no-RNN's", "RNN", a, "no RNN", b, paired)]
    return parts, [], None


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
            parts.append(same(f"{ma} and {mb} alike", ma, a, mb, b, paired))
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
        best = max(gs[1:], key=lambda m: speed(group[m]))
        a, b, paired = speeds(group[best], group[gs[0]])
        deficit[where] = statistics.fmean(a) - statistics.fmean(b)
        parts.append(differs(f"{where}: maxlen {gs[0]} slower than the fastest longer one", f"maxlen {best}", a,
                             f"maxlen {gs[0]}", b, paired))
    if len(ms) >= 3:
        a, b, paired = speeds(split[ms[-1]], split[ms[-2]])
        parts.append(same(f"saturates: maxlen {ms[-1]} and {ms[-2]} alike", f"maxlen {ms[-1]}", a,
                          f"maxlen {ms[-2]}", b, paired))
        start = ms[-1]  # the plateau: the shortest length from which every consecutive pair is shown alike
        for lo, hi in reversed(list(zip(ms, ms[1:], strict=False))):
            a, b, paired = speeds(split[hi], split[lo])
            if stats.alike(a, b, MARGIN, paired)[0] is not True:
                break
            start = lo
        notes.append(f"the plateau starts at maxlen {start}" + (
            f": every consecutive pair from {start} on is alike within {MARGIN:g} (TOST), {ms[ms.index(start) - 1]} "
            f"vs {start} is not" if start != ms[-1] and start != ms[0] else
            ": no consecutive pair of lengths is shown alike" if start == ms[-1] else
            ": every consecutive pair is alike within the margin"))
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
            parts.append(Part(f"lr {v:g} diverges to NaN", "holds" if 2 * div > n else "contradicted",
                              "count per seed (no test)", "-", f"diverged {div}/{n}; fails to learn (accuracy 0 on "
                              f"every evaluation, no NaN) {dead}/{n}"))
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
        best = min(const, key=lambda x: statistics.fmean(seed_first_steps(x)))
        a, b, paired = pair(best, seed_first_steps(best), sched, seed_first_steps(sched))
        parts.append(differs("the schedule reaches 1.0 first (first exact step; never = one interval after the "
                             "cap)", best["label"], a, sched["label"], b, paired, margin=None, fmt="{:.0f}"))
    notes.append("median first step at 1.0: " + ", ".join(f"{x['label']} {fmt_first(x)}" for x in series))
    if not parts:
        raise NotJudged("LR_VALUES has no lr >= 0.01 and no schedule")
    return parts, notes, None


def _c7(r):
    layers = {s["settings"]["num_layers"]: s for s in r["layers"]["series"]}
    ns = sorted(layers)
    if len(ns) < 2:
        raise NotJudged("LAYERS_VALUES has fewer than two depths")
    parts = []
    for n, m in zip(ns, ns[1:], strict=False):
        a, b, paired = speeds(layers[n], layers[m])
        parts.append(differs(f"{m} layers slower than {n}", f"{n} layers", a, f"{m} layers", b, paired))
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
                         + (": the zero state removes the depth penalty, which supports the source's own guess that "
                            "deeper networks are more sensitive to the state passed in" if removed else ""))
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
            parts.append(differs(f"zero learns faster than {k}", "zero", a, k, b, paired))
    return parts, [], None


def _cell(r, cell, nl=None):
    settings = {"cell": cell} if nl is None else {"cell": cell, "nonlinearity": nl}
    s = stats.find_series(r["cells"], **settings)
    if s is None:
        raise NotJudged(f"CELLS has no {cell}" + (f"/{nl}" if nl else ""))
    return s


def _name(s):
    st = s["settings"]
    return f"{st['cell']}/{st['nonlinearity']}" if st.get("cell") == "rnn" else st.get("cell", s["label"])


def _c9(r):
    tanh, gru, lstm = _cell(r, "rnn", "tanh"), _cell(r, "gru"), _cell(r, "lstm")
    every = r["cells"]["series"]
    early = max(1, round(C9_EARLY * len(gru["steps"])))
    parts = []
    firsts = {_name(s): s["first_exact"] for s in every}
    first = stats.earliest(firsts)
    meds = ", ".join(f"{k} {'never' if stats.median_first(v) is None else f'{stats.median_first(v):g}'} "
                     f"({sum(f is not None for f in v)}/{len(v)})" for k, v in firsts.items())
    parts.append(Part("rnn/tanh converges first (earliest median first exact step, never last)",
                      "holds" if first == ["rnn/tanh"] else "partly holds (tied)" if "rnn/tanh" in first
                      else "contradicted", "median rank (no test)", "-", f"median first exact step: {meds}"))
    for s in every:
        if s is not gru:
            a, b, paired = speeds(gru, s, early)
            parts.append(differs(f"GRU rises faster than {_name(s)} early (learning speed over the first {early} "
                                 f"evaluations, to step {gru['steps'][early - 1]})", "gru", a, _name(s), b, paired))
    a, b, paired = pair(lstm, seed_first_steps(lstm), tanh, seed_first_steps(tanh))
    parts.append(differs("LSTM converges later than rnn/tanh (first exact step; never = one interval after the cap)",
                         "lstm", a, "rnn/tanh", b, paired, margin=None, fmt="{:.0f}"))
    a, b, paired = speeds(gru, lstm)
    parts.append(differs("LSTM learns slower than GRU (learning speed, whole run)", "gru", a, "lstm", b, paired))
    notes = ["learning speed over the whole run: " + ", ".join(f"{_name(s)} {speed(s):.3f}" for s in every)]
    return parts, notes, None


CLAIMS = [  # (id, claim, rule in plain words, experiments needed, evaluator)
    ("C1", "the RNN reaches accuracy 1.0 within 200 steps at maxlen 10 (§2.2)",
     f"each seed's first exact evaluation at step <= {C1_STEPS}: confirmed if every seed, mixed if some, "
     "refuted if none", ["pt_main"], _c1),
    ("C2", "at maxlen 5 `none` learns faster than `carry`; at maxlen 50 they are alike; `carry` is ~4x slower "
           "per step (§2.3.1)",
     "learning speed: none above carry at maxlen 5 (paired), alike at maxlen 50 (TOST); slowdown: the source "
     "code's undetached step (`cost_to_exact`'s bptt_cost, averaged over the depths the source reached) above "
     f"{CARRY_SLOWDOWN:g}x a one-batch step; the wall-clock ratio is shown, not judged",
     ["hidden_mode_len5", "hidden_mode_len50"], _c2),
    ("C3", "without the RNN (embedding + linear) the task is not learned (§2.3.2)",
     f"no-RNN final accuracy below {NOT_LEARNED:g} on every seed and below the RNN's", ["no_rnn"], _c3),
    ("C4", "with 1 layer the three hidden modes are alike (§2.3.2)",
     "learning speed of every pair of modes alike (TOST)", ["hidden_mode_1layer"], _c4),
    ("C5", "short numbers learn slower; gains saturate around maxlen 50-70 (§3.1)",
     "learning speed: the shortest maxlen below the fastest longer one, on the report's split and on held-out "
     "sums from the training range (`maxlen_control`); the two longest alike (TOST)", ["maxlen"], _c5),
    ("C6", "lr > 0.01 oscillates, 0.1 and 0.5 diverge to NaN; the step schedule reaches 1.0 first (§3.2)",
     "lr >= 0.1: most seeds diverge (seeds that fail to learn without NaN are counted beside); each lr in "
     "(0.01, 0.1): summed accuracy drops above the largest lr <= 0.01's; first exact step of the schedule below "
     "the best constant lr's", ["lr"], _c6),
    ("C7", "more layers learn slower (§3.3)", "learning speed drops with each added layer (each consecutive pair)",
     ["layers"], _c7),
    ("C8", "a zero initial hidden state learns best (§3.4)", "learning speed of zero above each other h0_init",
     ["h0_init"], _c8),
    ("C9", "rnn/tanh and GRU are best; LSTM is slower (§3.5)",
     "as the source says it: rnn/tanh converges first (earliest median first exact step); GRU rises fastest "
     f"early (learning speed over the first {C9_EARLY:.0%} of evaluations, above each other cell); LSTM later "
     "than rnn/tanh (first exact step) and slower than GRU (learning speed)", ["cells"], _c9),
]


PREMISE_ERRORS = (KeyError, IndexError, ValueError, TypeError, StopIteration, ZeroDivisionError,
                  statistics.StatisticsError)  # what a rule raises when its result lacks what it reads


def judge_claim(results, claim):
    """(parts, notes, verdict) of one claim; a missing experiment or premise gives no parts and one note."""
    cid, _, _, needs, fn = claim
    missing = [n for n in needs if n not in results]
    if missing:
        return [], [f"not run yet ({', '.join(missing)})"], "-"
    try:
        parts, notes, found = fn(results)
    except NotJudged as e:
        return [], [f"{cid} not judged: {e}"], "not judged"
    except PREMISE_ERRORS as e:  # a premise no NotJudged check foresaw: still one line, never a traceback
        return [], [f"{cid} not judged: its results lack what the rule reads ({type(e).__name__}: {e})"], "not judged"
    found = found or verdict([p.outcome for p in parts])
    ns = sorted({p.n for p in parts if p.n is not None})
    if found == "undecided" and ns:
        found += f" at n = {'/'.join(map(str, ns))}"
    return parts, notes, found


def claims_table(results):
    """The claims table, one row per part (test, margin, statistic, outcome), and each claim's findings below."""
    rows = [VERDICT_RULE, "", "| # | claim (rule) | part | test | margin | statistic | outcome | verdict |",
            "|---|---|---|---|---|---|---|---|"]
    try:
        notes = fidelity.claim_notes(results)  # where the source's own figure reads differently
    except PREMISE_ERRORS:  # an edit removed what a note compares: the claims stand without the notes
        notes = {}
    findings = []
    for claim in CLAIMS:
        cid, text, rule = claim[:3]
        parts, extra, found = judge_claim(results, claim)
        head = f"| {cid} | {text} ({rule}) |"
        if not parts:
            rows.append(f"{head} {'; '.join(extra)} | - | - | - | - | **{found}** |")
            extra = []
        for i, p in enumerate(parts):
            cells = " | ".join(str(x) for x in p.row()[:4]) + f" | *{p.row()[4]}* |"
            rows.append((head if i == 0 else "| | |") + f" {cells} " + (f"**{found}** |" if i == 0 else "|"))
        if notes.get(cid):
            extra = [*extra, f"*source's figure:* {notes[cid]}"]
        if extra:
            findings.append(f"- **{cid}.** " + "; ".join(extra) + ".")
    return rows + ([""] + findings if findings else [])


def worst_case_lines(results):
    """Beside length_generalization's random-sum result: the worst-case suite on models of identical settings.

    exact_adder's series whose settings equal a length_generalization series' are the same trained models
    (same settings and seeds: the store serves one run to both); their worst-case results are stated next to the
    random-sum headline. Empty when either experiment is missing or none matches.
    """
    length, exact = results.get("length_generalization"), results.get("exact_adder")
    if not length or not exact:
        return []
    out = []
    for s in length["series"]:
        twin = next((e for e in exact["series"] if e["settings"] == s["settings"]), None)
        if twin is None:
            continue
        suites = [x["suite"] for x in twin["extra"]]
        fails = [x for x in suites if not x["passed"]]
        first = [next(c["check"] for c in x["stages"][-1]["checks"] if c["wrong"]) for x in fails]
        kinds = ", ".join(f"{first.count(k)} on {k}" for k in dict.fromkeys(first))
        at = sorted({x["stages"][-1]["length"] for x in fails})
        short = sorted((x["shortest_failure"] for x in fails if x.get("shortest_failure")), key=lambda f: f["digits"])
        out.append(f"`{s['label']}` here and `exact_adder`'s `{twin['label']}` are the same trained models "
                   f"(identical settings): on random sums {worst_headline(s)}, but on the worst-case suite "
                   f"{len(suites) - len(fails)}/{len(suites)} seeds pass; {len(fails)} fail"
                   + (f" at {', '.join(f'{v:,}' for v in at)} digits (first wrong check: {kinds})" if fails else "")
                   + (f"; their shortest failing sums have {short[0]['digits']}-{short[-1]['digits']} digits, e.g. "
                      f"`{short[0]['sum']}`" if short else "") + ".")
    return ["**Random sums vs worst cases.** " + " ".join(out), ""] if out else []


def worst_headline(s):
    """'exact on 100,000-digit sums for 10/10 seeds (20 sums each)': a length_generalization series at its longest.

    A seed counts as exact at a length when every sum there was right and it was not on the reduced check a seed
    gets after failing a shorter length (length.py).
    """
    ev = [e for e in s.get("extra") or [] if e and e.get("lengths")]
    if not ev:
        return "not measured"
    last = ev[0]["lengths"][-1]
    exact = sum(e["accuracy"][-1] == 1.0 and not e["reduced"][-1] for e in ev)
    return f"exact on {last:,}-digit sums for {exact}/{len(ev)} seeds ({ev[0]['n_sums'][-1]:,} sums each)"


def stale_lines(results):
    """A warning naming every shown result made by other code than the current one (empty when none is)."""
    hooks = plans.hooks([r for plan in experiments.EXPERIMENTS.values() for r in plan()["runs"]])
    stale = {eid: files for eid, r in results.items() if (files := fingerprint.stale_files(r, hooks))}

    def why(files):
        return "made before code fingerprints were recorded" if files == ["unknown"] else f"{', '.join(files)} changed"

    if not stale:
        return []
    return ["**Stale results:** made by other code than the current one (rerun `python source.py` to update): "
            + "; ".join(f"`{eid}` ({why(files)})" for eid, files in stale.items()) + ".", ""]


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
    lines = ["# Results", "",
             "Generated by `python source.py` from the JSON files beside this page; do not edit by hand."
             + (" **Quick mode: tiny settings, not the study's results.**" if quick else ""), "",
             "Learning speed = mean exact-match test accuracy over all evaluations and seeds (area under the "
             "accuracy curve, 1.0 = exact from the first evaluation). Accuracy = exact match of the whole sum on "
             "a fixed batch of held-out test sums.", "", *stale_lines(results), "## The source report's claims", ""]
    lines += claims_table(results) + [""]
    try:
        lines += fidelity.section(results)
    except PREMISE_ERRORS as e:
        lines += ["## Source code vs this project", "",
                  f"Not written: the results lack what it compares ({type(e).__name__}: {e}).", ""]
    for eid, result in results.items():
        lines += safe_section(result)
        if eid == "length_generalization":
            lines += worst_case_lines(results)
    (out_dir / "README.md").write_text("\n".join(lines) + "\n")
    return results
