"""Worst-case families beyond carry chains: 9-runs with no carry in, runs of one pair, all short sums.

A model that learned "a run of pairs summing to 9 carries" passes every carry chain (9-pairs after a generating
pair) and still invents a carry where no carry comes into the run: 4444444 + 5555555, 99999 + 0 (a "phantom
carry"). These families hold such sums; exact.stage_checks puts them in the suite's stages:

    nine_runs   a run of k pairs summing to 9 that starts at step 0 or after a pair summing to <= 8 (so no carry
                comes in), random digits elsewhere
    whole_runs  d...d + (9-d)...(9-d) for d = 0..9: the whole sum one 9-run, at each operand length given
    pair_runs   each of the 100 digit pairs (a, b) repeated from a start step up to the top digit, with carry in 0
                (the run starts at step 0 or after a pair summing to <= 8) or carry in 1 (after a generating
                pair, digit sum >= 10)
    known       sums earlier checks found wrong on trained models (KNOWN_FAILURES), kept as regression cases
    all_sums    every sum of two operands of <= n digits: 10^(2n) pair sequences. The model is causal (its digit
                at step t sees pairs 0..t only), so every shorter sum is in it as a sum with leading zero pairs.

Each returns int64 num1, num2, result of shape (rows, length + 1), LSB first with the padding step, like
data.carry_chain_data. Operands use all digits 0-9 (no train/test split) and may have leading zeros.
"""
import functools

import numpy as np

from data import add_digits, check_int, make_rng
from measures.exact import sums

MAX_ALL_DIGITS = 3  # all_sums: largest operand length (10^6 sums; 4 digits would be 10^8)
KNOWN_FAILURES = [  # sums.encode texts; issue 19's phantom carries on 2 x 64 chain-rich and 1 x 32 models (seed 0)
    "[9x5] + 0", "4992 + 95007", "2973 + 77020", "7722 + 72277", "777777 + 222222", "[4x7] + [5x7]"]


def pack(a, b):
    """(rows, length) operand digits -> num1, num2, result with the padding step."""
    num1 = np.zeros((a.shape[0], a.shape[1] + 1), dtype=np.int64)
    num2 = np.zeros_like(num1)
    num1[:, :-1], num2[:, :-1] = a, b
    return num1, num2, add_digits(num1, num2)


def absorbing_pairs(rng, n):
    """n pairs summing to <= 8: a carry into them never goes on (a in 0..8, b in 0..8-a)."""
    a = rng.integers(0, 9, size=n)
    return a, np.floor(rng.random(n) * (9 - a)).astype(np.int64)


def generating_pairs(rng, n):
    """n pairs summing to >= 10: they carry out whatever comes in (a in 1..9, b in 10-a..9)."""
    a = rng.integers(1, 10, size=n)
    return a, rng.integers(10 - a, 10)


def nine_runs(batch_size, length, k, rng=None):
    """`batch_size` sums of `length`-digit operands holding a run of exactly k pairs summing to 9, no carry coming in.

    The run starts at a random step s (uniform over 0..length-k); the pair at s - 1 (if s > 0) sums to <= 8 and
    the pair after the run (if inside the sum) does not sum to 9; the rest is random.
    """
    batch_size = check_int("batch_size", batch_size, 1)
    length = check_int("length", length, 1)
    k = check_int("k", k, 1, length)
    rng = make_rng(rng)
    rows = np.arange(batch_size)
    a = rng.integers(0, 10, size=(batch_size, length))
    b = rng.integers(0, 10, size=(batch_size, length))
    start = rng.integers(0, length - k + 1, size=batch_size)
    cols = start[:, None] + np.arange(k)
    a[rows[:, None], cols] = rng.integers(0, 10, size=(batch_size, k))
    b[rows[:, None], cols] = 9 - a[rows[:, None], cols]
    before = start > 0
    a[rows[before], start[before] - 1], b[rows[before], start[before] - 1] = absorbing_pairs(rng, int(before.sum()))
    end = start + k
    r, c = rows[end < length], end[end < length]
    nine = a[r, c] + b[r, c] == 9
    b[r[nine], c[nine]] = (b[r[nine], c[nine]] + 1) % 10  # 9 -> 10 or (b = 9) 0: never 9
    return pack(a, b)


def whole_runs(length, runs=None):
    """d...d + (9-d)...(9-d), d = 0..9, with n-digit runs for each n in `runs` (default [length]), zero-padded to
    `length` digits: 10 * len(runs) sums, n outer, d inner."""
    length = check_int("length", length, 1)
    runs = [length] if runs is None else [check_int("run length", n, 1, length) for n in runs]
    a = np.zeros((10 * len(runs), length), dtype=np.int64)
    b = np.zeros_like(a)
    for i, n in enumerate(runs):
        a[10 * i : 10 * i + 10, :n] = np.arange(10)[:, None]
        b[10 * i : 10 * i + 10, :n] = 9 - np.arange(10)[:, None]
    return pack(a, b)


def pair_runs(length, carry_in, rng=None):
    """100 sums: row 10 a + b repeats the pair (a, b) from a start step s up to the top digit, with `carry_in`.

    carry_in 0: s uniform over 0..length//2, the pair at s - 1 (if s > 0) sums to <= 8; carry_in 1: s uniform over
    1..max(length//2, 1), the pair at s - 1 generates a carry. Digits below s - 1 are random.
    """
    carry_in = check_int("carry_in", carry_in, 0, 1)
    length = check_int("length", length, 1 + carry_in)
    rng = make_rng(rng)
    rows = np.arange(100)
    a = rng.integers(0, 10, size=(100, length))
    b = rng.integers(0, 10, size=(100, length))
    start = rng.integers(carry_in, max(length // 2, carry_in) + 1, size=100)
    run = np.arange(length) >= start[:, None]
    a, b = np.where(run, rows[:, None] // 10, a), np.where(run, rows[:, None] % 10, b)
    pre = rows[start > 0]
    a[pre, start[pre] - 1], b[pre, start[pre] - 1] = (generating_pairs if carry_in else absorbing_pairs)(rng, len(pre))
    return pack(a, b)


def known(length, texts=None):
    """The sums `texts` (default KNOWN_FAILURES, "A + B" as sums.encode writes them) zero-padded to `length`
    digits; a sum longer than that is left out."""
    length = check_int("length", length, 1)
    rows = [sums.decode(t) for t in (KNOWN_FAILURES if texts is None else texts)]
    rows = [(a, b) for a, b in rows if len(a) <= length]
    a, b = (np.array([np.pad(r[i], (0, length - len(r[i]))) for r in rows], dtype=np.int64).reshape(-1, length)
            for i in (0, 1))
    return pack(a, b)


def all_sums(digits):
    """Every sum of two `digits`-digit operands: 100^digits rows; row i holds pair (i // 100^t) % 100 at step t
    (as 10 a + b), so rows run over all pair sequences once. Read-only arrays, made once per process."""
    return _all_sums(check_int("digits", digits, 1, MAX_ALL_DIGITS))


@functools.lru_cache(maxsize=1)
def _all_sums(digits):
    pairs = (np.arange(100**digits)[:, None] // 100 ** np.arange(digits)) % 100
    out = pack(pairs // 10, pairs % 10)
    for v in out:
        v.flags.writeable = False  # shared by every model a process checks
    return out
