"""Numerics that do not depend on the CPU, and code fingerprints that are complete and consistent.

The portable kernels are checked in this process (conftest imports numerics before torch), a committed
result is retrained and compared bitwise (so a machine whose kernels differ is told), and the code
fingerprint is checked against edits: of a hook's helper module (re-measure, no retraining), of a
chart (nothing), and made while a run goes on (never relabels it; a worker with other code refuses).
"""
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY, copy_code, quick_runs

import experiments
import source
from machinery import codehash, fingerprint, numerics
from machinery import runner as machinery_runner
from measures import chains, length
from models import ModelConfig
from train import train_run

ROOT = Path(__file__).resolve().parents[1]


def has_avx2():
    return " avx2" in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else False


def test_portable_mode_runs_avx2_kernels_mkl_compatible_and_no_onednn():
    assert numerics.mode() == "portable" and os.environ["MKL_CBWR"] == "COMPATIBLE"
    assert os.environ["OPENBLAS_CORETYPE"] == "Haswell" and "X86_V4" in os.environ["NPY_DISABLE_CPU_FEATURES"]
    numerics.apply()
    assert not torch.backends.mkldnn.enabled  # LSTM on ATen's cell, not oneDNN's JIT kernels
    if has_avx2():
        assert torch.backends.cpu.get_cpu_capability() == "AVX2"
    described = numerics.describe()
    assert described["family"] == "portable" and described["mkl"] == "COMPATIBLE"
    assert described["probe"] == numerics.probe()  # a fixed computation: the same hash each time


def python(code, **env):
    full = {k: v for k, v in os.environ.items() if k not in (*numerics.ALL_VARS, numerics.ENV)}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**full, **env})


FAMILY = ("import json; from machinery import fingerprint as f, numerics; import torch; numerics.apply(); "
          "print(json.dumps([f.environment(), f.code_id(f.fingerprint()), numerics.describe()]))")


def test_each_mode_is_its_own_family_and_code_id(monkeypatch, capsys):
    here = fingerprint.fingerprint()
    portable = [fingerprint.environment(), fingerprint.code_id(here), numerics.describe()]  # this process
    pinned, native = (json.loads(python(FAMILY, ADDER_NUMERICS=m).stdout) for m in ("pinned", "native"))
    vendor = numerics.vendor()
    assert portable[0]["numerics"] == "portable" and pinned[0]["numerics"] == f"pinned-{vendor}"
    assert native[0]["numerics"].startswith("native-") and native[0]["numerics"].endswith(f"-{vendor}")
    assert len({portable[1], pinned[1], native[1]}) == 3  # runs of one family are never served as another's
    assert pinned[2]["mkl"] == ("AVX2" if vendor == "intel" else pinned[2]["mkl"]) and "AUTO" in native[2]["mkl"]
    assert portable[2]["probe"] != pinned[2]["probe"]  # MKL's branches differ in the last bits: the probe sees it
    monkeypatch.setenv(numerics.ENV, "fast")  # an unknown mode: one line, exit 2, from every entry point
    import add
    from machinery import store_cli

    for main in (lambda: source.main(["--list"]), lambda: add.main(["1", "2"]), lambda: store_cli.main([])):
        assert main() == 2
        err = capsys.readouterr().err
        assert err.strip().count("\n") == 0 and "'fast'" in err


def test_torch_or_numpy_loaded_first_is_refused():
    for first in ("import torch; torch.ones(3).sum()", "import numpy"):
        out = python(first + "; import train; from machinery import numerics; numerics.apply()")  # an entry point
        assert out.returncode != 0 and "NumericsError" in out.stderr and "was loaded before" in out.stderr


def test_committed_result_reproduces_bitwise_on_this_machine():
    """Retrain the first 100 steps of a committed pt_main seed and compare its curve to the JSON, bit for bit.

    Wherever this machine computes in the committed family (machinery/numerics.py: portable on any x86-64 CPU
    with AVX2): a machine of another family is told so in one line, and the test skips.
    """
    result = json.loads((ROOT / "plots" / "pt_main.json").read_text())
    if result.get("code") != fingerprint.code_id(fingerprint.fingerprint()):
        pytest.skip("plots/pt_main.json was made by other code (the report says so): regenerate it first")
    made, here = result["fingerprint"]["numerics"], numerics.family()
    probe = result.get("numerics", {}).get("probe")
    if made != here or (probe is not None and probe != numerics.probe()):
        pytest.skip(f"plots/pt_main.json was made in numerics family {made} (probe {probe}); this machine computes "
                    f"{here} (probe {numerics.probe()}): its numbers are another family's")
    series = result["series"][0]
    keys = set(ModelConfig.__dataclass_fields__)
    model = {k: v for k, v in series["settings"].items() if k in keys}
    train = {k: v for k, v in series["settings"].items() if k not in keys}
    assert not train["milestones"]  # a shorter run is then a prefix of the stored one
    hist, _, _ = train_run(ModelConfig(**model), **{**train, "steps": 100}, seed=series["seeds"][0])
    n_loss, n_eval = len(hist["loss"]), len(hist["accuracy"])
    assert n_loss >= 1 and n_eval >= 1
    assert hist["loss"] == series["loss"][0][:n_loss]
    assert hist["accuracy"] == series["accuracy"][0][:n_eval]
    assert hist["digit_accuracy"] == series["digit_accuracy"][0][:n_eval]


def test_fingerprint_keys_on_the_torch_version_without_its_build_tag(monkeypatch):
    fp = fingerprint.fingerprint()
    base = torch.__version__.split("+")[0]  # the installed version, whichever it is
    monkeypatch.setattr(torch, "__version__", base + "+cu128")
    assert fingerprint.environment()["torch"] == fp["torch"] == base


def test_a_worker_with_other_code_refuses_to_run():
    fp = fingerprint.fingerprint([chains.chain_eval])
    machinery_runner.check_code(fp, [chains.chain_eval])  # the same code: runs
    edited = copy.deepcopy(fp)
    edited["code"]["train.fit"] = "0" * 12
    with pytest.raises(machinery_runner.CodeChanged, match=r"train\.fit"):
        machinery_runner.check_code(edited, [])
    edited = copy.deepcopy(fp)
    edited["hooks"]["chain_eval"]["beyond.predict_digits"] = "0" * 12
    with pytest.raises(machinery_runner.CodeChanged, match=r"beyond\.predict_digits"):
        machinery_runner.check_code(edited, [chains.chain_eval])
    edited = copy.deepcopy(fp)
    edited["numerics"] = "native-AVX512-intel"
    with pytest.raises(machinery_runner.CodeChanged, match="numerics"):
        machinery_runner.check_code(edited, [])


@pytest.fixture
def code_copy(tmp_path, monkeypatch):
    """The project's modules copied to a folder the fingerprint reads instead (edit them to simulate an edit)."""
    dst = tmp_path / "code"
    copy_code(dst)
    monkeypatch.setattr(codehash, "ROOT", dst)
    fingerprint.reset_fingerprints()
    yield dst
    monkeypatch.undo()
    fingerprint.reset_fingerprints()


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_an_edit_during_a_run_never_relabels_it(code_copy):
    before = fingerprint.fingerprint([length.length_eval])
    edit(code_copy / "train.py", "EVAL_SIZE = 1000", "EVAL_SIZE = 999")
    edit(code_copy / "measures" / "beyond.py", "SUM_CHUNK = 250", "SUM_CHUNK = 125")
    assert fingerprint.fingerprint([length.length_eval]) == before  # this process keeps the code it started with
    fingerprint.reset_fingerprints()  # a worker started after the edit sees the new code, and refuses
    with pytest.raises(machinery_runner.CodeChanged, match=r"beyond\.SUM_CHUNK.*train\.EVAL_SIZE|train\.EVAL_SIZE"):
        machinery_runner.check_code(before, [length.length_eval])


def test_editing_a_module_a_hook_uses_remeasures_without_retraining(tmp_path, monkeypatch, code_copy, capsys):
    from test_study import count_training

    calls = count_training(monkeypatch, "maxlen")
    monkeypatch.setattr(experiments, "QUICK", TINY)
    monkeypatch.setattr(experiments, "CHAIN_KS", [0, 2])
    monkeypatch.setattr(experiments, "LENGTH_CELLS", [("rnn", "tanh")])
    args = ["--quick", "--workers", "1", "--device", "cpu", "--out", str(tmp_path / "o"), "--store",
            str(tmp_path / "s"), "carry_chains"]

    def again():
        fingerprint.reset_fingerprints()
        calls.clear()
        capsys.readouterr()
        assert source.main(args) == 0
        return json.loads((tmp_path / "o" / "carry_chains.json").read_text()), capsys.readouterr().out

    first, _ = again()
    assert len(calls) == 2 and first["measured"] == 2
    chart = "def chain_chart(result, path):"
    edit(code_copy / "measures" / "chains.py", chart, chart + "\n    _ = 0  # an edited chart")
    assert "[carry_chains] cached" in again()[1]  # a chart is not part of any measurement: nothing reruns
    edit(code_copy / "measures" / "beyond.py", "    model.eval()\n", "    model.eval()\n    _ = 0\n")  # predict_digits
    new, out = again()
    assert "changed" not in out and calls == [] and new["measured"] == 2 and new["runs_trained"] == 0
    assert new["series"][0]["extra"] == first["series"][0]["extra"]  # the same code, re-measured


def test_code_edits_retrain_only_what_they_change(tmp_path, monkeypatch, code_copy, capsys):
    """In-process: each source.main call fingerprints the copy as a fresh process would; training runs this code."""
    monkeypatch.setattr(experiments, "QUICK", TINY)
    args = ["--quick", "--workers", "1", "--device", "cpu", "--out", str(tmp_path / "o"), "--store",
            str(tmp_path / "s"), "pt_main", "no_rnn"]

    def trained():
        fingerprint.reset_fingerprints()
        capsys.readouterr()
        assert source.main(args) == 0
        out = capsys.readouterr().out
        return int(out.split("done in ")[1].split("trained ")[1].split(" of ")[0]), out

    assert trained()[0] == quick_runs("pt_main") + quick_runs("no_rnn")
    assert trained()[0] == 0
    train_py = code_copy / "train.py"
    text = train_py.read_text()
    edit(train_py, '"""The one training', '# a comment\n"""The one training')
    edit(train_py, "EVAL_SIZE = 1000  #", "EVAL_SIZE = 1000  # a comment;")
    assert trained()[0] == 0  # comments and docstrings do not count
    data_py = code_copy / "data.py"
    edit(data_py, "must be an integer, got", "has to be a whole number, not")  # a validator's message, reworded
    edit(train_py, "must be a positive finite number", "must be finite and above zero")
    edit(code_copy / "models.py", '"""The recurrent adder', '"""An edited docstring. The recurrent adder')
    assert trained()[0] == 0  # the words of an error are not what a run computes
    train_py.write_text(text)
    edit(train_py, "EVAL_SIZE = 1000", "EVAL_SIZE = 999")
    n, out = trained()
    assert n == quick_runs("pt_main") + quick_runs("no_rnn")
    assert f"[pt_main] train.EVAL_SIZE changed since {quick_runs('pt_main')} of its runs were stored: retraining them" \
        in out
    assert f"[no_rnn] train.EVAL_SIZE changed since {quick_runs('no_rnn')} of its runs were stored: retraining them" \
        in out
