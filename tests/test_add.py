"""add.py: the trained adder on a user's numbers, checked against Python integers; bad input exits 2."""
import random
import subprocess
import sys
from pathlib import Path

import pytest

import add

ROOT = Path(__file__).resolve().parents[1]


def lines(capsys):
    out = capsys.readouterr().out.splitlines()
    return {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in out if ":" in line}


def check_against_python(fields, a, b):
    """The printed true sum is Python's; the wrong positions are exactly where the model's answer differs."""
    truth = str(a + b)
    assert fields["true"] == truth
    model = fields["model"].zfill(len(truth) + 1)[-(len(truth) + 1):][::-1]  # LSB first, one digit per position
    expect = [i for i, (m, t) in enumerate(zip(model, truth.zfill(len(model))[::-1], strict=True)) if m != t]
    if not expect:
        assert fields["exact"].startswith("all")
    else:
        assert fields["wrong"].startswith(f"{len(expect):,} of")
        listed = fields["wrong"].split("at positions ")[1].split(" (")[0].split(", ")
        assert [int(p) for p in listed if p != "..."] == expect[:20]


def test_exact_sum_of_two_20000_digit_numbers(capsys):
    sys.set_int_max_str_digits(0)
    rng = random.Random(5)
    a, b = rng.getrandbits(66_500), rng.getrandbits(66_500)  # about 20,000 digits each
    a, b = int(str(a)[:20_000]), int(str(b)[:20_000])
    assert add.main([str(a), str(b), "--full"]) == 0  # seed 0 of the default recipe is exact on random sums
    check_against_python(lines(capsys), a, b)


def test_wrong_digits_are_reported_where_they_are(capsys, tmp_path):
    a, b = 10**1000 - 1, 1  # a 1,000-digit carry chain: a model trained on 2-digit sums drops it (trained in seconds)
    (tmp_path / "n.txt").write_text(f"{a}\n{b}\n")
    code = add.main(["--file", str(tmp_path / "n.txt"), "--full", "--chain-fraction", "0", "--maxlen", "2"])
    fields = lines(capsys)
    check_against_python(fields, a, b)
    assert code == (0 if "exact" in fields else 1)


def test_default_model_is_the_proven_one_and_adds_the_readme_example(capsys):
    assert add.main(["99999999999999999999", "1"]) == 0  # the README's example: a 20-digit carry chain
    out = capsys.readouterr().out
    fields = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in out.splitlines() if ":" in line}
    check_against_python(fields, 99999999999999999999, 1)
    if add.CERTIFICATE.exists():  # the study's certificate, re-checked at every call
        assert "proven exact at every length" in out
    else:
        assert f"{add.ADDER_CHAIN_FRACTION:g} of each batch rich in carry chains" in out and "not proven" in out


def test_a_certificate_is_used_and_rechecked_and_a_store_option_picks_a_store_model(capsys, tmp_path):
    from test_exact import hand_adder

    from proof import certificate

    path = tmp_path / "hand.npz"
    assert certificate.prove(hand_adder(), path, origin="constructed", targets=[], max_iter=50)["proven"]
    a, b = 10**300 - 1, 1
    assert add.main([str(a), str(b), "--certificate", str(path), "--full"]) == 0
    out = capsys.readouterr().out
    check_against_python(lines_of(out), a, b)
    assert "a certificate you supplied" in out and "proven by both checkers" in out and str(path) in out
    assert "proven exact at every length" not in out  # said of the certificate this repository ships alone
    path.write_bytes(path.read_bytes()[:200])  # damaged: one line, exit 2
    assert add.main(["1", "2", "--certificate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a readable certificate" in err
    assert add.main(["12", "30", "--certificate", str(path), "--maxlen", "1"]) == 2  # two models named: refused
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--certificate picks a proven model, --maxlen a store model" in err
    add.main(["12", "30", "--maxlen", "1"])  # a store model (1-digit, trained in seconds)
    out = capsys.readouterr().out
    assert "not proven" in out and "trained on 1-digit sums" in out


def test_a_proven_model_runs_on_the_cpu_whatever_the_device(capsys, monkeypatch):
    """The proof covers float32 with the CPU's tanh (measured): asked for CUDA, add.py still runs it on the CPU."""
    if not add.CERTIFICATE.exists():
        pytest.skip("no shipped certificate")
    monkeypatch.setattr(add, "resolve_device", lambda device: "cuda")  # as on a machine with a GPU
    assert add.main(["12", "34"]) == 0
    out = capsys.readouterr().out
    assert "proven exact at every length" in out and "run on the CPU, which the proof covers, not on cuda" in out
    assert out.rstrip().endswith("on cpu")
    monkeypatch.setattr(add.numerics, "mode", lambda: "native")  # kernels the tanh measurement did not cover
    assert add.main(["12", "34"]) == 0
    out = capsys.readouterr().out
    assert "proven exact at every length" not in out and "whose tanh was not measured" in out


def lines_of(out):
    return {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in out.splitlines() if ":" in line}


@pytest.mark.parametrize("args, message", [
    (["-5", "3"], "'-' is not a digit"),
    (["12a", "3"], "'a' is not a digit"),
    (["", "3"], "first number is empty"),
    (["1"], "expected two numbers, got 1"),
    (["1", "2", "--file", "x"], "either as arguments or with --file"),
    (["1", "2", "--maxlen", "0"], "--maxlen must be >= 1"),
    (["1", "2", "--chain-fraction", "1.5"], "--chain-fraction must be in [0, 1], got 1.5"),
    (["12", "34", "--certificate", "/nonexistent.npz"], "--certificate /nonexistent.npz does not exist"),
    (["1", "2", "--certificate", "x.npz", "--cell", "lstm", "--seed", "1"],
     "--certificate picks a proven model, --cell, --seed a store model: give either --certificate or the store-model "
     "options (--cell, --nonlinearity, --maxlen, --chain-fraction, --seed), not both"),
    (["1", "2", "--cell", "lstm", "--nonlinearity", "relu"],
     "--nonlinearity relu applies to --cell rnn only, not --cell lstm"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, capsys, monkeypatch):
    monkeypatch.setattr(add, "train_run", lambda *a, **k: pytest.fail("bad input trained a model"))
    assert add.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and err.startswith("add.py: ")


def test_cli_reads_stdin_and_rejects_a_minus_sign():
    proc = subprocess.run([sys.executable, "add.py", "--file", "-"], input="12 x5", cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip() == \
        "add.py: second number 'x5' is not a non-negative integer: 'x' is not a digit 0-9"
