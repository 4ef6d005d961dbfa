"""plots/README.md, generated from the result JSONs: every number in it is read from them.

Per experiment: its chart, its constants and a table of headline numbers. Then the source
report's claims C1-C9 (EXPERIMENTS.md), each with the measured evidence and a verdict.

"Learning speed" below is the area under the accuracy curve: the mean over seeds and over
evaluation points of exact-match test accuracy (a diverged seed counts 0 from its divergence on),
so 1.0 means exact from the first evaluation and 0 means never right.
"""
import json
import statistics
from pathlib import Path

import experiments
import fidelity

SAME = 0.05  # learning speeds closer than this count as "alike"


def speed(series):
    """Area under the exact-match accuracy curve, mean over seeds (see module docstring)."""
    vals = [a if a is not None else 0.0 for curve in series["accuracy"] for a in curve]
    return sum(vals) / len(vals)


def first_exact(series):
    """Median over seeds of the first step at accuracy 1.0 (None if most never got there), and how many did."""
    firsts = series["first_exact"]
    hit = [f for f in firsts if f is not None]
    if len(hit) * 2 <= len(firsts):
        return None, len(hit)
    never = series["steps"][-1] + 1 if series["steps"] else 0  # ranks "never" after any step
    return statistics.median(f if f is not None else never for f in firsts), len(hit)


def final_accuracy(series):
    return statistics.mean(c[-1] if c and c[-1] is not None else 0.0 for c in series["accuracy"])


def fmt_first(series):
    med, hit = first_exact(series)
    n = len(series["seeds"])
    return f"{'never' if med is None else f'{med:g}'} ({hit}/{n})"


def summary_line(result):
    if "heatmap" in result:
        hm = result["heatmap"]
        return f"{hm['row_name']} x {hm['col_name']} medians (cap {hm['cap']}): {hm['values']}"
    parts = []
    for s in result["series"]:
        ms = 1e3 * statistics.mean(s["sec_per_step"])
        extra = f", {ms:.1f} ms/step" if result["id"].startswith("hidden_mode") else ""
        div = f", diverged {sum(s['diverged'])}/{len(s['seeds'])}" if any(s["diverged"]) else ""
        parts.append(f"{s['label']}: first 1.0 at {fmt_first(s)}{extra}{div}")
    return "; ".join(parts)


def by_label(result):
    return {s["label"]: s for s in result["series"]}


def _verdict(parts):
    """All sub-claims true -> confirmed, none -> refuted, else mixed."""
    return "confirmed" if all(parts) else "refuted" if not any(parts) else "mixed"


def _c1(r):
    s = r["pt_main"]["series"][0]
    firsts = s["first_exact"]
    ok = [f is not None and f <= 200 for f in firsts]
    ev = f"first step at accuracy 1.0 per seed: {['never' if f is None else f for f in firsts]}"
    return ev, _verdict(ok)


def _c2(r):
    s5, s50 = by_label(r["hidden_mode_len5"]), by_label(r["hidden_mode_len50"])
    c, n = "hidden_mode=carry", "hidden_mode=none"
    faster = speed(s5[n]) > speed(s5[c]) + SAME
    alike = abs(speed(s50[n]) - speed(s50[c])) < SAME
    ratio = statistics.mean(s5[c]["sec_per_step"]) / statistics.mean(s5[n]["sec_per_step"])
    ev = (f"learning speed at maxlen 5: none {speed(s5[n]):.3f} vs carry {speed(s5[c]):.3f}; at maxlen 50: "
          f"none {speed(s50[n]):.3f} vs carry {speed(s50[c]):.3f}; time per step carry/none at maxlen 5: "
          f"{ratio:.2f}x (with the state detached)")
    return ev, _verdict([faster, alike, ratio > 3])


def _c3(r):
    s = by_label(r["no_rnn"])
    base, rnn = final_accuracy(s["no RNN"]), final_accuracy(s["2-layer RNN"])
    return f"final accuracy: no RNN {base:.3f}, 2-layer RNN {rnn:.3f}", _verdict([base < 0.1 and rnn > 0.9])


def _c4(r):
    sp = {k: speed(v) for k, v in by_label(r["hidden_mode_1layer"]).items()}
    spread = max(sp.values()) - min(sp.values())
    ev = "learning speed: " + ", ".join(f"{k} {v:.3f}" for k, v in sp.items()) + f" (spread {spread:.3f})"
    return ev, _verdict([spread < SAME])


def _c5(r):
    sp = [(s["settings"]["maxlen"], speed(s)) for s in r["maxlen"]["series"]]
    slower_short = sp[0][1] < max(v for _, v in sp[1:]) - SAME
    saturates = abs(sp[-1][1] - sp[-2][1]) < SAME
    ev = "learning speed by maxlen: " + ", ".join(f"{m}: {v:.3f}" for m, v in sp)
    return ev, _verdict([slower_short, saturates])


def _c6(r):
    s = by_label(r["lr"])
    big = [x for x in r["lr"]["series"] if not x["settings"]["milestones"] and x["settings"]["lr"] > 0.01]
    nan = [x for x in big if x["settings"]["lr"] >= 0.1]
    all_nan = all(all(x["diverged"]) for x in nan)
    mid = [x for x in big if x["settings"]["lr"] < 0.1]
    oscill = all(final_accuracy(x) < 0.99 for x in mid)
    sched = next(x for x in r["lr"]["series"] if x["settings"]["milestones"])
    first = {x["label"]: first_exact(x)[0] for x in r["lr"]["series"]}
    reached = {k: v for k, v in first.items() if v is not None}
    sched_first = bool(reached) and first[sched["label"]] == min(reached.values())
    ev = ("diverged seeds: " + ", ".join(f"{x['label']} {sum(x['diverged'])}/{len(x['seeds'])}" for x in big)
          + "; final accuracy: " + ", ".join(f"{x['label']} {final_accuracy(x):.3f}" for x in mid)
          + "; median first step at 1.0: " + ", ".join(f"{k} {fmt_first(s[k])}" for k in first))
    return ev, _verdict([all_nan, oscill, sched_first])


def _c7(r):
    sp = [(s["settings"]["num_layers"], speed(s)) for s in r["layers"]["series"]]
    dec = all(a[1] > b[1] for a, b in zip(sp, sp[1:], strict=False))
    worse = sp[0][1] > sp[-1][1] + SAME
    ev = "learning speed by num_layers: " + ", ".join(f"{n}: {v:.3f}" for n, v in sp)
    return ev, _verdict([dec, worse])


def _c8(r):
    sp = {s["settings"]["h0_init"]: speed(s) for s in r["h0_init"]["series"]}
    best = max(sp.values())
    ev = "learning speed by h0_init: " + ", ".join(f"{k}: {v:.3f}" for k, v in sp.items())
    return ev, "confirmed" if sp["zero"] == best and sorted(sp.values())[-2] < best - SAME else (
        "mixed" if sp["zero"] > best - SAME else "refuted")


def _c9(r):
    sp = {s["label"]: speed(s) for s in r["cells"]["series"]}
    top2 = set(sorted(sp, key=sp.get)[-2:])
    ev = ("learning speed by cell: " + ", ".join(f"{k}: {v:.3f}" for k, v in sp.items())
          + "; median first step at 1.0: " + ", ".join(f"{s['label']} {fmt_first(s)}" for s in r["cells"]["series"]))
    # "slower" needs the same margin as "alike" elsewhere, or seed noise decides the verdict
    return ev, _verdict([top2 == {"rnn/tanh", "gru"}, sp["lstm"] < min(sp["rnn/tanh"], sp["gru"]) - SAME])


CLAIMS = [  # (id, claim, experiments needed, evaluator)
    ("C1", "the RNN reaches accuracy 1.0 within 200 steps at maxlen 10 (§2.2)", ["pt_main"], _c1),
    ("C2", "at maxlen 5 `none` learns faster than `carry`; at maxlen 50 they are alike; `carry` is ~4x slower "
           "per step (§2.3.1)", ["hidden_mode_len5", "hidden_mode_len50"], _c2),
    ("C3", "without the RNN (embedding + linear) the task is not learned (§2.3.2)", ["no_rnn"], _c3),
    ("C4", "with 1 layer the three hidden modes are alike (§2.3.2)", ["hidden_mode_1layer"], _c4),
    ("C5", "short numbers learn slower; gains saturate around maxlen 50-70 (§3.1)", ["maxlen"], _c5),
    ("C6", "lr > 0.01 oscillates, 0.1 and 0.5 diverge to NaN; the step schedule reaches 1.0 first (§3.2)",
     ["lr"], _c6),
    ("C7", "more layers learn slower (§3.3)", ["layers"], _c7),
    ("C8", "a zero initial hidden state learns best (§3.4)", ["h0_init"], _c8),
    ("C9", "rnn/tanh and GRU are best; LSTM is slower (§3.5)", ["cells"], _c9),
]


def claims_table(results):
    rows = ["| # | claim | measured | verdict |", "|---|---|---|---|"]
    for cid, text, needs, fn in CLAIMS:
        if all(n in results for n in needs):
            ev, verdict = fn(results)
        else:
            ev, verdict = f"not run yet ({', '.join(n for n in needs if n not in results)})", "-"
        rows.append(f"| {cid} | {text} | {ev} | **{verdict}** |")
    return rows


def section(result):
    lines = [f"## `{result['id']}`: {result['title']}", "", f"![{result['id']}]({result['id']}.png)", ""]
    if "heatmap" in result:
        hm = result["heatmap"]
        lines += [f"Median over seeds of the first step at accuracy 1.0 (cap {hm['cap']} = never reached); "
                  f"rows {hm['row_name']}, columns {hm['col_name']}.", "",
                  "| " + hm["row_name"] + " \\ " + hm["col_name"] + " | " + " | ".join(map(str, hm["cols"])) + " |",
                  "|---" * (len(hm["cols"]) + 1) + "|"]
        lines += [f"| {r} | " + " | ".join(f"{v:g}" for v in vals) + " |"
                  for r, vals in zip(hm["rows"], hm["values"], strict=False)]
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
             "a fixed batch of held-out test sums.", "", "## The source report's claims", ""]
    lines += claims_table(results) + [""] + fidelity.section(results)
    for result in results.values():
        write_section = experiments.resolve(result["section"]) if "section" in result else section
        lines += write_section(result)
    (out_dir / "README.md").write_text("\n".join(lines) + "\n")
    return results
