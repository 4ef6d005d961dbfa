"""Fast paths give the same numbers as the straightforward ones: worker processes, early-stopped heatmaps."""
import pytest

import experiments
import plot
from machinery.runner import Runner, assemble, make_config
from machinery.store import Store


def small_plan():
    return {"title": "t", "runs": [experiments.run("a", maxlen=4, steps=60, lr=0.01, loss_every=20, eval_every=20),
                                   experiments.run("b", cell="gru", hidden_mode="none", maxlen=3, steps=40, lr=0.01,
                                                   loss_every=20, eval_every=20)]}


def test_parallel_workers_match_serial_exactly(tmp_path):
    plan, seeds = small_plan(), [0, 1]
    serial, _ = Runner("cpu", 1, Store(tmp_path / "serial")).run("t", plan, seeds, stop_at_exact=False)
    runner = Runner("cpu", 2, Store(tmp_path / "parallel"))  # its own store: it must train, not read
    try:
        parallel, _ = runner.run("t", plan, seeds, stop_at_exact=False)
    finally:
        runner.close()
    assert runner.trained == 4
    assert serial.keys() == parallel.keys()
    for key in serial:
        for field in ("loss", "accuracy", "digit_accuracy", "first_exact"):
            assert serial[key][field] == parallel[key][field], (key, field)


@pytest.fixture
def small_heatmap(monkeypatch):
    monkeypatch.setattr(experiments, "HEAT_MODE_MODES", ["none"])
    monkeypatch.setattr(experiments, "HEAT_MODE_LAYERS", [1, 2])
    monkeypatch.setattr(experiments, "HEAT_MODE_MAXLEN", 5)
    monkeypatch.setattr(experiments, "HEAT_MODE_LR", 0.01)
    monkeypatch.setattr(experiments, "HEAT_MODE_CAP", 250)
    return experiments.heat_layers_mode()


def test_early_stopped_heatmap_equals_full_runs(small_heatmap, tmp_path):
    seeds = [0, 1]
    early, _ = Runner("cpu", 1, Store(tmp_path / "early")).run("h", small_heatmap, seeds, stop_at_exact=True)
    full, _ = Runner("cpu", 1, Store(tmp_path / "full")).run("h", small_heatmap, seeds, stop_at_exact=False)
    cfg = make_config(small_heatmap, seeds)
    hm_early = plot.heatmap_cells(assemble("h", small_heatmap, cfg, seeds, early, "cpu", 0))
    hm_full = plot.heatmap_cells(assemble("h", small_heatmap, cfg, seeds, full, "cpu", 0))
    assert hm_early == hm_full
    assert any(v is not None and v < 250 for row in hm_full for v, _, _ in row)  # some cell reached 1.0 in time
    for key in early:  # the early run stopped at its first exact evaluation, the full one went on
        if full[key]["first_exact"] is not None:
            assert early[key]["steps_run"] == full[key]["first_exact"] and full[key]["steps_run"] == 250
