"""The adversarial search (measures/exact/adversary.py): its fast forward is the model's own, the failing sums it
stores are sums the model really adds wrong (re-checked from the stored text with Python integers), one search per
(length, search seed), and the training windows it cuts are exact sums that keep the full sum's carries."""
import numpy as np
import pytest
import torch
from test_exact import small_rnn

from data import add_digits, carry_chain_data, digits_to_ints
from measures.exact import adversary, exact, sums
from train import train_run


@pytest.fixture(scope="module")
def half_trained():
    """A model that adds short sums but fails longer ones (60 steps of training on 5 digits)."""
    _, model, _ = train_run({"cell": "rnn", "nonlinearity": "tanh", "hidden_mode": "none", "hidden_size": 16},
                         maxlen=5, steps=60, lr=0.01, seed=0, eval_every=60)
    return model


@pytest.mark.parametrize("nl,layers,length", [("tanh", 1, 7), ("relu", 2, 130), ("tanh", 3, 101)])
def test_fast_rnn_is_the_models_forward(nl, layers, length):
    """min_margins (time chunks, states carried over chunk ends) = exact.margins' minimum and its first step."""
    model = small_rnn(nl, layers, 12, seed=layers)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 10, (40, length + 1)), rng.integers(0, 10, (40, length + 1))
    a[:, -1] = b[:, -1] = 0
    r = add_digits(a, b)
    want = exact.margins(model, a, b, r)
    got, where = adversary.FastRNN(model).min_margins(a, b, r)
    np.testing.assert_allclose(got, want.min(axis=1), atol=1e-4)
    assert (where == want.argmin(axis=1)).all()


def model_digits(model, a, b):
    with torch.no_grad():
        y, _ = model.run(torch.from_numpy(a), torch.from_numpy(b), model.initial_state(len(a)))
        return model.out(y).argmax(-1).numpy()


def test_stored_failures_are_sums_the_model_gets_wrong(half_trained):
    model = half_trained
    out = adversary.attack_eval(model, None, 0, candidates=300, lengths=[30, 60], batch=100, elite=10,
                                search_seeds=[0, 1], confirm=8)
    assert [(r["length"], r["search_seed"]) for r in out["runs"]] == [(30, 0), (30, 1), (60, 0), (60, 1)]
    assert out["candidates"] == 1200 and all(r["candidates"] == 300 for r in out["runs"])
    assert out["failures"] == sum(r["failures"] for r in out["runs"]) >= 1
    assert out["min_margin"] == min(r["min_margin"] for r in out["runs"]) <= 0
    stored = [f for r in out["runs"] for f in r["failing"]]
    assert stored and all(len(r["failing"]) == min(r["distinct_failures"], adversary.FAILURES_KEPT)
                          for r in out["runs"])
    shrunk = [f["shrunk"] for f in stored if f["shrunk"] is not None]
    assert shrunk and all(g["digits"] < f["digits"] for f in stored if (g := f["shrunk"]) is not None)
    assert out["shortest_failure"]["digits"] == min(f["digits"] for f in stored + shrunk)
    for f in stored + shrunk:
        a, b = sums.decode(f["sum"], f["digits"])
        a, b = np.append(a, 0)[None], np.append(b, 0)[None]  # the padding step
        x, y = digits_to_ints(a)[0], digits_to_ints(b)[0]
        true = [int(d) for d in str(x + y).zfill(f["digits"] + 1)[::-1]]  # Python ints, LSB first
        pred = model_digits(model, a, b)[0]
        t = f["first_wrong"]
        assert pred[t] != true[t] and (pred[:t] == true[:t]).all()  # wrong first at first_wrong, right before
        assert t == f["digits"] - 1 or t == f["digits"]  # the shortest prefix: cut right after it (or the top)
        assert exact.margins(model, a, b, add_digits(a, b))[0, t] <= 0
    for r in out["runs"]:  # the worst sum is stored in full, and the model itself gives its margin
        a, b = (np.append(v, 0)[None] for v in sums.decode(r["worst_sum"], r["length"]))
        m = exact.margins(model, a, b, add_digits(a, b))[0]
        assert m.min() == pytest.approx(r["min_margin"], abs=1e-6) and m.argmin() == r["worst_step"]


def test_each_search_has_its_own_seed(half_trained):
    """A (length, search seed) gives the same search alone or among others; another search seed another search."""
    kw = dict(candidates=200, batch=100, elite=10, confirm=3)
    both = adversary.attack_eval(half_trained, None, 0, lengths=[20, 40], search_seeds=[0, 1], **kw)
    alone = adversary.attack_eval(half_trained, None, 0, lengths=[40], search_seeds=[1], **kw)
    assert alone["runs"][0]["curve"] == both["runs"][3]["curve"]
    assert alone["runs"][0]["worst_sum"] == both["runs"][3]["worst_sum"]
    assert both["runs"][2]["worst_sum"] != both["runs"][3]["worst_sum"]
    other = adversary.attack_eval(half_trained, None, 1, lengths=[40], search_seeds=[1], **kw)  # another model seed
    assert other["runs"][0]["worst_sum"] != alone["runs"][0]["worst_sum"]


@pytest.mark.parametrize("bad,match", [({"lengths": []}, "lengths must be"), ({"lengths": [1]}, "length must be"),
                                       ({"lengths": "100"}, "lengths must be"),
                                       ({"search_seeds": [-1]}, "search seed must be")])
def test_attack_refuses_bad_settings(bad, match):
    model = small_rnn(hidden=4)
    kw = {"candidates": 10, "lengths": [10], "batch": 5, "elite": 2, **bad}
    with pytest.raises(ValueError, match=match):
        adversary.attack_eval(model, None, 0, **kw)


def check_windows(a, b, where, width, seed):
    """windows() against Python integers, and the full sum's digits at every window pair (from window_starts)."""
    n1, n2, r = adversary.windows(a, b, where, width, np.random.default_rng(seed))
    starts, carried = adversary.window_starts(a, b, where, width, np.random.default_rng(seed))
    assert n1.shape == n2.shape == r.shape == (len(a), width + 1)
    assert (n1[:, -1] == 0).all() and (n2[:, -1] == 0).all() and n1.max() <= 9 and n2.max() <= 9
    x, y = digits_to_ints(n1), digits_to_ints(n2)
    assert digits_to_ints(r) == [u + v for u, v in zip(x, y, strict=True)]  # exact sums
    fa, fb = (np.pad(v, ((0, 0), (0, width + 1))) for v in (a, b))  # the full sums, zeros past the end
    full = add_digits(fa, fb)
    for i, p in enumerate(starts):
        assert p <= min(where[i], a.shape[1]) < p + width  # the step to cover is in the window
        same = full[i, p : p + width] == r[i, :width]
        nine_nine = carried[i] and a[i, p] + b[i, p] == 18
        assert same[1:].all() and (same[0] or nine_nine)  # the full sum's digits: the carries are kept
        changed = n1[i, 0] + n2[i, 0] != a[i, p] + b[i, p]
        assert changed == (carried[i] and not nine_nine)  # the carry folded into the first pair
        assert not changed or n1[i, 0] + n2[i, 0] == a[i, p] + b[i, p] + 1
        unchanged = [n1[i, 1 : width], a[i, p + 1 : p + width]]
        assert (unchanged[0][: len(unchanged[1])] == unchanged[1]).all()
    return carried


def test_windows_are_exact_sums_that_keep_the_carries():
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 10, (200, 120)), rng.integers(0, 10, (200, 120))
    carried = check_windows(a, b, rng.integers(0, 121, 200), 30, 0)  # random steps, the top carry (120) too
    assert not carried.any()  # random sums: a carry-free point lies within any 30 pairs
    c1, c2, _ = carry_chain_data(50, 200, 150, rng)  # chains of 150 > the window: the carry is folded in
    chain = (c1 + c2 == 9) & (np.arange(201) > 0)
    where = np.array([np.flatnonzero(row)[-1] for row in chain])  # the chain's top
    assert check_windows(c1[:, :-1], c2[:, :-1], where, 40, 1).any()
    nines = np.full((3, 100), 9)  # 99...9 + 99...9: every pair 9 + 9 after the first carries in
    assert check_windows(nines, nines, np.array([99, 60, 100]), 16, 2).all()
    short = rng.integers(0, 10, (5, 6))  # sums shorter than the window: zeros above
    check_windows(short, short[::-1], np.array([0, 3, 5, 6, 2]), 20, 3)
