"""Both proof checkers (proof.check, recheck) on crafted certificates of wrong models, malformed files, and the
shipped certificate: a wrong model is never proven, a malformed file is one line and exit 2, a right one passes."""
import hashlib
import json

import numpy as np
import pytest
import torch
from test_exact import hand_adder
from test_proof import one_digit_sums, rewrite, scaled_output

import add
from proof import abstraction, certificate, proof, recheck, rounding

ROOT = add.CERTIFICATE.parents[1]


@pytest.fixture(scope="module")
def hand_boxes():
    lo, hi, _, closed, _ = proof.search(abstraction.extract(hand_adder()), m=1, budget_s=20)
    assert closed
    return lo, hi


def weights(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def verdicts(model, lo, hi, m=1):
    """(proof.check proves it, recheck proves it) for a model and boxes."""
    return (proof.check(abstraction.extract(model), lo, hi, m=m)["proven"],
            recheck.check(model.cfg.to_dict(), weights(model), m, lo, hi))


def test_both_checkers_prove_the_hand_adder_and_refuse_a_swapped_or_shrunk_one(hand_boxes):
    lo, hi = hand_boxes
    assert verdicts(hand_adder(), lo, hi) == (True, True)
    swapped = hand_adder()
    with torch.no_grad():  # digits 3 and 4 swap their output rows: 1 + 2 -> 4
        swapped.out.weight[[3, 4]] = swapped.out.weight[[4, 3]].clone()
        swapped.out.bias[[3, 4]] = swapped.out.bias[[4, 3]].clone()
    assert one_digit_sums(swapped)[0][12, 0] == 4
    assert verdicts(swapped, lo, hi) == (False, False)
    lo2, hi2 = lo.copy(), hi.copy()
    lo2[123] = hi2[123] = (lo[123] + hi[123]) / 2  # one box shrunk to its centre: no longer an invariant
    assert verdicts(hand_adder(), lo2, hi2) == (False, False)


def overflow_adder(scale):
    """The hand adder and two units: unit 20 = tanh(10) = 1, unit 21 = tanh((s + s) + (-s - s h_20)), with s the
    embedding's coordinate 1 of every digit. In real arithmetic unit 21 is 0 from the second step on; in float32,
    once 2 s overflows (s = 3e38), its input side is inf and its state side -inf, inf - inf = NaN, and NaN reaches
    every logit (0 * NaN = NaN). Neither unit feeds the others or the outputs."""
    model = hand_adder()
    big = certificate.myPTRNNModel(certificate.ModelConfig(**{**model.cfg.to_dict(), "hidden_size": 21})).eval()
    with torch.no_grad():
        for p in big.parameters():
            p.zero_()
        for name, p in model.state_dict().items():
            big.state_dict()[name][tuple(slice(0, n) for n in p.shape)] = p
        big.embed.weight[:, 1] = scale
        big.rnn.bias_ih_l0[19] = 10.0
        big.rnn.weight_ih_l0[20, 1] = 1.0
        big.rnn.bias_ih_l0[20] = scale
        big.rnn.weight_hh_l0[20, 19] = -scale
        big.rnn.bias_hh_l0[20] = -scale
    return big


def widened(lo, hi, units=21, slack=1e-6):
    """The hand adder's boxes, each side `slack` wider (room for the rounding of s's larger sums), with the added
    units' sides the whole tanh range (anything they do is inside)."""
    pad = np.full(lo.shape[:2] + (units - lo.shape[2],), 1 + 1e-5)
    return np.concatenate([lo - slack, -pad], axis=2), np.concatenate([hi + slack, pad], axis=2)


def test_a_float32_overflow_is_never_proven(hand_boxes):
    lo, hi = widened(*hand_boxes)
    fine, nan = overflow_adder(3e30), overflow_adder(3e38)
    assert (one_digit_sums(fine)[0] == one_digit_sums(fine)[1]).all()  # 2 s = 6e30: no overflow, cancels
    got, want = one_digit_sums(nan)
    assert (got != want).any(axis=1).sum() >= 40  # NaN logits from the second step: every carry is lost
    assert verdicts(fine, lo, hi) == (True, True)  # only the overflow is refused, not the large weights
    assert verdicts(nan, lo, hi) == (False, False)


def test_logits_that_underflow_are_refused_by_both(hand_boxes):
    """Output weights ~1e-39 are subnormal: a CPU that flushes them answers 0 (test_proof checks it)."""
    lo, hi = hand_boxes
    assert verdicts(scaled_output(2e-39), lo, hi) == (False, False)
    assert verdicts(scaled_output(2.0**-90), lo, hi) == (True, True)  # small but normal: only relative rounding


def test_the_checkers_contexts_agree():
    for m in (1, 2):
        ctx = abstraction.Contexts(m)
        base, digit = recheck.contexts(m)
        assert (base == ctx.shift_base).all() and (digit == ctx.digit).all()


def saved(tmp_path, model, lo, hi, meta=None, name="c.npz"):
    path = tmp_path / name
    certificate.save(path, model, lo, hi, 1, origin="constructed", targets=[], meta=meta)
    return path


def one_line_exit_2(path, capsys, rechecked=True):
    """The certificate command and add.py each refuse the file in one line, exit 2; recheck's own reader too
    (rechecked; it ignores meta and fields it does not read)."""
    assert certificate.main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and str(path) in err
    assert add.main(["99", "99", "--certificate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("add.py: ") and err.count("\n") == 1
    if rechecked:
        with pytest.raises(ValueError) as e:
            recheck.check_file(path)
        assert "\n" not in str(e.value)
    return err


@pytest.mark.parametrize("field, value, message", [
    ("hi", "complex", "must be float64"),  # complex interval ends compare by their real parts
    ("hi", "strings", "must be float64"),
    ("lo", "nan", "finite"),
    ("lo", "above", "lo <= hi"),
    ("m", np.array("1"), "m must be an integer"),
    ("m", np.array(1.7), "m must be an integer"),
    ("m", np.array(True), "m must be an integer"),
    ("meta", np.array("[1]"), "meta must be a JSON object"),
    ("config", np.array('{"cell": "rnn"}'), "settings"),
    ("extra", np.zeros(3), "unexpected fields"),
    ("w/rnn.bias_ih_l0", "float64", "must be finite float32"),
])
def test_malformed_certificates_are_one_line_and_exit_2(tmp_path, capsys, hand_boxes, field, value, message):
    lo, hi = hand_boxes
    path = saved(tmp_path, hand_adder(), lo, hi)
    with np.load(path) as z:
        old = z[field] if field in z.files else None
    if isinstance(value, str):  # a change of the saved array
        value = {"complex": lambda: old + 0j, "strings": lambda: old.astype(str), "above": lambda: old + 3,
                 "nan": lambda: np.where(old > 0, np.nan, old), "float64": lambda: old.astype(np.float64)}[value]()
    rewrite(path, **{field: value})
    with pytest.raises(ValueError, match=message):
        certificate.verify(path)
    one_line_exit_2(path, capsys, rechecked=field not in ("meta", "extra"))


def test_a_wrong_model_with_complex_boxes_is_refused(tmp_path, capsys, hand_boxes):
    """A model that drops every carry, with complex box ends (complex numbers compare by their real parts):
    refused as malformed by the file's reader and by each checker, never proven."""
    lo, hi = hand_boxes
    model = hand_adder()
    with torch.no_grad():
        model.rnn.weight_hh_l0.zero_()  # no carry
    got, want = one_digit_sums(model)
    assert got[99, 1] == 0 != want[99, 1]  # 9 + 9 = 8, its carry lost (99 + 99 -> 88)
    path = saved(tmp_path, model, lo, hi)
    rewrite(path, hi=hi + 1j)
    assert "float64" in one_line_exit_2(path, capsys)
    with pytest.raises(ValueError, match="float64"):  # each checker on its own refuses such boxes
        proof.check(abstraction.extract(model), lo, hi + 1j)
    with pytest.raises(ValueError, match="float"):
        recheck.check(model.cfg.to_dict(), weights(model), 1, lo, hi + 1j)


def test_a_supplied_certificate_is_not_the_shipped_one_and_its_meta_is_not_quoted(tmp_path, capsys, hand_boxes):
    lo, hi = hand_boxes
    spoof = {"series": "1 x 32 hardened + saturated", "seed": 5}  # the shipped certificate's attribution
    path = saved(tmp_path, hand_adder(), lo, hi, spoof)
    out = certificate.verify(path)
    assert out["proven"] and out["meta"] == {**spoof, "origin": "constructed", "targets": []}
    assert out["certificate_sha256"] != add.SHIPPED_SHA256
    assert add.main(["12", "34", "--certificate", str(path)]) == 0
    text = capsys.readouterr().out
    assert "a certificate you supplied" in text and out["certificate_sha256"] in text
    assert "proven by both checkers" in text and "proven exact at every length" not in text
    assert "seed 5" not in text and "hardened" not in text
    other = saved(tmp_path, hand_adder(), lo, hi, {**spoof, "seed": 6}, "d.npz")  # meta alone changes the hash
    assert certificate.verify(other)["certificate_sha256"] != out["certificate_sha256"]


def test_the_shipped_certificate_is_pinned_and_both_checkers_prove_it(capsys):
    if not add.CERTIFICATE.exists():
        pytest.skip("no shipped certificate")
    out = certificate.verify(add.CERTIFICATE)
    assert out["proof_check"] and out["recheck"] and out["proven"]
    assert out["certificate_sha256"] == add.SHIPPED_SHA256  # a regenerated certificate must be pinned anew
    assert hashlib.sha256(add.CERTIFICATE.read_bytes()).hexdigest() == add.SHIPPED_SHA256  # the file's bytes
    assert recheck.check_file(add.CERTIFICATE)
    assert add.main(["12", "34"]) == 0 and "proven exact at every length" in capsys.readouterr().out


def test_the_tanh_allowance_covers_the_measured_error_of_torchs_cpu_tanh():
    """The checkers allow float32 tanh at least TANH_ERR of absolute error: measured here on a sample of all float32
    values (every 4,099th bit pattern, and every value of |x| in [4.75, 5), near the largest error of the full sweep)
    along every way torch computes it (tanh_error.PATHS, nn.RNN's own included); benchmarks/bench_tanh.py measures
    every float32. The kernels are named from what ran: every path in one group, and a group named after the C
    library's tanhf only if it matches that bit for bit."""
    from proof import tanh_error

    bits = tanh_error.sample(stride=4099, dense=((4.75, 5.0),))
    got = tanh_error.measure(bits)
    for path in tanh_error.PATHS:
        assert got[path]["abs"] <= min(rounding.TANH_ERR, recheck.TANH_ERR)
        assert got[path]["ulps"] < 1  # faithfully rounded on this sample
    assert sorted(p for g in got["kernels"] for p in g["paths"]) == sorted(tanh_error.PATHS)
    libc = tanh_error.libc_tanhf()
    x = tanh_error.PROBE[:: tanh_error.EVERY]
    for g in got["kernels"]:
        ran = tanh_error.paths(tanh_error.PROBE)[g["paths"][0]][1]
        ran = ran if g["paths"][0] in ("tail", "rnn") else ran[:: tanh_error.EVERY]
        same = libc is not None and np.array_equal(ran.view(np.uint32), libc(x).view(np.uint32))
        assert ("C library" in g["kernel"]) == same
    assert np.array_equal(tanh_error.ulp32(np.array([0.75, 1e-40, 3.0])), [2.0**-24, 2.0**-149, 2.0**-22])


def test_json_settings_of_the_wrong_type_are_refused(tmp_path, capsys, hand_boxes):
    path = saved(tmp_path, hand_adder(), *hand_boxes)
    with np.load(path) as z:
        config = json.loads(str(z["config"]))
    rewrite(path, config=np.array(json.dumps({**config, "hidden_size": 19.0})))
    one_line_exit_2(path, capsys)


def members(path):
    """The certificate's zip members: [(name, bytes)] in file order."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        return [(n, z.read(n)) for n in z.namelist()]


def write_zip(path, items):
    """A zip of the given (name, bytes) members, duplicates and all (zipfile warns about a duplicate name)."""
    import warnings
    import zipfile

    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as z:
        warnings.simplefilter("ignore")
        for name, blob in items:
            z.writestr(name, blob)


def npy(a):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(a), allow_pickle=True)
    return buf.getvalue()


@pytest.mark.parametrize("case", ["duplicate member", "duplicate member, first copy read by unzip", "text member",
                                  "junk .npy", "pickled .npy", "duplicate key in config", "duplicate key in meta",
                                  "NaN in meta", "allowance below the measured", "another rounding rule",
                                  "an older layer rule", "no assumptions", "no origin", "unknown origin",
                                  "targets not a list"])
def test_a_file_with_two_meanings_or_an_unreadable_member_is_refused_in_one_line(tmp_path, capsys, hand_boxes, case):
    """One meaning per file: every such file is refused by the certificate command, add.py and recheck's own reader,
    one line and exit 2 (never a traceback, never read two ways)."""
    path = saved(tmp_path, hand_adder(), *hand_boxes)
    items = members(path)
    blob = dict(items)
    lo = np.lib.format.read_array(__import__("io").BytesIO(blob["lo.npy"]))
    meta = json.loads(str(np.lib.format.read_array(__import__("io").BytesIO(blob["meta.npy"]))))
    assumptions = rounding.assumptions()

    def text(name, value):
        return [(n, npy(np.array(value)) if n == f"{name}.npy" else b) for n, b in items]

    changed = {
        "duplicate member": lambda: items + [("lo.npy", npy(lo - 1))],
        "duplicate member, first copy read by unzip": lambda: [("lo.npy", npy(lo - 1))] + items,
        "text member": lambda: items + [("notes.txt", b"hello")],
        "junk .npy": lambda: items + [("x.npy", b"hello")],
        "pickled .npy": lambda: [(n, npy(np.array([{"a": 1}], dtype=object)) if n == "lo.npy" else b)
                                 for n, b in items],
        "duplicate key in config": lambda: text("config", '{"cell": "rnn", ' + json.dumps(
            hand_adder().cfg.to_dict(), sort_keys=True)[1:]),
        "duplicate key in meta": lambda: text("meta", '{"origin": "trained", ' + json.dumps(meta)[1:]),
        "NaN in meta": lambda: text("meta", json.dumps({**meta, "x": float("nan")})),
        "allowance below the measured": lambda: text("assumptions", json.dumps({**assumptions,
                                                                                "tanh_abs_error": 1e-7})),
        "another rounding rule": lambda: text("assumptions", json.dumps({**assumptions, "rounding": "towards zero"})),
        "an older layer rule": lambda: text("assumptions", json.dumps({**assumptions, "layers": "v0"})),
        "no assumptions": lambda: [(n, b) for n, b in items if n != "assumptions.npy"],
        "no origin": lambda: text("meta", json.dumps({k: v for k, v in meta.items() if k != "origin"})),
        "unknown origin": lambda: text("meta", json.dumps({**meta, "origin": "found"})),
        "targets not a list": lambda: text("meta", json.dumps({**meta, "targets": "carry"})),
    }[case]()
    write_zip(path, changed)
    rechecked = case not in ("no origin", "unknown origin", "targets not a list")  # recheck reads meta, needs none
    one_line_exit_2(path, capsys, rechecked=rechecked)


def test_the_checkers_hold_the_same_written_rules():
    assert (rounding.ROUNDING, rounding.CONTEXT_RULE, rounding.LAYER_RULE) == \
        (recheck.ROUNDING, recheck.CONTEXT_RULE, recheck.LAYER_RULE)
    written = rounding.assumptions(2e-5)
    assert recheck.tanh_allowance(written) == rounding.read_assumptions(written) == 2e-5


def test_a_larger_tanh_allowance_is_searched_recorded_and_checked(tmp_path):
    """The allowance is the file's: the search's range follows it (no fixed limit), both checkers use it."""
    model = hand_adder()
    net = abstraction.extract(model, tanh_err=2e-4)
    lo, hi, _, closed, _ = proof.search(net, m=1, budget_s=20)
    assert closed and hi.max() > 1 + 2e-4 and proof.check(net, lo, hi, m=1)["proven"]
    path = tmp_path / "wide.npz"
    certificate.save(path, model, lo, hi, 1, origin="constructed", targets=[], tanh_err=2e-4)
    out = certificate.verify(path)
    assert out["proven"] and out["tanh_err"] == 2e-4 and recheck.check_file(path)
    narrow = abstraction.extract(model)  # the same boxes under the 1e-6 allowance: still sound, so still proven
    assert proof.check(narrow, lo, hi, m=1)["proven"]


def test_the_writer_gives_the_same_bytes_for_the_same_certificate(tmp_path, hand_boxes):
    one, two = saved(tmp_path, hand_adder(), *hand_boxes, name="a.npz"), saved(tmp_path, hand_adder(), *hand_boxes,
                                                                               name="b.npz")
    assert one.read_bytes() == two.read_bytes()


def test_the_shipped_content_in_other_bytes_is_not_the_shipped_certificate(tmp_path, capsys):
    """Only the shipped file's bytes are "the certificate this repository ships": the same arrays written again by
    numpy (other zip dates and order) are a certificate you supplied."""
    if not add.CERTIFICATE.exists():
        pytest.skip("no shipped certificate")
    with np.load(add.CERTIFICATE) as z:
        data = {k: z[k] for k in z.files}
    copy = tmp_path / "copy.npz"
    with open(copy, "wb") as f:
        np.savez_compressed(f, **data)
    assert copy.read_bytes() != add.CERTIFICATE.read_bytes() and certificate.verify(copy)["proven"]
    assert add.main(["12", "34", "--certificate", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "a certificate you supplied" in out and "proven exact at every length" not in out


def test_add_py_claims_proven_only_where_float32_rounds_to_nearest_even(monkeypatch, capsys):
    assert certificate.rounding_problem() is None  # this process: the probe passes
    monkeypatch.setattr(certificate, "rounding_problem", lambda: "numpy gives 1.0 + 5.96e-08 = 1.0000001")
    assert add.main(["12", "34"]) == 0
    out = capsys.readouterr().out
    assert "not claimed proven in this process" in out and "proven exact at every length" not in out


def two_layer_adder(k2=5.0, r2=0.5):
    """The hand adder and a recurrent second layer: h2_j = tanh(k2 h1_j + r2 h2_j(previous)), read by the hand
    adder's output layer (h2 keeps h1's sign, saturated)."""
    one = hand_adder()
    model = certificate.myPTRNNModel(certificate.ModelConfig(**{**one.cfg.to_dict(), "num_layers": 2})).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        state = model.state_dict()
        for name, p in one.state_dict().items():
            state[name].copy_(p)
        state["rnn.weight_ih_l1"].copy_(k2 * torch.eye(19))
        state["rnn.weight_hh_l1"].copy_(r2 * torch.eye(19))
    return model


def test_both_checkers_hold_a_two_layer_model_to_the_same_obligations(tmp_path):
    """A right 2-layer model with a recurrent second layer is proven by both; with its digits swapped, or one box of
    its second layer shrunk, refused by both; and a file of it passes the command with both checkers."""
    model = two_layer_adder()
    got, want = one_digit_sums(model)
    assert (got == want).all()
    lo, hi, _, closed, _ = proof.search(abstraction.extract(model), m=1, budget_s=30)
    assert closed and verdicts(model, lo, hi) == (True, True)
    swapped = two_layer_adder()
    with torch.no_grad():
        swapped.out.weight[[3, 4]] = swapped.out.weight[[4, 3]].clone()
        swapped.out.bias[[3, 4]] = swapped.out.bias[[4, 3]].clone()
    assert verdicts(swapped, lo, hi) == (False, False)
    lo2, hi2 = lo.copy(), hi.copy()
    lo2[123, 1] = hi2[123, 1] = (lo[123, 1] + hi[123, 1]) / 2  # the second layer's box of one context
    assert verdicts(model, lo2, hi2) == (False, False)
    path = tmp_path / "two.npz"
    certificate.save(path, model, lo, hi, 1, origin="constructed", targets=[])
    out = certificate.verify(path)
    assert out["proven"] and out["proof_check"] and out["recheck"]
