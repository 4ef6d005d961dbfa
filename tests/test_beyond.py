"""Beyond the report: carry-chain data, chunked long evaluation, the linear probe, new training options
(their quick runs: test_study.py, beside the other tests of the quick study)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from data import carry_chain_data, digits_to_ints, gen_data, longest_carry_chain
from measures import beyond, chains, cost, length, probe, sizes
from models import ModelConfig, build_model
from train import check_settings, evaluate, to_tensors, train_run


def scan_longest_chain(a, b):
    """Independent reference: walk the digits with an explicit carry, count 9-sums a carry crosses."""
    best, run, carry = 0, 0, False
    for x, y in zip(a, b, strict=False):
        s = int(x) + int(y)
        if s == 9 and carry:
            run += 1
            best = max(best, run)
        else:
            run = 0
        carry = s + carry >= 10
    return best


@pytest.mark.parametrize("length, chains", [(1, [0]), (2, [0, 1]), (7, range(7)), (40, [0, 3, 9, 10, 39]),
                                            (1000, [0, 1, 50, 500, 998, 999])])
def test_carry_chain_data_has_exactly_k_and_adds_up(length, chains):
    for k in chains:
        num1, num2, result = carry_chain_data(40, length, k, rng=k)
        assert num1.shape == (40, length + 1) and (num1[:, -1] == 0).all() and (num2[:, -1] == 0).all()
        assert [scan_longest_chain(a, b) for a, b in zip(num1, num2, strict=False)] == [k] * 40
        assert (longest_carry_chain(num1, num2) == k).all()
        a, b, r = digits_to_ints(num1), digits_to_ints(num2), digits_to_ints(result)
        assert [x + y for x, y in zip(a, b, strict=False)] == r


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_longest_carry_chain_matches_scan_on_random_sums(length, seed):
    rng = np.random.default_rng(seed)
    num1, num2 = rng.integers(0, 10, (2, 20, length))
    num2 = np.where(rng.random((20, length)) < 0.4, 9 - num1, num2)  # many 9-sums: long chains occur
    expected = [scan_longest_chain(a, b) for a, b in zip(num1, num2, strict=True)]
    assert longest_carry_chain(num1, num2).tolist() == expected


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=1, length=5, chain=5), "chain must be in \\[0, 4\\], got 5"),
    (dict(batch_size=1, length=5, chain=-1), "chain must be in \\[0, 4\\], got -1"),
    (dict(batch_size=1, length=0, chain=0), "length must be in \\[1, 1000000\\], got 0"),
    (dict(batch_size=0, length=5, chain=0), "batch_size must be >= 1, got 0"),
    (dict(batch_size=1, length=5, chain=2.5), "chain must be an integer, got 2.5"),
])
def test_carry_chain_data_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        carry_chain_data(**kwargs)


def test_worst_cases_are_nines_plus_one():
    num1, num2, result = beyond.worst_cases(1000)
    assert digits_to_ints(num1) == [10**1000 - 1, 1] and digits_to_ints(num2) == [1, 10**1000 - 1]
    assert digits_to_ints(result) == [10**1000, 10**1000]
    assert longest_carry_chain(num1, num2).tolist() == [999, 999]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_chunked_evaluation_equals_one_pass(cell):
    torch.manual_seed(0)
    model = build_model(ModelConfig(cell=cell, hidden_mode="none", hidden_size=16, num_layers=2)).eval()
    num1, num2, result = gen_data(37, 50, "test", 1)
    with torch.no_grad():
        full = model(*to_tensors((num1, num2), "cpu")).argmax(-1).numpy() == result
    ok, right = beyond.predict_correct(model, num1, num2, result, time_chunk=7)
    assert ok.tolist() == full.all(1).tolist() and right == full.sum()
    start = [0]

    def next_rows(n):  # the next n rows, like a generator drawing fresh sums
        rows = slice(start[0], start[0] + n)
        start[0] += n
        return num1[rows], num2[rows], result[rows]

    acc, digit, _ = beyond.evaluate_sums(model, next_rows, 30, sum_chunk=8)
    assert start[0] == 30
    assert (acc, digit) == pytest.approx(evaluate(model, *to_tensors((num1[:30], num2[:30], result[:30]), "cpu")))


def test_trained_model_is_exact_on_long_sums_checked_with_python_ints():
    hist, model, _ = train_run({"cell": "rnn", "nonlinearity": "tanh", "hidden_mode": "none"}, maxlen=6, steps=300,
                            lr=0.01, seed=0, eval_every=100)
    assert hist["accuracy"][-1] == 1.0
    num1, num2, result = gen_data(20, 300, "test", 5)
    ok, _ = beyond.predict_correct(model, num1, num2, result, time_chunk=64)
    logits = model.eval()(*to_tensors((num1, num2), "cpu"))
    truth = [a + b for a, b in zip(digits_to_ints(num1), digits_to_ints(num2), strict=False)]
    assert ok.tolist() == [p == t for p, t in zip(digits_to_ints(logits.argmax(-1).numpy()), truth, strict=False)]
    out = length.length_eval(model, None, None, 0, [10, 30, 60], [50, 50, 50], fallback_sums=5)
    assert out["lengths"] == [10, 30, 60] and len(out["eval_sec"]) == 3
    assert all(n == 50 or (r and n == 5) for n, r in zip(out["n_sums"], out["reduced"], strict=False))


@pytest.mark.parametrize("scores, asked, accuracy, fallback", [
    ([0.9, 1.0, 1.0], [50, 5, 5], [0.9, None, None], [None, 1.0, 1.0]),  # failed first: 5 sums, each right
    ([1.0, 0.5, 1.0], [50, 50, 5], [1.0, 0.5, None], [None, None, 1.0]),
    ([1.0, 1.0, 1.0], [50, 50, 50], [1.0, 1.0, 1.0], [None, None, None]),
])
def test_a_fallback_evaluation_is_stored_apart_from_accuracy(monkeypatch, scores, asked, accuracy, fallback):
    """"accuracy" holds only evaluations on the full number of sums: counting accuracy == 1.0 counts exact seeds."""
    calls, it = [], iter(scores)
    monkeypatch.setattr(length, "evaluate_sums",
                        lambda model, make, n, carried=None: (calls.append(n), (next(it), 0.5, 0.0))[1])
    out = length.length_eval(None, None, None, 0, [10, 30, 60], [50, 50, 50], fallback_sums=5)
    assert calls == asked and out["n_sums"] == asked and out["reduced"] == [n < 50 for n in asked]
    assert out["accuracy"] == accuracy and out["fallback_accuracy"] == fallback
    assert [a == 1.0 for a in out["accuracy"]] == [length.seed_exact(out, i) for i in range(3)]
    assert length.scored(out) == scores  # the chart draws every evaluation


def test_linear_probe_separates_synthetic_states():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6000, 32))
    w = rng.normal(size=32)
    x = x[np.abs(x @ w + 0.3) > 0.5][:4000]  # separable with a margin, as distinct carry states are
    y = (x @ w + 0.3 > 0).astype(np.int64)
    assert probe.linear_probe(x[:3000], y[:3000], x[3000:], y[3000:]) >= 0.99
    assert probe.linear_probe(x[:3000], rng.integers(0, 2, 3000), x[3000:], rng.integers(0, 2, 1000)) < 0.6


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_layer_states_rebuild_the_stacked_layer(cell):
    torch.manual_seed(1)
    model = build_model(ModelConfig(cell=cell, hidden_mode="none", num_layers=3, hidden_size=8)).eval()
    num1, num2, _ = gen_data(5, 12, "test", 2)
    states = probe.layer_states(model, num1, num2)
    with torch.no_grad():
        x = torch.cat([model.embed(torch.from_numpy(num1)), model.embed(torch.from_numpy(num2))], -1)
        top, _ = model.rnn(x)
    assert len(states) == 3 and torch.allclose(states[-1], top, atol=1e-6)


def test_carry_bits_match_school_addition():
    num1, num2, result = gen_data(30, 15, "test", 3)
    carry_in, carry_out = probe.carry_bits(num1, num2, result)
    for a, b, cin, cout in zip(num1, num2, carry_in, carry_out, strict=False):
        c = 0
        for t in range(len(a)):
            assert cin[t] == c
            c = int(a[t] + b[t] + c >= 10)
            assert cout[t] == c


def test_new_training_options_validated_and_off_by_default():
    assert check_settings({"mixed_lengths": True, "clip_grad": 1.0}) == {"mixed_lengths": True, "clip_grad": 1.0}
    with pytest.raises(ValueError, match="mixed_lengths must be true or false, got 1"):
        check_settings({"mixed_lengths": 1})
    with pytest.raises(ValueError, match="clip_grad must be a positive finite number, got -1"):
        check_settings({"clip_grad": -1})
    kw = dict(maxlen=6, steps=60, lr=0.01, seed=3, loss_every=20, eval_every=20)
    base, _, _ = train_run({}, **kw)
    same, _, _ = train_run({}, mixed_lengths=False, clip_grad=None, **kw)
    mixed, _, _ = train_run({}, mixed_lengths=True, **kw)
    clipped, _, _ = train_run({}, clip_grad=1e-3, **kw)
    assert base["loss"] == same["loss"] and base["accuracy"] == same["accuracy"]
    assert mixed["loss"] != base["loss"] and clipped["loss"] != base["loss"]


def test_size_and_cost_summaries_read_the_series():
    rnn = {"cell": "rnn", "nonlinearity": "relu"}  # size_table's rows come from the settings
    result = {"series": [
        {"label": "rnn/relu, hidden_size=1", "settings": {**rnn, "hidden_size": 1, "steps": 100},
         "first_exact": [None, None], "first_exact_sec": [None, None], "sec_per_step": [0.001, 0.001]},
        {"label": "rnn/relu, hidden_size=2", "settings": {**rnn, "hidden_size": 2, "steps": 100},
         "first_exact": [40, None], "first_exact_sec": [1.0, None], "sec_per_step": [0.001, 0.001]},
        {"label": "rnn/relu, hidden_size=4", "settings": {**rnn, "hidden_size": 4, "steps": 100},
         "first_exact": [20, 30], "first_exact_sec": [0.5, 0.7], "sec_per_step": [0.001, 0.001]}]}
    table = sizes.size_table(result)
    assert table["rnn/relu"] == {1: (0, 2, None), 2: (1, 2, 40), 4: (2, 2, 25)}
    assert sizes.minimal_size(table["rnn/relu"], 0.5) == 2
    assert sizes.minimal_size(table["rnn/relu"], 1.0) == 4
    rows = cost.cost_rows(result)
    assert rows[2][:5] == ("rnn/relu, hidden_size=4", 25, 25 * 200, 0.6, 2) and rows[0][1] is None


@pytest.mark.parametrize("maxlen", [2, 3])
def test_longest_chain_possible_matches_every_sum_of_the_split(maxlen):
    half, top = 5 * 10 ** (maxlen - 1), 10**maxlen
    for split, (lo, hi) in (("train", (0, half)), ("test", (half, top))):
        a, b = np.meshgrid(np.arange(lo, hi), np.arange(lo, hi))
        num1, num2 = ((v.ravel()[:, None] // 10 ** np.arange(maxlen + 1)) % 10 for v in (a, b))  # LSB first
        assert int(longest_carry_chain(num1, num2).max()) == chains.longest_chain_possible(maxlen, split)
    assert chains.longest_chain_possible(10) == 8  # the carry_chains models (trained on 10 digits)


def cost_result(carry_firsts, none_firsts, bptt_sec):
    def s(label, firsts, extra=None):
        mode = "carry" if extra else "none"
        return {"label": label, "settings": {"steps": 200, "batch_size": 200, "cell": "rnn", "nonlinearity": "relu",
                                             "maxlen": 10, "hidden_mode": mode}, "steps": list(range(10, 201, 10)),
                "first_exact": firsts, "first_exact_sec": [1.0 if f else None for f in firsts],
                "sec_per_step": [1e-3] * len(firsts), **({"extra": extra} if extra else {})}
    extra = [{"depths": [1, 4, 16, 64], "sec_per_step": sec} for sec in bptt_sec]
    return {"series": [s("rnn/relu", none_firsts), s("rnn/relu, hidden_mode carry", carry_firsts, extra)],
            "config": {"seeds": list(range(len(none_firsts)))}}


def test_answer_232_sentences_follow_the_stored_numbers():

    def text(*args):
        result = cost_result(*args)
        return cost.answer_232(result, cost.cost_rows(result))[2]

    grows = [[0.004, 0.011, 0.04, 0.16], [0.0042, 0.012, 0.041, 0.15]]
    flat = [[0.004, 0.004, 0.0041, 0.0039], [0.0041, 0.0041, 0.004, 0.0042]]
    slower = text([150, 160, 170], [50, 60, 70], grows)
    assert "passing the state in slows learning (paired t" in slower and "linearly with its length" in slower
    # seed 0: 10x at 16, 40x at 64, so 10 + 30 * 34 / 48 = 31.25x at 50; seed 1: 9.76 + 25.95 * 34 / 48 = 28.14x;
    # their geometric mean sqrt(31.25 * 28.14) = 29.65x
    assert "29.7x [" in slower and "] the depth-1 step at depth 50" in slower and "mean 25.5" in slower
    alike = text([60, 50, 70], [50, 60, 70], flat)
    assert "no difference is shown, undecided at n = 3" in alike
    assert "1.0x [0.9, 1.1] the depth-1 step at depth 50" in alike
    never = text([None] * 3, [None] * 3, flat)
    assert "No series without a passed state reached an exact evaluation" in never


def probe_result(best):
    extra = {"layers": [1, 2], "probe_carry_in": [0.5, 0.5], "probe_carry_out": [0.6, best],
             "pca": {"variance_share": 0.5}, "norm": {"steps": [1, 10, 100], "per_layer": [[1, 1, 1], [1, 2, 3]]}}
    gru = {**extra, "probe_carry_out": [0.6, 1.0]}
    return {"id": "hidden_probe", "title": "t", "series": [{"label": "rnn/tanh", "extra": [extra]},
                                                           {"label": "gru", "extra": [gru]}],
            "config": {"seeds": [0]}, "device": "cpu", "wall_seconds": 1.0, "torch": "x"}


def test_probe_conclusion_follows_the_stored_numbers():
    readable = "\n".join(probe.probe_section(probe_result(1.0)))
    assert "In rnn/tanh, gru the carry is linearly readable" in readable and "not linearly readable" not in readable
    partly = "\n".join(probe.probe_section(probe_result(0.7)))
    assert "In gru the carry is linearly readable" in partly and "In rnn/tanh it is not linearly readable" in partly
    assert "rnn/tanh 3.00" in partly  # norm drift read from the stored trace


def length_result(sums_tanh, sums_lstm, lstm_exact=True):
    def s(label, sums, exact):
        extra = {"lengths": [10, 10000], "accuracy": [1.0, 1.0 if exact else 0.9], "digit_accuracy": [1.0, 1.0],
                 "n_sums": sums, "reduced": [False, False]}
        return {"label": label, "settings": {"maxlen": 10}, "extra": [extra] * 10}
    return {"series": [s("rnn/tanh", sums_tanh, True), s("lstm", sums_lstm, lstm_exact)]}


def test_best_configuration_says_ties_and_unequal_budgets():

    unequal = length.goal_lines(length_result([1000, 1000], [1000, 100]))[0]
    assert "`rnn/tanh`, `lstm` (tied" in unequal and "not checked on equal numbers of sums" in unequal
    assert "at 10,000 digits rnn/tanh 1,000, lstm 100" in unequal and "`lstm`: **not checked**" in unequal
    equal = length.goal_lines(length_result([1000, 1000], [1000, 1000]))[0]
    assert "not checked on equal" not in equal and "`lstm`: **reached**" in equal
    one = length.goal_lines(length_result([1000, 1000], [1000, 1000], lstm_exact=False))[0]
    assert "`rnn/tanh`, 80% or more of seeds exact on random sums up to 10,000 digits (random sums" in one
    assert "`lstm`" not in one
