"""The training loop: it learns, it is reproducible, divergence is recorded."""
import math

import pytest

from data import digits_to_ints, gen_data
from machinery.store import canonical
from train import evaluate, resolve_device, seed_streams, to_tensors, train_run


def test_small_run_learns_to_exact_accuracy_on_held_out_sums():
    hist, model, _ = train_run({"hidden_mode": "none"}, maxlen=5, steps=300, lr=0.01, milestones=[150], gamma=0.2,
                               seed=0)
    assert hist["accuracy"][-1] >= 0.99
    assert not hist["diverged"]
    # independent check of the evaluation: decode the model's predictions as integers
    _, test_rng = seed_streams(0)
    num1, num2, result = gen_data(1000, 5, "test", test_rng)
    t1, t2, _ = to_tensors((num1, num2, result), "cpu")
    pred = model.eval()(t1, t2).argmax(-1).numpy()
    truth = [a + b for a, b in zip(digits_to_ints(num1), digits_to_ints(num2), strict=False)]
    exact = sum(p == t for p, t in zip(digits_to_ints(pred), truth, strict=False)) / 1000
    assert exact == hist["accuracy"][-1]
    assert min(digits_to_ints(num1)) >= 50_000  # evaluated on the test split


def test_same_seed_same_curve_other_seed_different():
    kw = dict(maxlen=6, steps=100, lr=0.01, loss_every=10, eval_every=20)
    a, _, _ = train_run({}, seed=1, **kw)
    b, _, _ = train_run({}, seed=1, **kw)
    c, _, _ = train_run({}, seed=2, **kw)
    assert a["loss"] == b["loss"] and a["accuracy"] == b["accuracy"]
    assert a["loss"] != c["loss"]
    assert len(a["loss"]) == 10 and len(a["accuracy"]) == 5


def test_huge_learning_rate_is_recorded_as_diverged():
    hist, _, _ = train_run({}, maxlen=5, steps=300, lr=1e6, seed=0, loss_every=10, eval_every=10)
    assert hist["diverged"] and 1 <= hist["diverged_at"] < 300
    assert len(hist["loss"]) == 30 and hist["loss"][-1] is None  # grid kept, unreached points None
    assert all(v is None or math.isfinite(v) for v in hist["loss"])
    assert hist["first_exact"] is None and hist["first_exact_sec"] is None  # never exact: no time to it


def test_multistep_schedule_and_stop_at_exact():
    from time import perf_counter

    kw = dict(maxlen=10, steps=400, lr=0.005, milestones=[200], gamma=0.5, seed=0, eval_every=25)
    full, _, _ = train_run({"hidden_mode": "none"}, **kw)
    t0 = perf_counter()
    early, _, _ = train_run({"hidden_mode": "none"}, stop_at_exact=True, **kw)
    wall = perf_counter() - t0
    assert full["first_exact"] is not None
    assert early["first_exact"] == full["first_exact"] == early["steps_run"]
    n = full["first_exact"] // 25
    assert early["accuracy"][:n] == full["accuracy"][:n] and early["accuracy"][n:] == [None] * (16 - n)
    # the wall time to the first exact evaluation: every training step so far and the evaluations, within the call
    assert early["sec_per_step"] * early["steps_run"] <= early["first_exact_sec"] <= wall


def test_evaluate_counts_whole_sum_exact_match():
    class Echo:  # predicts the target itself except one digit in the first row
        training = False

        def __call__(self, a, b, carried=None):
            import torch
            logits = torch.nn.functional.one_hot(self.target, 10).float()
            logits[0, 0] = logits[0, 0].roll(1)
            return logits

        def eval(self):
            return self

        def train(self, mode=True):
            return self

    num1, num2, result = to_tensors(gen_data(10, 3, "test", 0), "cpu")
    m = Echo()
    m.target = result
    exact, digit = evaluate(m, num1, num2, result)
    assert exact == 0.9 and digit == 1 - 1 / 40


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=0), "lr"), (dict(lr=float("nan")), "lr"), (dict(steps=0), "steps"), (dict(maxlen="5"), "maxlen"),
    (dict(milestones=[0]), "milestone"), (dict(seed=-3), "seed"),
])
def test_bad_settings_raise(kwargs, match):
    base = dict(maxlen=3, steps=10, lr=0.01)
    with pytest.raises(ValueError, match=match):
        train_run({}, **{**base, **kwargs})


@pytest.mark.parametrize("has_cuda", [False, True])
def test_device_names(monkeypatch, has_cuda):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: has_cuda)  # either machine, on this one
    assert resolve_device("auto") == ("cuda" if has_cuda else "cpu")
    assert resolve_device("cpu") == "cpu"
    if has_cuda:
        assert resolve_device("cuda") == "cuda"
    else:
        with pytest.raises(ValueError, match="'cuda' requested but torch.cuda.is_available\\(\\) is False"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device 'tpu'; valid: auto, cpu, cuda"):
        resolve_device("tpu")


def test_eval_fresh_scores_a_new_held_out_batch_each_time_and_trains_the_same():
    kw = dict(maxlen=4, steps=60, lr=0.01, seed=3, loss_every=20, eval_every=20, eval_size=50)
    timing = ("sec_per_step", "first_exact_sec")
    fixed, _, _ = train_run({"hidden_mode": "none"}, **kw)
    off, _, _ = train_run({"hidden_mode": "none"}, eval_fresh=False, **kw)
    assert {k: v for k, v in off.items() if k not in timing} == {k: v for k, v in fixed.items() if k not in timing}
    fresh, model, _ = train_run({"hidden_mode": "none"}, eval_fresh=True, **kw)
    assert fresh["loss"] == fixed["loss"]  # training draws from its own stream: unchanged
    assert fresh["accuracy"][0] == fixed["accuracy"][0]  # the first fresh batch is the fixed one
    _, test_rng = seed_streams(kw["seed"])  # the run's test generator: three draws, one per evaluation
    batches = [gen_data(50, kw["maxlen"], "test", test_rng) for _ in range(3)]
    assert evaluate(model, *to_tensors(batches[2], "cpu")) == (fresh["accuracy"][-1], fresh["digit_accuracy"][-1])
    assert canonical({}, {**kw, "eval_fresh": False}) == canonical({}, kw) != canonical({}, {**kw, "eval_fresh": True})
