"""Adversarial fine-tuning ("hardening") of a trained adder, the training option of exact_adder's hardened recipes.

In rounds, until the attack finds nothing (or `rounds` is reached):

    1. attack: the adversarial search (adversary.py) with `candidates` sums of `length` digits, from its own
       random stream (data.measure_rng(seed, "attack", 0, round); the evaluation's attacks are tagged with their
       length, >= 2, so their sums are never these);
    2. windows: around the worst step of each of the `elite` worst sums found, WINDOWS pairs cut from the sum
       (adversary.windows: starting where no carry comes in, so the cut adds the same digits), exact sums;
    3. fine-tune (train.fine_tune): `steps` Adam steps at `lr`, alternating batches of
         ordinary training-split sums, carry-chain-rich sums (train.chain_batch) and 9-runs with no carry in
         (nine_run_batch), all of `maxlen` digits, and
         the windows of every round so far (each width its own batch);
    4. with `saturation`: once the attack first finds nothing, a longer fine-tuning with a term that drives every
       unit towards +-1 (train.fine_tune), and from then on the rounds end only when the proof closes too.

The split stays honest: every fine-tuning sum has a leading pair from the training range or more digits than
`maxlen`, so no sum of the held-out test range (both operands in [5 * 10^(maxlen-1), 10^maxlen)) is ever trained
on (windows that would be one are dropped, and a test counts them); the final exact-match accuracy is measured on
held-out test-range sums, as train_run measures it.
"""
import time

import numpy as np

from data import LEADING_DIGITS, add_digits, check_int, gen_data, measure_rng
from measures.exact import adversary, families
from proof import proof
from train import chain_batch, evaluate, fine_tune, seed_streams, to_tensors

WINDOWS = (16, 30, 60)  # pairs in the windows cut around each failure (one of each width)
LONG = 40  # digits of the long training-split sums of the saturation stage's even steps before any window
BATCH = 200  # sums per fine-tuning step (train.BATCH_SIZE)
EVAL_SUMS = 1000  # held-out test-range sums of the exact-match accuracy after hardening


def nine_run_batch(n, length, rng):
    """n training-split sums of `length` digits with a run of pairs summing to 9 and NO carry coming into it.

    Below a leading pair of training-range digits (0-4), a run of k (uniform in 1..length-1) pairs summing to 9
    starts at step 0 or after a pair summing to <= 8; the other pairs are random. The 9-runs a carry chain has
    after a generating pair (chain_batch) and these, which must not carry, are the two sides of the same rule.
    """
    low, high = LEADING_DIGITS["train"]
    if length < 2:
        return gen_data(n, length, "train", rng)
    body = length - 1
    a, b = rng.integers(0, 10, (n, body)), rng.integers(0, 10, (n, body))
    k = rng.integers(1, body + 1, n)
    start = rng.integers(0, body - k + 1)
    pos = np.arange(body)
    run = (pos >= start[:, None]) & (pos < (start + k)[:, None])
    b = np.where(run, 9 - a, b)
    rows = np.nonzero(start > 0)[0]  # before the run a pair summing to <= 8: no carry comes in
    a[rows, start[rows] - 1], b[rows, start[rows] - 1] = families.absorbing_pairs(rng, len(rows))
    out = np.zeros((3, n, length + 1), dtype=np.int64)
    out[0, :, :body], out[1, :, :body] = a, b
    out[:2, :, body] = rng.integers(low, high, size=(2, n))
    add_digits(out[0], out[1], out=out[2])
    return out[0], out[1], out[2]


def in_test_range(num1, num2, maxlen):
    """Rows (N,) whose two operands both lie in the held-out test range of `maxlen`-digit sums."""
    low = LEADING_DIGITS["test"][0]
    top = lambda x: (x[:, maxlen:] == 0).all(axis=1) & (x[:, maxlen - 1] >= low)  # noqa: E731
    return top(num1) & top(num2)


def sampler(win, maxlen):
    """Fine-tuning batches: odd steps ordinary, chain-rich and 9-run sums of `maxlen` digits; even steps windows
    of one width (in turn), win: {width: (num1, num2, result)}, or with none yet LONG-digit training-split sums."""
    step, widths = [0], sorted(win)

    def sample(g):
        step[0] += 1
        if step[0] % 2 == 0 and not widths:
            return gen_data(BATCH, LONG, "train", g)
        if step[0] % 2 == 0:
            n1, n2, res = win[widths[step[0] // 2 % len(widths)]]
            pick = g.integers(0, len(n1), BATCH)
            return n1[pick], n2[pick], res[pick]
        parts = [gen_data(BATCH // 3, maxlen, "train", g), chain_batch(BATCH // 3, maxlen, g),
                 nine_run_batch(BATCH - 2 * (BATCH // 3), maxlen, g)]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))
    return sample


def harden(model, seed, maxlen, rounds, steps, lr, candidates, length, batch, elite, saturation=0.0,
           saturate_steps=1500, prove=None, stop_margin=0.0, quick=False):
    """Harden `model` in place (module docstring); returns the JSON-ready record of its rounds.

    saturation > 0: once the attack first finds nothing, a saturation stage (train.fine_tune's saturation term,
    `saturate_steps` steps, ramped up) follows; from then on every round's fine-tuning keeps the term, and the
    rounds end only when the attack finds nothing and the proof (proof.search + proof.check with the settings
    `prove`: proof.attempt's {"m", "max_iter", "budget_s"}; None: no proof) closes.
    quick: 2 rounds of 20 steps, 300 candidates, no proof.
    """
    if quick:
        rounds, steps, saturate_steps, candidates, batch, elite = min(rounds, 2), min(steps, 20), 20, 300, 100, 10
        prove = None  # a quick model is not worth proving; exact_eval's own attempt stays quick-sized
    rounds, steps = check_int("rounds", rounds, 1), check_int("steps", steps, 0)
    saturate_steps = check_int("saturate_steps", saturate_steps, 0)
    candidates, length = check_int("candidates", candidates, 1), check_int("length", length, max(WINDOWS) + 1)
    t0, log, dropped, saturating = time.perf_counter(), [], 0, False
    win = {}  # width -> (num1, num2, result) of every round so far
    for r in range(rounds + 1):
        rng = measure_rng(seed, "attack", 0, r)
        a, b, m, w, _ = adversary.search(adversary.FastRNN(model), candidates, length, batch, elite, rng)
        log.append({"round": r, "margin": float(m.min()), "failures": int((m <= 0).sum()), "saturating": saturating,
                    "sec": time.perf_counter() - t0})
        found_nothing = bool(m.min() > stop_margin)
        done = found_nothing and not saturation
        if found_nothing and saturating:
            done = True
            if prove is not None:
                out = proof.attempt(model, **prove)[3]
                log[-1].update(proven=out["proven"], certified_steps=out["certified_steps"])
                done = out["proven"]
        if done or r == rounds:
            break
        for width in WINDOWS:  # the elite's worst steps, failing or merely the closest to failing
            n1, n2, res = adversary.windows(a, b, w, width, rng)
            test = in_test_range(n1, n2, maxlen)
            dropped += int(test.sum())
            new = (n1[~test], n2[~test], res[~test])
            win[width] = new if width not in win else tuple(np.concatenate(p) for p in zip(win[width], new,
                                                                                            strict=True))
        start = bool(saturation) and found_nothing and not saturating  # the saturation stage begins
        saturating = saturating or start
        losses = fine_tune(model, sampler(win, maxlen), saturate_steps if start else steps, lr,
                           seed=int(rng.integers(2**31)), saturation=saturation if saturating else 0.0, ramp=start)
        log[-1]["loss"] = float(np.mean(losses[-20:])) if losses else None
    _, test_rng = seed_streams(seed)
    acc, _ = evaluate(model, *to_tensors(gen_data(EVAL_SUMS, maxlen, "test", test_rng), "cpu"))
    return {"rounds": log, "windows": int(sum(len(v[0]) for v in win.values())), "dropped_test_range": dropped,
            "accuracy": acc, "found_nothing": log[-1]["margin"] > stop_margin, "sec": time.perf_counter() - t0}
