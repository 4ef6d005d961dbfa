"""A store that cannot hurt: marker-guarded --clear/--prune, corrupt entries set aside, locks, early refusals."""
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY

import add
import experiments
import source
from machinery import entries, store, store_cli
from machinery import runner as machinery_runner
from machinery.fingerprint import fingerprint
from machinery.store import MARKER, Store, StoreError
from measures import chains
from models import ModelConfig, build_model

ROOT = Path(__file__).resolve().parents[1]
RUN = experiments.run("tiny", maxlen=2, steps=10, lr=0.01, loss_every=5, eval_every=5)  # trains in well under 1 s
REQ = machinery_runner.request(RUN, 0, "cpu", False)


def fake_run(st, req=REQ):
    """Write an entry without training: an untrained model's weights and a made-up history."""
    hist = {k: None for k in entries.HISTORY_FIELDS} | {"loss_steps": [5, 10], "eval_steps": [5, 10], "loss": [1, 1],
                                                     "accuracy": [0, 0], "digit_accuracy": [0, 0], "steps_run": 10,
                                                     "diverged": False}
    st.save_run(req, hist, entries.weights_blob(build_model(ModelConfig(**req["model"]))))
    return hist


def entry_files(st, req=REQ):
    folder, stem = st.run_entry(req)
    return folder / f"{stem}.json", folder / f"{stem}.pt"


def one_line(text):
    """The one line of a message, besides the runner's progress lines ("[id] 1/1 done: ...", off a terminal)."""
    lines = [line for line in text.strip().splitlines() if not re.match(r"\[\w+\] \d+/\d+ done: ", line)]
    assert len(lines) == 1, lines
    return lines[0]


def training_counter(monkeypatch):
    calls = []
    real = machinery_runner.train_run

    def counting(*args, **kwargs):
        calls.append(kwargs["seed"])
        return real(*args, **kwargs)

    monkeypatch.setattr(machinery_runner, "train_run", counting)
    return calls


# --clear and --prune act only on a store, and ask first

@pytest.mark.parametrize("flag", ["--clear", "--prune"])
def test_clear_and_prune_delete_nothing_in_a_folder_that_is_not_a_store(tmp_path, capsys, flag):
    repo = tmp_path / "repo"  # say `--store .` in a clone
    (repo / ".git").mkdir(parents=True)
    (repo / "train.py").write_text("x = 1\n")
    (repo / "runs").mkdir()  # even with a store-like part in it
    before = sorted(p.relative_to(repo) for p in repo.rglob("*"))
    assert store_cli.main(["--store", str(repo), flag, "--yes"]) == 2
    err = one_line(capsys.readouterr().err)
    assert str(repo) in err and f"no {MARKER}" in err and "deleted nothing" in err
    assert sorted(p.relative_to(repo) for p in repo.rglob("*")) == before


def test_clear_asks_on_a_terminal_and_refuses_without_one(tmp_path, capsys, monkeypatch):
    st = Store(tmp_path / "s").ensure()
    fake_run(st)
    (st.root / "notes.txt").write_text("mine")  # not the store's: --clear keeps it
    assert store_cli.main(["--store", str(st.root), "--clear"]) == 2  # pytest's stdin is no terminal
    assert "pass --yes" in one_line(capsys.readouterr().err) and entry_files(st)[0].exists()
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    answers = iter(["n", "y"])
    monkeypatch.setattr("builtins.input", lambda q: next(answers))
    assert store_cli.main(["--store", str(st.root), "--clear"]) == 1 and entry_files(st)[0].exists()
    assert store_cli.main(["--store", str(st.root), "--clear"]) == 0
    assert sorted(p.name for p in st.root.iterdir()) == ["notes.txt"]


def test_prune_drops_older_code_and_the_measurements_nothing_uses(tmp_path):
    st = Store(tmp_path / "s", fingerprint([chains.chain_eval])).ensure()
    after = {"fn": "chain_eval", "args": {}}
    req = {**REQ, "after": after}
    fake_run(st, req)
    st.save_measure(req, {"kept": True})
    current = st.measure_path(req)
    json_path, pt_path = entry_files(st, req)
    old_stem = "0" * len(st.code) + json_path.stem[len(st.code):]  # the same run made by other code
    for p in (json_path, pt_path):
        (p.parent / (old_stem + p.suffix)).write_bytes(p.read_bytes())
    measures = current.parent
    (measures / f"{old_stem}__{current.stem.rpartition('__')[2]}.json").write_text(current.read_text())  # its run
    (measures / f"{json_path.stem}__{'f' * 10}.json").write_text(current.read_text())  # other hook code
    (measures / f"{json_path.stem.replace('_s10_', '_s20_')}__{current.stem.rpartition('__')[2]}.json").write_text(
        current.read_text())  # a run that was never stored
    (measures / f"{json_path.stem}__{'e' * 10}.json").write_text("{trunc")
    assert store_cli.prune(st.root) == (1, 4)
    assert sorted(p.name for p in json_path.parent.iterdir()) == sorted([json_path.name, pt_path.name])
    assert [p.name for p in measures.iterdir()] == [current.name] and st.measure(req) == {"kept": True}


# corrupt entries are named, set aside and retrained

def damage(kind, st):
    json_path, pt_path = entry_files(st)
    if kind == "truncated weights":
        pt_path.write_bytes(pt_path.read_bytes()[:100])
    elif kind == "garbage weights":
        pt_path.write_bytes(os.urandom(pt_path.stat().st_size))
    elif kind == "old entry, garbage weights":  # made before the weights' hash was recorded
        entry = json.loads(json_path.read_text())
        del entry["weights_sha256"]
        json_path.write_text(json.dumps(entry))
        pt_path.write_bytes(b"not a zip")
    elif kind == "truncated JSON":
        json_path.write_text(json_path.read_text()[:50])
    elif kind == "JSON list":
        json_path.write_text("[1, 2]")
    elif kind == "JSON without history":
        entry = json.loads(json_path.read_text())
        del entry["history"]
        json_path.write_text(json.dumps(entry))
    return json_path, pt_path


@pytest.mark.parametrize("kind", ["truncated weights", "garbage weights", "old entry, garbage weights",
                                  "truncated JSON", "JSON list", "JSON without history"])
def test_a_corrupt_entry_is_named_set_aside_and_retrained(tmp_path, capsys, monkeypatch, kind):
    calls = training_counter(monkeypatch)
    runner = machinery_runner.Runner("cpu", 1, Store(tmp_path / "s").ensure())
    plan = {"title": "t", "runs": [RUN]}
    first, _ = runner.run("t", plan, [0], stop_at_exact=False)
    json_path, pt_path = damage(kind, runner.store)
    capsys.readouterr()
    again, _ = runner.run("t", plan, [0], stop_at_exact=False)
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"store: {json_path.relative_to(runner.store.root)} is corrupt (") and "retraining" in line
    assert calls == [0, 0]
    assert json_path.with_name(json_path.name + ".corrupt").exists()  # kept for inspection, never deleted
    assert pt_path.with_name(pt_path.name + ".corrupt").exists()
    assert {k: v for k, v in again[0, 0].items() if k != "sec_per_step"} == \
        {k: v for k, v in first[0, 0].items() if k != "sec_per_step"}
    assert runner.store.history(REQ)[1]  # the retrained entry is whole again


def test_an_entry_is_served_only_whole(tmp_path, capsys):
    st = Store(tmp_path)
    hist = fake_run(st)
    json_path, pt_path = entry_files(st)
    assert st.history(REQ) == (hist, True) and st.weights(REQ) == pt_path.read_bytes()
    json_path.unlink()  # weights written, the process killed before the JSON: no entry
    assert st.history(REQ) == (None, False) and st.weights(REQ) is None
    fake_run(st)
    entry = json.loads(json_path.read_text())
    del entry["weights_sha256"]  # an entry written before the hash was recorded, with good weights
    json_path.write_text(json.dumps(entry))
    assert st.history(REQ) == (hist, True) and st.weights(REQ) is not None
    assert capsys.readouterr().err == ""


def test_a_corrupt_measurement_is_set_aside_and_measured_again(tmp_path, capsys):
    st = Store(tmp_path)
    req = {**REQ, "after": {"fn": "chain_eval", "args": {}}}
    st.save_measure(req, [1, 2])
    path = st.measure_path(req)
    path.write_text('{"after": null}')
    assert st.measure(req) is None and path.with_name(path.name + ".corrupt").exists()
    assert "measuring again" in one_line(capsys.readouterr().err)


def test_add_retrains_over_corrupt_weights(tmp_path, capsys):
    st = Store(tmp_path / "s")
    fake_run(st)
    damage("garbage weights", st)
    model, how = add.load_adder(REQ, st)
    assert how.startswith("trained now") and "is corrupt" in one_line(capsys.readouterr().err)
    assert add.load_adder(REQ, st)[1] == "from the store"


# one process trains a run; another waits and reads it

def test_a_second_process_waits_for_the_run_and_reads_it(tmp_path, monkeypatch):
    calls = training_counter(monkeypatch)
    st = Store(tmp_path).ensure()
    job = {"run": RUN, "req": REQ, "todo": ("train",), "store": str(st.root), "fp": st.fp}
    out = {}
    lock = st.lock(REQ)
    lock.acquire()  # the first process, training
    worker = threading.Thread(target=lambda: out.update(result=machinery_runner.run_job(job)))
    worker.start()
    time.sleep(0.3)
    assert worker.is_alive() and "result" not in out  # it waits
    hist = fake_run(st)  # what the first process stores
    lock.release()
    worker.join(timeout=30)
    assert out["result"][0] == hist and calls == []  # read, not trained again


# refusals before anything trains: one line, exit 2

def refused(capsys, code):
    assert code == 2
    return one_line(capsys.readouterr().err)


def test_a_store_that_is_a_file_is_refused_before_training(tmp_path, capsys, monkeypatch):
    calls = training_counter(monkeypatch)
    (tmp_path / "f").write_text("")
    args = ["--quick", "--workers", "1", "--out", str(tmp_path / "o"), "--store", str(tmp_path / "f"), "pt_main"]
    assert "is a file, not a folder" in refused(capsys, source.main(args))
    args = ["--quick", "--workers", "1", "--out", str(tmp_path / "f"), "--store", str(tmp_path / "s"), "pt_main"]
    assert "is a file, not a folder" in refused(capsys, source.main(args))
    assert calls == []
    assert "is a file, not a folder" in refused(capsys, add.main(["1", "2", "--seed", "0", "--store",
                                                                 str(tmp_path / "f")]))  # a store model
    assert "is a file" in refused(capsys, store_cli.main(["--store", str(tmp_path / "f")]))


def test_a_folder_that_is_not_a_store_is_refused_and_an_old_store_adopted(tmp_path, capsys):
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    with pytest.raises(StoreError, match="not a run store"):
        Store(tmp_path / "repo").ensure()
    assert not (tmp_path / "repo" / "runs").exists()
    old = tmp_path / "old"  # a store made before the marker: only runs/ and measures/
    (old / "runs" / "abc").mkdir(parents=True)
    Store(old).ensure()
    assert store.is_store(old)


def read_only_folders(tmp_path):
    yield "/sys/adder-store"  # unwritable even for root (sysfs)
    if os.geteuid() != 0:  # root writes through permission bits
        ro = tmp_path / "ro"
        (ro / "runs").mkdir(parents=True)
        ro.chmod(0o555)
        (ro / "runs").chmod(0o555)
        yield str(ro)


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs Linux's read-only /sys")
def test_an_unwritable_store_is_refused_before_training(tmp_path, capsys, monkeypatch):
    calls = training_counter(monkeypatch)
    for folder in read_only_folders(tmp_path):
        args = ["--quick", "--workers", "1", "--out", str(tmp_path / "o"), "--store", folder, "pt_main"]
        assert "is not writable" in refused(capsys, source.main(args))
    assert calls == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_cuda_without_cuda_is_one_line(tmp_path, capsys):
    line = refused(capsys, source.main(["--device", "cuda", "--out", str(tmp_path), "pt_main"]))
    assert "cuda" in line and "use cpu or auto" in line


def test_unknown_id_is_one_line(capsys):
    assert "unknown experiment id(s): nope; valid ids: pt_main" in refused(capsys, source.main(["nope"]))


def test_store_cli_refusal_exits_2_in_a_process(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    proc = subprocess.run([sys.executable, "-m", "machinery.store", "--store", str(tmp_path), "--clear", "--yes"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and one_line(proc.stderr).startswith("machinery/store.py: ") and proc.stdout == ""
    assert (tmp_path / "keep.txt").exists()


# a damaged result JSON is named and left out, never mixed with other results' runs

def test_a_damaged_result_is_named_set_aside_and_rebuilt_from_the_store_only(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(experiments, "QUICK", TINY)
    calls = training_counter(monkeypatch)
    out, st = tmp_path / "o", tmp_path / "s"
    args = ["--quick", "--workers", "1", "--device", "cpu", "--out", str(out), "--store", str(st)]
    assert source.main([*args, "pt_main"]) == 0
    good = json.loads((out / "pt_main.json").read_text())
    (out / "copy.json").write_text((out / "pt_main.json").read_text())  # another result holding the same runs
    truncated = (out / "pt_main.json").read_text()[:500]
    (out / "pt_main.json").write_text(truncated)
    (out / "cells.json").write_text("{}")  # damaged too, but not run now
    store_cli.clear(st)  # a fresh clone: only the JSONs
    calls.clear()
    capsys.readouterr()
    assert source.main([*args, "pt_main"]) == 0
    err = capsys.readouterr().err
    assert f"[pt_main] {out / 'pt_main.json'} is damaged (not valid JSON): set aside as pt_main.json.damaged" in err
    assert f"[cells] {out / 'cells.json'} is damaged (no \"config\" with its runs): set aside as " \
           "cells.json.damaged and left out of the report" in err
    assert calls == [s for _ in good["series"] for s in good["config"]["seeds"]]  # retrained, not from copy.json
    assert (out / "pt_main.json.damaged").read_text() == truncated
    new = json.loads((out / "pt_main.json").read_text())
    assert [s["loss"] for s in new["series"]] == [s["loss"] for s in good["series"]]
    assert not (out / "cells.json").exists() and (out / "cells.json.damaged").read_text() == "{}"


def committed_lr(tmp_path, monkeypatch):
    """source.OUT_DIR made a tmp plots/ holding a committed two-seed lr result (two tiny runs per seed)."""
    plots = tmp_path / "plots"
    monkeypatch.setattr(source, "OUT_DIR", plots)
    monkeypatch.setattr(experiments, "CLAIM_SEEDS", 2)  # lr is a claim experiment: its plan's seeds
    monkeypatch.setattr(experiments, "LR_VALUES", [0.01])
    monkeypatch.setattr(experiments, "LR_SCHEDULE", {"lr": 0.01, "milestones": [50], "gamma": 0.5})
    monkeypatch.setattr(experiments, "LR_STEPS", 100)
    common = ["--workers", "1", "--device", "cpu", "lr"]
    assert source.main(["--store", str(tmp_path / "store"), *common]) == 0
    return plots, common, {p.name: p.read_bytes() for p in plots.iterdir() if p.is_file()}


def test_fewer_seeds_leave_the_committed_results_untouched(tmp_path, monkeypatch, capsys):
    from test_study import count_training

    plots, common, before = committed_lr(tmp_path, monkeypatch)
    capsys.readouterr()
    trained = count_training(monkeypatch, "lr")
    assert source.main(["--seeds", "1", "--store", str(tmp_path / "store"), *common]) == 0
    assert {p.name: p.read_bytes() for p in plots.iterdir() if p.is_file()} == before  # plots/lr.json, README.md
    err = capsys.readouterr().err
    assert "--seeds 1: results go to plots/variants/seeds-1/, not plots/" in err and err.count("plots/variants") == 1
    variant = json.loads((plots / "variants" / "seeds-1" / "lr.json").read_text())
    assert variant["config"]["seeds"] == [0] and trained == []  # served from the committed runs
    assert (plots / "variants" / "seeds-1" / "README.md").exists()
    assert source.main(["--seeds", "1", "--force", "--store", str(tmp_path / "store"), *common]) == 0  # asked for
    assert json.loads((plots / "lr.json").read_text())["config"]["seeds"] == [0]


def test_an_out_run_is_served_by_the_committed_results_and_leaves_them_untouched(tmp_path, monkeypatch):
    from test_study import count_training

    plots, common, before = committed_lr(tmp_path, monkeypatch)
    trained = count_training(monkeypatch, "lr")
    elsewhere = tmp_path / "elsewhere"
    assert source.main(["--out", str(elsewhere), "--store", str(tmp_path / "empty-store"), *common]) == 0
    assert trained == []  # an empty store, yet nothing retrained: the committed plots/ serve the histories
    assert {p.name: p.read_bytes() for p in plots.iterdir() if p.is_file()} == before
    made, committed = (json.loads((d / "lr.json").read_text()) for d in (elsewhere, plots))
    assert made["series"] == committed["series"]
    assert made["wall_seconds"] == committed["wall_seconds"] and made["runs_trained"] == 0  # what training cost
    lines, _ = store_cli.summary(tmp_path / "empty-store", plots)  # what can serve runs: the committed results too
    n = sum(len(s["seeds"]) for s in committed["series"])
    assert f"results in {plots}: {n} runs of the current code serve histories" in lines[4]


def test_a_run_that_must_train_says_why_and_reports_each_finished_run_off_a_terminal(tmp_path, monkeypatch, capsys):
    """Histories served by the committed results but no weights for a measurement: one line says so and how many
    runs retrain; off a terminal (pytest's capture is none) each finished run gets a line."""
    monkeypatch.setattr(experiments, "QUICK", TINY)
    monkeypatch.setattr(experiments, "LENGTH_CELLS", [("rnn", "tanh")])
    common = ["--quick", "--workers", "1", "--device", "cpu", "--out", str(tmp_path / "o"), "carry_chains"]
    assert source.main(["--store", str(tmp_path / "s1"), *common]) == 0
    out, err = capsys.readouterr()
    assert "[carry_chains] 2 runs not trained before: training them" in out
    assert "[carry_chains] 1/2 done: rnn/tanh, seed" in err and "[carry_chains] 2/2 done" in err
    monkeypatch.setattr(experiments, "CHAIN_SUMS", experiments.CHAIN_SUMS + 1)  # a new measurement of the same runs
    assert source.main(["--store", str(tmp_path / "s2"), *common]) == 0  # an empty store: no weights to measure
    out = capsys.readouterr().out
    assert "[carry_chains] weights are not in the repository or the store: retraining 2 runs for carry_chains" in out
