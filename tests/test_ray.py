"""The Ray backend (cluster.py) on one local Ray instance with 2 CPUs, started once for this module.

Results equal serial ones bitwise; the code reaches workers as Ray's working_dir; a worker that dies is
retried, then reported by name; Ctrl-C cancels what runs; --ray without Ray is a one-line error.
"""
import json
import os
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY, quick_runs
from test_parallel import small_plan

import experiments
import source
from machinery import cluster
from machinery import runner as machinery_runner
from machinery.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray():
    """One local Ray instance (2 CPUs, the project shipped as working_dir) for every test here."""
    pytest.importorskip("ray")
    ray = cluster.connect("local", num_cpus=2)
    yield ray
    ray.shutdown()


def fields(hists):
    return {k: [h[f] for f in ("loss", "accuracy", "digit_accuracy", "first_exact")] for k, h in hists.items()}


def test_ray_results_equal_serial_and_driver_stores_them(ray, tmp_path):
    plan, seeds = small_plan(), [0, 1]
    serial, _ = machinery_runner.Runner("cpu", 1, Store(tmp_path / "serial")).run("t", plan, seeds, stop_at_exact=False)
    store = Store(tmp_path / "ray")
    runner = machinery_runner.Runner("cpu", 2, store, cluster.RayPool(ray))
    on_ray, _ = runner.run("t", plan, seeds, stop_at_exact=False)
    runner.close()
    assert runner.trained == 4 and fields(on_ray) == fields(serial)
    for run in plan["runs"]:  # the driver wrote every run, weights included, into its own store
        for s in seeds:
            req = machinery_runner.request(run, s, "cpu", False)
            assert store.history(req)[1] and store.weights(req)


def test_code_reaches_workers_as_working_dir(ray):
    where = ray.get(ray.remote(lambda: (os.getcwd(), __import__("source").__file__)).remote())
    assert Path(where[1]).parent == Path(where[0]) != ROOT  # Ray's unpacked copy, not this checkout
    assert not (Path(where[0]) / "plots").exists() and (Path(where[0]) / "train.py").exists()


def test_ctrl_c_cancels_tasks_and_keeps_finished_runs(ray, tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "QUICK", TINY)
    real, calls = cluster.RayPool._next_done, []

    def interrupted(self):  # Ctrl-C while waiting for no_rnn's second run: its first is done
        calls.append(1)
        if len(calls) == quick_runs("pt_main") + 2:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(cluster.RayPool, "_next_done", interrupted)
    argv = ["--ray", "--quick", "--out", str(tmp_path), "--store", str(tmp_path / "store"), "pt_main", "no_rnn"]
    assert source.main(argv) == 130
    assert {p.name for p in tmp_path.glob("*.json")} == {"pt_main.json"}
    assert json.loads((tmp_path / "pt_main.json").read_text())["runs_trained"] == quick_runs("pt_main")
    runs = list((tmp_path / "store" / "runs").glob("*/*.json"))
    assert len(runs) == quick_runs("pt_main") + 1  # pt_main's and no_rnn's finished one
    # The cancelled tasks give their CPUs back: Ray's resource view lags and can dip for a moment while the
    # cancellations land (seen on a loaded machine), so wait for two reads a second apart that both say 2.
    deadline, reads = time.time() + 120, [0]
    while reads[-2:] != [2, 2] and time.time() < deadline:
        time.sleep(1)
        reads.append(ray.available_resources().get("CPU", 0))
    assert reads[-2:] == [2, 2], reads


def test_dead_worker_is_retried_then_reported_by_name(ray, tmp_path, monkeypatch):
    marker = tmp_path / "crashed_once"

    def dying(item):  # sent by value: seed 0 dies on its first try only, seed 1 on every try
        if item[1]["req"]["seed"] == 1 or not marker.exists():
            marker.touch()
            os._exit(3)
        from machinery.runner import indexed_job  # here: a dying worker need not import torch

        return indexed_job(item)

    monkeypatch.setattr(machinery_runner, "indexed_job", dying)
    monkeypatch.setattr(cluster, "MAX_RETRIES", 1)
    plan, store = {"title": "t", "runs": small_plan()["runs"][:1]}, Store(tmp_path / "store")
    runner = machinery_runner.Runner("cpu", 2, store, cluster.RayPool(ray))
    with pytest.raises(cluster.TaskFailed) as err:
        runner.run("t", plan, [0, 1], stop_at_exact=False)
    assert str(err.value) == "run a, seed 1 failed: its worker process died on each of 2 tries (WorkerCrashedError)"
    stored = [store.history(machinery_runner.request(plan["runs"][0], s, "cpu", False))[0] is not None for s in (0, 1)]
    assert stored == [True, False]  # seed 0's retry finished and was stored


def test_gpus_per_run_without_gpus_is_an_error_not_a_hang(ray):
    if ray.cluster_resources().get("GPU"):
        pytest.skip("this machine's Ray instance has GPUs")
    with pytest.raises(cluster.ClusterError, match="--gpus-per-run 0.25: the Ray cluster has no GPU"):
        cluster.RayPool(ray, gpus_per_run=0.25)
    assert cluster.RayPool(ray).slots == 2


def test_ray_not_installed_is_a_one_line_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    assert source.main(["--ray", "--out", str(tmp_path), "--store", str(tmp_path), "pt_main"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install ray" in err
    assert not list(tmp_path.iterdir())  # nothing ran


def test_ray_flag_before_ids_and_addresses():
    args = source.parse_args(["--ray", "pt_main", "lr"])
    assert cluster.check_arguments(args, ["pt_main", "lr"]) is None and (args.ray, args.ids) == ("", ["pt_main", "lr"])
    args = source.parse_args(["--ray", "10.0.0.1:6379", "lr"])
    assert cluster.check_arguments(args, ["pt_main", "lr"]) is None and args.ray == "10.0.0.1:6379"
    assert "needs --ray" in cluster.check_arguments(source.parse_args(["--gpus-per-run", "0.5"]), [])
