"""Training batches per second: data.gen_data vs the classic course template's string-based generator.

    python -m benchmarks.bench_data                 maxlen 10, 90, 1000
    python -m benchmarks.bench_data --repeats 3     fewer repeats (faster, noisier)

Both sides make one training batch of BATCH_SIZE sums (operands uniform over [0, 5 * 10^(maxlen-1)),
LSB first, padded to maxlen + 1 digits) as three int64 arrays. The naive side is what the course
template does: Python ints from `random`, str(), reverse, pad with '0', map to digit lists, np.array.
Both are timed in this process, one after the other; the ratio is ours / naive. Issue target: >= 50x at maxlen 90.
"""
from machinery import numerics  # noqa: F401, I001 - first: it sets the numerics before torch loads
import argparse
import random
import sys

import numpy as np
import torch

from benchmarks.flops import median_seconds
from data import digits_to_ints, gen_data

torch.set_num_threads(1)  # as every study run (numpy here is single-threaded anyway)

BATCH_SIZE = 200  # sums per batch (train.BATCH_SIZE)
MAXLENS = [10, 90, 1000]  # digits per operand
REPEATS = 7  # timed repeats per side (median reported)
MIN_REPEAT_SEC = 0.2  # seconds: calls per repeat are chosen so one repeat lasts about this long
TARGET_MAXLEN, TARGET_RATIO = 90, 50  # issue: ours >= 50x naive at maxlen 90


def naive_digit_lists(batch_size, maxlen):
    """The course template: three lists of `batch_size` LSB-first digit lists of length maxlen + 1."""
    high = 5 * 10 ** (maxlen - 1)  # train split: operands in [0, high)
    num1, num2, result = [], [], []
    for _ in range(batch_size):
        a, b = random.randrange(high), random.randrange(high)
        for n, out in ((a, num1), (b, num2), (a + b, result)):
            out.append([int(ch) for ch in str(n)[::-1].ljust(maxlen + 1, "0")])
    return num1, num2, result


def naive_gen_data(batch_size, maxlen):
    return tuple(np.array(x) for x in naive_digit_lists(batch_size, maxlen))


def calls_per_repeat(fn):
    """How many calls of fn make one repeat of about MIN_REPEAT_SEC (one untimed call first)."""
    return max(1, round(MIN_REPEAT_SEC / median_seconds(fn, repeats=1, warmup=1)))


def check(num1, num2, result, maxlen):
    """Same shapes and dtype as gen_data, and the sums are right."""
    assert num1.shape == num2.shape == result.shape == (BATCH_SIZE, maxlen + 1), num1.shape
    assert num1.dtype == np.int64, num1.dtype
    a, b, s = digits_to_ints(num1), digits_to_ints(num2), digits_to_ints(result)
    assert all(x + y == z for x, y, z in zip(a, b, s, strict=False)), "naive generator: wrong sum"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=REPEATS, help=f"timed repeats per side (default {REPEATS})")
    p.add_argument("--maxlens", type=int, nargs="+", default=MAXLENS, help=f"default {MAXLENS}")
    args = p.parse_args(argv)

    print(f"batches of {BATCH_SIZE} training sums per second; torch.set_num_threads(1); "
          f"median of {args.repeats} repeats of >= {MIN_REPEAT_SEC}s each")
    print(f"int->str digit limit: {sys.get_int_max_str_digits() or 'none'}\n")
    print(f"{'maxlen':>6} | {'ours batches/s':>14} | {'naive batches/s':>15} | {'ratio':>7}")
    print("-" * 52)
    rng = np.random.default_rng(0)
    random.seed(0)
    ratios = {}
    for maxlen in args.maxlens:
        ours = lambda maxlen=maxlen: gen_data(BATCH_SIZE, maxlen, "train", rng)  # noqa: E731
        naive = lambda maxlen=maxlen: naive_gen_data(BATCH_SIZE, maxlen)  # noqa: E731
        try:
            check(*naive(), maxlen)
        except ValueError as e:  # e.g. str() of an int over sys.get_int_max_str_digits() digits
            sec = median_seconds(ours, calls_per_repeat(ours), args.repeats)
            print(f"{maxlen:>6} | {1 / sec:>14.1f} | {'skipped':>15} | {'-':>7}   naive fails: {e}")
            continue
        check(*ours(), maxlen)
        sec_ours = median_seconds(ours, calls_per_repeat(ours), args.repeats)
        sec_naive = median_seconds(naive, calls_per_repeat(naive), args.repeats)
        ratios[maxlen] = sec_naive / sec_ours
        print(f"{maxlen:>6} | {1 / sec_ours:>14.1f} | {1 / sec_naive:>15.1f} | {ratios[maxlen]:>6.1f}x")
    if TARGET_MAXLEN in ratios:
        ok = "met" if ratios[TARGET_MAXLEN] >= TARGET_RATIO else "NOT met"
        print(f"\ntarget ours >= {TARGET_RATIO}x naive at maxlen {TARGET_MAXLEN}: "
              f"{ratios[TARGET_MAXLEN]:.1f}x, {ok}")


if __name__ == "__main__":
    main()
