"""The run store: identities proven by training both sides, prefixes, reuse, code fingerprints, interruption."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY, copy_code, quick_runs

import experiments
import source
from machinery import entries, fingerprint, store, store_cli
from machinery import runner as machinery_runner
from machinery.entries import truncate
from machinery.store import Store, canonical, lineage
from train import train_run

ROOT = Path(__file__).resolve().parents[1]
KW = dict(maxlen=4, steps=60, lr=0.01, loss_every=10, eval_every=20, seed=3)


def same_run(a_model, b_model, **kw):
    """Train both settings; their histories and final weights must be bitwise equal."""
    settings = {**KW, **kw}
    (ha, ma, _), (hb, mb, _) = train_run(a_model, **settings), train_run(b_model, **settings)
    for field in ("loss", "accuracy", "digit_accuracy", "first_exact"):
        assert ha[field] == hb[field], field
    sa, sb = ma.state_dict(), mb.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("a, b, kw", [
    ({"hidden_mode": "zero"}, {"hidden_mode": "none"}, {}),
    ({"hidden_mode": "zero", "cell": "lstm"}, {"hidden_mode": "none", "cell": "lstm"}, {}),
    ({"hidden_mode": "none", "h0_init": "xavier"}, {"hidden_mode": "none", "h0_init": "randn10"}, {}),
    ({"cell": "gru", "nonlinearity": "tanh"}, {"cell": "gru", "nonlinearity": "relu"}, {}),
    ({"cell": "linear", "num_layers": 3, "hidden_mode": "carry"}, {"cell": "linear", "hidden_size": 8}, {}),
])
def test_identities_the_store_relies_on_hold_bitwise(a, b, kw):
    same_run(a, b, **kw)
    assert canonical(a, {"maxlen": 4, "steps": 60, "lr": 0.01}) == canonical(b, {"maxlen": 4, "steps": 60, "lr": 0.01})


def test_gamma_without_milestones_is_the_same_run():
    (ha, _, _), (hb, _, _) = train_run({}, gamma=0.5, **KW), train_run({}, gamma=0.9, **KW)
    assert ha["loss"] == hb["loss"]
    assert canonical({}, {"maxlen": 4, "steps": 9, "lr": 0.1, "gamma": 0.5}) == \
        canonical({}, {"maxlen": 4, "steps": 9, "lr": 0.1, "gamma": 0.9})


def test_settings_that_change_the_run_change_its_lineage():
    base = lineage({}, {"maxlen": 4, "steps": 60, "lr": 0.01}, 0, "cpu")
    assert lineage({}, {"maxlen": 4, "steps": 90, "lr": 0.01}, 0, "cpu") == base  # steps: a prefix, same lineage
    for model, train, seed, device in [({"hidden_mode": "none"}, {}, 0, "cpu"), ({}, {"lr": 0.02}, 0, "cpu"),
                                       ({}, {}, 1, "cpu"), ({}, {}, 0, "cuda"), ({"h0_init": "zero"}, {}, 0, "cpu"),
                                       ({}, {"milestones": [20], "gamma": 0.5}, 0, "cpu")]:
        assert lineage(model, {"maxlen": 4, "steps": 60, "lr": 0.01, **train}, seed, device) != base


@pytest.mark.parametrize("stop", [False, True])
def test_a_longer_run_holds_every_shorter_one(stop):
    kw = {**KW, "maxlen": 5, "lr": 0.01, "milestones": [150], "gamma": 0.2, "seed": 0, "steps": 300}
    long, _, _ = train_run({"hidden_mode": "none"}, **kw)
    assert long["first_exact"] is not None and long["first_exact"] < 260  # so truncation at it is exercised
    for steps in (40, long["first_exact"], 260):
        short, _, _ = train_run({"hidden_mode": "none"}, **{**kw, "steps": steps}, stop_at_exact=stop)
        assert entries.covers(long, steps, stop)
        cut = truncate(long, steps, stop, kw["loss_every"], kw["eval_every"])
        for field in ("loss_steps", "eval_steps", "loss", "accuracy", "digit_accuracy", "first_exact", "steps_run",
                      "diverged", "diverged_at"):
            assert cut[field] == short[field], (steps, field)


def test_stopped_run_covers_only_what_it_trained():
    hist = {"first_exact": 100, "steps_run": 100, "diverged": False, "diverged_at": None}
    assert entries.covers(hist, 500, True) and entries.covers(hist, 100, False) and not entries.covers(hist, 150, False)
    hist = {"first_exact": None, "steps_run": 300, "diverged": True, "diverged_at": 300}
    assert entries.covers(hist, 1000, False) and entries.covers(hist, 1000, True)


def test_code_closure_ignores_comments_docstrings_formatting_and_unused_code(tmp_path, monkeypatch):
    from machinery import codehash

    monkeypatch.setattr(codehash, "ROOT", tmp_path)
    (tmp_path / "h.py").write_text("Z = 3\n")

    def closure(text):
        (tmp_path / "m.py").write_text(text)
        codehash.reset()
        return codehash.closure("m", "f")

    a = closure('"""Doc."""\nX = 1  # one\n\n\ndef f(y):\n    """Doc."""\n    return y + X\n\n\n'
                'def g():\n    return 1\n')
    b = closure("X = (1)\ndef f(y):\n    # a comment\n    return y+X\ndef g():\n    return 2\n")  # g: unused
    c = closure("X = 2\ndef f(y):\n    return y + X\n")
    d = closure("from h import Z\nX = 1\ndef f(y):\n    return y + X + Z\n")
    assert a == b and set(a) == {"m.f", "m.X"} and a != c and codehash.changed(a, c) == ["m.X"]
    assert set(d) == {"m.f", "m.X", "h.Z"}  # followed into the imported module
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "h.py").write_text("Z = 3\n")
    e = closure("from sub.h import Z\nX = 1\ndef f(y):\n    return y + X + Z\n")
    assert set(e) == {"m.f", "m.X", "sub.h.Z"} and codehash.digest(d) == codehash.digest(e)  # a move changes nothing
    codehash.reset()


def tiny_lr(monkeypatch, tmp_path, values):
    monkeypatch.setattr(experiments, "QUICK", TINY)
    monkeypatch.setattr(experiments, "LR_VALUES", values)
    return source.main(["--quick", "--workers", "1", "--device", "cpu", "--out", str(tmp_path / "out"),
                        "--store", str(tmp_path / "store"), "lr"])


def counting(monkeypatch):
    """The learning rate of every run source.py trains (test_study.tiny counts seeds the same way)."""
    from test_study import count_training

    return count_training(monkeypatch, "lr")


def test_appending_a_value_trains_only_its_runs_and_keeps_the_others_bitwise(tmp_path, monkeypatch):
    calls = counting(monkeypatch)
    assert tiny_lr(monkeypatch, tmp_path, [0.001, 0.01]) == 0
    assert len(calls) == 3 * 2  # two constant lrs and the schedule, two seeds
    old = json.loads((tmp_path / "out" / "lr.json").read_text())
    calls.clear()
    assert tiny_lr(monkeypatch, tmp_path, [0.001, 0.01, 0.02]) == 0
    assert calls == [0.02, 0.02]
    new = json.loads((tmp_path / "out" / "lr.json").read_text())
    assert new["runs_trained"] == 2 and new["runs_planned"] == 8
    kept = {s["label"]: s for s in new["series"]}
    for s in old["series"]:
        assert {k: v for k, v in kept[s["label"]].items()} == s  # every field of the unchanged curves
    calls.clear()  # no store at all (a fresh clone): the histories come from the result JSON
    shutil.rmtree(tmp_path / "store")
    assert tiny_lr(monkeypatch, tmp_path, [0.001, 0.002, 0.01, 0.02]) == 0
    assert calls == [0.002, 0.002]


def test_identical_runs_of_one_plan_train_once(tmp_path, monkeypatch):
    calls = counting(monkeypatch)
    monkeypatch.setattr(experiments, "QUICK", TINY)
    out = tmp_path / "out"
    args = ["--quick", "--workers", "1", "--device", "cpu", "--out", str(out), "--store", str(tmp_path / "s")]
    assert source.main([*args, "hidden_mode_len5", "no_rnn"]) == 0
    assert len(calls) == 2 * 2 + 2  # carry and none (zero is none); no_rnn: only its baseline is new
    modes = {s["label"]: s for s in json.loads((out / "hidden_mode_len5.json").read_text())["series"]}
    assert modes["hidden_mode=zero"]["loss"] == modes["hidden_mode=none"]["loss"]
    rnn = json.loads((out / "no_rnn.json").read_text())["series"][1]
    assert rnn["loss"] == modes["hidden_mode=carry"]["loss"]


def test_measurements_reuse_stored_weights(tmp_path, monkeypatch, capsys):
    calls = counting(monkeypatch)
    monkeypatch.setattr(experiments, "QUICK", TINY)
    monkeypatch.setattr(experiments, "LENGTH_CELLS", [("rnn", "tanh"), ("gru", None)])  # the cells of both plans
    args = ["--quick", "--workers", "1", "--device", "cpu", "--out", str(tmp_path / "o"), "--store",
            str(tmp_path / "s")]
    assert source.main([*args, "carry_chains"]) == 0
    assert len(calls) == 2 * 2
    calls.clear()
    assert source.main([*args, "hidden_probe"]) == 0  # same (cell, seed) models: measured, not trained
    assert calls == []
    old = json.loads((tmp_path / "o" / "carry_chains.json").read_text())
    monkeypatch.setattr(experiments, "CHAIN_KS", [0, 3])
    capsys.readouterr()
    assert source.main([*args, "carry_chains"]) == 0
    assert "[carry_chains] 4 runs trained and kept but not measured by the current code of its hooks" in \
        capsys.readouterr().out  # says why it works though nothing trains
    new = json.loads((tmp_path / "o" / "carry_chains.json").read_text())
    assert calls == [] and new["measured"] == 2 * 2 and new["series"][0]["extra"][0]["chains"] == [0, 3]
    assert new["series"][0]["loss"] == old["series"][0]["loss"]


@pytest.fixture
def project_copy(tmp_path):
    """The project's code in a folder of its own (so a test may edit it), with tiny --quick settings."""
    dst = tmp_path / "proj"
    copy_code(dst)
    src = (dst / "experiments.py").read_text()
    (dst / "experiments.py").write_text(src.replace('QUICK = {"seeds": 2, "steps": 100, "every": 20, "maxlen_div": 5}',
                                               'QUICK = {"seeds": 3, "steps": 40, "every": 10, "maxlen_div": 5}'))
    return dst


def run_copy(proj, *ids, wait=True):
    cmd = [sys.executable, "source.py", "--quick", "--workers", "1", "--device", "cpu", "--out", "out", "--store",
           "store", *ids]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not wait:
        return subprocess.Popen(cmd, cwd=proj, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                start_new_session=True)
    proc = subprocess.run(cmd, cwd=proj, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def trained(stdout):
    return int(stdout.split("done in ")[1].split("trained ")[1].split(" of ")[0])


def test_killed_experiment_resumes_with_only_its_unfinished_runs(project_copy):
    """The one subprocess test here: a kill (no handler runs, a write may be cut short) leaves no torn entry."""
    proc = run_copy(project_copy, "cells", wait=False)  # 4 cells x 3 seeds = 12 runs
    runs = project_copy / "store" / "runs"
    deadline = time.time() + 300  # generous: on busy cores the child may wait long for its first CPU slice
    while len(list(runs.glob("*/*.json"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    done = len(list(runs.glob("*/*.json")))
    assert 3 <= done < 12 and proc.returncode != 0
    assert not list(runs.glob("*/*.tmp"))  # no torn entry
    assert trained(run_copy(project_copy, "cells")) == 12 - done


def test_interrupted_experiment_resumes_with_only_its_unfinished_runs(tmp_path, monkeypatch):
    """Ctrl-C (KeyboardInterrupt) in the middle of an experiment: exit 130, the finished runs stay stored."""
    monkeypatch.setattr(experiments, "QUICK", TINY)
    real, calls = machinery_runner.train_run, []

    def interrupted(*args, **kwargs):
        calls.append(args[0].cell)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(machinery_runner, "train_run", interrupted)
    args = ["--quick", "--workers", "1", "--device", "cpu", "--out", str(tmp_path / "o"), "--store",
            str(tmp_path / "s"), "cells"]  # 4 cells x 2 seeds = 8 runs
    assert source.main(args) == 130
    runs = tmp_path / "s" / "runs"
    assert len(list(runs.glob("*/*.json"))) == 3 and not list(runs.glob("*/*.tmp"))
    assert not (tmp_path / "o" / "cells.json").exists()
    monkeypatch.setattr(machinery_runner, "train_run", real)
    calls = counting(monkeypatch)
    assert source.main(args) == 0
    assert len(calls) == 8 - 3 and len(list(runs.glob("*/*.json"))) == 8


def test_store_cli_reports_and_clears(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "QUICK", TINY)
    assert source.main(["--quick", "--workers", "1", "--out", str(tmp_path / "o"), "--store", str(tmp_path / "s"),
                        "pt_main"]) == 0
    lines, stale = store_cli.summary(tmp_path / "s")
    n = quick_runs("pt_main")
    assert lines[1] == f"runs: {n} ({n} with weights, 0 from older code)" and stale == []
    assert (tmp_path / "s" / store.MARKER).is_file()  # made by source.py: recognisably a store
    assert store_cli.main(["--store", str(tmp_path / "s"), "--clear", "--yes"]) == 0
    assert not (tmp_path / "s").exists()


def test_model_from_store_predicts_like_the_trained_one(tmp_path):
    req = {"model": {"hidden_mode": "carry"}, "train": {"maxlen": 4, "steps": 30, "lr": 0.01}, "seed": 0,
           "device": "cpu", "stop": False, "after": None}
    hist, model, state = train_run(req["model"], **req["train"], seed=0)
    st = Store(tmp_path)
    st.save_run(req, hist, entries.weights_blob(model, state))
    assert st.history(req) == (hist, True)
    loaded, loaded_state = entries.model_from_blob(req["model"], st.weights(req), "cpu")
    x = torch.randint(0, 10, (200, 5))
    model.eval(), loaded.eval()
    assert torch.equal(state, loaded_state)
    assert torch.equal(model(x, x, state), loaded(x, x, loaded_state))  # weights and the carried state both restored


def test_report_names_results_made_by_other_code():
    from report import page

    result = {"config": {"runs": [experiments.run("a", maxlen=3, steps=10, lr=0.1)]},
              "fingerprint": fingerprint.fingerprint()}
    assert page.stale_lines({"a": result}) == []
    fp = result["fingerprint"]
    old = {**result, "fingerprint": {**fp, "code": {**fp["code"], "train.fit": "0" * 12}}}
    hooked = {"config": {"runs": [{**result["config"]["runs"][0], "after": {"fn": "chain_eval"}}]},
              "fingerprint": fingerprint.fingerprint()}  # made before chain_eval was fingerprinted: its hook counts too
    text = " ".join(page.stale_lines({"a": result, "b": old, "c": hooked, "d": {"config": result["config"]}}))
    assert "`b` (train.fit changed)" in text and "`c` (chain_eval's code (not fingerprinted) changed)" in text
    assert "`d` (made before code fingerprints were recorded)" in text
    assert "`a`" not in text


def test_report_names_a_change_shared_by_many_stale_results_once():
    from report import page

    result = {"config": {"runs": [experiments.run("a", maxlen=3, steps=10, lr=0.1)]},
              "fingerprint": fingerprint.fingerprint()}
    fp = result["fingerprint"]
    old = {**result, "fingerprint": {**fp, "code": {**fp["code"], "train.fit": "0" * 12}}}
    older = {**result, "fingerprint": {**fp, "numerics": "pinned-intel",
                                       "code": {**fp["code"], "train.fit": "0" * 12, "data.gen_data": "1" * 12}}}
    text = " ".join(page.stale_lines({"b": old, "c": old, "d": older, "a": result}))
    assert text.count("train.fit") == 1 and "all 3 of them (`b`, `c`, `d`)" in text  # the shared change, once
    assert "`d` also data.gen_data, numerics pinned-intel -> portable" in text and "`a`" not in text
    many = {**result, "fingerprint": {**fp, "code": {**fp["code"], "train.fit": "0" * 12,
                                                     **{f"m.f{i}": "2" * 12 for i in range(page.NAMED + 3)}}}}
    text = " ".join(page.stale_lines({"b": old, "c": old, "e": many}))
    names = [f"m.f{i}" for i in range(page.NAMED + 3)]
    assert f"`e` also {', '.join(names[:page.NAMED])} and 3 more definitions" in text  # the rest counted
    text = " ".join(page.stale_lines({"b": old, "e": many}))  # two stale results: each named on its own, capped
    assert f"`e` ({', '.join(sorted(['train.fit', *names])[:page.NAMED])} and 4 more definitions changed)" in text


def test_report_header_names_the_numerics_family_of_its_numbers():
    from report import page

    one = {"fingerprint": {"numerics": "portable"}, "numerics": {"vendor": "amd", "aten": "AVX2", "mkl": "COMPATIBLE",
                                                                "onednn": False, "probe": "abc"}}
    text = " ".join(page.numerics_lines({"x": one, "y": one}))
    assert "family **portable** (amd CPU: ATen AVX2, MKL COMPATIBLE, oneDNN off, probe abc)" in text
    mixed = " ".join(page.numerics_lines({"x": one, "y": {"fingerprint": {"numerics": "native-AVX512-intel"}}}))
    assert "more than one numerics family" in mixed and "**native-AVX512-intel**: `y`" in mixed
