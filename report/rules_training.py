"""The claim rules C6-C10 (learning rate, depth, initial state, cell, mode x depth): each reads the results and
returns (parts, notes, fixed verdict or None), every part judged by one rule of judge/parts.py. The claims' table
(report/claims.py) states each in plain words."""
import statistics

import plot
from judge import stats
from judge.parts import (
    Part,
    differs,
    first_before,
    margin_for,
    rate,
    same,
    speeds,
)
from judge.stats import pair
from judge.tables import (
    fmt_cell,
    fmt_first,
    speed,
)
from report.rules import NotJudged, never_learned, seed_drops

C9_SENSITIVITY = (0.1, 0.5)  # C9: the early window also shown at these fractions of the steps (not deciding)
C9_EARLY = 0.25  # C9: "early" = the evaluations in the first quarter of the planned steps (learning speed over them)


def c6(r):
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


def c7(r):
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


def c8(r):
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


def c9(r):
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


def c10(r):
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
