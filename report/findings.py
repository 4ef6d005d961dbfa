"""Findings across experiments, printed after the claims table: the random-sum length headline beside the worst
cases of the same trained models, and every other conclusion of the source report (EXPERIMENTS.md's seed text)
that no claim C1-C10 judges, each with a verdict computed here or the reason it has none.

The verdicts here are single tests outside the claims' family (unadjusted, stated as such): exploratory.
"""
import math
import statistics

import plot
from judge import stats
from judge.parts import differs, same, speeds
from judge.stats import pair
from judge.tables import seed_first_steps

PREMISE_ERRORS = (KeyError, IndexError, ValueError, TypeError, StopIteration, ZeroDivisionError,
                  statistics.StatisticsError)  # what a finding raises when its result lacks what it reads


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


def _suite_line(s, twin):
    suites = [x["suite"] for x in twin["extra"]]
    fails = [x for x in suites if not x["passed"]]
    first = [next(c["check"] for c in x["stages"][-1]["checks"] if c["wrong"]) for x in fails]
    kinds = ", ".join(f"{first.count(k)} on {k}" for k in dict.fromkeys(first))
    at = sorted({x["stages"][-1]["length"] for x in fails})
    short = sorted((x["shortest_failure"] for x in fails if x.get("shortest_failure")), key=lambda f: f["digits"])
    return (f"`{s['label']}` here and `exact_adder`'s `{twin['label']}` are the same trained models "
            f"(identical settings): on random sums {worst_headline(s)}, but on the worst-case suite "
            f"{len(suites) - len(fails)}/{len(suites)} seeds pass; {len(fails)} fail"
            + (f" at {', '.join(f'{v:,}' for v in at)} digits (first wrong check: {kinds})" if fails else "")
            + (f"; their shortest failing sums have {short[0]['digits']}-{short[-1]['digits']} digits, e.g. "
               f"`{short[0]['sum']}`" if short else "") + ".")


def _chain_line(s, twin):
    ev = [e for e in twin.get("extra") or [] if e]
    nines = sum(bool(e.get("nines_plus_one")) for e in ev)
    ones = sum(bool(e.get("one_plus_nines")) for e in ev)
    return (f"`{s['label']}`: on random sums {worst_headline(s)}; the same models (`carry_chains`, seeds "
            f"{', '.join(map(str, twin['seeds']))}) get 99…9 + 1 right for {nines}/{len(ev)} and 1 + 99…9 for "
            f"{ones}/{len(ev)} seeds at {ev[0]['length']:,} digits.")


def worst_case_lines(results):
    """Beside length_generalization's random-sum result: the worst cases on models of identical settings.

    exact_adder's and carry_chains' series whose settings equal a length_generalization series' are the same
    trained models (same settings and seeds: the store serves one run to all); their worst-case results qualify
    the random-sum headline. Empty when length_generalization or both others are missing, or none matches.
    """
    length = results.get("length_generalization")
    if not length:
        return []
    out = []
    for s in length["series"]:
        for eid, line in (("exact_adder", _suite_line), ("carry_chains", _chain_line)):
            twin = next((e for e in (results.get(eid) or {}).get("series", []) if e["settings"] == s["settings"]),
                        None)
            if twin is not None and twin.get("extra"):
                out.append(line(s, twin))
    return ["**Random sums vs worst cases.** " + " ".join(out), ""] if out else []


def _slow_lrs(r):
    lr = {x["settings"]["lr"]: x for x in r["lr"]["series"] if not x["settings"].get("milestones")}
    best = min(lr, key=lambda v: statistics.fmean(seed_first_steps(lr[v])))
    out = []
    for v in sorted(lr):
        if v < 0.005 and v != best:
            a, b, paired = speeds(lr[best], lr[v])
            p = differs(f"lr {v:g} slower than lr {best:g}", f"lr {best:g}", a, f"lr {v:g}", b, paired)
            reached = sum(f is not None for f in lr[v]["first_exact"])
            out.append(f"lr {v:g}: slower {p.outcome} ({p.comparison.stat()}); reaches 1.0 on {reached}/"
                       f"{len(lr[v]['seeds'])} seeds")
    return "; ".join(out)


def _heat_fastest(r):
    res = r["heat_lr_maxlen"]
    hm = res["heatmap"]
    cells = plot.heatmap_cells(res)
    best = min((math.inf if c[0] is None else c[0], hm["rows"][i], hm["cols"][j])
               for i, row in enumerate(cells) for j, c in enumerate(row))
    ties = [(hm["rows"][i], hm["cols"][j]) for i, row in enumerate(cells) for j, c in enumerate(row)
            if (math.inf if c[0] is None else c[0]) == best[0]]
    return (f"fastest cell (median first exact step {best[0]:g}): "
            + ", ".join(f"lr {a:g} / maxlen {b}" for a, b in ties) + " (source: lr 0.01, maxlen 50-70; one run)")


def _relu_tanh(r):
    relu = stats.find_series(r["cells"], cell="rnn", nonlinearity="relu")
    tanh = stats.find_series(r["cells"], cell="rnn", nonlinearity="tanh")
    a, b, paired = speeds(tanh, relu)
    p = same("alike", "tanh", a, "relu", b, paired, runs=(tanh, relu))
    fr, ft, paired = pair(relu, seed_first_steps(relu), tanh, seed_first_steps(tanh))
    q = differs("tanh first", "relu", fr, "tanh", ft, paired, margin=None)
    return (f"learning speed alike: {p.outcome} ({p.stat}); first exact step, rnn/tanh before rnn/relu: "
            f"{q.outcome} ({q.comparison.stat()})")


OTHERS = [  # (where in the source, its conclusion, experiments read, a finding function or the reason for none)
    ("§2.2", "a state left out of the RNN's call is a zero state (PyTorch's documentation)", [],
     "true by construction here: none and zero are one computation, served once by the run store (C4's third part)"),
    ("§2.3.1", "without the carried state a step takes under a quarter of the time, as with a zero state", [],
     "judged in C2 (its \"~4x slower\" part, on the source's undetached state; the detached wall clock is shown)"),
    ("§2.3.1", "with an explicit zero state the task is learned too, and at maxlen 50 about as with the carried state",
     [], "judged in C2: zero equals none here by construction (one computation), so its maxlen-50 part is this"),
    ("§2.3.1", "(a guess) the carried state disturbs early training at maxlen 5 and training recovers later", [],
     "a guess the source itself takes to §3.1 (C5); C2 shows where the gap lies (ceiling note)"),
    ("§2.3.2", "reason 3: PyTorch's RNN passes information on by another path", [],
     "left open by the source; answered by `hidden_probe` (the state passed in is only the initial state of each "
     "sum; the recurrence inside the layer carries the carry), a measurement, not a verdict"),
    ("§3.1", "to train fastest, use maxlen ≈ 50", [], "a recommendation resting on C5 (its plateau note)"),
    ("§3.2", "lr below 0.005 is slower than the best curve but still reaches accuracy 1.0", ["lr"], _slow_lrs),
    ("§3.2", "a larger lr with depth might ease vanishing gradients", [],
     "a speculation: no experiment varies the lr by layer"),
    ("§3.2.3", "fastest at lr 0.01 and maxlen 50-70; slower at both ends of the lr range", ["heat_lr_maxlen"],
     _heat_fastest),
    ("§3.3.2", "more layers learn slower, probably from depth and vanishing gradients", [],
     "the slowdown is C7; its cause is not tested (no gradient norms are recorded)"),
    ("§3.3.2", "with a zero state the depth effect is not clearly different at 1-4 layers", [],
     "judged in C10 (the same data: `layers` vs `layers_zero`) and stated in C7's note"),
    ("§3.4", "the initial state makes no great difference to the loss", [],
     "not judged: no margin for a loss was set; the accuracy side is C8"),
    ("§3.5", "rnn/relu's loss falls fastest early; GRU's loss converges first", [],
     "not judged: the claims judge accuracy; the loss record is a 50-step mean of the training loss"),
    ("§3.5", "ReLU and tanh do not differ, the network being shallow", ["cells"], _relu_tanh),
]


def other_lines(results):
    """Every source conclusion no claim judges, one line each: a computed finding or the reason it has none."""
    out = []
    for where, text, needs, how in OTHERS:
        if isinstance(how, str):
            found = how
        elif any(n not in results for n in needs):
            found = f"not run yet ({', '.join(n for n in needs if n not in results)})"
        else:
            try:
                found = how(results)
            except PREMISE_ERRORS as e:
                found = f"not judged: its results lack what it reads ({type(e).__name__}: {e})"
        out.append(f"- {where}: \"{text}\": {found}.")
    return ["### The source's other conclusions", "",
            "Each conclusion of the source report that no claim above judges; a verdict here is one test, not "
            "adjusted with the claims' family.", "", *out, ""]


def lines(results):
    """The findings across experiments, after the claims table."""
    return worst_case_lines(results) + other_lines(results)
