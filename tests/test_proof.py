"""The proof's float32 bound (underflow, TF32), its batched images, deeper contexts, and the certificate file: a
hand-built adder's certificate round-trips and verifies; altered or damaged ones are refused."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from test_exact import hand_adder, small_rnn

from proof import abstraction, certificate, proof, recheck, rounding

SUMS = np.arange(100)  # every one-digit sum a + b, as the pair a * 10 + b


def one_digit_sums(model):
    """The model's digits (units, carry) on every a + b with a, b < 10, and the true ones."""
    a, b = np.divmod(SUMS, 10)
    pad = np.zeros(100, dtype=np.int64)
    with torch.no_grad():
        got = model(torch.from_numpy(np.stack([a, pad], 1)), torch.from_numpy(np.stack([b, pad], 1)))
    return got.argmax(-1).numpy(), np.stack([(a + b) % 10, (a + b) // 10], 1)


def scaled_output(scale):
    model = hand_adder()
    with torch.no_grad():
        model.out.weight.mul_(scale)
        model.out.bias.mul_(scale)
    return model


def test_a_model_whose_logits_underflow_is_not_proven():
    """Output weights ~1e-39 (subnormal float32): in real arithmetic the model still adds, but a CPU that flushes
    denormals computes every logit as 0 and answers 0 (1 + 2 -> 0). A bound that is only relative would prove it."""
    model = scaled_output(2e-39)
    net = abstraction.extract(model)
    assert 0 < np.abs(net["V"][net["V"] != 0]).max() < 2.0**-126  # the weights really are subnormal
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    try:
        got, want = one_digit_sums(model)
    finally:
        torch.set_flush_denormal(False)
    wrong = (got != want).any(axis=1)
    assert wrong.sum() >= 90 and got[12, 0] == 0 != want[12, 0] == 3  # 1 + 2 -> 0
    h = np.zeros((100, 19))  # the same sums in float64 through the extracted arrays: all right
    logits = []
    for pair in (SUMS, np.zeros(100, dtype=np.int64)):
        w_ih, w_hh, b_ih, b_hh = net["layers"][0]
        h = np.tanh(net["x"][pair] @ w_ih.T + h @ w_hh.T + b_ih + b_hh)
        logits.append(h @ net["V"].T + net["c"])
    assert (np.stack(logits, 1).argmax(-1) == want).all()

    lo, hi, _, closed, certified = proof.search(net, m=1, budget_s=20)
    result = proof.check(net, lo, hi, m=1)
    assert closed and certified == 0 and not result["proven"] and result["outputs_certified"] == 0
    # the hidden layer is the hand adder's: its boxes are an invariant, and only the outputs fail
    good = abstraction.extract(hand_adder())
    g_lo, g_hi, _, _, _ = proof.search(good, m=1, budget_s=20)
    assert proof.check(good, g_lo, g_hi, m=1)["proven"]
    on_good_boxes = proof.check(net, g_lo, g_hi, m=1)
    assert on_good_boxes["transitions_certified"] == on_good_boxes["transitions"]
    assert not on_good_boxes["proven"] and on_good_boxes["outputs_certified"] == 0
    # small but normal logits (weights ~1e-27) lose only relative precision: still proven
    assert proof.check(abstraction.extract(scaled_output(2.0**-90)), g_lo, g_hi, m=1)["proven"]


def test_float32_error_has_an_absolute_part_for_underflow():
    w, b, mag = np.array([[1e-40, 0.0]]), np.array([0.0]), np.array([[1e-40, 0.0]])
    assert rounding.float32_error(3, w, b, mag)[0, 0] >= 6 * 2.0**-126  # 3 terms: 3 products, 3 additions
    big = rounding.float32_error(3, np.array([[1.0, 2.0]]), np.array([4.0]), np.array([[1.0, 1.0]]))[0, 0]
    assert rounding.gamma(3) * 7 <= big <= 1.001 * rounding.gamma(3) * 7  # the relative part dominates normal numbers


@pytest.fixture
def cuda_flags():
    """Set torch's two TF32 flags through their own setters, and set them back after the test.

    Not monkeypatch: `torch.backends.cuda.matmul` is a proxy whose flag is no instance attribute, and how pytest
    restores such an attribute differs between its versions (9.2 deletes it, which the proxy refuses).
    """
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32

    def set_flags(matmul, cudnn):
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn

    yield set_flags
    set_flags(*saved)
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == saved


def test_tf32_on_cuda_is_refused(cuda_flags):
    cuda_flags(False, False)
    assert rounding.tf32_problem("cuda") is None and rounding.tf32_problem(torch.device("cuda", 0)) is None
    cuda_flags(True, False)
    assert "torch.backends.cuda.matmul.allow_tf32" in rounding.tf32_problem("cuda")
    assert rounding.tf32_problem("cpu") is None  # the CPU has no TF32
    cuda_flags(False, True)
    assert "torch.backends.cudnn.allow_tf32" in rounding.tf32_problem("cuda:0")
    on_cuda = SimpleNamespace(parameters=lambda: iter([SimpleNamespace(device=torch.device("cuda"))]))
    with pytest.raises(ValueError, match="TF32 is on") as e:
        proof.proof_eval(on_cuda)
    assert "\n" not in str(e.value)


def test_images_under_every_pair_are_the_images_pair_by_pair():
    model = small_rnn("relu", 2, 6, seed=2)
    net = abstraction.extract(model)
    rng = np.random.default_rng(4)
    centre = rng.uniform(0, 1, (7, 2, 6))
    lo, hi = centre - rng.uniform(0, 0.1, centre.shape), centre + rng.uniform(0, 0.1, centre.shape)
    all_lo, all_hi = proof.images(net, lo, hi)
    assert all_lo.shape == (7, 100, 2, 6)
    for y in (0, 37, 99):
        one_lo, one_hi = proof.image(net, lo, hi, np.full(7, y))
        np.testing.assert_allclose(all_lo[:, y], one_lo, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(all_hi[:, y], one_hi, rtol=1e-13, atol=1e-15)


def test_contexts_of_depth_two_follow_the_digits():
    """Contexts(2): stepping a context by the next pair gives the context of the last two pairs and the carry into
    the older one, and its digit is the sum's digit, on random digit sequences against Python's integers."""
    ctx = abstraction.Contexts(2)
    rng = np.random.default_rng(7)
    for _ in range(20):
        a, b = rng.integers(0, 10, 12), rng.integers(0, 10, 12)
        A, B = (sum(int(x) * 10**i for i, x in enumerate(v)) for v in (a, b))
        carry_in = [int(A % 10**i + B % 10**i >= 10**i) for i in range(12)]
        pair = a * 10 + b
        k = ctx.start(pair[0])
        assert ctx.carry0[k] == 0 and list(ctx.pairs[k]) == [0, pair[0]]  # a virtual (0, 0) before the first
        for t in range(12):
            if t:
                k = ctx.next(k, pair[t])
                assert ctx.carry0[k] == carry_in[t - 1] and list(ctx.pairs[k]) == [pair[t - 1], pair[t]]
            assert ctx.digit[k] == (A + B) // 10**t % 10 and ctx.carry_last[k] == carry_in[t]


def hand_certificate(tmp_path):
    model = hand_adder()
    net = abstraction.extract(model)
    lo, hi, _, closed, _ = proof.search(net, m=1, budget_s=20)
    assert closed
    path = tmp_path / "hand.npz"
    certificate.save(path, model, lo, hi, 1, origin="constructed", targets=[], meta={"what": "hand adder"})
    return model, path


def test_certificate_round_trips_and_verifies(tmp_path):
    model, path = hand_certificate(tmp_path)
    out = certificate.verify(path)
    assert out["proven"] and out["transitions_certified"] == out["transitions"] == 20000
    assert out["model"] == model.cfg.to_dict() and out["m"] == 1
    assert out["meta"] == {"what": "hand adder", "origin": "constructed", "targets": []}
    loaded = certificate.load_model(path)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)  # bit for bit
    got, want = one_digit_sums(loaded)
    assert (got == want).all()
    assert path.stat().st_size < 100_000  # a short file: 200 boxes of 19 units and 2,000 weights


def rewrite(path, **changes):
    """The certificate at path with some of its arrays replaced (sha256 kept unless given)."""
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    data.update(changes)
    with open(path, "wb") as f:
        np.savez_compressed(f, **data)


def test_altered_certificates_are_rejected(tmp_path):
    model, path = hand_certificate(tmp_path)
    with np.load(path) as z:
        lo, hi, config = z["lo"].copy(), z["hi"].copy(), str(z["config"])
    k = 123  # one box (carry 1, pair 2 + 3) shrunk to its centre
    lo[k] = hi[k] = (lo[k] + hi[k]) / 2
    rewrite(path, lo=lo, hi=hi)
    out = certificate.verify(path)
    assert not out["proven"] and out["transitions_certified"] < out["transitions"]

    _, path = hand_certificate(tmp_path)
    weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    weights["out.weight"][[3, 4]] = weights["out.weight"][[4, 3]]  # digits 3 and 4 swap their rows
    rewrite(path, **{"w/out.weight": weights["out.weight"]})
    with pytest.raises(ValueError, match="SHA-256 does not match") as e:
        certificate.verify(path)
    assert "\n" not in str(e.value)
    # the hash recomputed, as someone who knows the format could: the check itself refuses the swapped model
    rewrite(path, sha256=np.array(certificate.model_hash(json.loads(config), weights)))
    out = certificate.verify(path)
    assert not out["proven"] and out["outputs_certified"] < out["reached"]


def test_damaged_certificate_gives_a_one_line_error(tmp_path):
    _, path = hand_certificate(tmp_path)
    blob = path.read_bytes()
    bad = tmp_path / "bad.npz"
    cases = {"truncated": blob[: len(blob) // 2], "not a zip": b"hello", "empty": b""}
    for name, data in cases.items():
        bad.write_bytes(data)
        with pytest.raises(ValueError) as e:
            certificate.verify(bad)
        assert "\n" not in str(e.value) and str(bad) in str(e.value), name
    np.savez(bad, lo=np.zeros(3))  # a zip of arrays, not a certificate
    with pytest.raises(ValueError, match="not a certificate"):
        certificate.verify(bad)
    with pytest.raises(ValueError, match="not a readable certificate"):
        certificate.load_model(tmp_path / "missing.npz")
    with np.load(path) as z:
        lo = z["lo"]
    rewrite(path, lo=lo[:100])
    with pytest.raises(ValueError, match="boxes must have shape"):
        certificate.verify(path)


def test_a_depth_one_certificate_lifted_to_depth_two_verifies(tmp_path):
    """The m = 2 box of (carry c, pairs p, q) may be the m = 1 box of (carry into q, q): check(m=2) accepts that for
    the hand adder, and refuses it with one box shrunk. Saved and verified as a file too."""
    model = hand_adder()
    net = abstraction.extract(model)
    lo, hi, _, _, _ = proof.search(net, m=1, budget_s=20)
    ctx = abstraction.Contexts(2)
    one = ctx.carry_last * 100 + ctx.pairs[:, -1]
    lo2, hi2 = lo[one], hi[one]
    path = tmp_path / "m2.npz"
    certificate.save(path, model, lo2, hi2, 2, origin="constructed", targets=[])
    out = certificate.verify(path)
    assert out["proven"] and out["recheck"] and out["m"] == 2 and out["transitions"] == 100 * out["reached"]
    assert out["reached"] == 20000
    lo2[5000] = hi2[5000] = (lo2[5000] + hi2[5000]) / 2
    assert not proof.check(net, lo2, hi2, m=2)["proven"]
    assert not recheck.check(model.cfg.to_dict(), {k: v.numpy() for k, v in model.state_dict().items()}, 2, lo2, hi2)


def test_prove_writes_a_certificate_only_for_a_proven_model_and_the_command_verifies_it(tmp_path, capsys):
    model = hand_adder()
    path = tmp_path / "hand.npz"
    out = certificate.prove(model, path, origin="constructed", targets=[], budget_s=20, meta={"seed": 0})
    assert out["proven"] and out["closed"] and path.exists()
    assert certificate.main([str(path)]) == 0 and "PROVEN exact at every length" in capsys.readouterr().out
    with torch.no_grad():  # digits 3 and 4 swap their output rows
        model.out.weight[[3, 4]] = model.out.weight[[4, 3]].clone()
        model.out.bias[[3, 4]] = model.out.bias[[4, 3]].clone()
    broken = tmp_path / "broken.npz"
    assert not certificate.prove(model, broken, origin="constructed", targets=[], budget_s=20)["proven"]
    assert not broken.exists() and not list(tmp_path.glob("broken*"))
    net = abstraction.extract(hand_adder())
    lo, hi, _, _, _ = proof.search(net, m=1, budget_s=20)
    certificate.save(broken, model, lo, hi, 1, origin="constructed", targets=[])  # the broken model, good boxes
    assert certificate.main([str(path), str(broken)]) == 1 and "NOT proven" in capsys.readouterr().out
    (tmp_path / "bad.npz").write_bytes(b"junk")
    assert certificate.main([str(tmp_path / "bad.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_narrowing_takes_back_what_widening_overshot():
    """A softer hand adder (k = 6) is beyond boxes (its margins fail), and widening pushes its boxes to the whole tanh
    range; descending iteration from there keeps an invariant (check: every transition fits) inside the widened
    boxes, and a tighter one."""
    net = abstraction.extract(hand_adder(6.0))
    w_lo, w_hi, _, w_closed, _ = proof.search(net, m=1, budget_s=20, narrow=False)
    n_lo, n_hi, _, n_closed, _ = proof.search(net, m=1, budget_s=20)
    wide, narrow = proof.check(net, w_lo, w_hi, m=1), proof.check(net, n_lo, n_hi, m=1)
    assert w_closed and n_closed and not wide["proven"] and not narrow["proven"]
    assert narrow["transitions_certified"] == narrow["transitions"] == wide["transitions"]
    assert (n_lo >= w_lo).all() and (n_hi <= w_hi).all() and narrow["max_width"] < wide["max_width"] - 0.05
    assert narrow["min_margin_bound"] > wide["min_margin_bound"]
