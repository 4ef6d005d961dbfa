"""The study pipeline (source.py): quick runs of every experiment, caching, interruption, heatmaps, CLI."""
import json
import statistics
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

import experiments
import plot
import source
from machinery import plans as machinery_plans
from machinery import runner as machinery_runner

ROOT = Path(__file__).resolve().parents[1]
from conftest import TINY, assert_drawn  # noqa: E402  (quick_results, the whole quick study, is in conftest.py)

SERIES_KEYS = {"label", "seeds", "steps", "loss", "accuracy", "digit_accuracy", "diverged", "sec_per_step"}


def count_training(monkeypatch, field):
    """A list that gets kwargs[field] of every run source.py trains (machinery_runner.train_run wrapped)."""
    calls = []
    real = machinery_runner.train_run

    def counting(*args, **kwargs):
        calls.append(kwargs[field])
        return real(*args, **kwargs)

    monkeypatch.setattr(machinery_runner, "train_run", counting)
    return calls


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(experiments, "QUICK", TINY)
    return count_training(monkeypatch, "seed")


def study(out, *ids, extra=()):
    """The quick study into `out`, with a run store of its own (out/store)."""
    return source.main(["--quick", "--workers", "1", "--device", "cpu", "--out", str(out),
                        "--store", str(out / "store"), *extra, *ids])


@pytest.mark.parametrize("eid", list(experiments.EXPERIMENTS))
def test_every_experiment_writes_png_and_json(quick_results, eid):
    assert_drawn(quick_results / f"{eid}.png")
    result = json.loads((quick_results / f"{eid}.json").read_text())
    assert result["id"] == eid and result["config"]["seeds"] == [0, 1]
    for s in result["series"]:
        assert SERIES_KEYS <= set(s)
        assert len(s["loss"]) == len(s["accuracy"]) == len(s["digit_accuracy"]) == 2
        assert all(len(c) == len(s["steps"]) for c in s["accuracy"])
    if "heatmap" not in result:  # real curves: the loss moves
        losses = [v for s in result["series"] for c in s["loss"] for v in c if v is not None]
        assert max(losses) > min(losses)


NEW = ["length_generalization", "carry_chains", "hidden_probe", "hidden_size_min", "cost_to_exact"]  # beyond the report


@pytest.mark.parametrize("eid", NEW)
def test_quick_run_of_new_experiment_writes_png_json_and_section(quick_results, eid):
    assert_drawn(quick_results / f"{eid}.png")
    result = json.loads((quick_results / f"{eid}.json").read_text())
    assert result["id"] == eid and result["config"]["seeds"] == [0, 1]
    text = (quick_results / "README.md").read_text()
    assert f"## `{eid}`" in text and f"![{eid}]({eid}.png)" in text
    if eid == "length_generalization":
        extra = result["series"][0]["extra"][0]
        assert max(extra["lengths"]) <= 100 and len(extra["accuracy"]) == len(extra["lengths"])
        assert "**Best configuration**" in text
    if eid == "cost_to_exact":
        assert "§2.3.2" in text and "back-propagat" in text


def test_report_has_every_section_and_claim(quick_results):
    text = (quick_results / "README.md").read_text()
    for eid in experiments.EXPERIMENTS:
        assert f"![{eid}]({eid}.png)" in text
    for c in range(1, 10):
        assert f"| C{c} |" in text


def test_heatmap_cells_equal_first_exact_step_of_stored_curves(quick_results):
    """Each drawn cell against an independent reading of the stored curves: "never" after every step."""
    for eid in ("heat_lr_maxlen", "heat_layers_mode"):
        result = json.loads((quick_results / f"{eid}.json").read_text())
        cells = [c for row in plot.heatmap_cells(result) for c in row]
        assert len(cells) == len(result["series"])
        for s, (value, hit, n) in zip(result["series"], cells, strict=True):
            firsts = [next((st for st, a in zip(s["steps"], c, strict=False) if a == 1.0), None)
                      for c in s["accuracy"]]
            reached = sorted(f for f in firsts if f is not None)
            ranked = reached + [None] * (len(firsts) - len(reached))
            mid = ranked[len(ranked) // 2 - 1 : len(ranked) // 2 + 1] if len(ranked) % 2 == 0 else [
                ranked[len(ranked) // 2]]
            expected = None if None in mid else statistics.mean(mid)
            assert (value, hit, n) == (expected, len(reached), len(firsts))


def test_line_chart_draws_the_mean_over_seeds():
    s = {"label": "a", "seeds": [0, 1], "diverged": [False, True], "steps": [10, 20, 30], "loss_steps": [10, 20, 30],
         "accuracy": [[0.2, 0.4, 0.8], [0.4, None, None]], "loss": [[2.0, 1.0, 0.5], [1.0, None, None]]}
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2)
    plot.line_panels({"series": [s]}, ax_loss, ax_acc)
    assert list(ax_acc.lines[0].get_ydata()) == pytest.approx([0.3, 0.4, 0.8])  # diverged seed left out
    assert list(ax_loss.lines[0].get_ydata()) == pytest.approx([1.5, 1.0, 0.5])
    assert ax_acc.lines[0].get_label() == "a  [diverged 1/2]"  # the legend's entry (line_chart puts it below)
    plt.close(fig)


def quick_runs(eid):
    """How many runs `eid` trains under --quick: its curves times the quick seeds."""
    return len(machinery_runner.planned(eid, True)["runs"]) * experiments.QUICK["seeds"]


def test_cache_skips_then_one_constant_retrains_one_then_force(tmp_path, tiny, monkeypatch):
    assert study(tmp_path, "pt_main", "no_rnn") == 0
    assert len(tiny) == quick_runs("pt_main") + quick_runs("no_rnn")
    before = (tmp_path / "pt_main.json").read_text()
    tiny.clear()
    assert study(tmp_path, "pt_main", "no_rnn") == 0
    assert tiny == [] and (tmp_path / "pt_main.json").read_text() == before
    monkeypatch.setattr(experiments, "HIDDEN_MODE_LR", 0.02)  # a constant of no_rnn only
    assert study(tmp_path, "pt_main", "no_rnn") == 0
    assert len(tiny) == quick_runs("no_rnn")
    tiny.clear()
    assert study(tmp_path, "pt_main", extra=["--force"]) == 0
    assert len(tiny) == quick_runs("pt_main")


def test_interrupted_run_keeps_finished_experiments_and_resumes(tmp_path, tiny, monkeypatch):
    real = machinery_runner.train_run

    def dies_in_no_rnn(*args, **kwargs):
        if args[0].cell == "linear":
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(machinery_runner, "train_run", dies_in_no_rnn)
    assert study(tmp_path, "pt_main", "pt_adv_main", "no_rnn", "cells") == 130
    assert {p.name for p in tmp_path.glob("*.json")} == {"pt_main.json", "pt_adv_main.json"}
    assert json.loads((tmp_path / "pt_main.json").read_text())["id"] == "pt_main"
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[0].cell)
        return real(*args, **kwargs)

    monkeypatch.setattr(machinery_runner, "train_run", counting)
    assert study(tmp_path, "pt_main", "pt_adv_main", "no_rnn", "cells") == 0
    assert sorted(set(calls)) == ["gru", "linear", "lstm", "rnn"] and len(calls) == 4 + 8  # no_rnn + cells only


def test_bad_constant_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(experiments, "LR_VALUES", [0.01, "fast"])
    with pytest.raises(ValueError, match="lr must be a positive finite number, got 'fast'"):
        experiments.lr()
    monkeypatch.setattr(experiments, "CELLS", [("rnn", "relu"), ("transformer", None)])
    with pytest.raises(ValueError, match="unknown cell 'transformer'"):
        experiments.cells()


def test_cli_unknown_id_exits_2_with_valid_ids():
    proc = subprocess.run([sys.executable, "source.py", "no_such_experiment"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert "no_such_experiment" in proc.stderr and "pt_main" in proc.stderr and "heat_lr_maxlen" in proc.stderr


def test_cli_list():
    proc = subprocess.run([sys.executable, "source.py", "--list"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and [line.split()[0] for line in proc.stdout.splitlines()] == list(
        experiments.EXPERIMENTS)


def test_exact_chart_axes_read_as_seed_counts_and_sizes(quick_results, monkeypatch, tmp_path):
    """exact_adder's bars are ticked 0..seeds (not to the room kept for notes), its size axis by the sizes drawn (16,
    32), not as 2 x 10^1."""
    from measures.exact import exact_report

    result = json.loads((quick_results / "exact_adder.json").read_text())
    figs = []
    monkeypatch.setattr(exact_report, "save", lambda fig, path, title, result=None: figs.append(fig))  # as imported
    machinery_plans.chart(machinery_runner.planned("exact_adder"))(result, tmp_path / "exact_adder.png")
    fig = figs[0]
    fig.canvas.draw()
    axes = {ax.get_title(): ax for ax in fig.axes}
    bars, sizes = axes["where each seed first fails the worst-case suite"], axes[
        "seeds passing the worst-case suite vs network size"]
    low, high = bars.get_xlim()
    ticks = [t for t in bars.get_xticks() if low <= t <= high]
    assert high > len(result["config"]["seeds"]) and max(ticks) == len(result["config"]["seeds"])
    labels = [t.get_text() for t in sizes.get_xticklabels(minor=False) + sizes.get_xticklabels(minor=True)
              if t.get_text()]
    drawn = {s["settings"]["hidden_size"] for s in result["series"]}
    assert labels and all(label.isdigit() and int(label) in drawn for label in labels)
    plt.close(fig)
