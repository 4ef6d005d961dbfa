"""Worst cases: the worst-case suite of the exact_adder study (its "after" hook is in evaluate.py).

The suite (suite_eval) runs in stages of growing length and stops at the first stage with a wrong sum (a model
wrong at 1,000 digits needs no 1,000,000-digit check):

    1,000 digits   for every k in CHAIN_KS, `chain_sums` sums whose longest carry chain is exactly k
                   (data.carry_chain_data); 99...9 + 1, 1 + 99...9, 99...9 + 99...9; `gain_sums` sums whose
                   result gains a digit through a carry chain that runs into the top (gain_digit_data)
    10,000         99...9 + 1, 1 + 99...9, 99...9 + 99...9 and `random_sums` random test-split sums
    100,000        99...9 + 1, 1 + 99...9, 99...9 + 99...9
    1,000,000      the same three and `long_random` random test-split sums

All sums of a stage go through the model in one batch (chunked over time, the state carried along).
A seed passes the suite when every sum of every stage is exact. Each check also records the smallest margin
(right digit's logit minus the best wrong one) over its sums: how close the model came to a wrong digit.
"""
import time

import numpy as np
import torch

from data import add_digits, carry_chain_data, check_int, gen_data, measure_rng
from measures.beyond import TIME_CHUNK


def _rows(digits, length):
    """LSB-first digit lists (each <= length + 1 long) -> int64 (rows, length + 1), zero-padded."""
    out = np.zeros((len(digits), length + 1), dtype=np.int64)
    for r, d in enumerate(digits):
        out[r, : len(d)] = d
    return out


def nines_cases(length):
    """99...9 + 1, 1 + 99...9 and 99...9 + 99...9 (`length` digits) as LSB-first arrays (3, length + 1).

    Built digit by digit (no big-integer conversion, so 1,000,000 digits cost nothing).
    """
    length = check_int("length", length, 1)
    nines, one = np.full(length, 9), np.array([1])
    num1 = _rows([nines, one, nines], length)
    num2 = _rows([one, nines, nines], length)
    top = np.zeros(length + 1, dtype=np.int64)
    top[-1] = 1  # 10^length
    double = np.full(length + 1, 9, dtype=np.int64)
    double[0], double[-1] = 8, 1  # 2 * (10^length - 1) = 1 99...9 8
    return num1, num2, np.stack([top, top, double])


def gain_digit_data(batch_size, length, rng=None):
    """`batch_size` sums of two `length`-digit operands whose result has length + 1 digits by a carry chain.

    A generating pair (digit sum >= 10) at position g, uniform in 0..length-1, then pairs summing to 9 up to the
    top digit, so the carry it makes crosses length - 1 - g digits and lands in the padding step; the digits
    below g are random. Returns int64 num1, num2, result (batch_size, length + 1), like carry_chain_data.
    """
    batch_size, length = check_int("batch_size", batch_size, 1), check_int("length", length, 1)
    rng = np.random.default_rng(rng)
    a = rng.integers(0, 10, size=(batch_size, length))
    b = rng.integers(0, 10, size=(batch_size, length))
    start = rng.integers(0, length, size=batch_size)
    pos = np.arange(length)
    chain = pos > start[:, None]  # the 9-pairs above the generating one
    b = np.where(chain, 9 - a, b)
    rows = np.arange(batch_size)
    a[rows, start] = rng.integers(1, 10, size=batch_size)
    b[rows, start] = rng.integers(10 - a[rows, start], 10)
    num1 = np.zeros((batch_size, length + 1), dtype=np.int64)
    num2 = np.zeros_like(num1)
    num1[:, :length], num2[:, :length] = a, b
    return num1, num2, add_digits(num1, num2)


@torch.no_grad()
def margins(model, num1, num2, result, time_chunk=TIME_CHUNK):
    """Per step (N, T) float64: the right digit's logit minus the best wrong digit's (> 0: digit right).

    Runs the recurrent layer over time chunks from the model's initial state, passing the state on (one pass
    over the sum).
    """
    model.eval()
    n, steps = num1.shape
    out = np.empty((n, steps), dtype=np.float64)
    h = model.initial_state(n)
    for t in range(0, steps, time_chunk):
        a, b, r = (torch.from_numpy(np.ascontiguousarray(v[:, t : t + time_chunk])) for v in (num1, num2, result))
        y, h = model.run(a, b, h)
        logits = model.out(y)
        right = logits.gather(-1, r.unsqueeze(-1)).squeeze(-1)
        wrong = logits.scatter(-1, r.unsqueeze(-1), float("-inf")).amax(-1)
        out[:, t : t + time_chunk] = (right - wrong).double().numpy()
    return out


def stage_checks(length, seed, chains, chain_sums, gain_sums, random_sums, first):
    """(check name, num1, num2, result) of one suite stage at `length` digits; first: the 1,000-digit stage."""
    n1, n2, r = nines_cases(length)
    checks = [("99…9 + 1", n1[:1], n2[:1], r[:1]), ("1 + 99…9", n1[1:2], n2[1:2], r[1:2]),
              ("99…9 + 99…9", n1[2:], n2[2:], r[2:])]
    if first:
        for k in sorted({min(k, length - 1) for k in chains}):
            rng = measure_rng(seed, "exact", length, k)
            checks.append((f"chain k={k}", *carry_chain_data(chain_sums, length, k, rng)))
        checks.append(("gains a digit", *gain_digit_data(gain_sums, length, measure_rng(seed, "exact", length, 1))))
    if random_sums:
        checks.append(("random", *gen_data(random_sums, length, "test", measure_rng(seed, "exact", length, 2))))
    return checks


def run_stage(model, checks):
    """One batch through the model: per check, (sums, wrong sums, smallest margin)."""
    num1, num2, result = (np.concatenate([c[i] for c in checks]) for i in (1, 2, 3))
    m = margins(model, num1, num2, result).min(axis=1)  # per sum
    out, at = [], 0
    for name, a, _, _ in checks:
        part = m[at : at + len(a)]
        out.append({"check": name, "sums": len(a), "wrong": int((part <= 0).sum()), "margin": float(part.min())})
        at += len(a)
    return out


def suite_eval(model, run, seed, lengths, chains, chain_sums, gain_sums, random_sums, long_random, quick=False):
    """The worst-case suite (module docstring) on one trained model; stops after the first failing stage.

    lengths: the stage lengths (the first gets the chain and gain checks, the second random_sums random sums,
    the last long_random random sums). Returns {"stages": [{length, passed, checks, sec}], "passed": bool}.
    quick: lengths <= 200, few sums.
    """
    if quick:
        lengths, chain_sums, gain_sums, random_sums, long_random = [60, 200], 4, 4, 4, 2
    chain_sums, gain_sums = check_int("chain_sums", chain_sums, 1), check_int("gain_sums", gain_sums, 1)
    stages, passed = [], True
    for i, length in enumerate(lengths):
        n_random = random_sums if i == 1 else long_random if i == len(lengths) - 1 else 0
        t0 = time.perf_counter()
        checks = run_stage(model, stage_checks(length, seed, chains, chain_sums, gain_sums, n_random, i == 0))
        ok = all(c["wrong"] == 0 for c in checks)
        stages.append({"length": length, "passed": ok, "checks": checks, "sec": time.perf_counter() - t0})
        passed = passed and ok
        if not ok:
            break
    return {"stages": stages, "passed": passed and len(stages) == len(lengths), "n_stages": len(lengths)}


EXAMPLE_LENGTH = 40  # digits of the example sums drawn in the chart


def example_sums(seed=0):
    """The chart's examples (name, num1, num2, result): a random 40-digit test sum, a 30-long carry chain, 99…9 + 1."""
    rng = measure_rng(seed, "exact", 40)
    n1, n2, _ = nines_cases(EXAMPLE_LENGTH)
    rows = [gen_data(1, EXAMPLE_LENGTH, "test", rng)[:2], carry_chain_data(1, EXAMPLE_LENGTH, 30, rng)[:2],
            (n1[:1], n2[:1])]
    return [(name, a, b, add_digits(a, b)) for name, (a, b) in
            zip(("random 40-digit sum", "carry chain of 30", "99…9 + 1"), rows, strict=True)]


def examples_eval(model):
    """The model's answers on example_sums, as MSB-first digit strings beside the true ones."""
    out = []
    for name, a, b, r in example_sums():
        with torch.no_grad():
            model.eval()
            y, _ = model.run(torch.from_numpy(a), torch.from_numpy(b), model.initial_state(len(a)))
            pred = model.out(y).argmax(-1)[0].tolist()
        out.append({"name": name, "a": _msb(a[0]), "b": _msb(b[0]), "true": _msb(r[0]),
                    "model": "".join(map(str, pred[::-1]))})
    return out


def _msb(row):
    return "".join(map(str, row[::-1]))
