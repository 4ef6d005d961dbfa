"""The claim rules and heatmap cells of report.py / plot.py, fed made-up numbers with known answers."""
import math

import pytest

import plot
import report

FAST = [0.90, 0.91, 0.92, 0.93, 0.94]  # per-seed learning speeds: FAST vs SLOW is far beyond seed noise
SLOW = [0.60, 0.61, 0.62, 0.63, 0.64]
SAME = [0.901, 0.909, 0.921, 0.929, 0.941]  # FAST up to seed noise
STEPS = [50, 100, 150, 200]


def series(label, speeds, first=None, diverged=None, sec=1e-3, curves=None, **settings):
    """A stored series whose seeds' accuracy curves are flat at `speeds` (so each seed's learning speed is it)."""
    n = len(speeds)
    return {"label": label, "settings": {"milestones": [], "steps": STEPS[-1], **settings}, "seeds": list(range(n)),
            "steps": STEPS, "accuracy": curves or [[v] * len(STEPS) for v in speeds],
            "first_exact": first or [None] * n, "diverged": diverged or [False] * n, "sec_per_step": [sec] * n}


def result(*ss):
    return {"series": list(ss)}


def test_compare_uses_two_standard_errors_of_the_gap():
    a, b = [0.80, 0.82, 0.84], [0.78, 0.80, 0.82]  # sd 0.02 each: SE of the gap = sqrt(2 * 0.02**2 / 3)
    se = math.sqrt(2 * 0.02**2 / 3)
    assert report.gap(a, b) == pytest.approx((0.02, se))
    assert report.compare(a, b) == 0  # 0.02 < 2 SE = 0.0327
    wider = [v + 0.02 for v in a]  # gap 0.04 > 0.0327
    assert report.compare(wider, b) == 1 and report.compare(b, wider) == -1
    assert report.compare([1.0] * 3, [1.0] * 3) == 0 and report.compare([0.5] * 3, [0.4] * 3) == 1
    assert report.compare([9.0, 11.0], [4.0]) == 1 and report.compare([3.0, 5.0], [4.0]) == 0  # vs a constant


@pytest.mark.parametrize("parts, expected", [
    ([True, True], "confirmed"), ([True, None], "mixed"), ([True, False], "mixed"), ([False, None], "refuted"),
    ([False, False], "refuted"), ([None, None], "not supported")])
def test_verdict_of_parts(parts, expected):
    assert report.verdict(parts) == expected


def test_seed_measures_by_hand():
    s = series("x", [0, 0], curves=[[0.2, 0.5, 0.3, None], [1.0, 0.9, 1.0, 0.4]], first=[None, 50])
    assert report.seed_speeds(s) == pytest.approx([(0.2 + 0.5 + 0.3) / 4, (1.0 + 0.9 + 1.0 + 0.4) / 4])
    assert report.seed_drops(s) == pytest.approx([0.2, 0.1 + 0.6])
    assert report.seed_first_steps(s) == [250, 50]  # never = one interval after the last evaluation
    assert report.seed_finals(s) == [0.0, 0.4]


def modes(carry, none, zero=None):
    return result(*(series(f"hidden_mode={m}", v) for m, v in (("carry", carry), ("none", none),
                                                               ("zero", none if zero is None else zero))))


def bptt(ratio):
    extra = [{"depths": [1, 4, 16, 64], "sec_per_step": [0.01, 0.01, 0.01, 0.01 * r]} for r in ratio]
    return {"series": [{"label": "rnn/relu, hidden_mode carry", "extra": extra}]}


def layers(*speeds):
    return result(*(series(f"num_layers={i + 1}", v, num_layers=i + 1) for i, v in enumerate(speeds)))


def h0(zero, other):
    return result(*(series(f"h0_init={k}", zero if k == "zero" else other, h0_init=k)
                    for k in ("randn", "zero", "xavier")))


def cells(tanh, gru, relu, lstm):
    return result(series("rnn/relu", relu), series("rnn/tanh", tanh), series("lstm", lstm), series("gru", gru))


def maxlens(*speeds):
    return result(*(series(f"maxlen={m}", v, maxlen=m) for m, v in zip((5, 10, 50, 70), speeds, strict=True)))


def lrs(big_diverged, oscillation, sched_first):
    """lr sweep: 0.01 and 0.05 (0.05's accuracy falls by `oscillation` per step), 0.1, and the schedule."""
    steady = [[0.5, 0.7, 0.9, 1.0]] * 5
    wobbly = [[0.5, 0.5 - oscillation, 0.5, 0.5 - oscillation]] * 5
    n_div = 5 if big_diverged else 0
    return result(series("lr=0.01", FAST, lr=0.01, curves=steady, first=[150] * 5),
                  series("lr=0.05", FAST, lr=0.05, curves=wobbly),
                  series("lr=0.1", FAST, lr=0.1, diverged=[True] * n_div + [False] * (5 - n_div)),
                  series("sched", FAST, lr=0.01, milestones=[100], first=sched_first))


CASES = [  # (claim, stored results, expected verdict)
    ("C1", {"pt_main": result(series("m", FAST, first=[100, 150, 200, 50, 200]))}, "confirmed"),
    ("C1", {"pt_main": result(series("m", FAST, first=[100, 250, None, 50, 200]))}, "mixed"),
    ("C1", {"pt_main": result(series("m", FAST, first=[250, None, None, 300, 450]))}, "refuted"),
    ("C2", {"hidden_mode_len5": modes(SLOW, FAST), "hidden_mode_len50": modes(FAST, SAME),
            "cost_to_exact": bptt([30, 31, 29])}, "confirmed"),
    ("C2", {"hidden_mode_len5": modes(SLOW, FAST), "hidden_mode_len50": modes(SLOW, FAST),
            "cost_to_exact": bptt([3.9, 4.0, 4.1])}, "mixed"),
    ("C2", {"hidden_mode_len5": modes(FAST, SLOW), "hidden_mode_len50": modes(SLOW, FAST),
            "cost_to_exact": bptt([1.1, 1.0, 1.2])}, "refuted"),
    ("C3", {"no_rnn": result(series("no RNN", [0.0] * 5), series("2-layer RNN", FAST))}, "confirmed"),
    ("C3", {"no_rnn": result(series("no RNN", SLOW), series("2-layer RNN", FAST))}, "refuted"),
    ("C4", {"hidden_mode_1layer": modes(SAME, FAST)}, "confirmed"),
    ("C4", {"hidden_mode_1layer": modes(SLOW, FAST)}, "mixed"),  # none and zero alike, carry apart
    ("C4", {"hidden_mode_1layer": modes(SLOW, FAST, [0.3] * 5)}, "refuted"),
    ("C5", {"maxlen": maxlens(SLOW, FAST, FAST, SAME), "maxlen_control": maxlens(SLOW, SAME, FAST, FAST)},
     "confirmed"),
    ("C5", {"maxlen": maxlens(SLOW, FAST, FAST, SAME), "maxlen_control": maxlens(FAST, SAME, FAST, SAME)},
     "mixed"),  # slower on the report's split only: the split's shift, not the length
    ("C5", {"maxlen": maxlens(FAST, SAME, FAST, SAME), "maxlen_control": maxlens(SAME, FAST, FAST, SAME)},
     "not supported"),
    ("C6", {"lr": lrs(True, 0.3, [100] * 5)}, "confirmed"),
    ("C6", {"lr": lrs(True, 0.0, [150] * 5)}, "mixed"),
    ("C6", {"lr": lrs(False, 0.0, [200] * 5)}, "refuted"),
    ("C7", {"layers": layers(FAST, [0.8] * 5, SLOW)}, "confirmed"),
    ("C7", {"layers": layers(FAST, SAME, SLOW)}, "mixed"),
    ("C7", {"layers": layers(FAST, SAME, FAST)}, "not supported"),
    ("C7", {"layers": layers(SLOW, FAST)}, "refuted"),
    ("C8", {"h0_init": h0(FAST, SLOW)}, "confirmed"),
    ("C8", {"h0_init": h0(SAME, FAST)}, "not supported"),  # all alike: the C8 case
    ("C8", {"h0_init": h0(SLOW, FAST)}, "refuted"),
    ("C9", {"cells": cells(FAST, FAST, SLOW, SLOW)}, "confirmed"),
    ("C9", {"cells": cells(FAST, SAME, SLOW, SAME)}, "mixed"),  # tanh and GRU beat relu, not LSTM
    ("C9", {"cells": cells([0.8048] * 5, SAME, [0.80] * 5, FAST)}, "mixed"),
    ("C9", {"cells": cells(FAST, SAME, SAME, FAST)}, "not supported"),  # the C9: a near-tie decides nothing
]


@pytest.mark.parametrize("cid, results, expected", CASES, ids=[f"{c}-{v}-{i}" for i, (c, _, v) in enumerate(CASES)])
def test_claim_rule_on_synthetic_numbers(cid, results, expected):
    fn = next(c[-1] for c in report.CLAIMS if c[0] == cid)
    _, found = fn(results)
    assert found == expected


def test_claim_evidence_follows_the_numbers():
    fast = {"h0_init": h0(FAST, SLOW)}
    ev, _ = report._c8(fast)
    assert "zero 0.920 vs randn 0.620" in ev and "*holds*" in ev
    ev2, _ = report._c8({"h0_init": h0(SAME, FAST)})
    assert ev2 != ev and "*no effect*" in ev2 and "*holds*" not in ev2


def test_c2_without_bptt_cost_says_so_and_judges_the_rest():
    ev, found = report._c2({"hidden_mode_len5": modes(SLOW, FAST), "hidden_mode_len50": modes(FAST, SAME)})
    assert found == "confirmed" and "not run yet" in ev and "wall clock carry/none" in ev
    ev, _ = report._c2({"hidden_mode_len5": modes(SLOW, FAST), "hidden_mode_len50": modes(FAST, SAME),
                        "cost_to_exact": bptt([30, 31, 29])})
    assert "64: 30.0x" in ev


def test_claims_table_marks_missing_experiments_and_states_rules():
    rows = report.claims_table({"h0_init": h0(SAME, FAST)})
    assert rows[0] == report.VERDICT_RULE
    c8 = next(r for r in rows if r.startswith("| C8 |"))
    assert "above each other h0_init" in c8 and c8.endswith("**not supported** |")
    assert next(r for r in rows if r.startswith("| C1 |")).endswith("not run yet (pt_main) | **-** |")


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


def heat(firsts_per_cell, rows, cols):
    """A stored heatmap result whose seeds' curves reach 1.0 first at the given steps (None: never)."""
    steps = list(range(50, 501, 50))
    ss = []
    for firsts in firsts_per_cell:
        curves = [[1.0 if f is not None and st >= f else 0.5 for st in steps] for f in firsts]
        ss.append({**series("c", [0.5] * len(firsts), curves=curves, first=list(firsts)), "steps": steps})
    return {"series": ss, "heatmap": {"rows": rows, "cols": cols, "row_name": "lr", "col_name": "maxlen", "cap": 500}}


def test_heatmap_cells_keep_never_apart_from_the_cap():
    cells = [[450, 500, 500, None, None], [350, 500, 400, None, None],  # the two cells
             [None, 400, None, None, None], [500, 500, 500, 500, 500], [100, 200, None, None], [100, 200, 300, None]]
    result = heat(cells, [0.001, 0.002, 0.005], [70, 10])
    got = [c for row in plot.heatmap_cells(result) for c in row]
    for s, (value, hit, n) in zip(result["series"], got, strict=True):
        firsts = [first_exact_by_hand(c, s["steps"]) for c in s["accuracy"]]
        assert (value, hit, n) == (median_by_hand(firsts), sum(f is not None for f in firsts), len(firsts))
    assert got[:4] == [(500, 3, 5), (500, 3, 5), (None, 1, 5), (500, 5, 5)]  # reached at the cap != never
    assert got[4][0] is None and got[5][0] == 250


def test_heatmap_draws_and_writes_never_and_seed_counts(tmp_path):
    result = heat([[450, 500, 500, None, None], [None, 400, None, None, None]], [0.001], [70, 50])
    result["title"] = "t"
    texts = plot.heatmap(result, tmp_path / "h.png")
    assert texts == [["500\n3/5 seeds", "never\n1/5 seeds"]]
    section = "\n".join(report.section({**result, "id": "h", "config": {"seeds": [0, 1, 2, 3, 4]}, "device": "cpu",
                                        "wall_seconds": 1.0, "torch": "x"}))
    assert "| 0.001 | 500 (3/5) | never (1/5) |" in section
    assert "500 (3/5)" in report.summary_line(result)
