"""fidelity.py: the source-vs-ours constants, the source's heatmap convention, and the claim notes."""
import json

import pytest

import experiments
from report import fidelity


def series(settings, first_exact, accuracy=None, steps=(50, 100, 150, 200, 250), diverged=None):
    n = len(first_exact)
    return {"label": settings.get("label", "s"), "settings": settings, "seeds": list(range(n)), "steps": list(steps),
            "first_exact": list(first_exact), "accuracy": accuracy or [[0.0] * len(steps)] * n,
            "diverged": diverged or [False] * n}


def result(*ss, heatmap=None):
    r = {"config": {"seeds": list(range(len(ss[0]["first_exact"])))}, "series": list(ss)}
    if heatmap:
        r["heatmap"] = heatmap
    return r


def from_plan(eid):
    """A result-like dict holding only the settings the current plan of `eid` would run."""
    plan = experiments.EXPERIMENTS[eid]()
    return result(*[series({**r["model"], **r["train"]}, [None]) for r in plan["runs"]])


def as_source(eid):
    """A result whose series ran exactly the source's constants of `eid` (a listed constant: one value per series)."""
    src = fidelity.SOURCE[eid]["set"]
    n = max([len(v) for v in src.values() if isinstance(v, list)] + [1])
    return result(*[series({k: v[i % len(v)] if isinstance(v, list) else v for k, v in src.items()}, [None])
                    for i in range(n)])


@pytest.mark.parametrize("eid", list(fidelity.SOURCE))
def test_compare_finds_no_difference_in_the_source_constants_and_names_each_changed_one(eid):
    keys = list(fidelity.SOURCE[eid]["set"])
    same, differ = fidelity.compare(eid, as_source(eid))
    assert differ == [] and len(same) == len(keys)
    for key in keys:
        r = as_source(eid)
        for s in r["series"]:
            s["settings"][key] = "other"
        same, differ = fidelity.compare(eid, r)
        assert len(differ) == 1 and differ[0].startswith(f"{key} ") and differ[0].endswith(" → other")
        assert len(same) == len(keys) - 1 and not any(x.startswith(f"{key} ") for x in same)


@pytest.mark.parametrize("eid", list(fidelity.SOURCE))
def test_every_plan_is_compared_key_by_key(eid):
    """Whatever the constants are today, each source constant is reported once: the same, or with both values."""
    same, differ = fidelity.compare(eid, from_plan(eid))
    keys = list(fidelity.SOURCE[eid]["set"])
    assert len(same) + len(differ) == len(keys)
    assert sorted(x.split(" ")[0] for x in same + differ) == sorted(keys)


def test_an_edited_constant_is_a_report_line_not_an_error(monkeypatch):
    new_lr = max(experiments.LR_VALUES) * 3  # a value the list does not hold yet
    monkeypatch.setattr(experiments, "LR_VALUES", [*experiments.LR_VALUES, new_lr])
    monkeypatch.setattr(experiments, "PT_MAIN_LAYERS", fidelity.SOURCE["pt_main"]["set"]["num_layers"] + 1)
    assert {r["model"]["num_layers"] for r in experiments.pt_main()["runs"]} == {experiments.PT_MAIN_LAYERS}
    rows = fidelity.constants_rows({"lr": from_plan("lr"), "pt_main": from_plan("pt_main")})
    lr_row = next(x for x in rows if x.startswith("| `lr` |"))
    assert json.dumps(new_lr) in lr_row.split("|")[4]  # the source → ours column
    depth = fidelity.SOURCE["pt_main"]["set"]["num_layers"]
    assert f"num_layers {depth} → {depth + 1}" in next(x for x in rows if x.startswith("| `pt_main` |"))


def test_compare_reports_a_changed_constant_with_both_values():
    r = as_source("pt_main")
    r["series"][0]["settings"]["num_layers"] = 2
    same, differ = fidelity.compare("pt_main", r)
    assert differ == ["num_layers 3 → 2"] and "num_layers 3" not in same
    row = next(x for x in fidelity.constants_rows({"pt_main": r}) if x.startswith("| `pt_main`"))
    assert "num_layers 3 → 2" in row and "runs per curve 1 → 1 seeds" in row


def test_as_source_heat_adds_one_interval_and_caps_never_and_last():
    cap = 250
    assert fidelity.as_source_heat(series({}, [100, 150, 200]), cap) == 200  # 150, 200, 250
    assert fidelity.as_source_heat(series({}, [50, None, 250]), cap) == 250  # 100, cap, cap
    assert fidelity.as_source_heat(series({}, [40], steps=(20, 40)), cap) is None  # not every 50: not comparable


def test_p_shown_by_combines_evaluations_up_to_the_step():
    s = series({}, [None], accuracy=[[0.99, 0.99, 1.0, 1.0, 1.0]])
    one = 0.99 ** 200
    assert fidelity.p_shown_by(s, 0, 50) == pytest.approx(one)
    assert fidelity.p_shown_by(s, 0, 100) == pytest.approx(1 - (1 - one) ** 2)
    assert fidelity.p_shown_by(s, 0, 150) == pytest.approx(1.0)


def pt_main(firsts, layers=3):
    return {"pt_main": result(series({"num_layers": layers, "steps": 500, "maxlen": 10}, firsts,
                                     accuracy=[[1.0] * 5 for _ in firsts]))}


def test_c1_note_only_when_not_every_seed_is_exact_by_200_and_it_carries_our_numbers():
    assert "C1" not in fidelity.claim_notes(pt_main([150, 200, 200]))
    note = fidelity.claim_notes(pt_main([200, 350, None]))["C1"]
    assert "1/3 seeds" in note and "200, 350, never" in note and "201 updates" in note
    assert "2/3 seeds" in fidelity.claim_notes(pt_main([200, 150, None]))["C1"]


def lr_result(div_01):
    s = [series({"lr": lr, "milestones": []}, [None] * 5, diverged=d)
         for lr, d in ((0.1, div_01), (0.5, [True] * 5))]
    return {"lr": result(*s)}


def test_c6_note_when_lr_01_does_not_diverge_on_every_seed():
    assert "C6" not in fidelity.claim_notes(lr_result([True] * 5))
    assert "lr 0.1 diverged in 1/5 seeds" in fidelity.claim_notes(lr_result([True] + [False] * 4))["C6"]


def layers_mode(fastest):
    """heat_layers_mode where each mode's only exact runs are at depth fastest[mode] (step 100)."""
    cols, cap = [1, 2, 3, 4, 5], 700
    ss = [series({"hidden_mode": m, "num_layers": n}, [100 if n == fastest[m] else None],
                 steps=range(50, cap + 1, 50)) for m in fidelity._MODES for n in cols]
    hm = {"rows": fidelity._MODES, "cols": cols, "row_name": "hidden_mode", "col_name": "num_layers", "cap": cap,
          "values": [[100 if n == fastest[m] else cap for n in cols] for m in fidelity._MODES]}
    return {"heat_layers_mode": result(*ss, heatmap=hm)}


def test_c7_note_when_the_fastest_depth_differs_from_the_source_heatmap():
    assert "C7" not in fidelity.claim_notes(layers_mode({"carry": 2, "none": 3, "zero": 2}))  # the source's
    note = fidelity.claim_notes(layers_mode({"carry": 1, "none": 3, "zero": 2}))["C7"]
    assert "carry: source [2] (400), ours [1] (150)" in note


def cells(firsts_099):
    ss = [series({"label": k}, [None], accuracy=[[0.99 if s >= step else 0.5 for s in (50, 100, 150, 200, 250)]])
          for k, step in firsts_099.items()]
    for s, k in zip(ss, firsts_099, strict=True):
        s["label"] = k
    return {"cells": result(*ss)}


def test_c9_note_when_lstm_stands_otherwise_than_in_the_source():
    """The source's figure: LSTM trails rnn/tanh and ties GRU; a note only where ours reads otherwise."""
    assert "C9" not in fidelity.claim_notes(cells({"rnn/tanh": 100, "lstm": 200, "gru": 200}))
    note = fidelity.claim_notes(cells({"rnn/tanh": 100, "lstm": 150, "gru": 200}))["C9"]
    assert "lstm 150" in note and "gru 200" in note and "lstm 601" in note
    assert "in the source lstm ties gru, here it leads it" in note and "rnn/tanh, here" not in note
    note = fidelity.claim_notes(cells({"rnn/tanh": 100, "lstm": 100, "gru": 200}))["C9"]
    assert "in the source lstm trails rnn/tanh, here it ties it" in note


def test_section_numbers_follow_the_results():
    a = "\n".join(fidelity.section(pt_main([200, 350, None])))
    b = "\n".join(fidelity.section(pt_main([100, 150, 200])))
    assert "## Source code vs this project" in a and "200, 350, never" in a and "100, 150, 200" in b
    assert "C1 differs" in a and "C1 differs" not in b
    assert "| `lr` | pt.experiment_lr | not run yet |" in a
