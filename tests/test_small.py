"""measures/smallest/small.py and readout.py: the readout LP against numpy recomputations, the states, targets and
batches against Python integers, the corner readout against both checkers, small_adder's plan and its constant
checks."""
import itertools
import math

import numpy as np
import pytest
import torch

import experiments
from machinery import checks, plans
from measures.exact import evaluate
from measures.smallest import readout, small, small_report
from models import ModelConfig, myPTRNNModel
from proof import abstraction, certificate, proof


def tiny(seed=0, k=2):
    torch.manual_seed(seed)
    return myPTRNNModel(ModelConfig(cell="rnn", nonlinearity="tanh", num_layers=1, hidden_size=k, embed_size=1,
                                    hidden_mode="none")).eval()


def constructed():
    """Two units: a graded sum unit and a saturated carry unit (e(d) = d, readout zero: the LP must find one)."""
    a, b, lam = 0.1, -0.95, 40.0
    m = tiny()
    with torch.no_grad():
        m.embed.weight.copy_(torch.arange(10.0).reshape(10, 1))
        m.rnn.weight_ih_l0.copy_(torch.tensor([[a, a], [lam, lam]]))
        m.rnn.weight_hh_l0.copy_(torch.tensor([[0, a / 2], [0, lam / 2]]))
        m.rnn.bias_ih_l0.copy_(torch.tensor([a / 2 + b, lam / 2 - 9.75 * lam]))
        m.rnn.bias_hh_l0.zero_()
        m.out.weight.zero_()
        m.out.bias.zero_()
    return m


def smallest_margin(V, c, S, D):
    """Independent recomputation: per point, the right logit minus the largest of the nine others (sorted)."""
    logits = S @ V.T + c
    out = []
    for row, d in zip(logits, D, strict=True):
        others = sorted(np.delete(row, d))
        out.append(row[d] - others[-1])
    return min(out)


def test_readout_lp_claims_the_margin_numpy_finds_and_the_full_lp_optimum():
    rng = np.random.default_rng(0)
    S = rng.uniform(-1, 1, (600, 2))
    V0, c0 = rng.normal(size=(10, 2)), rng.normal(size=10)
    D = np.argmax(S @ V0.T + c0, axis=1)  # separable by construction
    readout.LP_START, start = 50, readout.LP_START  # force several cutting-plane rounds
    try:
        V, c, t, rounds = readout.readout_lp(S, D)
    finally:
        readout.LP_START = start
    assert t > 0 and rounds > 1
    assert abs(smallest_margin(V, c, S, D) - t) < 1e-6  # the margin it claims is the one the points have
    assert np.abs(V).max() <= readout.BOUND + 1e-9 and np.abs(c).max() <= readout.BOUND + 1e-9
    assert abs(readout.solve(S, D)[2] - t) < 1e-6  # the cutting planes reach the LP over every point


def test_readout_lp_finds_no_margin_when_two_digits_share_a_state():
    S = np.array([[0.1, 0.2], [0.1, 0.2], [0.5, -0.3]])
    V, c, t, _ = readout.readout_lp(S, np.array([3, 4, 5]))
    assert t <= readout.MIN_T
    # shared(): the two states of digits 3 and 4 share a cell, the third is alone (and a copy of one digit is no clash)
    assert small.shared(S, np.array([3, 4, 5])) == pytest.approx(2 / 3)
    assert small.shared(S, np.array([3, 3, 5])) == 0.0


def test_shared_counts_the_states_whose_grid_cell_holds_another_digit():
    # an independent reference: each state's cell as a tuple of Python ints, the digits per cell in a dict
    rng = np.random.default_rng(7)
    for _ in range(25):
        n, h = int(rng.integers(1, 400)), int(rng.integers(1, 9))
        # few distinct values (clashes), jitter across cell edges, and huge ones (the ids' overflow guard)
        S = rng.choice([-1.0, -0.4, 0.0, 0.0004, 0.7, 3e9, -7e15], size=(n, h)) + rng.normal(0, 1e-3, (n, h))
        D = rng.integers(0, int(rng.integers(1, 11)), n)
        cells = [tuple(math.floor(x / small.GRID) for x in row) for row in S.tolist()]
        digits = {}
        for cell, d in zip(cells, D.tolist(), strict=True):
            digits.setdefault(cell, set()).add(d)
        assert small.shared(S, D) == sum(len(digits[c]) > 1 for c in cells) / n
    assert math.isnan(small.shared(np.array([[0.1, np.nan]]), np.array([1])))


def test_an_lp_no_method_solves_is_an_lp_error(monkeypatch):
    class Unsolved:
        status, message, x = 4, "numerical difficulties", None

    tried = []
    monkeypatch.setattr(readout, "linprog", lambda *a, method, **k: tried.append(method) or Unsolved())
    with pytest.raises(readout.LPError, match="numerical difficulties"):
        readout.readout_lp(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1, 2]))
    assert tried == list(readout.LP_METHODS)


def test_all_states_are_the_model_states_of_every_short_sum_with_their_digits():
    model = tiny(1)
    S, D = small.all_states(model, digits=2)
    assert S.shape == (100 + 2 * 100**2, 2)
    rng = np.random.default_rng(1)
    for x, y in rng.integers(0, 100, (20, 2)).tolist():
        a = [x % 10, x // 10, 0]
        b = [y % 10, y // 10, 0]
        with torch.no_grad():
            h, _ = model.run(torch.tensor([a]), torch.tensor([b]))
        digits = [int(ch) for ch in reversed(str(x + y).zfill(3))]  # LSB first, 3 digits
        p0, p1 = a[0] * 10 + b[0], a[1] * 10 + b[1]
        rows = [p0, 100 + p0 * 100 + p1, 100 + 100**2 + p0 * 100 + p1]  # after 1, 2 pairs, then the padding step
        for t, r in enumerate(rows):
            assert np.allclose(S[r], h[0, t].double().numpy(), atol=1e-6)
            assert D[r] == digits[t]


def test_aux_targets_against_python_integers():
    rng = np.random.default_rng(2)
    num1, num2 = rng.integers(0, 10, (30, 7)), rng.integers(0, 10, (30, 7))
    tgt = small.aux_targets(num1, num2, ["carry", "sum"]).numpy()
    for i in range(30):
        carry = 0
        for t in range(7):
            s = int(num1[i, t]) + int(num2[i, t]) + carry
            carry = 1 if s >= 10 else 0
            assert tgt[i, t, 0] == (1.0 if carry else -1.0)
            if t == 0:
                assert math.isnan(tgt[i, t, 1])
            else:
                assert tgt[i, t, 1] == pytest.approx(math.tanh(small.SUM_SCALE * (s - 9.5)), abs=1e-6)
    with pytest.raises(ValueError, match="unknown auxiliary target 'digit'"):
        small.aux_targets(num1, num2, ["digit"])


def test_transition_batch_holds_every_carry_and_pair_once_and_adds_right():
    num1, num2, result = small.transition_batch(np.random.default_rng(3))
    seen = set()
    for a, b, r in zip(num1.tolist(), num2.tolist(), result.tolist(), strict=True):
        x = int("".join(map(str, reversed(a))))
        y = int("".join(map(str, reversed(b))))
        assert int("".join(map(str, reversed(r)))) == x + y
        seen.add((1 if a[0] + b[0] >= 10 else 0, a[1], b[1]))
    assert seen == set(itertools.product((0, 1), range(10), range(10)))


def test_corners_are_every_corner_of_each_box():
    lo, hi = np.array([[0.0, 1.0, 2.0], [-3.0, -2.0, -1.0]]), np.array([[0.5, 1.5, 2.5], [3.0, 2.0, 1.0]])
    P = readout.corners(lo, hi)
    for i in range(2):
        want = set(itertools.product(*zip(lo[i], hi[i], strict=True)))
        assert set(map(tuple, P[i * 8 : (i + 1) * 8])) == want


def result_of(records, label="2 units, carry-out + column-sum targets", route=None):
    """A small_adder result holding one series of small_eval records (what the runner would assemble)."""
    plan = experiments.small_adder()
    run = next(r for r in plan["runs"] if r["label"] == label)
    args = dict(run["after"].keywords)
    if route is not None:
        args["route"] = route
    return {"id": "small_adder", "title": "t", "device": "cpu", "torch": "x", "wall_seconds": 1.0,
            "config": {"seeds": list(range(len(records))), "runs": [{"label": label, "after": {"fn": "small_eval",
                                                                                               "args": args}}]},
            "series": [{"label": label, "settings": {**run["model"], **run["train"]},
                        "seeds": list(range(len(records))), "extra": records}]}


def test_box_readout_makes_the_constructed_recurrence_proven_by_both_checkers(tmp_path):
    model = constructed()
    S, D = small.all_states(model)
    V, c, t, _ = readout.readout_lp(S, D)
    assert t > 0 and abs(smallest_margin(V, c, S[::997], D[::997])) >= t - 1e-6
    readout.set_readout(model, V, c)
    net, lo, hi, out, fits = small.box_readout(model, m=1, max_iter=100, budget_s=30)
    assert out["proven"]
    weights = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    assert certificate.both(net, model.cfg.to_dict(), weights, lo, hi, 1)["proven"]
    assert (proof.output_margins(net, lo[np.isfinite(lo[:, 0, 0])], hi[np.isfinite(lo[:, 0, 0])],
                                 abstraction.Contexts(1).digit[np.isfinite(lo[:, 0, 0])]) > 0).all()
    # the hook's certificate, kept by the keep step, re-checked from the file, origin and targets in its meta
    proven = {"proven": True, "proof_check": True, "recheck": True, "states_t": t, "separable": True,
              "min_margin_bound": out["min_margin_bound"], "restarts": 0, "sec": 1.0, "suite_sec": 1.0,
              "suite_passed": True, "weights": certificate.weights_text(model),
              "certificate": evaluate.certificate_text(model, {"m": 1, "max_iter": 100, "budget_s": 30},
                                                       {"series": "2 units", "seed": 0, "units": 2},
                                                       origin="trained", targets=["carry", "sum"])}
    failed = {"proven": False, "proof_check": False, "recheck": False, "states_t": -1e-12, "separable": False,
              "shared": 0.5, "restarts": 2, "sec": 3.0, "suite_sec": 1.0, "suite_passed": False}
    result = result_of([proven, failed])
    paths = small_report.keep_certificates(result, tmp_path)
    assert [p.name for p in paths] == ["2units_carry-out-column-sum-targets_seed0.npz"]
    v = certificate.verify(paths[0])
    assert v["proven"] and v["meta"]["origin"] == "trained" and v["meta"]["targets"] == ["carry", "sum"]
    row = [line for line in small_report.table(result) if line.startswith("| 2 |")][0].split(" | ")
    assert row[4:9] == ["1/2", "1/2", "1/2", "1/2", f"{out['min_margin_bound']:.3g}"] and row[9] == "2"
    text = "\n".join(small_report.small_section(result))
    assert "with auxiliary targets: the smallest proven has 2 units (42 parameters), 1/2 seeds" in text
    assert "from sums alone: none proven" in text.lower()


def test_a_diverged_model_is_recorded_not_a_crash():
    model = tiny(4)
    with torch.no_grad():
        model.rnn.weight_hh_l0.fill_(float("nan"))
    run = next(r for r in experiments.small_adder()["runs"] if r["after"].keywords["route"]["targets"] == [])
    rec = run["after"](model, None, run, 0, quick=True)
    assert not rec["separable"] and not rec["proven"] and not rec["suite_passed"]
    assert "diverged" in rec["tries"][0]["lp_rounds"] and math.isnan(rec["shared"])


def test_small_adder_plan_has_one_run_per_units_and_route(monkeypatch):
    monkeypatch.setattr(experiments, "SMALL_UNITS", [2, 5])
    monkeypatch.setattr(experiments, "SMALL_ROUTES", {"a": {"targets": []}, "b": {"targets": ["carry", "sum"]},
                                                      "c": {"targets": ["carry"], "units": [5]}})
    checks.check(["small_adder"])
    plan = experiments.EXPERIMENTS["small_adder"]()
    got = [(r["model"]["hidden_size"], r["after"].keywords["route"]["targets"]) for r in plan["runs"]]
    assert got == [(2, []), (2, ["carry", "sum"]), (5, []), (5, ["carry", "sum"]), (5, ["carry"])]
    assert all("units" not in r["after"].keywords["route"] for r in plan["runs"])
    assert all(r["model"]["num_layers"] == 1 and r["model"]["nonlinearity"] == "tanh" for r in plan["runs"])


@pytest.mark.parametrize("name, value, words", [
    ("SMALL_ROUTES", {"x": {"targets": ["digit"]}}, "targets must be a list"),
    ("SMALL_ROUTES", {"x": {"targets": ["carry", "sum"]}}, "2 targets need 2 units"),
    ("SMALL_ROUTES", {"x": {"lr": 0.1}}, "unknown setting"),
    ("SMALL_ROUTES", {"x": {"ce": -1}}, "ce must be a number >= 0"),
    ("SMALL_ROUTES", {"x": {"restarts": 1.5}}, "restarts"),
    ("SMALL_ROUTES", {}, "at least one route"),
    ("SMALL_ROUTES", {"x": {"units": [7]}}, "units must be a non-empty list of SMALL_UNITS"),
    ("SMALL_TUNE", {"steps": 10, "lrs": [], "length": 10}, "lrs must be"),
    ("SMALL_TUNE", {"steps": 10, "lrs": [0.1]}, "lacks length"),
    ("SMALL_UNITS", [], "non-empty list"),
])
def test_small_constants_are_checked(monkeypatch, name, value, words):
    monkeypatch.setattr(experiments, "SMALL_UNITS", [1, 2] if name == "SMALL_ROUTES" else experiments.SMALL_UNITS)
    monkeypatch.setattr(experiments, name, value)
    with pytest.raises(plans.ConstantError, match=words):
        checks.check_constants()
