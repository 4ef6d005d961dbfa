"""exact_adder: the suite's sums against Python integers, the margin evaluation, the suite on a hand-built exact
adder (passes) and on one that invents a carry (caught at the shortest stage, its failing sums stored and re-checked),
the attack, and the proof checker on the exact adder (accepted) and the same adder broken (rejected)."""
import numpy as np
import pytest
import torch

from data import digits_to_ints, longest_carry_chain
from measures import beyond
from measures.exact import adversary, exact, families, sums
from models import ModelConfig, build_model
from proof import abstraction, proof
from train import train_run


def small_rnn(nl="tanh", layers=1, hidden=8, seed=None):
    """A zero-started rnn of random weights (torch.manual_seed(seed) first when given), in eval mode."""
    if seed is not None:
        torch.manual_seed(seed)
    return build_model(ModelConfig(cell="rnn", nonlinearity=nl, hidden_mode="none", num_layers=layers,
                                   hidden_size=hidden)).eval()


def exact_sums(num1, num2, result):
    a, b, r = digits_to_ints(num1), digits_to_ints(num2), digits_to_ints(result)
    return [x + y for x, y in zip(a, b, strict=True)] == r


@pytest.mark.parametrize("length", [1, 2, 7, 1000])
def test_nines_cases_are_the_worst_sums(length):
    num1, num2, result = exact.nines_cases(length)
    assert num1.shape == (3, length + 1) and exact_sums(num1, num2, result)
    assert digits_to_ints(num1) == [10**length - 1, 1, 10**length - 1]
    assert digits_to_ints(result) == [10**length, 10**length, 2 * 10**length - 2]


@pytest.mark.parametrize("length", [1, 5, 300])
def test_gain_digit_data_gains_a_digit_through_a_chain_to_the_top(length):
    num1, num2, result = exact.gain_digit_data(50, length, rng=length)
    assert exact_sums(num1, num2, result) and (num1[:, -1] == 0).all() and (num2[:, -1] == 0).all()
    a, b = digits_to_ints(num1), digits_to_ints(num2)
    assert all(x < 10**length and y < 10**length and x + y >= 10**length for x, y in zip(a, b, strict=True))
    s = num1[:, :length] + num2[:, :length]
    top = np.where(s != 9, np.arange(length), -1).max(axis=1)  # the generating pair: the last pair not summing to 9
    assert (s[np.arange(50), top] >= 10).all()  # ... generates, and every pair above it passes the carry on
    assert (longest_carry_chain(num1, num2) >= length - 1 - top).all()  # a longer one may sit below


def test_stage_checks_add_up_and_name_their_chains():
    checks = exact.stage_checks(300, 0, [0, 5, 299, 500], chain_sums=4, gain_sums=3, random_sums=2, first=True,
                                run_sums=3)
    names = [c[0] for c in checks]
    assert names == ["99…9 + 1", "1 + 99…9", "99…9 + 99…9", "chain k=0", "chain k=5", "chain k=299",
                     "gains a digit", "9-run k=1, no carry in", "9-run k=5, no carry in", "9-run k=299, no carry in",
                     "9-run k=300, no carry in", "d…d + (9-d)…(9-d)", "pair runs, carry in 0", "pair runs, carry in 1",
                     "known failures", "random"]
    for name, a, b, r in checks:
        assert exact_sums(a, b, r) and a.shape[1] == 301
        if name.startswith("chain"):
            assert (longest_carry_chain(a, b) == int(name.split("=")[1])).all()
    assert [c[0] for c in exact.stage_checks(300, 0, [5], 4, 3, 0, first=True)] == [
        "99…9 + 1", "1 + 99…9", "99…9 + 99…9", "chain k=5", "gains a digit"]  # run_sums 0: no run families


def carries_in(num1, num2):
    """Per row, per step t: the carry coming into step t, from Python integers (no digit logic shared)."""
    out = []
    for x, y in zip(digits_to_ints(num1), digits_to_ints(num2), strict=True):
        out.append([int(x % 10**t + y % 10**t >= 10**t) for t in range(num1.shape[1])])
    return np.array(out)


@pytest.mark.parametrize("length,k", [(1, 1), (6, 1), (6, 3), (6, 6), (40, 9), (40, 40)])
def test_nine_runs_have_exactly_k_nine_pairs_and_no_carry_coming_in(length, k):
    num1, num2, result = families.nine_runs(60, length, k, rng=k)
    assert num1.shape == (60, length + 1) and exact_sums(num1, num2, result)
    s, c = num1 + num2, carries_in(num1, num2)
    for row in range(60):
        starts = [p for p in range(length - k + 1) if (s[row, p : p + k] == 9).all() and c[row, p] == 0
                  and (p == 0 or s[row, p - 1] <= 8) and (p + k == length or s[row, p + k] != 9)]
        assert starts, (num1[row], num2[row])
        assert (result[row, starts[0] : starts[0] + k] == 9).all()  # no carry in: the run's digits stay 9


def test_whole_runs_are_d_repeated_plus_9_minus_d_repeated():
    num1, num2, result = families.whole_runs(7, [1, 5, 7])
    a, b, r = digits_to_ints(num1), digits_to_ints(num2), digits_to_ints(result)
    want = [(d * (10**n - 1) // 9, (9 - d) * (10**n - 1) // 9) for n in (1, 5, 7) for d in range(10)]
    assert list(zip(a, b, strict=True)) == want and r == [10**n - 1 for n in (1, 5, 7) for _ in range(10)]


@pytest.mark.parametrize("length", [2, 3, 10, 101])
@pytest.mark.parametrize("carry", [0, 1])
def test_pair_runs_repeat_each_pair_with_the_carry_in_claimed(length, carry):
    num1, num2, result = families.pair_runs(length, carry, rng=length)
    assert num1.shape == (100, length + 1) and exact_sums(num1, num2, result)
    c = carries_in(num1, num2)
    for p in range(100):
        run = [t for t in range(length) if (num1[p, t:length] == p // 10).all() and (num2[p, t:length] == p % 10).all()]
        assert any(carry <= t <= max(length // 2, carry) and c[p, t] == carry for t in run), p


def test_all_sums_hold_every_pair_sequence_once():
    num1, num2, result = families.all_sums(3)
    assert num1.shape == (10**6, 4) and not num1[:, 3].any() and not num2[:, 3].any()
    code = (num1[:, :3] * 10 + num2[:, :3]) @ 100 ** np.arange(3)  # the pair sequence as one number
    assert np.array_equal(np.sort(code), np.arange(10**6))
    a, b = num1 @ 10 ** np.arange(4), num2 @ 10 ** np.arange(4)  # int64 is exact at 4 digits
    assert np.array_equal(result @ 10 ** np.arange(4), a + b)
    with pytest.raises(ValueError, match="digits must be in \\[1, 3\\], got 4"):
        families.all_sums(4)


def test_known_failures_are_the_sums_written():
    num1, num2, result = families.known(6, ["2973 + 77020", "[9x5] + 0", "[4x7] + [5x7]"])
    assert num1.shape == (2, 7) and exact_sums(num1, num2, result)  # the 7-digit one does not fit in 6
    assert digits_to_ints(num1) == [2973, 99999] and digits_to_ints(num2) == [77020, 0]


def test_failure_keeps_the_shortest_prefix_that_is_still_wrong():
    a, b = np.array([9, 9, 9, 9, 9, 0, 0, 0]), np.zeros(8, dtype=np.int64)
    f = sums.failure(a, b, [5, 6], 8)  # wrong at step 5, a (0, 0) pair: the 5-digit sum's padding step
    assert f == {"sum": "[9x5] + 0", "digits": 5, "first_wrong": 5, "wrong_steps": 2}
    assert sums.failure(a, b, [4], 8)["digits"] == 5 and sums.failure(a, b, [8], 8)["digits"] == 8
    assert sums.failure(a, b, [0], 8) == {"sum": "9 + 0", "digits": 1, "first_wrong": 0, "wrong_steps": 1}


def test_margins_agree_with_the_models_digits_over_time_chunks():
    model = small_rnn(hidden=16, seed=0)
    num1, num2, result = exact.stage_checks(50, 1, [3, 20], 5, 5, 0, True)[3][1:]
    m = exact.margins(model, num1, num2, result, time_chunk=7)
    ok, right = beyond.predict_correct(model, num1, num2, result)
    assert ((m > 0).all(axis=1) == ok).all() and (m > 0).sum() == right
    fast, where = adversary.FastRNN(model).min_margins(num1, num2, result)
    assert np.allclose(fast, m.min(axis=1), atol=1e-4) and (where == m.argmin(axis=1)).all()


@pytest.mark.parametrize("digits", [1, 2])
def test_all_sums_margins_are_the_plain_margins(digits):
    model = small_rnn(layers=2, seed=digits)
    num1, num2, result = families.all_sums(digits)
    fast = exact.all_sums_margins(model, num1, num2, result, row_chunk=333)
    np.testing.assert_allclose(fast, exact.margins(model, num1, num2, result), atol=1e-5)


def hand_adder(k=20.0):
    """A 1-layer tanh RNN that adds exactly, by hand: unit j (1..19) = tanh(k (a + b + carry - j + 1/4)).

    The carry in is unit 10's last value mapped to 0/1 ((h + 1) / 2: 1/2 from the zero start, which the threshold
    at j - 1/4 still reads as no carry); the digit logits are one-hot differences of the units.
    """
    model = build_model(ModelConfig(cell="rnn", nonlinearity="tanh", hidden_mode="none", num_layers=1,
                                    hidden_size=19))
    j = torch.arange(1, 20, dtype=torch.float32)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.embed.weight[:, 0] = torch.arange(10.0)  # the digit's value in the first coordinate
        model.rnn.weight_ih_l0[:, 0] = k  # a (first operand's coordinate 0)
        model.rnn.weight_ih_l0[:, 32] = k  # b
        model.rnn.weight_hh_l0[:, 9] = k / 2  # carry = (h_10 + 1) / 2
        model.rnn.bias_ih_l0[:] = k * (0.75 - j)
        g = torch.zeros(10, 21)  # logits as combinations of g_s = [S >= s] = (h_s + 1) / 2, g_0 = 1, g_20 = 0
        for s in range(20):
            g[s % 10, s] += 1
            g[s % 10, s + 1] -= 1
        model.out.weight[:] = g[:, 1:20] / 2
        model.out.bias[:] = g[:, 0] + g[:, 1:20].sum(1) / 2
    return model.eval()


def phantom_adder(k=20.0, phantom=True):
    """hand_adder with its carry in a 20th unit, which (phantom=True) also carries out of the second of two pairs in a
    row whose digit sum with the carry is 9: 99 + 0 -> 199. phantom=False: an exact adder.

    Unit 20 = tanh(k (S + nine - 9.75)), S = a + b + carry, nine = [the previous step's S was 9] = (h_9 - h_10) / 2;
    every unit reads the carry as (h_20 + 1) / 2.
    """
    model = build_model(ModelConfig(cell="rnn", nonlinearity="tanh", hidden_mode="none", num_layers=1,
                                    hidden_size=20))
    exact_one = hand_adder(k)
    j = torch.tensor([*range(1, 20), 10], dtype=torch.float32)  # unit 20 thresholds like unit 10
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.embed.weight[:] = exact_one.embed.weight
        model.rnn.weight_ih_l0[:, 0] = k
        model.rnn.weight_ih_l0[:, 32] = k
        model.rnn.weight_hh_l0[:, 19] = k / 2
        model.rnn.bias_ih_l0[:] = k * (0.75 - j)
        if phantom:
            model.rnn.weight_hh_l0[19, 8] = k / 2
            model.rnn.weight_hh_l0[19, 9] = -k / 2
        model.out.weight[:, :19] = exact_one.out.weight
        model.out.bias[:] = exact_one.out.bias
    return model.eval()


def wrong_on(model, a_int, b_int, digits):
    """Whether the model gets a + b wrong on `digits`-digit operands (Python ints: the reference)."""
    num = [np.array([[int(ch) for ch in str(v).zfill(digits + 1)[::-1]]]) for v in (a_int, b_int)]
    pred = beyond.predict_digits(model, *num)[0]
    return int("".join(map(str, pred[::-1]))) != a_int + b_int


def test_hand_adder_is_exact_and_passes_the_suite():
    for model in (hand_adder(), phantom_adder(phantom=False)):
        out = exact.suite_eval(model, None, 0, [300, 2000], [0, 1, 10, 299], 5, 5, 5, 2)
        assert out["passed"] and out["lengths"] == [3, 10, 100, 300, 2000] and out["shortest_failure"] is None
        assert [s["length"] for s in out["stages"]] == out["lengths"] and out["stages"][0]["checks"][0]["sums"] == 10**6
        assert all(c["failures"] == [] for s in out["stages"] for c in s["checks"])


def test_suite_catches_a_phantom_carry_at_the_first_stage_and_stores_sums_it_gets_wrong():
    model = phantom_adder()
    assert wrong_on(model, 99, 0, 2) and wrong_on(model, 4545, 5454, 4) and not wrong_on(model, 9, 0, 1)
    assert wrong_on(model, 99999, 0, 5) and wrong_on(model, 2973, 77020, 5)  # issue 19's two sums: the same kind
    out = exact.suite_eval(model, None, 0, [300, 2000], [0, 1, 10, 299], 5, 5, 5, 2)
    assert not out["passed"] and [s["length"] for s in out["stages"]] == [3]  # stopped at the exhaustive stage
    check = out["stages"][0]["checks"][0]
    assert check["sums"] == 10**6 and len(check["failures"]) == exact.FAILURES_KEPT
    num1, num2, _ = families.all_sums(3)  # wrong: exactly the sums with two steps in a row whose S (with carry) is 9
    a, b = num1 @ 10 ** np.arange(4), num2 @ 10 ** np.arange(4)
    carry = np.stack([(a % 10**t + b % 10**t >= 10**t) for t in range(4)], axis=1)  # int64 is exact at 4 digits
    nine = num1 + num2 + carry == 9
    assert check["wrong"] == (nine[:, 1:] & nine[:, :-1]).any(axis=1).sum() > 0
    for f in check["failures"]:
        a, b = sums.decode(f["sum"], f["digits"])
        x, y = digits_to_ints(a)[0], digits_to_ints(b)[0]
        assert wrong_on(model, x, y, f["digits"])  # the stored sum really is wrong, on its own digits
        assert f["digits"] <= 3 and (num1[f["row"], : f["digits"]] == a).all()  # and is a prefix of its row
    assert out["shortest_failure"]["digits"] == 2  # no 1-digit sum is wrong (the exhaustive stage saw them all)
    short = exact.suite_eval(model, None, 0, [300], [0, 1, 10], 5, 5, 5, 2, all_digits=0)
    assert short["lengths"] == [10, 100, 300] and [s["length"] for s in short["stages"]] == [10]
    runs = {c["check"]: c for c in short["stages"][0]["checks"]}
    assert runs["d…d + (9-d)…(9-d)"]["wrong"] > 0 and runs["9-run k=10, no carry in"]["wrong"] > 0
    assert short["shortest_failure"]["digits"] == 2
    assert wrong_on(model, *digits_to_ints(np.stack(sums.decode(short["shortest_failure"]["sum"]))), 2)


def test_a_model_with_nan_logits_fails():
    model = hand_adder()
    with torch.no_grad():
        model.out.bias[0] = float("nan")
    out = exact.suite_eval(model, None, 0, [300], [0], 5, 5, 5, 2, all_digits=1)
    assert not out["passed"] and out["stages"][0]["checks"][0]["wrong"] == 100


def test_proof_accepts_the_hand_adder_and_rejects_it_broken():
    model = hand_adder()
    net = abstraction.extract(model)
    lo, hi, _, closed, _ = proof.search(net, m=1, budget_s=20)
    result = proof.check(net, lo, hi, m=1)
    assert closed and result["proven"] and result["transitions_certified"] == result["transitions"] == 20000
    with torch.no_grad():  # broken: digits 3 and 4 swap their output rows (wrong on every sum showing a 3 or 4)
        model.out.weight[[3, 4]] = model.out.weight[[4, 3]].clone()
        model.out.bias[[3, 4]] = model.out.bias[[4, 3]].clone()
    broken = abstraction.extract(model)
    assert not proof.check(broken, lo, hi, m=1)["proven"]
    b_lo, b_hi, _, _, _ = proof.search(broken, m=1, budget_s=20)
    assert not proof.check(broken, b_lo, b_hi, m=1)["proven"]
    assert not proof.check(net, lo * 0.5, hi * 0.5, m=1)["proven"]  # shrunken boxes are no invariant


@pytest.mark.parametrize("nl", ["tanh", "relu"])
def test_proofs_float64_copy_is_the_models_forward(nl):
    """abstraction.extract's arrays, stepped in float64 from zeros, give the model's own logits (models.run) on random
    sums: the proof reasons about the model, not about a different network."""
    model = small_rnn(nl, layers=2, seed=5)
    net = abstraction.extract(model)
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 10, (6, 30)), rng.integers(0, 10, (6, 30))
    with torch.no_grad():
        y, _ = model.run(torch.from_numpy(a), torch.from_numpy(b), model.initial_state(len(a)))
        want = model.out(y).double().numpy()
    h = [np.zeros((len(a), w_hh.shape[0])) for _, w_hh, _, _ in net["layers"]]
    act = np.tanh if nl == "tanh" else (lambda z: np.maximum(z, 0))
    got = []
    for t in range(a.shape[1]):
        below = net["x"][a[:, t] * 10 + b[:, t]]
        for li, (w_ih, w_hh, b_ih, b_hh) in enumerate(net["layers"]):
            h[li] = act(below @ w_ih.T + h[li] @ w_hh.T + b_ih + b_hh)
            below = h[li]
        got.append(below @ net["V"].T + net["c"])
    got = np.stack(got, axis=1)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert (got.argmax(-1) == want.argmax(-1)).mean() > 0.99  # float32 vs float64: a tie may flip, not more


def test_image_boxes_hold_the_models_own_states():
    model = small_rnn(layers=2, seed=3)
    net = abstraction.extract(model)
    rng = np.random.default_rng(0)
    centre = rng.uniform(-0.8, 0.8, (50, 2, 8))
    lo, hi = centre - 0.05, centre + 0.05
    y = rng.integers(0, 100, 50)
    i_lo, i_hi = proof.image(net, lo, hi, y)
    h = torch.from_numpy(rng.uniform(lo, hi)).float()  # points in the boxes, one step of the model itself
    a, b = torch.from_numpy(y // 10)[:, None], torch.from_numpy(y % 10)[:, None]
    with torch.no_grad():
        _, hn = model.rnn(torch.cat([model.embed(a), model.embed(b)], -1), h.transpose(0, 1).contiguous())
    hn = hn.transpose(0, 1).double().numpy()
    assert (hn >= i_lo).all() and (hn <= i_hi).all()


def test_attack_finds_failing_sums_of_a_half_trained_model():
    _, model, _ = train_run({"cell": "rnn", "nonlinearity": "tanh", "hidden_mode": "none", "hidden_size": 16},
                         maxlen=5, steps=60, lr=0.01, seed=0, eval_every=60)
    out = adversary.attack_eval(model, None, 0, candidates=300, lengths=[60], batch=100, elite=10, confirm=5)
    assert out["candidates"] == 300 and out["failures"] >= 1 and out["min_margin"] <= 0
    assert [n for n, _ in out["curve"]] == [100, 200, 300]  # the best margin after each batch of candidates
    assert out["curve"][-1][1] < out["curve"][0][1]  # the mutations found worse sums than the seed population
    # the search's best (fast copy) is the worst confirmed on the model itself
    assert out["curve"][-1][1] == out["fast_min_margin"] == pytest.approx(out["min_margin"], abs=1e-4)


def test_chain_rich_training_sums_are_exact_and_stay_in_the_training_split():
    from data import digits_to_ints, longest_carry_chain
    from train import chain_batch

    rng = np.random.default_rng(3)
    for length in (2, 5, 12):
        chains = set()
        for _ in range(20):
            num1, num2, result = chain_batch(30, length, rng)
            a, b = digits_to_ints(num1), digits_to_ints(num2)
            assert digits_to_ints(result) == [x + y for x, y in zip(a, b, strict=True)]
            assert max(a + b) < 5 * 10 ** (length - 1) and num1.shape == (30, length + 1)
            chains |= set(longest_carry_chain(num1, num2).tolist())
        assert max(chains) == length - 2  # the longest chain the lower digits may hold does occur


def test_chain_fraction_setting():
    from train import check_settings

    kw = dict(maxlen=6, steps=20, lr=0.01, seed=1, eval_every=10, loss_every=10)
    plain, _, _ = train_run({}, **kw)
    off, _, _ = train_run({}, chain_fraction=0.0, **kw)
    rich, _, _ = train_run({}, chain_fraction=0.5, **kw)
    assert off["loss"] == plain["loss"] and rich["loss"] != plain["loss"]
    with pytest.raises(ValueError, match="chain_fraction must be a number in \\[0, 1\\], got 1.5"):
        check_settings({"chain_fraction": 1.5})
