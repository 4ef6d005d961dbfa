"""The floor of the frontier: the 2-unit adder built by constructed.py's rule, checked against an independent
computation of the rule (Python floats) and Python integers, and proven by both checkers from its certificate."""
import math

import numpy as np
import pytest
import torch

import add
from proof import abstraction, certificate, constructed, proof, recheck


def rule():
    """The rule of the issue, computed again here in Python floats: {tensor name: nested lists}."""
    a, b, lam, k = 0.1, -0.95, 40.0, 100.0

    def h_s(s):
        return math.tanh(a * s + b)

    B, c = [0.0], [0.0]
    for d in range(9):
        B.append(B[-1] + k * (h_s(d + 0.75) - h_s(10 + d + 0.75)) / 2)
        c.append(c[-1] - k * (h_s(d + 0.75) + h_s(10 + d + 0.75)) / 2)
    return {"embed.weight": [[float(d)] for d in range(10)], "rnn.weight_ih_l0": [[a, a], [lam, lam]],
            "rnn.weight_hh_l0": [[0.0, a / 2], [0.0, lam / 2]], "rnn.bias_ih_l0": [a / 2 + b, lam / 2 - 9.75 * lam],
            "rnn.bias_hh_l0": [0.0, 0.0], "out.weight": [[k * d, B[d]] for d in range(10)], "out.bias": c}


def test_the_model_is_the_rule_rounded_once_to_float32():
    model = constructed.build()
    for name, want in rule().items():
        assert torch.equal(model.state_dict()[name], torch.tensor(want, dtype=torch.float64).float()), name
    assert sum(p.numel() for p in model.parameters()) == 52


def test_its_digits_are_right_on_every_sum_of_up_to_three_digits():
    model = constructed.build()
    a, b = np.divmod(np.arange(10**6), 1000)
    n1 = np.stack([a % 10, a // 10 % 10, a // 100, 0 * a], 1)
    n2 = np.stack([b % 10, b // 10 % 10, b // 100, 0 * b], 1)
    with torch.no_grad():
        got = model(torch.from_numpy(n1), torch.from_numpy(n2)).argmax(-1).numpy()
    total = a + b
    want = np.stack([total // 10**i % 10 for i in range(4)], 1)
    assert (got == want).all()


def test_both_checkers_prove_it_and_add_py_adds_with_it(tmp_path, capsys):
    path = tmp_path / constructed.CERTIFICATE
    got, out = constructed.write_certificate(tmp_path)
    assert got == path and out["proven"] and out["proof_check"] and out["recheck"] and out["min_margin_bound"] > 1
    assert certificate.main([str(path)]) == 0 and "origin constructed" in capsys.readouterr().out
    assert add.main(["9" * 1000, "1", "--certificate", str(path)]) == 0
    assert "exact: all 1,001 digits right" in capsys.readouterr().out
    stamp = path.stat().st_mtime_ns
    assert constructed.write_certificate(tmp_path)[0] == path and path.stat().st_mtime_ns == stamp  # kept as it is


def test_the_shipped_certificate_holds_the_built_model():
    path = add.CERTIFICATE.parent / constructed.CERTIFICATE
    if not path.exists():
        pytest.skip("no shipped constructed certificate")
    out = certificate.verify(path)
    assert out["proven"] and out["meta"]["origin"] == "constructed" and out["meta"]["targets"] == []
    loaded = certificate.load_model(path)
    for name, v in constructed.build().state_dict().items():
        assert torch.equal(loaded.state_dict()[name], v)


def test_a_padded_dead_unit_gets_the_same_verdict_from_both_checkers():
    """The 2-unit adder with a third unit whose weights are all zero: the dead unit's state is 0 up to the rounding
    allowances, and its box ends, rounded outward, lie beyond 1e-6; both checkers prove it (before outward rounding,
    proof.check accepted ends of exactly 1e-6 that recheck refused). Boxes with exactly 1e-6 are refused by both."""
    base = constructed.build()
    model = certificate.myPTRNNModel(certificate.ModelConfig(**{**base.cfg.to_dict(), "hidden_size": 3})).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for name, p in base.state_dict().items():
            model.state_dict()[name][tuple(slice(0, n) for n in p.shape)] = p
    net = abstraction.extract(model)
    lo, hi, _, closed, _ = proof.search(net, m=1)
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    assert closed and (lo[:, 0, 2] < -1e-6).all() and (hi[:, 0, 2] > 1e-6).all()
    assert proof.check(net, lo, hi, m=1)["proven"] and recheck.check(model.cfg.to_dict(), weights, 1, lo, hi)
    lo[:, 0, 2], hi[:, 0, 2] = -1e-6, 1e-6
    assert not proof.check(net, lo, hi, m=1)["proven"]
    assert not recheck.check(model.cfg.to_dict(), weights, 1, lo, hi)
