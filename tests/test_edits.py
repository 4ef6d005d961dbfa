"""Editing a constant of experiments.py: the study's charts and report still come out, or one line says why not.

Training is not the point here, so machinery_runner.train_run is replaced by fake_train: a made-up history (some seeds
exact, some never, some diverged) and an untrained model, on which the real quick "after" hooks still measure
(the probe's, slow on an untrained model, once per layer count). The whole quick study runs once unedited
(`base`, results only: test_study draws its charts); each edit then reruns only the experiments whose plan it
changed, beside the base results, and the report is written over all of them.
"""
import functools
import json
import shutil
import zlib

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import experiments
import source
from machinery import checks
from machinery import plans as machinery_plans
from machinery import runner as machinery_runner
from measures import probe
from models import ModelConfig, build_model
from report import page

QUICK = {"seeds": 2, "steps": 20, "every": 10, "maxlen_div": 5}  # experiments.QUICK here (no training is done)


def fake_train(cfg, *, maxlen, steps, lr, seed=0, loss_every=10, eval_every=10, stop_at_exact=False, progress=None,
               **settings):
    """train.train_run's history, made up from (settings, seed), and the untrained model."""
    key = json.dumps([cfg.to_dict(), maxlen, steps, lr, sorted(settings.items(), key=str)], default=str)
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    loss_steps, eval_steps = list(range(loss_every, steps + 1, loss_every)), list(range(eval_every, steps + 1,
                                                                                            eval_every))
    exact_at = int(rng.integers(0, len(eval_steps) + 2))  # past the last evaluation: never exact
    diverged_at = int(rng.integers(1, steps + 1)) if rng.random() < 0.15 else None
    acc = [min(1.0, (i + 1) / (exact_at + 1)) for i in range(len(eval_steps))]
    first = next((s for s, a in zip(eval_steps, acc, strict=True) if a == 1.0), None)
    end = min(x for x in (diverged_at and diverged_at - 1, first if stop_at_exact else None, steps) if x is not None)
    if diverged_at is not None and first is not None and first > end:
        first = None
    hist = {"loss_steps": loss_steps, "eval_steps": eval_steps,
            "loss": [1.0 / (i + 1) if s <= end else None for i, s in enumerate(loss_steps)],
            "accuracy": [a if s <= end else None for s, a in zip(eval_steps, acc, strict=True)],
            "digit_accuracy": [0.5 + a / 2 if s <= end else None for s, a in zip(eval_steps, acc, strict=True)],
            "diverged": diverged_at is not None, "diverged_at": diverged_at, "first_exact": first,
            "first_exact_sec": None if first is None else first * 1e-3, "steps_run": end,
            "sec_per_step": float(rng.uniform(1e-3, 2e-3)), "seed": seed}
    torch.manual_seed(seed)
    return (hist, *untrained(cfg, settings.get("batch_size", 200)))


def untrained(cfg, batch_size=200):
    """An untrained model as train.learn leaves one, and in carry mode the state its training starts from."""
    model = build_model(cfg)
    carry = cfg.cell != "linear" and cfg.hidden_mode == "carry"
    return model, model.init_hidden(batch_size) if carry else None


_probe = functools.lru_cache(maxsize=None)(functools.partial(
    lambda fn, layers, args: fn(*untrained(ModelConfig(num_layers=layers)), None, 0, **json.loads(args)),
    probe.probe_eval))  # the real hook, before study() replaces it


@functools.wraps(probe.probe_eval)  # its name, module and code: what the plans, results and store know it by
def probe_once(model, state, run, seed, **args):
    """probe.probe_eval's measurement of one untrained model per layer count (its shape depends only on that)."""
    return _probe(run["model"]["num_layers"], json.dumps(args, sort_keys=True))


def drawn(png):
    """A PNG that decodes to a chart: a real image with many colors (conftest.assert_drawn, on a sample)."""
    image = plt.imread(png)
    assert image.ndim == 3 and min(image.shape[:2]) > 200
    assert len(np.unique(image[::4, ::4].reshape(-1, image.shape[2]), axis=0)) > 50


def study(monkeypatch, out, ids=(), charts=True):
    """source.main in quick mode with fake training: its exit code (write_report is run by the caller)."""
    monkeypatch.setattr(experiments, "QUICK", QUICK)
    monkeypatch.setattr(machinery_runner, "train_run", fake_train)
    monkeypatch.setattr(probe, "probe_eval", probe_once)  # experiments.hidden_probe plans probe.probe_eval
    monkeypatch.setattr(page, "write_report", lambda *a, **k: None)  # each test writes it itself
    if not charts:
        monkeypatch.setattr(machinery_plans, "chart", lambda plan: lambda result, path: None)  # every chart, one place
    return source.main(["--quick", "--workers", "1", "--device", "cpu", "--out", str(out),
                        "--store", str(out / "store"), *ids])


def plans():
    return {eid: json.dumps(machinery_plans.recorded(f())) for eid, f in experiments.EXPERIMENTS.items()}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The unedited quick study (fake training): its folder and its plans."""
    out = tmp_path_factory.mktemp("base")
    with pytest.MonkeyPatch.context() as mp:
        assert study(mp, out, charts=False) == 0
    return out, plans()


EDITS = {  # name -> {constant: new value}: edits a user plausibly makes
    "CELLS without gru": {"CELLS": [("rnn", "relu"), ("rnn", "tanh"), ("lstm", None)]},
    "LR_VALUES with none <= 0.01": {"LR_VALUES": [0.05, 0.1, 0.5]},
    "H0_INITS without zero": {"H0_INITS": ["randn", "xavier"]},
    "HIDDEN_MODES without carry": {"HIDDEN_MODES": ["none", "zero"]},
    "other MAXLEN_VALUES": {"MAXLEN_VALUES": [3, 8, 12]},
    "LAYERS_VALUES without 2": {"LAYERS_VALUES": [1, 3]},
    "another LENGTH_CELLS set": {"LENGTH_CELLS": [("lstm", None), ("gru", None)]},
    "other SIZE_VALUES": {"SIZE_VALUES": [2, 8]},
    "other exact_adder sizes and recipes": {"EXACT_SIZES": [(1, 8)], "EXACT_RECIPES": {"today": {}}},
    "no attack or proof": {"EXACT_ATTACK_RUNS": [], "EXACT_PROOF_RUN": None},
    "other test lengths": {"LENGTH_TEST": [10, 50], "LENGTH_SUMS": [100, 100], "LENGTH_SUMS_OTHERS": [50, 50]},
    "one lr row in the heatmap": {"HEAT_LR_VALUES": [0.01]},
}
EXPECTED_LINES = {  # edit -> text its report must hold: the premise it removed, said in one line
    "other exact_adder sizes and recipes": ["No adversarial search: EXACT_ATTACK_RUNS selects none",
                                            "No proof attempt: EXACT_PROOF_RUN selects none"],
    "no attack or proof": ["No adversarial search: EXACT_ATTACK_RUNS selects none",
                           "No proof attempt: EXACT_PROOF_RUN selects none"],
}
_done = {}


def edited(name, base, tmp_path_factory):
    """The quick study after edit `name`: (its folder, the experiments it changed), run once per session."""
    if name not in _done:
        base_out, base_plans = base
        out = tmp_path_factory.mktemp("edit")
        for f in base_out.glob("*.json"):
            shutil.copy(f, out)
        with pytest.MonkeyPatch.context() as mp:
            for const, value in EDITS[name].items():
                assert hasattr(experiments, const)
                mp.setattr(experiments, const, value)
            changed = [eid for eid, p in plans().items() if p != base_plans[eid]]
            assert changed, "the edit changes no plan"
            assert study(mp, out, changed) == 0
            _done[name] = out, changed, {c: getattr(experiments, c) for c in EDITS[name]}
    return _done[name]


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edit_gives_its_charts(name, base, tmp_path_factory):
    out, changed, _ = edited(name, base, tmp_path_factory)
    for eid in changed:
        drawn(out / f"{eid}.png")
        result = json.loads((out / f"{eid}.json").read_text())
        assert result["config"]["runs"] == json.loads(json.dumps(_plan_runs(name, eid)))  # the edited plan ran


def _plan_runs(name, eid):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(experiments, "QUICK", QUICK)
        for const, value in EDITS[name].items():
            mp.setattr(experiments, const, value)
        return machinery_plans.recorded(machinery_plans.shrink(experiments.EXPERIMENTS[eid](), experiments.QUICK,
                                                         experiments.QUICK_EVAL_SIZE))["runs"]


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edit_gives_the_report(name, base, tmp_path_factory):
    out, changed, values = edited(name, base, tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:  # the report reads the constants too (e.g. EXACT_GOAL)
        for const, value in values.items():
            mp.setattr(experiments, const, value)
        page.write_report(out, quick=True)
    text = (out / "README.md").read_text()
    for eid in experiments.EXPERIMENTS:
        assert f"![{eid}]({eid}.png)" in text
    for c in range(1, 10):
        assert f"| C{c} |" in text
    for line in EXPECTED_LINES.get(name, []):
        assert line in text


def test_the_unedited_study_gives_the_report(base):
    out, _ = base
    page.write_report(out, quick=True)
    text = (out / "README.md").read_text()
    assert all(f"| C{c} |" in text for c in range(1, 10))
    assert "No adversarial search" not in text and "No proof attempt" not in text  # today's plan has both


BAD = [  # (constant, value, what its one-line error must say)
    ("LR_VALUES", 0.01, "LR_VALUES must be a non-empty list of learning rates, got 0.01"),
    ("LR_VALUES", [], "LR_VALUES must be a non-empty list"),
    ("LR_VALUES", [0.01, "fast"], "lr must be a positive finite number, got 'fast'"),
    ("MAXLEN_VALUES", [5, 10, 5], "MAXLEN_VALUES holds 5 twice"),
    ("CELLS", [("rnn", "relu"), ("transformer", None)], "CELLS: unknown cell 'transformer'; valid: rnn, lstm, gru"),
    ("CELLS", ["gru"], "CELLS: 'gru' is not a (cell, nonlinearity) pair"),
    ("LENGTH_GOAL", "rnn/tanh", "LENGTH_GOAL: 'rnn/tanh' is not a (cell, nonlinearity) pair"),
    ("LENGTH_TEST", [10, 100], "LENGTH_SUMS must hold one number of sums per LENGTH_TEST length (2)"),
    ("CHAIN_KS", [0, 1.5], "each value of CHAIN_KS must be an integer, got 1.5"),
    ("H0_INITS", ["randn", "ones"], "unknown h0_init 'ones'; valid: randn"),
    ("EXACT_ATTACK_RUNS", {"1 x 32": 100000}, "EXACT_ATTACK_RUNS must be a list of (settings, candidate sums)"),
    ("EXACT_PROOF_RUN", {"layers": 1}, "EXACT_PROOF_RUN: unknown setting(s) ['layers']"),
    ("EXACT_SUITE", {"lengths": [1000]},
     "exact_eval's suite {'lengths': [1000]}: measures.exact.exact.suite_eval cannot take it"),
    ("SIZE_SUCCESS", 50, "SIZE_SUCCESS must be a number in (0, 1], got 50"),
    ("SEEDS", "5", "SEEDS must be an integer, got '5'"),
    ("EXACT_CELL", {"cell": "rnn", "num_layers": 3}, "exact_adder: a constant of its plan has the wrong type or shape"),
    ("EXACT_HARDENED", {"x": (1, 32)}, "EXACT_HARDENED['x'] must be (layers, hidden, settings)"),
    ("LENGTH_OTHER_MAXLENS", [0], "each value of LENGTH_OTHER_MAXLENS"),
    ("LENGTH_VARIANTS", {"clip": 1.0}, "LENGTH_VARIANTS['clip'] must be a dict, got 1.0"),
]


@pytest.mark.parametrize("quick", [False, True])
def test_titles_name_what_is_trained(quick):
    """Each number a title gives of the training (maxlen, layers, lr, step cap) is the first run's, also in --quick,
    where every maxlen is shrunk: a title is filled in from the plan's settings, never from a constant."""
    import re

    for eid in experiments.EXPERIMENTS:
        plan = machinery_runner.planned(eid, quick)
        first, title = machinery_plans.settings_of(plan["runs"][0]), plan["title"]
        said = {"maxlen": re.findall(r"(?:maxlen|trained on) (\d+)\b(?! x)", title),
                "num_layers": re.findall(r"(\d+)[- ]layers?\b", title),
                "steps": re.findall(r"within (\d+) steps", title), "lr": re.findall(r"\blr (\d[\d.e-]*)", title)}
        assert {k: [float(x) for x in v] for k, v in said.items()} == {
            k: [float(first[k])] * len(v) for k, v in said.items()}, (eid, title)
    assert re.findall(r"maxlen (\d+)", machinery_runner.planned("lr", quick)["title"]) == [
        str(machinery_runner.planned("lr", quick)["runs"][0]["train"]["maxlen"])]  # one that says it


def test_every_checked_name_is_the_constant_it_reads():
    """check_constants names each constant as the one it reads (a message never names another), each an upper-case
    constant of experiments.py (a renamed constant is checked under its new name), and today's pass."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(checks.check_constants))
    calls = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and len(c.args) >= 2
             and isinstance(c.args[1], ast.Attribute) and isinstance(c.args[1].value, ast.Name)]
    named = [(c.args[0].value, c.args[1].attr) for c in calls]
    assert len(named) > 40 and [(n, a) for n, a in named if n != a] == []
    assert [a for _, a in named if not hasattr(experiments, a) or not a.isupper()] == []
    checks.check_constants()


@pytest.mark.parametrize("const, value, message", BAD, ids=[f"{c}={v!r}" for c, v, _ in BAD])
def test_a_bad_constant_stops_the_study_with_one_line(const, value, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiments, const, value)
    trained = []
    monkeypatch.setattr(machinery_runner, "train_run", lambda *a, **k: trained.append(1))
    assert source.main(["--workers", "1", "--out", str(tmp_path), "--store", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("experiments.py: ")
    assert trained == [] and not list(tmp_path.glob("*.json"))


# --- the runs a constant singles out are found by their settings, whatever their labels say ---


def test_length_goal_picks_its_cell_comparison_run_by_settings(monkeypatch):
    monkeypatch.setattr(experiments, "LENGTH_GOAL", ("lstm", None))
    runs = experiments.length_generalization()["runs"]
    goal = [r for r in runs if r["after"].keywords["sums"] == experiments.LENGTH_SUMS]
    assert [(r["model"]["cell"], r["train"]["maxlen"]) for r in goal] == [("lstm", experiments.LENGTH_MAXLEN)]
    monkeypatch.setattr(experiments, "LENGTH_GOAL", experiments.LENGTH_SHORT_LONG_CELL)
    monkeypatch.setattr(experiments, "LENGTH_CELLS", [("gru", None)])  # the goal's cell compared no more
    runs = experiments.length_generalization()["runs"]  # its other train lengths and variants are no goal
    assert all(r["after"].keywords["sums"] == experiments.LENGTH_SUMS_OTHERS for r in runs) and len(runs) > 1


def test_attack_and_proof_go_to_the_runs_with_their_settings(monkeypatch):
    monkeypatch.setattr(experiments, "EXACT_RECIPES", {"a": {}, "b": {"chain_fraction": 0.3}})
    monkeypatch.setattr(experiments, "EXACT_TODAY", {"lr": 0.01, "steps": 100})  # chain_fraction unset
    monkeypatch.setattr(experiments, "EXACT_SIZES", [(1, 16), (3, 8)])
    monkeypatch.setattr(experiments, "EXACT_ATTACK_RUNS", [({"num_layers": 3}, 7), ({"chain_fraction": 0.3}, 9),
                                                           ({"hidden_size": 8}, 11), ({"chain_fraction": 0.0}, 5)])
    monkeypatch.setattr(experiments, "EXACT_PROOF_RUN", {"hidden_size": 16})
    args = {(r["model"]["num_layers"], r["model"]["hidden_size"], r["train"].get("chain_fraction")):
            r["after"].keywords for r in experiments.EXPERIMENTS["exact_adder"]()["runs"]
            if "harden" not in r["after"].keywords}  # the hardened series: attacked and proof-tried by their own rule
    small = experiments.EXACT_SMALL.get("chain_fraction")
    assert {k: a.get("attack", {}).get("candidates") for k, a in args.items()} == {
        (2, 64, None): 5, (2, 64, 0.3): 9, (1, 16, small): None,
        (3, 8, small): 7}  # the first selector that matches gives the candidates; an unset setting has its default
    assert [k for k, a in args.items() if "proof" in a] == [(1, 16, small)]


def exact_series(label, layers, hidden, passes):
    suite = [{"passed": p, "stages": [{"length": 10, "checks": [{"check": "c", "sums": 1, "wrong": 1 - p,
                                                                  "margin": 1.0}]}]} for p in passes]
    return {"label": label, "settings": {"num_layers": layers, "hidden_size": hidden, "embed_size": 4},
            "seeds": list(range(len(passes))), "extra": [{"suite": s} for s in suite]}


def test_exact_frontier_and_smallest_read_sizes_from_the_settings():
    from measures.exact import exact_report

    series = [exact_series("recipe A", 2, 64, [1, 0]), exact_series("recipe B", 2, 64, [1, 1]),
              exact_series("1 x 16", 1, 32, [1, 1]), exact_series("tiny", 1, 8, [0, 0])]  # a label that lies
    result = {"series": series, "config": {"seeds": [0, 1], "runs": [{"after": {"args": {}}}] * len(series)}}
    assert exact_report.frontier(result) == {1: [(8, 0, 2, "tiny"), (32, 2, 2, "1 x 16")],
                                             2: [(64, 2, 2, "recipe B")]}
    assert exact_report.smallest(result, 1.0) == ("1 x 16", exact_report.params(series[2]))
    assert exact_report.smallest_series(result, 1.0) is series[2]
    assert exact_report.planned(result, "attack") == []


def test_size_table_rows_come_from_the_settings():
    from measures import sizes

    def s(cell, nl, h, firsts, label="same label"):
        return {"label": label, "settings": {"cell": cell, "nonlinearity": nl, "hidden_size": h, "steps": 50},
                "first_exact": firsts}

    result = {"id": "hidden_size_min", "title": "t", "config": {"seeds": [0, 1]}, "device": "cpu",
              "wall_seconds": 1.0, "torch": "x",
              "series": [s("rnn", "tanh", 2, [10, None]), s("gru", "relu", 2, [None, None]),
                         s("gru", "relu", 4, [5, 7])]}
    table = sizes.size_table(result)
    assert table == {"rnn/tanh": {2: (1, 2, 10)}, "gru": {2: (0, 2, None), 4: (2, 2, 6)}}
    text = "\n".join(sizes.size_section(result, 0.5))
    assert "| rnn/tanh | 2 | 2 | 1/2 (10) | - |" in text and "| gru | 4 | 4 | 0/2 | 2/2 (6) |" in text
