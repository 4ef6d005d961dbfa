"""The claim rules and heatmap cells of report/claims.py / plot.py, fed made-up numbers with known answers.

Every result here is synthetic: a test builds the stored numbers, judges them, then changes them and checks
that the verdict and the finding sentences follow. Nothing depends on today's constants.
"""
import json
import statistics
from pathlib import Path

import numpy as np
import pytest

import plot
from judge import parts as vocab
from judge import tables
from report import answers, claims, fidelity, findings, page, robust, rules

FAST = [0.90, 0.91, 0.92, 0.93, 0.94]  # per-seed learning speeds: FAST vs SLOW differ by 0.3 on every seed
SLOW = [0.60, 0.61, 0.62, 0.63, 0.64]
SAME = [0.901, 0.909, 0.921, 0.929, 0.941]  # FAST up to +-0.001 per seed: alike within the 0.02 margin
NOISY = [0.99, 0.63, 1.00, 0.99, 1.00]  # FAST + (0.09, -0.28, 0.08, 0.06, 0.06): neither shown nor alike within
# the 0.125 margin of these 200-step runs (a 25-step delay)
STEPS = [50, 100, 150, 200]


def series(label, speeds, first=None, diverged=None, sec=1e-3, curves=None, loss=None, digits=None, **settings):
    """A stored series whose seeds' accuracy curves are flat at `speeds` (so each seed's learning speed is it);
    per-digit accuracy equals exact-match accuracy unless `digits` gives its curves."""
    n = len(speeds)
    curves = curves or [[v] * len(STEPS) for v in speeds]
    return {"label": label, "settings": {"milestones": [], "steps": STEPS[-1], **settings}, "seeds": list(range(n)),
            "steps": STEPS, "accuracy": curves, "digit_accuracy": digits or curves,
            "loss_steps": STEPS, "loss": loss or [[1.0] * len(STEPS) for _ in speeds],
            "first_exact": first or [None] * n, "diverged": diverged or [False] * n, "sec_per_step": [sec] * n}


def result(*ss, eid="x"):
    return {"id": eid, "title": eid, "series": list(ss), "config": {"seeds": list(range(len(ss[0]["seeds"])))},
            "device": "cpu", "wall_seconds": 1.0, "torch": "x"}


def modes(carry, none, zero=None):
    """hidden_mode curves; zero defaults to a bitwise copy of none (what the run store serves)."""
    ss = [series(f"hidden_mode={m}", v, hidden_mode=m, maxlen=5) for m, v in (("carry", carry), ("none", none))]
    zero_s = dict(ss[1], label="hidden_mode=zero", settings={**ss[1]["settings"], "hidden_mode": "zero"})
    if zero is not None:
        zero_s = series("hidden_mode=zero", zero, hidden_mode="zero", maxlen=5)
    return result(*ss, zero_s)


def bptt(ratio, depths=(1, 4, 16, 64)):
    """cost_to_exact with a carry series whose step through the deepest depth costs `ratio` x depth 1 (linear)."""
    def secs(r):
        return [0.01 * (1 + (r - 1) * (d - 1) / (depths[-1] - 1)) for d in depths]
    extra = [{"depths": list(depths), "sec_per_step": secs(r)} for r in ratio]
    return {"series": [{"label": "c", "settings": {"maxlen": 10, "hidden_mode": "carry"}, "extra": extra}]}


def layers(*speeds, mode="carry"):
    return result(*(series(f"num_layers={i + 1}", v, num_layers=i + 1, hidden_mode=mode)
                    for i, v in enumerate(speeds)))


def h0(zero, other, inits=("randn", "zero", "xavier")):
    return result(*(series(f"h0_init={k}", zero if k == "zero" else other, h0_init=k) for k in inits))


def cells(tanh, gru, relu, lstm, firsts=None, drop=()):
    firsts = firsts or {}
    specs = [("rnn/relu", relu, "rnn", "relu"), ("rnn/tanh", tanh, "rnn", "tanh"), ("lstm", lstm, "lstm", "relu"),
             ("gru", gru, "gru", "relu")]
    return result(*(series(name, v, first=firsts.get(name), cell=c, nonlinearity=nl)
                    for name, v, c, nl in specs if name not in drop))


def maxlens(*speeds, values=(5, 10, 50, 70)):
    return result(*(series(f"maxlen={m}", v, maxlen=m) for m, v in zip(values, speeds, strict=True)))


def lrs(big_diverged, oscillation, sched_first, values=(0.01, 0.05, 0.1), dead=0, n=8):
    """lr sweep over n seeds (0.05's accuracy falls by `oscillation` per step), 0.1 with `dead` seeds at accuracy 0
    and every seed diverged or none, the constant lrs exact from step 100, the schedule from sched_first (one step
    for every seed). Eight seeds: at five no count can reach p < 0.05 in a binomial test (2/2^5)."""
    steady = [[0.5, 0.7, 0.9, 1.0]] * n
    wobbly = [[0.5, 0.5 - oscillation * (1 + 0.1 * i), 0.5, 0.5 - oscillation] for i in range(n)]
    n_div = n if big_diverged else 0
    big = [[0.0] * 4] * dead + [[0.3] * 4] * (n - dead)
    speeds_ = [0.9] * n
    out = []
    for v in values:
        if v <= 0.01:
            out.append(series(f"lr={v}", speeds_, lr=v, curves=steady, first=[100] * n))
        elif v < 0.1:
            out.append(series(f"lr={v}", speeds_, lr=v, curves=wobbly))
        else:
            out.append(series(f"lr={v}", speeds_, lr=v, curves=big, loss=[[42.0, 1, 1, 1]] * n,
                              diverged=[True] * n_div + [False] * (n - n_div)))
    out.append(series("sched", speeds_, lr=0.01, milestones=[100], first=[sched_first] * n))
    return result(*out)


def judge(cid, results):
    """(parts, notes, verdict) of one claim after the family adjustment and the robustness checks."""
    return claims.settled(results)[0][cid]


def verdict(cid, results):
    """The verdict word, without "at n = N" and what it rests on."""
    return judge(cid, results)[2].split(" (")[0].split(" at n = ")[0]


def part_text(cid, results):
    parts, notes, found = judge(cid, results)
    return "\n".join(" | ".join(map(str, p.row())) + f" | {p.note()}" for p in parts) + "\n" + "\n".join(notes)


CASES = [  # (claim, stored results, expected verdict)
    ("C1", {"pt_main": result(series("m", [0.9] * 8, first=[100, 150, 200, 50, 200, 200, 150, 100]))}, "confirmed"),
    ("C1", {"pt_main": result(series("m", [0.9] * 8, first=[100, 250, None, 50, 200, 300, 100, None]))},
     "undecided"),  # 4 of 8: a rate of 1/2 is not shown off 1/2
    ("C1", {"pt_main": result(series("m", [0.9] * 8, first=[250, None, None, 300, 450, 250, 300, None]))},
     "refuted"),
    ("C1", {"pt_main": result(series("m", [0.9] * 8, first=[100] * 8),
                              series("fresh", [0.9] * 8, first=[250] * 8, eval_fresh=True))}, "mixed"),
    ("C2", {"hidden_mode_len5": modes(SLOW, FAST), "hidden_mode_len50": modes(FAST, SAME),
            "cost_to_exact": bptt([8.6, 8.7, 8.8])}, "confirmed"),  # about 4x over the source's 50-step cycle
    ("C2", {"hidden_mode_len5": modes(SLOW, FAST), "hidden_mode_len50": modes(SLOW, FAST),
            "cost_to_exact": bptt([30, 31, 29])}, "mixed"),  # slower, but not about 4x; not alike at maxlen 50
    ("C2", {"hidden_mode_len5": modes(FAST, SLOW), "hidden_mode_len50": modes(SLOW, FAST),
            "cost_to_exact": bptt([1.1, 1.0, 1.2])}, "refuted"),
    ("C2", {"hidden_mode_len5": modes(FAST, NOISY), "hidden_mode_len50": modes(FAST, NOISY)}, "undecided"),
    ("C3", {"no_rnn": result(series("no RNN", [0.0] * 5, cell="linear", maxlen=5),
                             series("2-layer RNN", FAST, maxlen=5))}, "confirmed"),
    ("C3", {"no_rnn": result(series("no RNN", SLOW, cell="linear", maxlen=5), series("2-layer RNN", FAST, maxlen=5))},
     "mixed"),  # a no-RNN exact-match accuracy above 0 contradicts the identity; the per-digit part holds
    ("C3", {"no_rnn": result(series("no RNN", [0.0] * 5, cell="linear", maxlen=5, digits=[[0.95] * 4] * 5),
                             series("2-layer RNN", FAST, maxlen=5))}, "refuted"),  # the digits below the top learned
    ("C4", {"hidden_mode_1layer": modes(SAME, FAST)}, "confirmed"),
    ("C4", {"hidden_mode_1layer": modes(SLOW, FAST)}, "refuted"),  # carry apart; none = zero does not count
    ("C4", {"hidden_mode_1layer": modes(SLOW, FAST, [0.3] * 5)}, "refuted"),
    ("C5", {"maxlen": maxlens(SLOW, FAST, FAST, SAME), "maxlen_control": maxlens(SLOW, SAME, FAST, FAST)},
     "confirmed"),
    ("C5", {"maxlen": maxlens(SLOW, FAST, FAST, SAME), "maxlen_control": maxlens(FAST, SAME, FAST, SAME)},
     "mixed"),  # slower on the report's split only: the split's shift, not the length
    ("C5", {"maxlen": maxlens(FAST, SAME, SLOW, FAST), "maxlen_control": maxlens(SAME, FAST, SLOW, FAST)},
     "refuted"),  # the shortest is not slower (alike with the fastest), and the two longest differ
    ("C6", {"lr": lrs(True, 0.3, 50)}, "confirmed"),
    ("C6", {"lr": lrs(True, 0.0, 100)}, "partly confirmed"),  # no oscillation, the schedule ties: undecided
    ("C6", {"lr": lrs(False, 0.0, 150)}, "refuted"),
    ("C7", {"layers": layers(FAST, [0.8] * 5, SLOW)}, "confirmed"),
    ("C7", {"layers": layers(FAST, SAME, SLOW)}, "mixed"),
    ("C7", {"layers": layers(FAST, SAME, FAST)}, "refuted"),  # alike, then faster: no added layer is slower
    ("C7", {"layers": layers(FAST, NOISY)}, "undecided"),
    ("C8", {"h0_init": h0(FAST, SLOW)}, "confirmed"),
    ("C8", {"h0_init": h0(SAME, FAST)}, "refuted"),  # shown alike within the margin: zero is not best
    ("C8", {"h0_init": h0(NOISY, FAST)}, "undecided"),
    ("C9", {"cells": cells([0.8] * 10, FAST * 2, SLOW * 2, SLOW * 2, {"rnn/tanh": [100] * 10, "gru": [150] * 10,
                                                                      "lstm": [None] * 10})}, "confirmed"),
    ("C9", {"cells": cells(FAST * 2, SLOW * 2, SLOW * 2, FAST * 2, {"rnn/tanh": [None] * 10, "lstm": [100] * 10,
                                                                    "gru": [150] * 10})}, "refuted"),
]


@pytest.mark.parametrize("cid, results, expected", CASES, ids=[f"{c}-{v}-{i}" for i, (c, _, v) in enumerate(CASES)])
def test_claim_rule_on_synthetic_numbers(cid, results, expected):
    assert verdict(cid, results) == expected


def test_paired_part_holds_where_the_unpaired_test_sees_nothing():
    """Seeds vary far more than the gap, but none beats carry on every seed by about 0.03: the paired rule."""
    carry = [0.60, 0.75, 0.90, 0.70, 0.82]
    none = [c + 0.03 + e for c, e in zip(carry, [0.004, -0.003, 0.002, -0.001, 0.0], strict=True)]
    parts, _, _ = judge("C2", {"hidden_mode_len5": modes(carry, none), "hidden_mode_len50": modes(FAST, SAME)})
    assert parts[0].outcome == vocab.HOLDS_SMALL and parts[0].test == "paired t + TOST"  # 0.03 < the 0.125 margin
    shuffled = modes(carry, none)  # the same values with the seeds' pairing broken: no longer paired
    shuffled["series"][1]["seeds"] = [10, 11, 12, 13, 14]
    parts, _, _ = judge("C2", {"hidden_mode_len5": shuffled, "hidden_mode_len50": modes(FAST, SAME)})
    assert parts[0].test == "Welch t + TOST" and parts[0].outcome == "undecided"
    assert "undecided at n = 5" in parts[0].note()


def test_undecided_parts_say_how_many_seeds_would_decide():
    text = part_text("C8", {"h0_init": h0(NOISY, FAST)})
    assert "undecided at n = 5" in text and "seeds would decide it (80% power at level" in text
    assert judge("C8", {"h0_init": h0(NOISY, FAST)})[2].startswith("undecided at n = 5")


def test_c2_cost_sentences_follow_the_numbers():
    base = {"hidden_mode_len5": modes(SLOW, FAST), "hidden_mode_len50": modes(FAST, SAME)}
    assert "not run yet" in part_text("C2", base)
    text = part_text("C2", {**base, "cost_to_exact": bptt([64.0] * 3)})
    # linear ratios 1 + 63 (d - 1) / 63 = d: 50x at depth 50, mean of 1..50 = 25.5x over the cycle
    assert "50.0x [50.0, 50.0] at depth 50" in text and "25.5x [25.5, 25.5] averaged over the cycle" in text
    assert "at most 50 batches (mean 25.5)" in text and "linearly with its length" in text
    assert "square" not in text and "at maxlen 10 (the claim is at maxlen 5)" in text
    text = part_text("C2", {**base, "cost_to_exact": bptt([127.0] * 3)})
    assert "99.0x [99.0, 99.0] at depth 50" in text


def test_c2_states_the_ceiling():
    top = series("hidden_mode=carry", FAST, hidden_mode="carry", maxlen=50, curves=[[0.9, 1.0, 1.0, 1.0]] * 5)
    top2 = series("hidden_mode=none", FAST, hidden_mode="none", maxlen=50, curves=[[0.8, 1.0, 1.0, 1.0]] * 5)
    text = part_text("C2", {"hidden_mode_len5": modes(SLOW, FAST), "hidden_mode_len50": result(top, top2)})
    assert "every seed exact from step 100 on" in text


def test_c4_says_zero_equals_none_by_construction():
    parts, notes, _ = judge("C4", {"hidden_mode_1layer": modes(SAME, FAST)})
    assert parts[-1].test == "none: identical by construction" and "same computation" in " ".join(notes)
    assert parts[-1].outcome == vocab.BY_CONSTRUCTION and vocab.verdict([p.outcome for p in parts]) == "confirmed"
    zero = [v + 0.0005 for v in FAST]
    parts, notes, _ = judge("C4", {"hidden_mode_1layer": modes(SAME, FAST, zero)})  # zero not a copy: tested
    assert parts[-1].test.startswith("TOST") and not notes


def test_c5_compares_the_shortest_with_the_longest_and_lists_each_gain():
    parts, notes, _ = judge("C5", {"maxlen": maxlens(SLOW, FAST, SAME, [0.8] * 5)})
    assert parts[0].text == "report's split: maxlen 5 slower than maxlen 70"  # fixed: not the fastest length
    assert parts[0].comparison.diff == pytest.approx(0.8 - statistics.fmean(SLOW))
    gains = next(n for n in notes if n.startswith("gain in learning speed"))
    assert "5->10: +0.3000 [+0.3000, +0.3000]" in gains and "50->70: " in gains
    text = part_text("C5", {"maxlen": maxlens(SLOW, [0.7] * 5, [0.8] * 5, FAST),
                            "maxlen_control": maxlens([0.695] * 5, [0.7] * 5, [0.8] * 5, FAST)})
    assert "the split's shift explains 25% of the maxlen 5 deficit" in text


def test_c6_reports_fails_to_learn_beside_diverges():
    text = part_text("C6", {"lr": lrs(False, 0.3, 50, dead=2, n=5)})
    assert "diverged 0/5, 95% CI of the rate [0.00, 0.52]" in text
    assert "; fails to learn (accuracy 0 on every evaluation, no NaN) 2/5" in text
    assert "0/5 seeds diverge but 2/5 fail to learn" in text and "first-window loss up to 42" in text
    text = part_text("C6", {"lr": lrs(False, 0.3, 50, dead=0, n=5)})
    assert "fail to learn (accuracy 0 on all" not in text


def test_c7_compares_with_layers_zero():
    carry = {"layers": layers(FAST, SAME, SLOW)}
    text = part_text("C7", {**carry, "layers_zero": layers(FAST, SAME, SAME, mode="zero")})
    assert "3 layers 0.920 vs 0.620 (zero above carry" in text and "removes the depth penalty" in text
    text = part_text("C7", {**carry, "layers_zero": layers(FAST, SAME, SLOW, mode="zero")})
    assert "carry above zero" not in text and "removes the depth penalty" not in text
    assert "layers_zero" not in part_text("C7", carry)


def test_c9_judges_convergence_beside_early_speed():
    """Ten seeds: the sign test's smallest p-value is 2/2^n, so at five seeds no first-exact part can be shown."""
    firsts = {"rnn/tanh": [50] * 10, "lstm": [100, 50, 100, 100, 100] * 2, "gru": [100] * 10,
              "rnn/relu": [None] * 10}  # relu never: later than any step, censored, not a number
    parts, notes, found = judge("C9", {"cells": cells(SLOW * 2, FAST * 2, SLOW * 2, SLOW * 2, firsts)})
    assert parts[0].text.startswith("rnn/tanh converges before rnn/relu") and parts[0].outcome == "holds"
    assert parts[0].comparison.later == 10 and parts[0].test == "sign test"
    assert parts[1].comparison.ties == 2 and parts[1].outcome == "holds"  # 8 of 8 untied: p = 2/2^8
    assert "rnn/tanh 50 (10/10)" in " ".join(notes)
    assert all(p.outcome.startswith("holds") for p in parts[3:6])  # GRU rises faster early than each other cell
    firsts["gru"] = [25] * 10
    parts, _, _ = judge("C9", {"cells": cells(SLOW * 2, FAST * 2, SLOW * 2, SLOW * 2, firsts)})
    assert parts[2].text.startswith("rnn/tanh converges before gru") and parts[2].outcome == "contradicted"


def test_c9_source_note_says_where_lstm_stands():
    def firsts_at(step):
        return [[1.0 if s >= step else 0.5 for s in STEPS]] * 5

    res = result(*(series(n, FAST, curves=firsts_at(step), cell=n) for n, step in
                   (("rnn/relu", 200), ("rnn/tanh", 100), ("lstm", 100), ("gru", 150))))
    note = fidelity._c9_note({"cells": res})
    assert "in the source lstm trails rnn/tanh, here it ties it" in note
    res["series"][2]["accuracy"] = firsts_at(200)  # LSTM behind both, as in the source against rnn/tanh
    note = fidelity._c9_note({"cells": res})
    assert "lstm trails rnn/tanh" not in note and "in the source lstm ties gru, here it trails it" in note


@pytest.mark.parametrize("cid, results, reason", [
    ("C9", {"cells": cells(FAST, FAST, SLOW, SLOW, drop=("gru",))}, "C9 not judged: CELLS has no gru"),
    ("C9", {"cells": cells(FAST, FAST, SLOW, SLOW, drop=("rnn/tanh",))}, "C9 not judged: CELLS has no rnn/tanh"),
    ("C8", {"h0_init": h0(FAST, SLOW, inits=("randn", "xavier"))}, "C8 not judged: H0_INITS has no zero"),
    ("C7", {"layers": layers(FAST)}, "C7 not judged: LAYERS_VALUES has fewer than two depths"),
    ("C2", {"hidden_mode_len5": result(series("c", FAST, hidden_mode="carry")), "hidden_mode_len50": modes(FAST, SAME)},
     "C2 not judged: hidden_mode_len5: no series with hidden_mode none"),
])
def test_a_removed_premise_says_not_judged_in_one_line(cid, results, reason):
    parts, notes, found = judge(cid, results)
    assert (parts, notes, found) == ([], [reason], "not judged")


def test_a_claim_read_from_a_stale_result_says_so_on_its_answer_line():
    results = {"h0_init": h0(SAME, FAST), "cells": cells(FAST, FAST, SLOW, SLOW, drop=("gru",))}
    current, _ = claims.claims_table(results)
    first, _ = claims.claims_table(results, stale={"h0_init": ["train.fit"], "carry_chains": ["train.fit"],
                                                    "heat_layers_mode": ["train.fit"]})
    c8 = first[7]
    assert c8.startswith("- **C8** a zero initial state learns best: **refuted** *(from stale results: `h0_init`)*, ")
    assert c8.replace(" *(from stale results: `h0_init`)*", "") == current[7]
    assert [a for a, b in zip(first, current, strict=True) if a != b] == [c8]  # carry_chains: no claim reads it;
    # heat_layers_mode: C7 reads it when there, but C7 is not judged here (no layers result)


def test_lr_sweep_without_a_low_lr_still_judges_the_rest():
    parts, notes, found = judge("C6", {"lr": lrs(True, 0.3, 50, values=(0.05, 0.1))})
    assert "oscillation not judged: LR_VALUES has no constant lr <= 0.01" in notes[0]
    assert found in ("confirmed", "mixed", "refuted", "undecided") and parts


def test_the_claims_answer_first_then_list_every_part():
    first, rows = claims.claims_table({"h0_init": h0(SAME, FAST), "cells": cells(FAST, FAST, SLOW, SLOW,
                                                                                drop=("gru",))})
    assert [line.split("**")[1] for line in first] == [c[0] for c in claims.CLAIMS]  # one line per claim, in order
    assert first[7].startswith("- **C8** a zero initial state learns best: **refuted**, 0 of 2 parts hold. zero learns "
                               "faster than ")
    assert ": alike, zero minus " in first[7] and "(TOST, Holm p < 0.001)" in first[7]
    assert first[0] == "- **C1** reaches exact sums within 200 steps (maxlen 10): **-**."
    assert answers.HEADER in rows and all(len(r) <= answers.MAX_LINE for r in first + rows if r.startswith("|"))
    c8 = next(r for r in rows if r.startswith("| C8 |"))
    assert "| paired t + TOST | ±0.125 | zero 0.920 vs randn 0.920; paired t" in c8 and c8.endswith("| *alike* |")
    assert next(r for r in rows if r.startswith("| C1 |")).startswith("| C1 | not run yet (pt_main) | - |")
    assert "C9 not judged: CELLS has no gru" in next(r for r in rows if r.startswith("| C9 |"))
    notes = [r for r in rows if r.startswith("- **C8.**")]
    assert len(notes) == 1 and "rule: learning speed of zero above each other h0_init" in notes[0]


def exact_twin(settings, passed, first_checks):
    """exact_adder with one series of the given settings; failing seeds fail at 1,000 digits on first_checks."""
    extra = []
    for i in range(len(passed)):
        checks = [{"check": first_checks[i] if not passed[i] else "99…9 + 1", "sums": 1, "wrong": 0 if passed[i]
                   else 1, "margin": 1.0 if passed[i] else -1.0}]
        extra.append({"suite": {"passed": passed[i], "stages": [{"length": 1000, "passed": passed[i],
                                                                  "checks": checks}]}})
    return {"series": [{"label": "today", "settings": settings, "extra": extra}]}


def test_length_headline_gets_the_worst_case_result_of_the_same_models():
    st = {"cell": "rnn", "nonlinearity": "tanh", "maxlen": 10}
    ext = {"lengths": [10, 100000], "accuracy": [1.0, 1.0], "n_sums": [1000, 20], "reduced": [False, False]}
    length = {"series": [{"label": "rnn/tanh", "settings": st, "extra": [ext] * 4}]}
    exact = exact_twin(st, [True, False, False, False], [None, "99…9 + 1", "99…9 + 1", "chain k=30"])
    text = " ".join(findings.worst_case_lines({"length_generalization": length, "exact_adder": exact}))
    assert "exact on 100,000-digit sums for 4/4 seeds (20 sums each)" in text
    assert "1/4 seeds pass; 3 fail at 1,000 digits (first wrong check: 2 on 99…9 + 1, 1 on chain k=30)." in text
    exact["series"][0]["extra"][1]["suite"]["shortest_failure"] = {"sum": "[4x7] + [5x7]", "digits": 7}
    exact["series"][0]["extra"][2]["suite"]["shortest_failure"] = {"sum": "99999 + 0", "digits": 5}
    text = " ".join(findings.worst_case_lines({"length_generalization": length, "exact_adder": exact}))
    assert "chain k=30); their shortest failing sums have 5-7 digits, e.g. `99999 + 0`." in text
    other = exact_twin({**st, "chain_fraction": 0.5}, [True] * 4, [None] * 4)  # other settings: not the same models
    assert findings.worst_case_lines({"length_generalization": length, "exact_adder": other}) == []


def test_write_report_survives_dropped_series_and_values(tmp_path):
    """Synthetic results with premises removed: the report is written, and says what it could not judge."""
    stored = {"cells": cells(FAST, FAST, SLOW, SLOW, drop=("gru",)), "h0_init": h0(FAST, SLOW, inits=("randn",)),
              "lr": lrs(True, 0.3, 50, values=(0.05, 0.5)), "layers": layers(FAST),
              "hidden_mode_1layer": result(series("only", FAST, hidden_mode="carry"))}
    for eid, res in stored.items():
        (tmp_path / f"{eid}.json").write_text(json.dumps({**res, "id": eid}))
    page.write_report(tmp_path)
    text = (tmp_path / "README.md").read_text()
    for line in ("C9 not judged: CELLS has no gru", "C8 not judged: H0_INITS has no zero",
                 "C7 not judged: LAYERS_VALUES has fewer than two depths",
                 "C4 not judged: hidden_mode_1layer has fewer than two hidden modes"):
        assert line in text
    assert "Traceback" not in text and "## `cells`" in text


def test_a_section_that_cannot_be_written_says_so():
    broken = {"id": "maxlen", "title": "t", "section": "split.maxlen_section", "series": []}
    lines = page.safe_section(broken)
    assert lines[0] == "## `maxlen`: t" and lines[2].startswith("Section not written: the result lacks")


def test_seed_measures_by_hand():
    s = series("x", [0, 0], curves=[[0.2, 0.5, 0.3, None], [1.0, 0.9, 1.0, 0.4]], first=[None, 50])
    assert tables.seed_speeds(s) == pytest.approx([(0.2 + 0.5 + 0.3) / 4, (1.0 + 0.9 + 1.0 + 0.4) / 4])
    assert tables.seed_speeds(s, 2) == pytest.approx([0.35, 0.95])
    assert rules.seed_drops(s) == pytest.approx([0.2, 0.1 + 0.6])
    assert tables.seed_first_steps(s) == [250, 50]  # never = one interval after the last evaluation
    assert tables.seed_finals(s) == [0.0, 0.4]
    dead = series("y", [0, 0, 0], curves=[[0.0] * 4, [None] * 4, [0.0, 0.1, 0, 0]], diverged=[False, True, False])
    assert rules.never_learned(dead) == 1


@pytest.mark.parametrize("outcomes, expected", [
    (["holds", "holds"], "confirmed"), (["holds", "undecided"], "partly confirmed"),
    (["holds", "contradicted"], "mixed"),
    (["holds (smaller than the margin)", "alike"], "mixed"), (["contradicted", "undecided"], "refuted"),
    (["alike", "alike"], "refuted"), (["undecided"], "undecided"), (["holds", "true by construction"], "confirmed"),
    (["not measured yet", "contradicted"], "refuted"), ([], "undecided")])
def test_verdict_of_parts(outcomes, expected):
    assert vocab.verdict(outcomes) == expected


def first_exact_by_hand(curve, steps):
    return next((st for st, a in zip(steps, curve, strict=True) if a == 1.0), None)


def median_by_hand(firsts):
    """Median with "never" after every step: the middle of the sorted list, or the mean of the two middles."""
    ranked = sorted(firsts, key=lambda f: (f is None, f or 0))
    mid = len(ranked) // 2
    if len(ranked) % 2:
        return ranked[mid]
    lo, hi = ranked[mid - 1], ranked[mid]
    return None if hi is None else (lo + hi) / 2


def heat(firsts_per_cell, rows, cols, diverged=None):
    """A stored heatmap result whose seeds' curves reach 1.0 first at the given steps (None: never)."""
    steps = list(range(50, 501, 50))
    ss = []
    for i, firsts in enumerate(firsts_per_cell):
        curves = [[1.0 if f is not None and st >= f else 0.5 for st in steps] for f in firsts]
        div = (diverged or {}).get(i)
        ss.append({**series("c", [0.5] * len(firsts), curves=curves, first=list(firsts), diverged=div),
                   "steps": steps})
    return {"series": ss, "heatmap": {"rows": rows, "cols": cols, "row_name": "lr", "col_name": "maxlen", "cap": 500}}


def test_heatmap_cells_keep_never_apart_from_the_cap():
    cells_ = [[450, 500, 500, None, None], [350, 500, 400, None, None],  # the two cells
              [None, 400, None, None, None], [500, 500, 500, 500, 500], [100, 200, None, None], [100, 200, 300, None]]
    res = heat(cells_, [0.001, 0.002, 0.005], [70, 10])
    got = [c for row in plot.heatmap_cells(res) for c in row]
    for s, (value, hit, n) in zip(res["series"], got, strict=True):
        firsts = [first_exact_by_hand(c, s["steps"]) for c in s["accuracy"]]
        assert (value, hit, n) == (median_by_hand(firsts), sum(f is not None for f in firsts), len(firsts))
    assert got[:4] == [(500, 3, 5), (500, 3, 5), (None, 1, 5), (500, 5, 5)]  # reached at the cap != never
    assert got[4][0] is None and got[5][0] == 250


def test_heatmap_draws_and_writes_never_seed_counts_and_divergence(tmp_path):
    res = heat([[450, 500, 500, None, None], [None, 400, None, None, None]], [0.001], [70, 50],
               diverged={1: [False, False, True, True, False]})
    res["title"] = "t"
    texts = plot.heatmap(res, tmp_path / "h.png")
    assert texts == [["500\n3/5 seeds", "never\n1/5 seeds\n2 diverged"]]
    section = "\n".join(tables.section({**res, "id": "h", "config": {"seeds": [0, 1, 2, 3, 4]}, "device": "cpu",
                                        "wall_seconds": 1.0, "torch": "x"}))
    assert "| 0.001 | 500 (3/5) | never (1/5, 2 diverged) |" in section
    assert "500 (3/5)" in tables.summary_line(res)


def test_an_outlier_seed_is_named_with_the_way_it_flips():
    """Four seeds show zero ahead by 0.2, one seed behind by 0.5: undecided, but holds without that seed."""
    other = [0.6, 0.61, 0.62, 0.63, 0.64]
    zero = [o + d for o, d in zip(other, [0.20, 0.21, 0.19, 0.20, -0.50], strict=True)]
    parts, _, found = judge("C8", {"h0_init": h0(zero, other, inits=("randn", "zero"))})
    assert parts[0].outcome == "undecided" and parts[0].flips == [(4, "holds")]
    assert found == "undecided at n = 5 (rests on seed 4: without it confirmed)"
    _, rows = claims.claims_table({"h0_init": h0(zero, other, inits=("randn", "zero"))})
    assert "| without seed 4: holds |" in next(r for r in rows if r.startswith("| C8 |"))
    parts, _, _ = judge("C8", {"h0_init": h0(FAST, SLOW, inits=("randn", "zero"))})
    assert parts[0].flips == [] and robust.flip_text(parts[0].flips, 5) == "stable"
    assert robust.flip_text([(0, "holds"), (3, "holds"), (5, "undecided")], 10) == (
        "borderline (3 of 10 single-seed drops flip it)")  # more than two: a p-value near its threshold


def test_leave_one_out_keeps_each_tests_holm_multiplier():
    part = vocab.differs("a above b", "a", FAST, "b", SLOW, margin=0.01)
    part.multipliers = [4, 1]
    twin = vocab.differs("a above b", "a", NOISY, "b", FAST, margin=0.01)
    raw = twin.raw()
    assert robust._fixed(part, twin) == twin.outcome
    assert twin.adjusted == pytest.approx([min(1.0, 4 * raw[0]), raw[1]])


def long_modes(carry_first, n_evals=20):
    """hidden_mode_len50: none exact from the first evaluation, carry at carry_first[s] there and exact after."""
    steps = [50 * (i + 1) for i in range(n_evals)]
    out = []
    for mode, firsts in (("carry", carry_first), ("none", [1.0] * len(carry_first))):
        curves = [[v] + [1.0] * (n_evals - 1) for v in firsts]
        s = series(f"hidden_mode={mode}", [0] * len(firsts), curves=curves, hidden_mode=mode, maxlen=50)
        out.append({**s, "steps": steps, "loss_steps": steps, "loss": [[1.0] * n_evals for _ in firsts]})
    return result(*out)


def test_run_length_is_judged_on_the_estimate():
    """zero ahead on the whole run but behind over its first half: the part holds and is marked run-length
    dependent; the verdict word stays. A gap that is the same delay at any length is not marked."""
    def curves(v):
        return [list(v)] * 5

    late = h0(FAST, SLOW, inits=("randn", "zero"))
    late["series"][1] = series("h0_init=zero", [0] * 5, curves=curves([0.5, 0.5, 1.0, 1.0]), h0_init="zero")
    late["series"][0] = series("h0_init=randn", [0] * 5, curves=curves([0.6, 0.6, 0.3, 0.3]), h0_init="randn")
    parts, _, found = judge("C8", {"h0_init": late})
    assert parts[0].outcome == "holds" and parts[0].half.estimate == pytest.approx(-0.1)
    assert parts[0].run_length and found == "confirmed (run-length dependent part)"
    early = h0(FAST, SLOW, inits=("randn", "zero"))
    early["series"][1] = series("h0_init=zero", [0] * 5, curves=curves([1.0, 1.0, 1.0, 1.0]), h0_init="zero")
    early["series"][0] = series("h0_init=randn", [0] * 5, curves=curves([0.0, 1.0, 1.0, 1.0]), h0_init="randn")
    parts, _, found = judge("C8", {"h0_init": early})  # one evaluation behind: 0.25 whole, 0.5 over half
    assert parts[0].outcome == "holds" and not parts[0].run_length and found == "confirmed"
    assert robust.supports(parts[0], parts[0].half)


def test_holm_undecides_what_one_test_alone_would_decide():
    """Two parts at p ~ 0.03 each: each would hold alone, neither survives the claim's adjustment (four tests)."""
    noise = [0.1, -0.1, 0.16, -0.16, 0.0]
    base = [0.3, 0.35, 0.4, 0.45, 0.5]
    speeds_ = [[b + 0.4 - k * (0.2 + e) for b, e in zip(base, noise, strict=True)] for k in range(3)]
    parts, _, found = judge("C7", {"layers": layers(*speeds_)})
    alone = [p.tests[0][1] for p in parts]
    assert all(0.01 < p < 0.05 for p in alone) and [p.outcome for p in parts] == ["undecided"] * 2
    assert found.startswith("undecided at n = 5") and "(Holm 0." in parts[0].p_text()
    every = [p for part in parts for p in part.raw()]
    assert sorted(x for p in parts for x in p.adjusted)[0] == pytest.approx(4 * min(every))  # four tests open
    assert all(p.level == pytest.approx(0.05 / 4) for p in parts)  # seeds needed are planned at this level


def test_undecided_parts_say_which_way_the_estimate_points():
    assert "points toward the claim" in part_text("C8", {"h0_init": h0(NOISY, FAST)})
    assert "points against the claim" in part_text("C8", {"h0_init": h0(FAST, NOISY)})


def test_a_rate_gets_a_binomial_interval_not_a_count():
    text = part_text("C6", {"lr": lrs(False, 0.3, 50, n=5)})
    assert "diverged 0/5, 95% CI of the rate [0.00, 0.52]; binomial test of 1/2, p = 0.062" in text
    assert "lr 0.1 diverges to NaN (most seeds) | binomial (rate 1/2) | - |" in text and "| undecided |" in text


def test_c10_judges_whether_the_zero_state_interacts_with_depth():
    flat = {"layers": layers(FAST, SAME, SLOW), "layers_zero": layers(*(
        [v + 0.05 for v in s] for s in (FAST, SAME, SLOW)), mode="zero")}
    parts, notes, found = judge("C10", flat)
    assert found == "confirmed" and "1: +0.0500, 2: +0.0500, 3: +0.0500" in notes[0]
    grows = {"layers": layers(FAST, SAME, SLOW), "layers_zero": layers(FAST, [v + 0.05 for v in SAME],
                                                                       [v + 0.35 for v in SLOW], mode="zero")}
    parts, _, found = judge("C10", grows)
    assert parts[0].outcome == "contradicted" and found.startswith("refuted")


def test_c3_says_which_part_is_by_construction():
    res = {"no_rnn": result(series("no RNN", [0.0] * 5, cell="linear", maxlen=5), series("RNN", FAST, maxlen=5))}
    parts, notes, found = judge("C3", res)
    assert parts[0].outcome == vocab.BY_CONSTRUCTION and "cannot be right on any test sum" in parts[0].stat
    assert parts[1].outcome == "holds" and found == "confirmed"
    assert "below the top digit is at most 0.000" in notes[0]
    _, rows = claims.claims_table(res)
    assert "*true by construction*" in next(r for r in rows if r.startswith("| C3 |"))


def test_findings_list_every_other_source_conclusion_and_the_lstm_qualifier():
    text = "\n".join(findings.other_lines({}))
    assert text.count("\n- §") == len(findings.OTHERS) and "not run yet (cells)" in text
    st = {"cell": "lstm", "maxlen": 10}
    ext = {"lengths": [10, 100000], "accuracy": [1.0, 1.0], "n_sums": [1000, 10], "reduced": [False, False]}
    length = {"series": [{"label": "lstm", "settings": st, "extra": [ext] * 5}]}
    chain = {"length": 1000, "nines_plus_one": False, "one_plus_nines": True}
    chains_ = {"series": [{"label": "lstm", "settings": st, "seeds": [0, 1, 2, 3, 4],
                           "extra": [{**chain, "nines_plus_one": i == 0} for i in range(5)]}]}
    text = " ".join(findings.worst_case_lines({"length_generalization": length, "carry_chains": chains_}))
    assert "exact on 100,000-digit sums for 5/5 seeds" in text and "get 99…9 + 1 right for 1/5" in text


def test_a_section_states_a_verdict_in_one_call():
    """The vocabulary needs nothing of report/: a measure's section says "X faster than Y" with its test."""
    line = vocab.differs("gru learns faster than lstm", "gru", FAST, "lstm", SLOW).sentence()
    assert line.startswith("gru learns faster than lstm: holds (gru 0.920 vs lstm 0.620; paired t, diff +0.3")
    line = vocab.differs("zero faster than randn", "zero", NOISY, "randn", FAST).sentence()
    assert ": undecided (" in line and "undecided at n = 5: the estimate points toward the claim" in line


def test_verdicts_under_another_numerics_family_say_which_moved(tmp_path):
    """The same claim judged on results of another family: a moved verdict is named with both verdicts."""
    import copy

    from report import other_numerics

    base = json.loads((Path(__file__).resolve().parents[1] / "plots" / "pt_main.json").read_text())

    def pt_main(first, family):
        r = copy.deepcopy(base)
        for s in r["series"]:  # every way of scoring it (the fixed batch, fresh sums)
            s["first_exact"] = [first] * len(s["seeds"])
        r["fingerprint"] = {**r.get("fingerprint", {}), "numerics": family}
        return r

    def lines(first, ids=("pt_main",)):  # the section, this study's pt_main first exact at `first` on every seed
        here = claims.settled({"pt_main": pt_main(first, "portable")})[0]
        return " ".join(other_numerics.lines(tmp_path, here, list(ids), claims.settled))

    assert lines(None) == ""
    folder = tmp_path / other_numerics.FOLDER / "pinned-intel"
    folder.mkdir(parents=True)
    (folder / "pt_main.json").write_text(json.dumps(pt_main(50, "pinned-intel")))
    text = lines(None)
    assert "**pinned-intel** (pinned-intel; 1 experiments): 0 of 1 verdicts the same" in text
    assert "C1 refuted -> confirmed" in text
    assert "1 of 1 verdicts the same." in lines(50)
    assert other_numerics.verdict_word("mixed (fragile: 2 of its counted parts flip)") == "mixed"
    (folder / "no_rnn.json").write_text("{broken")
    text = lines(50, ("pt_main", "no_rnn"))
    assert "1 of 1 verdicts the same (damaged, not read: no_rnn.json)." in text


def test_margin_curves_cross_the_adjusted_level_where_each_equivalence_starts_to_pass(tmp_path):
    """Each curve is the TOST p-value times the part's Holm multiplier against the margin: non-increasing, below the
    level exactly from the part's smallest passing margin at that level; the axis reaches past every crossing; two
    parts with the same numbers share a curve."""
    from conftest import assert_drawn

    from judge import parts, stats
    from report import margins

    rng = np.random.default_rng(3)
    a = list(rng.normal(0.90, 0.01, 10))
    b = [x + d for x, d in zip(a, rng.normal(0.004, 0.006, 10), strict=True)]
    alike = parts.same("a and b alike", "a", a, "b", b, margin=0.02)
    twin = parts.same("a and c alike", "a", a, "c", b, margin=0.02)  # the same numbers: one curve
    other = parts.differs("a above b", "a", a, "b", b)  # not an equivalence: not drawn
    m = robust.adjust([alike, twin, other])
    assert m == 5 and alike.multipliers[0] > 1
    verdicts = {"C1": ([alike, twin, other], [], "mixed")}
    found = margins.equivalences(verdicts)
    assert [(cid, text) for cid, text, *_ in found] == [("C1", "a and b alike"), ("C1", "a and c alike")]
    _, _, c, steps, k = found[0]
    assert steps == pytest.approx(parts.DELAY / 0.02) and k == alike.multipliers[0]
    grid = np.linspace(0, 0.06, 61)
    ps = margins.curve(c, k, grid)
    assert all(p2 <= p1 + 1e-12 for p1, p2 in zip(ps, ps[1:], strict=False))
    edge = margins.crossing(c, k)
    assert k * c.p_alike(edge * 0.999) > stats.ALPHA > k * c.p_alike(edge * 1.001)
    assert edge > c.smallest_margin()  # the adjusted level needs a wider margin than the raw one
    (_, label, _, _, k_both), = margins.merged(found)  # tied p-values: one curve, the larger multiplier
    assert label == "a and b alike (= a and c alike: the same numbers)" and k_both == max(k, found[1][4])
    edge = margins.crossing(c, k_both)
    text = " ".join(margins.lines(verdicts, {"C1": m}, tmp_path))
    assert f"C1 a and b alike (= a and c alike: the same numbers): from a {edge * steps:.0f}-step delay" in text
    assert "![margins](margins.png)" in text
    assert_drawn(tmp_path / "margins.png")
    assert margins.lines({"C1": ([other], [], "mixed")}, {"C1": 2}, tmp_path / "none") == []


def test_verdicts_on_the_seeds_after_the_pilot_are_compared():
    """Seeds beyond the pilot's are judged alone too; a verdict that differs there is named."""
    other = [0.6] * 10 + [0.4] * 5  # zero 0.3 ahead on the pilot's ten seeds, 0.3 behind on five later ones
    res = {"h0_init": h0([0.9] * 10 + [0.1] * 5, other, inits=("randn", "zero"))}
    fresh = robust.unseen(res, 10)
    assert fresh["h0_init"]["series"][0]["seeds"] == [10, 11, 12, 13, 14]
    assert robust.unseen({"h0_init": h0(FAST, SLOW)}, 10) == {"h0_init": h0(FAST, SLOW)}  # nothing beyond: whole
    verdicts = claims.settled(res)[0]
    line = " ".join(claims.unseen_lines(verdicts, claims.rounds(res)))
    assert "on the later seeds alone these verdicts differ: C8 undecided at n = 15" in line and "-> refuted" in line
    whole = {"h0_init": h0(FAST, SLOW)}
    assert claims.rounds(whole) is None and claims.unseen_lines(claims.settled(whole)[0], claims.rounds(whole)) == []


def test_an_unchanged_page_is_not_judged_again_and_any_change_remakes_it(tmp_path, monkeypatch):
    """source.py's reuse: the same results, code and versions leave the page as it is; a changed result, a page
    edited or deleted by hand, a damaged record, or a quick page asked for as a full one, each remake it."""
    (tmp_path / "layers.json").write_text(json.dumps({**layers(FAST), "id": "layers"}))
    page.write_report(tmp_path, reuse=True)
    first = (tmp_path / "README.md").read_bytes()
    judged = []
    real = page.settled
    monkeypatch.setattr(page, "settled", lambda results: judged.append(1) or real(results))

    def remade(**kw):
        before = len(judged)
        page.write_report(tmp_path, reuse=True, **kw)
        return len(judged) > before

    assert not remade() and (tmp_path / "README.md").read_bytes() == first
    (tmp_path / "README.md").write_text("edited")
    assert remade() and (tmp_path / "README.md").read_bytes() == first and not remade()
    (tmp_path / "README.md").unlink()
    assert remade() and not remade()
    (tmp_path / page.RECORD).write_text("{not json")
    assert remade() and not remade()
    assert remade(quick=True) and b"Quick mode" in (tmp_path / "README.md").read_bytes() and remade()
    (tmp_path / "layers.json").write_text(json.dumps({**layers(SLOW), "id": "layers"}))
    assert remade() and (tmp_path / "README.md").read_bytes() != first and not remade()


def test_the_page_is_made_of_every_project_module_and_every_result(tmp_path, monkeypatch):
    from conftest import copy_code

    copy_code(tmp_path / "code")
    (tmp_path / "out").mkdir()
    monkeypatch.setattr(page, "ROOT", tmp_path / "code")
    key = page.made_of(tmp_path / "out", False)
    assert page.made_of(tmp_path / "out", False) == key
    rules = tmp_path / "code" / "report" / "rules_training.py"  # a module of a package: its rules decide verdicts
    rules.write_text(rules.read_text() + "\n# an edit\n")
    assert page.made_of(tmp_path / "out", False) != key
    key = page.made_of(tmp_path / "out", False)
    (tmp_path / "out" / "lr.json").write_text("{}")
    assert page.made_of(tmp_path / "out", False) != key


def test_the_pilot_table_judges_the_pilot_seeds_and_the_later_ones_apart():
    # 20 seeds: on seeds 0-9 two layers learn as fast as one (alike), on seeds 10-19 far slower (C7's first part)
    pilot = [0.90 + 0.001 * (i % 5) for i in range(claims.PILOT_SEEDS)]
    one, two = pilot + FAST * 2, [v + 0.0005 for v in pilot] + SLOW * 2
    results = {"layers": layers(one, two)}
    verdicts, _ = claims.settled(results)
    table = claims.pilot_table(results, verdicts, claims.rounds(results))
    rows = {r.split(" | ")[0][2:]: r.split(" | ")[1:] for r in table if r[:3] == "| C"}
    n, before, after, whole = rows["C7"]
    assert n == "20" and before == "refuted" and after == "confirmed" and whole.rstrip(" |") == verdicts["C7"][2]
    assert rows["C1"][1:3] == ["-", "(no later seeds)"]  # no pt_main: not judged on any seeds
    five = {"layers": layers(FAST, SLOW)}  # five seeds: no later seeds at all
    assert claims.rounds(five) is None and claims.pilot_table(five, verdicts, claims.rounds(five)) == []
