"""Hardening (adversarial fine-tuning) and the saturation term, checked against Python integers and the model's own
forward; the per-seed verdicts on synthetic measurements; the certificate the report keeps of the smallest proven
model; and the committed certificate, re-verified from the file alone."""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from test_exact import hand_adder, small_rnn

from data import LEADING_DIGITS, digits_to_ints
from measures.exact import harden, verdicts
from measures.exact.evaluate import certificate_text, exact_eval
from proof import certificate
from train import fine_tune, train_run

ROOT = Path(__file__).resolve().parents[1]


def carry_into(a_int, b_int, t):
    return int(a_int % 10**t + b_int % 10**t >= 10**t)


def test_nine_run_batch_holds_runs_with_no_carry_in_and_stays_in_the_training_split():
    rng = np.random.default_rng(0)
    num1, num2, result = harden.nine_run_batch(300, 10, rng)
    a, b, r = digits_to_ints(num1), digits_to_ints(num2), digits_to_ints(result)
    assert [x + y for x, y in zip(a, b, strict=True)] == r
    low, high = LEADING_DIGITS["train"]
    assert ((num1[:, 9] >= low) & (num1[:, 9] < high) & (num2[:, 9] < high)).all()
    assert not harden.in_test_range(num1, num2, 10).any()
    for i in range(300):  # every row has a run of 9-pairs (maximal) with no carry coming into it; a random row
        nine = (num1[i, :9] + num2[i, :9]) == 9  # would have one in about 3 of 10 rows
        starts = [t for t in range(9) if nine[t] and (t == 0 or not nine[t - 1])]
        assert any(carry_into(a[i], b[i], t) == 0 for t in starts)


def test_in_test_range_is_the_held_out_range_of_python_integers():
    rng = np.random.default_rng(1)
    for length in (10, 12, 30):
        num1 = np.zeros((400, length + 1), np.int64)
        num2 = np.zeros_like(num1)
        digits = rng.integers(1, 11, 400)  # operands of 1..10 digits: some in the 10-digit test range, most not
        for i, d in enumerate(digits):
            num1[i, :d], num2[i, : rng.integers(1, 11)] = rng.integers(0, 10, d), 9
            num1[i, d - 1] = rng.integers(0, 10)
        test = lambda x: 5 * 10**9 <= x < 10**10  # noqa: E731
        want = [test(x) and test(y) for x, y in zip(digits_to_ints(num1), digits_to_ints(num2), strict=True)]
        assert harden.in_test_range(num1, num2, 10).tolist() == want


@pytest.mark.parametrize("layers", [1, 2])
def test_layer_states_are_the_models_own_states(layers):
    model = small_rnn(layers=layers, seed=0)
    a, b = torch.randint(0, 10, (5, 12)), torch.randint(0, 10, (5, 12))
    states = model.layer_states(a, b)
    y, _ = model.run(a, b, model.initial_state(5))
    assert len(states) == layers and states[-1].shape == (5, 12, 8)
    torch.testing.assert_close(states[-1], y, atol=1e-5, rtol=0)


def test_saturation_term_drives_the_units_towards_one():
    model = small_rnn(seed=1)
    a, b = torch.randint(0, 10, (50, 11)), torch.randint(0, 10, (50, 11))

    def unsaturated():
        with torch.no_grad():
            return float((1 - model.layer_states(a, b)[0] ** 2).mean())

    before = unsaturated()
    losses = fine_tune(model, lambda g: harden.nine_run_batch(50, 10, g), 40, 0.01, saturation=5.0)
    assert len(losses) == 40 and unsaturated() < before / 2
    relu = small_rnn("relu")
    with pytest.raises(ValueError, match="tanh"):
        fine_tune(relu, lambda g: harden.nine_run_batch(5, 10, g), 1, 0.01, saturation=1.0)


def test_harden_fine_tunes_a_copy_on_windows_outside_the_test_range():
    _, model, _ = train_run({"cell": "rnn", "nonlinearity": "tanh", "hidden_mode": "none", "num_layers": 1,
                          "hidden_size": 16}, maxlen=5, steps=60, lr=0.01, seed=0, eval_every=60)
    before = copy.deepcopy(model.state_dict())
    settings = {"rounds": 2, "steps": 10, "lr": 0.001, "candidates": 200, "length": 61, "batch": 100, "elite": 10}
    suite = {"lengths": [60], "chains": [3], "chain_sums": 2, "gain_sums": 2, "random_sums": 2, "long_random": 1,
             "short_lengths": [10], "all_digits": 2}
    out = exact_eval(model, None, {"train": {"maxlen": 5}}, 1, suite=suite, harden=settings)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # the stored run is untouched
    h = out["harden"]
    assert [r["round"] for r in h["rounds"]] == list(range(len(h["rounds"]))) and 1 <= len(h["rounds"]) <= 3
    assert h["rounds"][0]["margin"] <= 0  # a half-trained model: the first attack finds failures...
    assert h["windows"] > 0 and 0 <= h["accuracy"] <= 1  # ... and the windows around them were trained on
    again = harden.harden(copy.deepcopy(model), 1, 5, **settings)  # the same rounds again: deterministic
    assert [r["margin"] for r in again["rounds"]] == [r["margin"] for r in h["rounds"]]


def seed_result(proven=False, passed=True, attack_failures=0, suite_digits=None, attack_digits=None):
    suite = {"passed": passed, "shortest_failure": None if suite_digits is None else {"digits": suite_digits}}
    e = {"suite": suite}
    if attack_digits is not None or attack_failures:
        e["attack"] = {"failures": attack_failures, "candidates": 10, "length": 100,
                       "shortest_failure": None if attack_digits is None else {"digits": attack_digits}}
    if proven is not None:
        e["proof"] = {"proven": proven}
    return e


def test_verdicts_name_proven_no_failure_found_and_failing():
    es = [seed_result(proven=True), seed_result(proven=False), seed_result(passed=False, suite_digits=7),
          seed_result(proven=None, attack_failures=3, attack_digits=12)]
    assert [verdicts.verdict(e) for e in es] == ["proven", "no failure found", "failing", "failing"]
    s = {"extra": es}
    assert verdicts.counts(s) == {"proven": 1, "no failure found": 1, "failing": 2}
    assert verdicts.smallest_failing(s) == 7
    assert verdicts.smallest_failing({"extra": es[:2]}) is None
    both = seed_result(passed=False, suite_digits=9, attack_failures=1, attack_digits=5)
    assert verdicts.shortest_failure(both)["digits"] == 5


def hand_result(proven=True):
    model = hand_adder()
    settings = {**model.cfg.to_dict(), "maxlen": 10}
    proof = {"proven": proven, "min_margin_bound": 1.0, "weights": certificate.weights_text(model),
             "certificate": certificate_text(model, {"m": 1, "max_iter": 50, "budget_s": 600}, {"series": "hand"})
             if proven else None}
    return {"series": [{"label": "hand", "settings": settings, "seeds": [0], "extra": [{"suite": {"passed": True},
                                                                                        "proof": proof}]}],
            "config": {"runs": [{"after": {"args": {"proof": {"m": 1, "max_iter": 50, "budget_s": 600}}}}]}}


def test_write_certificate_keeps_the_smallest_proven_model_and_sets_a_stale_one_aside(tmp_path, monkeypatch):
    result = hand_result()  # the hook made the certificate; the writer proves nothing
    monkeypatch.setattr(certificate, "prove", lambda *a, **k: pytest.fail("the writer searched for a proof"))
    path = verdicts.write_certificate(result, tmp_path)
    v = certificate.verify(path)
    assert v["proven"] and v["meta"]["series"] == "hand"
    stamp = path.stat().st_mtime_ns
    assert verdicts.write_certificate(result, tmp_path) == path
    assert path.stat().st_mtime_ns == stamp  # the same proven model: the file is left as it is
    assert verdicts.write_certificate(hand_result(proven=False), tmp_path) is None
    assert not path.exists() and (tmp_path / (verdicts.CERTIFICATE + ".stale")).exists()


def test_every_proven_seed_gets_a_certificate_both_checkers_accept(tmp_path):
    written = verdicts.write_certificates(hand_result(), tmp_path)
    path = tmp_path / verdicts.FOLDER / "hand_seed0.npz"
    assert written == {("hand", 0): path}
    v = certificate.verify(path)
    assert v["proven"] and v["proof_check"] and v["recheck"] and v["meta"]["origin"] == "trained"
    assert verdicts.write_certificates(hand_result(proven=False), tmp_path / "none") == {}


def test_the_committed_certificate_proves_its_model_from_the_file_alone():
    path = ROOT / "plots" / verdicts.CERTIFICATE
    if not (ROOT / "plots" / "exact_adder.json").exists():
        pytest.skip("no committed exact_adder result")
    out = certificate.verify(path)
    assert out["proven"] and out["transitions_certified"] == out["transitions"]
    assert out["outputs_certified"] == out["reached"] and out["min_margin_bound"] > 0
    model = certificate.load_model(path)  # and the model it holds adds: a few long sums against Python ints
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 10, (4, 300)), rng.integers(0, 10, (4, 300))
    a[:, -1] = b[:, -1] = 0
    with torch.no_grad():
        y, _ = model.run(torch.from_numpy(a), torch.from_numpy(b), model.initial_state(4))
        got = model.out(y).argmax(-1).numpy()
    assert digits_to_ints(got) == [x + y for x, y in zip(digits_to_ints(a), digits_to_ints(b), strict=True)]
