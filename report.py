"""plots/README.md, generated from the result JSONs: every number in it is read from them.

Per experiment: its chart, its constants and a table of headline numbers. Then the source
report's claims C1-C9 (EXPERIMENTS.md), each with the measured evidence and a verdict.

"Learning speed" below is the area under the accuracy curve: the mean over seeds and over
evaluation points of exact-match test accuracy (a diverged seed counts 0 from its divergence on),
so 1.0 means exact from the first evaluation and 0 means never right.

Each claim is judged by plain rules written beside it in the table, all with one noise threshold
(VERDICT_RULE): a difference between two settings counts only when it exceeds Z standard errors of
the difference over seeds. Every sentence that states a finding is computed from the stored numbers.
"""
import json
import math
import statistics
from pathlib import Path

import experiments
import fidelity
import plot
import store

Z = 2.0  # a difference between two settings counts when it exceeds Z standard errors of the difference over seeds
EPS = 1e-12  # gaps below this are float noise even when every seed agrees (standard error 0)
C1_STEPS = 200  # C1: the report's step budget to accuracy 1.0 at maxlen 10
NOT_LEARNED = 0.1  # C3: final exact-match accuracy below this on every seed = "not learned"
CARRY_SLOWDOWN = 4.0  # C2: the report's "carry is ~4x slower per step"
VERDICT_RULE = (
    f"A difference between two settings **counts** only when the gap between their means over seeds exceeds "
    f"{Z:g} standard errors of that gap (SE = sqrt(s_a²/n_a + s_b²/n_b), s = standard deviation over seeds); "
    f"otherwise the two are **alike** (no effect beyond seed noise). Each claim splits into parts, each "
    f"*holds*, is *contradicted* (the opposite counts) or shows *no effect*. Verdict: **confirmed** = every part "
    f"holds; **mixed** = some hold; **refuted** = none holds and some are contradicted; **not supported** = "
    f"no part shows an effect beyond seed noise.")


def seed_speeds(series):
    """Per seed: the area under its exact-match accuracy curve (see module docstring)."""
    return [statistics.fmean(a if a is not None else 0.0 for a in curve) for curve in series["accuracy"]]


def speed(series):
    """Area under the exact-match accuracy curve, mean over seeds."""
    return statistics.fmean(seed_speeds(series))


def seed_finals(series):
    return [c[-1] if c and c[-1] is not None else 0.0 for c in series["accuracy"]]


def seed_first_steps(series):
    """Per seed, the first step at accuracy 1.0; "never" counts as one evaluation interval after the cap."""
    steps = series["steps"]
    never = steps[-1] + (steps[0] if len(steps) < 2 else steps[-1] - steps[-2])
    return [never if f is None else f for f in series["first_exact"]]


def seed_drops(series):
    """Per seed, how far its accuracy fell in total between consecutive evaluations (0 for a rising curve)."""
    out = []
    for curve in series["accuracy"]:
        vals = [a for a in curve if a is not None]  # a diverged seed: up to its divergence
        out.append(sum(max(0.0, a - b) for a, b in zip(vals, vals[1:], strict=False)))
    return out


def gap(a, b):
    """(mean(a) - mean(b), the standard error of that difference over seeds); a one-value list has no spread."""
    def var(v):
        return statistics.variance(v) if len(v) > 1 else 0.0

    return statistics.fmean(a) - statistics.fmean(b), math.sqrt(var(a) / len(a) + var(b) / len(b))


def compare(a, b, z=Z):
    """+1 when mean(a) exceeds mean(b) by more than z standard errors of the gap, -1 the reverse, 0 alike."""
    diff, se = gap(a, b)
    if abs(diff) <= max(z * se, EPS):
        return 0
    return 1 if diff > 0 else -1


def above(a, b):
    """The part "a is above b": True if it counts, False if b is above a, None if alike."""
    return {1: True, -1: False, 0: None}[compare(a, b)]


def alike(a, b):
    """The part "a and b are alike": True if their gap does not count, else False."""
    return compare(a, b) == 0


def versus(name_a, a, name_b, b, fmt="{:.3f}"):
    """'a 0.913 vs b 0.842 (gap +0.071, 2 SE 0.058)': the numbers a comparison was judged on."""
    diff, se = gap(a, b)
    return (f"{name_a} {fmt.format(statistics.fmean(a))} vs {name_b} {fmt.format(statistics.fmean(b))} "
            f"(gap {diff:+.3g}, {Z:g} SE {Z * se:.3g})")


PART_WORDS = {True: "holds", False: "contradicted", None: "no effect"}


def verdict(parts):
    """Parts True (holds), False (contradicted), None (no effect beyond noise) -> the claim's verdict."""
    if all(p is True for p in parts):
        return "confirmed"
    if any(p is True for p in parts):
        return "mixed"
    return "refuted" if any(p is False for p in parts) else "not supported"


def judge(parts, notes=()):
    """(evidence, verdict) from [(what was compared, outcome)]: each part with its outcome, then notes."""
    ev = "; ".join(f"{text}: *{PART_WORDS[o]}*" for text, o in parts)
    return "; ".join([ev, *notes]), verdict([o for _, o in parts])


def first_exact(series):
    """Median over seeds of the first step at accuracy 1.0 (None if most never got there), and how many did."""
    firsts = series["first_exact"]
    hit = [f for f in firsts if f is not None]
    med = statistics.median(math.inf if f is None else f for f in firsts)  # "never" ranks after every step
    return (None if med == math.inf else med), len(hit)


def final_accuracy(series):
    return statistics.mean(seed_finals(series))


def fmt_first(series):
    med, hit = first_exact(series)
    n = len(series["seeds"])
    return f"{'never' if med is None else f'{med:g}'} ({hit}/{n})"


def fmt_cell(value, hit, n):
    """One heatmap cell as text: the median first exact step or 'never', and the seeds that reached 1.0."""
    return f"{'never' if value is None else f'{value:g}'} ({hit}/{n})"


def summary_line(result):
    if "heatmap" in result:
        hm, cells = result["heatmap"], plot.heatmap_cells(result)
        rows = "; ".join(f"{r}: " + ", ".join(fmt_cell(*c) for c in row) for r, row in zip(hm["rows"], cells,
                                                                                               strict=False))
        return f"{hm['row_name']} x {hm['col_name']} {hm['cols']}, median first exact step (seeds): {rows}"
    parts = []
    for s in result["series"]:
        ms = 1e3 * statistics.mean(s["sec_per_step"])
        extra = f", {ms:.1f} ms/step" if result["id"].startswith("hidden_mode") else ""
        div = f", diverged {sum(s['diverged'])}/{len(s['seeds'])}" if any(s["diverged"]) else ""
        parts.append(f"{s['label']}: first 1.0 at {fmt_first(s)}{extra}{div}")
    return "; ".join(parts)


def by_label(result):
    return {s["label"]: s for s in result["series"]}


def _c1(r):
    firsts = r["pt_main"]["series"][0]["first_exact"]
    ok = [f is not None and f <= C1_STEPS for f in firsts]
    ev = (f"first step at accuracy 1.0 per seed: {', '.join('never' if f is None else str(f) for f in firsts)} "
          f"(by step {C1_STEPS}: {sum(ok)}/{len(ok)})")
    return ev, verdict(ok)


def bptt_ratios(result, max_depth):
    """(depth, per-seed cost ratios at every depth) from cost_to_exact's bptt_cost extras, or None if absent.

    depth: the deepest measured depth <= max_depth (the steps of the run the claim is about: step n of the
    source code's carry back-propagated through n batches). Ratios: a step through d batches over one through 1.
    """
    extras = [e for s in (result or {}).get("series", []) for e in s.get("extra") or [] if e and "depths" in e]
    if not extras:
        return None
    depths = extras[0]["depths"]
    depth = max((d for d in depths if d <= max_depth), default=depths[0])
    return depth, {d: [e["sec_per_step"][i] / e["sec_per_step"][0] for e in extras] for i, d in enumerate(depths)}


def _c2(r):
    s5, s50 = by_label(r["hidden_mode_len5"]), by_label(r["hidden_mode_len50"])
    c, n = "hidden_mode=carry", "hidden_mode=none"
    parts = [("maxlen 5, none faster: " + versus("none", seed_speeds(s5[n]), "carry", seed_speeds(s5[c])),
              above(seed_speeds(s5[n]), seed_speeds(s5[c]))),
             ("maxlen 50, alike: " + versus("none", seed_speeds(s50[n]), "carry", seed_speeds(s50[c])),
              alike(seed_speeds(s50[n]), seed_speeds(s50[c])))]
    steps = s5[c]["settings"]["steps"]
    bptt = bptt_ratios(r.get("cost_to_exact"), steps)
    if bptt is None:
        notes = ["~4x slower: not measured (`cost_to_exact`, which times the source code's undetached carry, "
                 "not run yet)"]
    else:
        depth, ratios = bptt
        by_depth = ", ".join(f"{d}: {statistics.fmean(v):.1f}x" for d, v in ratios.items())
        parts.append((f"~{CARRY_SLOWDOWN:g}x slower (the source code's carry, never detached, made step n "
                      f"back-propagate through n batches; a step through {depth} batches, within this "
                      f"{steps}-step run, over one through 1): "
                      + versus("ratio", ratios[depth], "claimed", [CARRY_SLOWDOWN], "{:.1f}"),
                      above(ratios[depth], [CARRY_SLOWDOWN])))
        notes = [f"cost ratio by depth (batches back-propagated through): {by_depth}"]
    wall = statistics.mean(s5[c]["sec_per_step"]) / statistics.mean(s5[n]["sec_per_step"])
    notes.append(f"wall clock carry/none at maxlen 5 with the state detached (this project): {wall:.2f}x "
                 f"(shown, not judged: measured while worker processes share the cores)")
    return judge(parts, notes)


def _c3(r):
    s = by_label(r["no_rnn"])
    base, rnn = seed_finals(s["no RNN"]), seed_finals(s["2-layer RNN"])
    below = all(a < NOT_LEARNED for a in base)
    return judge([(f"final accuracy, every no-RNN seed below {NOT_LEARNED:g}: {'yes' if below else 'no'}; "
                   + versus("2-layer RNN", rnn, "no RNN", base), below and compare(rnn, base) == 1)])


def _c4(r):
    sp = {k: seed_speeds(v) for k, v in by_label(r["hidden_mode_1layer"]).items()}
    names = list(sp)
    return judge([(versus(a, sp[a], b, sp[b]), alike(sp[a], sp[b]))
                  for i, a in enumerate(names) for b in names[i + 1:]])


def _maxlen_speeds(result):
    return {s["settings"]["maxlen"]: seed_speeds(s) for s in result["series"]}


def _c5(r):
    parts, notes = [], []
    split = _maxlen_speeds(r["maxlen"])
    control = _maxlen_speeds(r["maxlen_control"]) if "maxlen_control" in r else None
    for where, sp in (("report's split", split), ("train-range control", control)):
        if sp is None:
            notes.append("train-range control: not run yet (`maxlen_control`)")
            continue
        ms = sorted(sp)
        best = max(ms[1:], key=lambda m: statistics.fmean(sp[m]))
        parts.append((f"{where}, short slower: " + versus(f"maxlen {best}", sp[best], f"maxlen {ms[0]}", sp[ms[0]]),
                      above(sp[best], sp[ms[0]])))
        if where == "report's split":  # saturation: the longest length no longer gains on the one before it
            gains = any(compare(sp[m], sp[ms[0]]) == 1 for m in ms[1:])  # no gain at all: nothing saturates
            parts.append(("saturates: " + versus(f"maxlen {ms[-1]}", sp[ms[-1]], f"maxlen {ms[-2]}", sp[ms[-2]]),
                          compare(sp[ms[-1]], sp[ms[-2]]) != 1 if gains else None))
    notes.append("learning speed by maxlen, report's split" + (" / train-range control" if control else "") + ": "
                 + ", ".join(f"{m}: {statistics.fmean(v):.3f}"
                             + (f" / {statistics.fmean(control[m]):.3f}" if control and m in control else "")
                             for m, v in split.items()))
    return judge(parts, notes)


def _c6(r):
    series = r["lr"]["series"]
    const = [x for x in series if not x["settings"]["milestones"]]
    sched = next(x for x in series if x["settings"]["milestones"])
    lr = {x["settings"]["lr"]: x for x in const}
    parts = [(f"lr {v:g} diverges: {sum(x['diverged'])}/{len(x['seeds'])} seeds",
              2 * sum(x["diverged"]) > len(x["seeds"])) for v, x in lr.items() if v >= 0.1]
    base = max(v for v in lr if v <= 0.01)
    parts += [(f"lr {v:g} oscillates more than lr {base:g} (accuracy drops summed over evaluations): "
               + versus(f"lr {v:g}", seed_drops(x), f"lr {base:g}", seed_drops(lr[base])),
               above(seed_drops(x), seed_drops(lr[base]))) for v, x in lr.items() if 0.01 < v < 0.1]
    best = min(const, key=lambda x: statistics.fmean(seed_first_steps(x)))
    parts.append(("the schedule reaches 1.0 first (first exact step; never = after the cap): "
                  + versus(best["label"], seed_first_steps(best), sched["label"], seed_first_steps(sched), "{:.0f}"),
                  above(seed_first_steps(best), seed_first_steps(sched))))
    return judge(parts, ["median first step at 1.0: " + ", ".join(f"{x['label']} {fmt_first(x)}" for x in series)])


def _c7(r):
    sp = [(s["settings"]["num_layers"], seed_speeds(s)) for s in r["layers"]["series"]]
    return judge([(f"{m} layers slower than {n}: " + versus(f"{n} layers", a, f"{m} layers", b), above(a, b))
                  for (n, a), (m, b) in zip(sp, sp[1:], strict=False)])


def _c8(r):
    sp = {s["settings"]["h0_init"]: seed_speeds(s) for s in r["h0_init"]["series"]}
    return judge([(versus("zero", sp["zero"], k, v), above(sp["zero"], v)) for k, v in sp.items() if k != "zero"])


def _c9(r):
    sp = {s["label"]: seed_speeds(s) for s in r["cells"]["series"]}
    pairs = [("rnn/tanh", "rnn/relu"), ("gru", "rnn/relu"), ("rnn/tanh", "lstm"), ("gru", "lstm")]
    return judge([(versus(a, sp[a], b, sp[b]), above(sp[a], sp[b])) for a, b in pairs])


CLAIMS = [  # (id, claim, rule in plain words, experiments needed, evaluator)
    ("C1", "the RNN reaches accuracy 1.0 within 200 steps at maxlen 10 (§2.2)",
     f"each seed's first exact evaluation at step <= {C1_STEPS}: confirmed if every seed, mixed if some, "
     "refuted if none", ["pt_main"], _c1),
    ("C2", "at maxlen 5 `none` learns faster than `carry`; at maxlen 50 they are alike; `carry` is ~4x slower "
           "per step (§2.3.1)",
     "learning speed: none above carry at maxlen 5, alike at maxlen 50; slowdown: the cost of the source code's "
     f"undetached step (`cost_to_exact`'s bptt_cost, at the deepest measured depth within the run) above "
     f"{CARRY_SLOWDOWN:g}x a one-batch step; the wall-clock ratio is shown, not judged",
     ["hidden_mode_len5", "hidden_mode_len50"], _c2),
    ("C3", "without the RNN (embedding + linear) the task is not learned (§2.3.2)",
     f"no-RNN final accuracy below {NOT_LEARNED:g} on every seed and below the RNN's", ["no_rnn"], _c3),
    ("C4", "with 1 layer the three hidden modes are alike (§2.3.2)", "learning speed of every pair of modes alike",
     ["hidden_mode_1layer"], _c4),
    ("C5", "short numbers learn slower; gains saturate around maxlen 50-70 (§3.1)",
     "learning speed: the shortest maxlen below the fastest longer one, on the report's split and on held-out "
     "sums from the training range (`maxlen_control`); the longest not above the second longest (saturation; no "
     "effect when no length gains on the shortest)",
     ["maxlen"], _c5),
    ("C6", "lr > 0.01 oscillates, 0.1 and 0.5 diverge to NaN; the step schedule reaches 1.0 first (§3.2)",
     "lr >= 0.1: most seeds diverge; each lr in (0.01, 0.1): summed accuracy drops between evaluations above "
     "lr 0.01's; first exact step of the schedule below the best constant lr's (never = one interval after "
     "the cap)", ["lr"], _c6),
    ("C7", "more layers learn slower (§3.3)", "learning speed drops with each added layer (each consecutive pair)",
     ["layers"], _c7),
    ("C8", "a zero initial hidden state learns best (§3.4)", "learning speed of zero above each other h0_init",
     ["h0_init"], _c8),
    ("C9", "rnn/tanh and GRU are best; LSTM is slower (§3.5)",
     "learning speed of rnn/tanh and of GRU each above rnn/relu's and above LSTM's", ["cells"], _c9),
]


def claims_table(results):
    rows = [VERDICT_RULE, "", "| # | claim | rule | measured | verdict |", "|---|---|---|---|---|"]
    notes = fidelity.claim_notes(results)  # where the source's own figure reads differently
    for cid, text, rule, needs, fn in CLAIMS:
        if all(n in results for n in needs):
            ev, found = fn(results)
        else:
            ev, found = f"not run yet ({', '.join(n for n in needs if n not in results)})", "-"
        if notes.get(cid):
            ev += f"<br>*Source's figure:* {notes[cid]}"
        rows.append(f"| {cid} | {text} | {rule} | {ev} | **{found}** |")
    return rows


def stale_lines(results):
    """A warning naming every shown result made by other code than the current one (empty when none is)."""
    stale = {eid: files for eid, r in results.items() if (files := store.stale_files(r))}

    def why(files):
        return "made before code fingerprints were recorded" if files == ["unknown"] else f"{', '.join(files)} changed"

    if not stale:
        return []
    return ["**Stale results:** made by other code than the current one (rerun `python source.py` to update): "
            + "; ".join(f"`{eid}` ({why(files)})" for eid, files in stale.items()) + ".", ""]


def section(result):
    lines = [f"## `{result['id']}`: {result['title']}", "", f"![{result['id']}]({result['id']}.png)", ""]
    if "heatmap" in result:
        hm, n = result["heatmap"], len(result["series"][0]["seeds"])
        lines += [f"Median over seeds of the first step at accuracy 1.0 within the {hm['cap']}-step cap, and how many "
                  f"of the {n} seeds reached 1.0; \"never\" when the median seed did not (a seed that never "
                  f"reaches 1.0 ranks after every step); rows {hm['row_name']}, columns {hm['col_name']}.", "",
                  "| " + hm["row_name"] + " \\ " + hm["col_name"] + " | " + " | ".join(map(str, hm["cols"])) + " |",
                  "|---" * (len(hm["cols"]) + 1) + "|"]
        lines += [f"| {r} | " + " | ".join(fmt_cell(*c) for c in row) + " |"
                  for r, row in zip(hm["rows"], plot.heatmap_cells(result), strict=False)]
    else:
        lines += ["| curve | first step at 1.0, median (seeds reaching) | final accuracy | learning speed | "
                  "ms/step | diverged |", "|---|---|---|---|---|---|"]
        for s in result["series"]:
            lines.append(f"| {s['label']} | {fmt_first(s)} | {final_accuracy(s):.3f} | {speed(s):.3f} | "
                         f"{1e3 * statistics.mean(s['sec_per_step']):.2f} | {sum(s['diverged'])}/{len(s['seeds'])} |")
    first = result["series"][0]["settings"]
    common = {k: v for k, v in first.items() if all(s["settings"].get(k) == v for s in result["series"])}
    lines += ["", f"Constants shared by every curve: `{json.dumps(common)}`; seeds {result['config']['seeds']}; "
              f"trained on {result['device']} in {result['wall_seconds']:.0f} s (torch {result['torch']}).", ""]
    return lines


def write_report(out_dir, quick=False):
    out_dir = Path(out_dir)
    results = {}
    for eid in experiments.EXPERIMENTS:  # registry order, so the report reads like the study
        path = out_dir / f"{eid}.json"
        if path.exists():
            results[eid] = json.loads(path.read_text())
    lines = ["# Results", "",
             "Generated by `python source.py` from the JSON files beside this page; do not edit by hand."
             + (" **Quick mode: tiny settings, not the study's results.**" if quick else ""), "",
             "Learning speed = mean exact-match test accuracy over all evaluations and seeds (area under the "
             "accuracy curve, 1.0 = exact from the first evaluation). Accuracy = exact match of the whole sum on "
             "a fixed batch of held-out test sums.", "", *stale_lines(results), "## The source report's claims", ""]
    lines += claims_table(results) + [""] + fidelity.section(results)
    for result in results.values():
        write_section = experiments.resolve(result["section"]) if "section" in result else section
        lines += write_section(result)
    (out_dir / "README.md").write_text("\n".join(lines) + "\n")
    return results
