"""source.py's command line: odd input refused in one line with exit 2 before anything trains, --help and --list
that say what each option and experiment is, a SIGTERM'd run that stops as a Ctrl-C'd one does."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import experiments
import source
from judge import tables
from machinery import runner as machinery_runner

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_training(monkeypatch):
    """Refused input must be refused before anything trains: a run started here fails the test."""
    monkeypatch.setattr(source.Runner, "run", lambda *a, **k: pytest.fail("refused input trained"))


def refused(capsys, *argv):
    """source.main's exit code and its whole stderr, which must be one line."""
    code = source.main(list(argv))
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return code, err


@pytest.mark.parametrize("flag", ["--seeds", "--workers"])
@pytest.mark.parametrize("value", ["0", "-3"])
def test_a_count_below_one_names_its_own_flag(capsys, no_training, flag, value):
    code, err = refused(capsys, flag, value, "pt_main")
    other = {"--seeds": "--workers", "--workers": "--seeds"}[flag]
    assert code == 2 and err == f"{flag} must be an integer >= 1, got {value}" and other not in err


def test_list_with_an_unknown_word_is_refused(capsys):
    code, err = refused(capsys, "--list", "extra")
    assert code == 2 and err.startswith("unknown experiment id(s): extra; valid ids: pt_main")


def test_list_gives_one_line_per_experiment_with_what_it_measures(capsys):
    assert source.main(["--list"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [r.split()[0] for r in rows] == list(experiments.EXPERIMENTS)
    for eid, row in zip(experiments.EXPERIMENTS, rows, strict=True):
        assert machinery_runner.planned(eid)["title"] in row  # the id, then its title (and the plain charts' quantity)
    assert source.main(["--list", "cells", "lr"]) == 0  # only the ids named, in the order named
    assert [r.split()[0] for r in capsys.readouterr().out.splitlines()] == ["cells", "lr"]


@pytest.mark.parametrize("where", ["under_a_file", "proc"])
def test_an_out_folder_that_cannot_be_made_is_one_line(capsys, tmp_path, no_training, where):
    if where == "proc" and not Path("/proc/self").is_dir():
        pytest.skip("no /proc on this system")
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "sub" if where == "under_a_file" else Path("/proc/nope")
    code, err = refused(capsys, "--out", str(out), "--store", str(tmp_path / "store"), "pt_main")
    assert code == 2 and err.startswith(f"--out {out}: cannot make this folder (") and "give a folder" in err


def test_help_gives_each_options_default_and_no_unmeasured_time(capsys):
    with pytest.raises(SystemExit):
        source.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines: compare with single spaces
    options = text.split("options:", 1)[1]
    assert "--device {auto,cpu,cuda} where runs train" in options and "(default: auto)" in options
    assert "(default: 0)" in options  # --gpus-per-run: a default argparse knows is shown without its help saying it
    for flag in ("--seeds", "--workers", "--out", "--store", "--numerics"):
        help_text = options.split(flag, 1)[1].split(" --", 1)[0]
        assert "default" in help_text, flag
    assert not any(unit in text for unit in (" minute", " seconds", " s on ")), "a time that was not measured here"


def test_console_summary_says_what_its_numbers_are():
    series = {"label": "lr=0.1", "seeds": [0, 1, 2, 3, 4], "first_exact": [None, 40, None, 60, None],
              "diverged": [False] * 5, "sec_per_step": [0.001] * 5, "steps": [20, 40, 60]}
    line = tables.summary_line({"id": "lr", "series": [series]})
    assert line.startswith(tables.FIRST_EXACT_WORDS + ": ")
    assert "median first step at held-out exact-match accuracy 1.0 (seeds reaching it/seeds)" in line
    assert line.endswith("lr=0.1: never (2/5)")  # 3 of 5 seeds never reached it: the median seed did not


def test_sigterm_stops_a_run_as_ctrl_c_does(tmp_path):
    """SIGTERM while the pool's workers train: the workers are ended and the run stops in one line, exit 143
    (128 + SIGTERM, as a shell reports a process SIGTERM ended; Ctrl-C's is 130), no worker traceback, no leaked
    semaphore; the runs finished before it stay in the store."""
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "source.py", "--quick", "--workers", "2", "--seeds", "10", "--device",
                             "cpu", "--store", str(store), "--out", str(tmp_path / "out"), "cells"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list((store / "runs").glob("*/*.lock")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)  # until a worker has started a run
        assert proc.poll() is None, "the run ended before it could be stopped"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)  # until every child (the resource tracker too) closed stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, err
    assert err.strip() == f"terminated (SIGTERM) in [cells]: finished runs are kept in {store}; rerun to resume"
