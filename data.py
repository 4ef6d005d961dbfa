"""Exact addition data of any length, and digit <-> integer helpers.

Encoding (least significant digit first, one padding step on top):

    maxlen = 3, a = 472, b = 365, a + b = 837

    step      0  1  2  3       (t = digit position, units first)
    num1      2  7  4  0       <- a, padded with one trailing 0
    num2      5  6  3  0       <- b
    result    7  3  8  0       <- the maxlen + 1 digits of a + b

At step t the model sees (num1[t], num2[t]) and must emit result[t], which depends on
the carry coming out of steps < t: the one thing the recurrence has to remember.

Splits (EXPERIMENTS.md): "train" operands are uniform over [0, 5 * 10^(maxlen-1)), "test"
operands over [5 * 10^(maxlen-1), 10^maxlen), so no test operand is ever seen in training.
Digits are drawn directly as digit arrays (the leading one restricted by the split) and the sum
is computed with a bit-parallel carry (add_digits): exact at any length, no floats, no int64 overflow.
"""
import numbers

import numpy as np

SPLITS = ("train", "test")  # allowed values of gen_data's split
LEADING_DIGITS = {"train": (0, 5), "test": (5, 10)}  # [low, high) of the most significant digit
MAX_DIGITS = 1_000_000  # largest maxlen accepted (memory guard, not a limit of the method)
GUARDS = ("MAX_DIGITS",)  # limits that only refuse input: no run's identity (machinery/codehash.py)
_CHUNK = 4000  # digits per str<->int conversion (Python refuses > 4300 at once by default)


def check_int(name, value, low, high=None):
    """Return `value` as int if it is an integer in [low, high]; else ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {f'>= {low}' if high is None else f'in [{low}, {high}]'}, got {value}")
    return value


def make_rng(rng):
    """A numpy Generator from None, an int seed, a SeedSequence or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    return np.random.default_rng(check_int("rng (seed)", rng, 0))


STREAM_SALTS = {"long_sums": 7919, "exact": 6007, "attack": 3571, "probe": 104729, "split": 15485863}  # per
# measurement stream; fixed (changing one redraws that stream's sums): beyond/length/chains/cost, exact, adversary,
# probe, split


def measure_rng(seed, stream, *tags):
    """The generator of a measurement's sums, one per (seed, stream of STREAM_SALTS, tags).

    Independent of the training streams (train.seed_streams spawns them from SeedSequence(seed) alone).
    """
    return np.random.default_rng(np.random.SeedSequence([seed, STREAM_SALTS[stream], *tags]))


def add_digits(num1, num2, out=None):
    """Digit-wise sum of two LSB-first digit arrays (..., T) with carries, keeping T digits.

    Decimal carries are binary carries in disguise: with G = "digit sum >= 10" (generates a carry)
    and P = "digit sum == 9" (passes one on) as bit vectors, bit i = position i, the binary addition
    G + (G | P) carries out of bit i exactly when the decimal sum carries out of position i, and
    the carry into each bit is (G + (G | P)) ^ P. So the whole carry chain is one uint64 addition
    per 64 digits (numpy, vectorised over rows): exact at any length, no Python loop over digits.
    Returns int64 (..., T), written into `out` if given.
    """
    s = np.add(num1, num2, dtype=np.uint8, casting="unsafe")  # (..., T), 0..18 (digits fit a uint8)
    T = s.shape[-1]
    padded = np.zeros((s.size // T, -(-T // 64) * 64), dtype=np.uint8)  # whole words; a 0 passes nothing
    padded[:, :T] = s.reshape(-1, T)
    digits = _resolve_carries(padded)[:, :T].reshape(s.shape)
    if out is None:
        return digits.astype(np.int64)
    np.copyto(out, digits)  # int64 out: one casting copy, no temporary
    return out


def _resolve_carries(sums):
    """(N, 64 * words) uint8 digit sums 0..18, zero-padded to whole words -> (N, 64 * words) sum digits."""
    words = sums.shape[1] // 64
    G = np.packbits(sums >= 10, axis=-1, bitorder="little").view(np.uint64)  # (N, words)
    P = np.packbits(sums == 9, axis=-1, bitorder="little").view(np.uint64)
    S = G + (G | P)  # per word, wrapping modulo 2^64; the carries between words follow
    if words > 1:
        G_w, S_w = G.T.copy(), S.T.copy()  # (words, N): contiguous rows for the loop over words
        carry = S_w[0] < G_w[0]  # G + (G | P) >= G, so it overflowed iff it came out smaller
        for w in range(1, words):
            with_carry = S_w[w] + carry
            if w < words - 1:  # overflow of G + (G | P) or of adding the carry; out of the last word it falls off
                carry = (S_w[w] < G_w[w]) | (with_carry < S_w[w])
            S_w[w] = with_carry
        S = np.ascontiguousarray(S_w.T)
    digits = sums + np.unpackbits((S ^ P).view(np.uint8), axis=-1, bitorder="little")  # + carry in, 0..19
    digits -= 10 * (digits >= 10).view(np.uint8)
    return digits


def gen_data(batch_size, maxlen, split="train", rng=None):
    """`batch_size` random sums of two `maxlen`-digit operands from `split`.

    Returns int64 arrays num1, num2, result of shape (batch_size, maxlen + 1), LSB first;
    num1 and num2 end with the padding 0. `rng`: numpy Generator or int seed (same seed,
    same batch).
    """
    batch_size = check_int("batch_size", batch_size, 1)
    maxlen = check_int("maxlen", maxlen, 1, MAX_DIGITS)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    rng = make_rng(rng)
    low, high = LEADING_DIGITS[split]
    T = maxlen + 1
    nums = np.zeros((2, batch_size, -(-T // 64) * 64), dtype=np.uint8)  # zero-padded to whole 64-digit words
    nums[..., : maxlen - 1] = rng.integers(0, 10, size=(2, batch_size, maxlen - 1), dtype=np.uint8)
    nums[..., maxlen - 1] = rng.integers(low, high, size=(2, batch_size), dtype=np.uint8)
    out = np.empty((3, batch_size, T), dtype=np.int64)  # num1, num2, result: one allocation
    np.copyto(out[:2], nums[..., :T])
    np.copyto(out[2], _resolve_carries(nums[0] + nums[1])[:, :T])
    return out[0], out[1], out[2]


def _check_digits(digits):
    arr = np.asarray(digits)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError(f"digits must be a non-empty (rows, length) array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"digits must be integers 0-9, got dtype {arr.dtype}")
    bad = (arr < 0) | (arr > 9)
    if bad.any():
        raise ValueError(f"digits must be in 0-9, got {arr[bad][0]} at {np.argwhere(bad)[0].tolist()}")
    return arr


def digits_to_ints(digits):
    """LSB-first digit rows (rows, T) or one row (T,) -> list of Python ints (any size)."""
    arr = _check_digits(digits)
    msb_first = arr[:, ::-1].astype(np.uint8) + ord("0")
    out = []
    for row in msb_first:
        text = row.tobytes().decode()
        value = 0
        for i in range(0, len(text), _CHUNK):  # Horner over 4000-digit chunks
            part = text[i : i + _CHUNK]
            value = value * 10 ** len(part) + int(part)
        out.append(value)
    return out


def ints_to_digits(numbers_, length):
    """Python ints >= 0 -> int64 array (len(numbers), length) of LSB-first digits, zero-padded."""
    length = check_int("length", length, 1, MAX_DIGITS)
    out = np.zeros((len(numbers_), length), dtype=np.int64)
    for r, n in enumerate(numbers_):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"numbers must be non-negative integers, got {n!r} at index {r}")
        chunks, n = [], int(n)
        while n:
            n, part = divmod(n, 10**_CHUNK)
            chunks.append(str(part).zfill(_CHUNK))
        text = "".join(reversed(chunks)).lstrip("0")
        if len(text) > length:
            raise ValueError(f"number at index {r} has {len(text)} digits, more than length={length}")
        out[r, : len(text)] = np.frombuffer(text[::-1].encode(), dtype=np.uint8) - ord("0")
    return out


def carry_chain_lengths(num1, num2):
    """Per position of LSB-first digit rows (..., T): how many digit sums of 9 in a row end here fed by a carry.

    A carry chain is a generating pair (digit sum >= 10) followed by k propagating pairs (sum == 9):
    the carry it makes crosses all k of them. The value at position i is that k so far if position i
    propagates a carry (its sum is 9 and the last non-9 position before it generates), else 0.
    """
    s = np.asarray(num1, dtype=np.int64) + np.asarray(num2, dtype=np.int64)
    pos = np.arange(s.shape[-1])
    last = np.maximum.accumulate(np.where(s != 9, pos, -1), axis=-1)  # last non-9 position <= i
    fed = (s == 9) & (last >= 0) & (np.take_along_axis(s, np.maximum(last, 0), axis=-1) >= 10)
    return np.where(fed, pos - last, 0)


def longest_carry_chain(num1, num2):
    """Longest carry chain (propagating pairs after one generating pair) per row of (..., T) digits."""
    return carry_chain_lengths(num1, num2).max(axis=-1)


def carry_chain_data(batch_size, length, chain, rng=None):
    """`batch_size` sums of two `length`-digit operands whose longest carry chain is exactly `chain`.

    Each row holds one generating pair at a random position g followed by `chain` pairs summing to 9
    and, if g + chain + 1 < length, a pair that is not 9 (which ends the chain); every other pair is
    random, except that a pair that would lengthen some other chain past `chain` is replaced by one
    summing to <= 8 (a chain of 9s after such a pair carries nothing). Operands use all digits 0-9
    (no train/test split) and may have leading zeros. Returns int64 num1, num2, result of shape
    (batch_size, length + 1), LSB first, like gen_data.
    """
    batch_size = check_int("batch_size", batch_size, 1)
    length = check_int("length", length, 1, MAX_DIGITS)
    chain = check_int("chain", chain, 0, length - 1)
    rng = make_rng(rng)
    rows = np.arange(batch_size)[:, None]
    a = rng.integers(0, 10, size=(batch_size, length))
    b = rng.integers(0, 10, size=(batch_size, length))
    start = rng.integers(0, length - chain, size=batch_size)  # generating position g
    gen_a = rng.integers(1, 10, size=batch_size)  # a generating pair: a in 1..9, b in 10-a..9
    a[rows[:, 0], start] = gen_a
    b[rows[:, 0], start] = rng.integers(10 - gen_a, 10)
    if chain:
        cols = start[:, None] + np.arange(1, chain + 1)  # the k propagating pairs: a + b == 9
        a[rows, cols] = rng.integers(0, 10, size=(batch_size, chain))
        b[rows, cols] = 9 - a[rows, cols]
    end = start + chain + 1  # the pair after the chain must not sum to 9
    has_end = end < length
    r_end, c_end = rows[has_end, 0], end[has_end]
    s_end = a[r_end, c_end] + b[r_end, c_end]
    nine = s_end == 9
    b[r_end[nine], c_end[nine]] = (b[r_end[nine], c_end[nine]] + 1) % 10  # 9 -> 10 or, for b=9, 0: never 9
    over = carry_chain_lengths(a, b) == chain + 1  # first pair past `chain` of another chain: absorb instead
    r_over, c_over = np.nonzero(over)
    a_new = rng.integers(0, 9, size=len(r_over))  # a in 0..8, b in 0..8-a: sum <= 8
    a[r_over, c_over] = a_new
    b[r_over, c_over] = np.floor(rng.random(len(r_over)) * (9 - a_new)).astype(np.int64)
    num1 = np.zeros((batch_size, length + 1), dtype=np.int64)
    num2 = np.zeros_like(num1)
    num1[:, :length], num2[:, :length] = a, b
    return num1, num2, add_digits(num1, num2)
