"""data.py against Python big integers (an independent reference), at lengths up to 10,000 digits."""
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data import add_digits, digits_to_ints, gen_data, ints_to_digits


def as_int(row):
    """Reference decoder, independent of data.digits_to_ints: one int() of the whole string."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # lifted here only: data.py itself must work under the default
    try:
        return int("".join(str(int(d)) for d in reversed(row)))
    finally:
        sys.set_int_max_str_digits(limit)


@pytest.mark.parametrize("maxlen", [1, 19, 20, 21, 90, 1000, 10_000])
@pytest.mark.parametrize("split", ["train", "test"])
def test_sums_exact_and_in_split_range(maxlen, split):
    n = 4 if maxlen == 10_000 else 64
    num1, num2, result = gen_data(n, maxlen, split, rng=maxlen)
    assert num1.shape == num2.shape == result.shape == (n, maxlen + 1)
    assert num1.dtype == np.int64 and result.dtype == np.int64
    assert (num1[:, -1] == 0).all() and (num2[:, -1] == 0).all()  # the padding step
    half = 5 * 10 ** (maxlen - 1)
    low, high = (0, half) if split == "train" else (half, 10**maxlen)
    for a_row, b_row, r_row in zip(num1, num2, result, strict=False):
        a, b = as_int(a_row), as_int(b_row)
        assert low <= a < high and low <= b < high
        assert as_int(r_row) == a + b
    sums = digits_to_ints(result)
    assert sums == [as_int(r) for r in result]
    assert (ints_to_digits(sums, maxlen + 1) == result).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.integers(0, 2**32 - 1), st.sampled_from(["train", "test"]))
def test_property_sum_matches_python_ints(maxlen, seed, split):
    num1, num2, result = gen_data(8, maxlen, split, rng=seed)
    assert digits_to_ints(result) == [a + b for a, b in zip(digits_to_ints(num1), digits_to_ints(num2), strict=False)]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10**300), min_size=1, max_size=5), st.lists(st.integers(0, 10**300), min_size=5,
                                                                            max_size=5))
def test_add_digits_any_operands(xs, ys):
    xs = xs + ys[: 5 - len(xs)]
    a, b = ints_to_digits(xs, 302), ints_to_digits(ys, 302)
    assert [as_int(r) for r in add_digits(a, b)] == [x + y for x, y in zip(xs, ys, strict=False)]


def test_worst_carry_chain_1000_digits():
    a = ints_to_digits([10**1000 - 1, 1], 1001)
    b = ints_to_digits([1, 10**1000 - 1], 1001)
    assert digits_to_ints(add_digits(a, b)) == [10**1000, 10**1000]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 10**9000), min_size=1, max_size=3))
def test_int_digit_roundtrip_beyond_str_limit(numbers):
    digits = ints_to_digits(numbers, 9001)
    assert digits_to_ints(digits) == numbers
    assert [as_int(r) for r in digits] == numbers


def test_train_test_disjoint_and_digits_uniform():
    maxlen, n = 8, 20_000
    tr = gen_data(n, maxlen, "train", rng=1)
    te = gen_data(n, maxlen, "test", rng=2)
    assert tr[0][:, maxlen - 1].max() <= 4 and te[0][:, maxlen - 1].min() >= 5
    assert set(tr[0][:, maxlen - 1]) == {0, 1, 2, 3, 4} and set(te[1][:, maxlen - 1]) == {5, 6, 7, 8, 9}
    train_ops = set(digits_to_ints(np.concatenate([tr[0], tr[1]])))
    test_ops = set(digits_to_ints(np.concatenate([te[0], te[1]])))
    assert not train_ops & test_ops
    for arr in (tr[0], te[1]):
        counts = np.stack([np.bincount(arr[:, p], minlength=10) for p in range(maxlen - 1)])  # (positions, 10)
        # each digit's frequency is 0.1 +- 5 sigma (sigma = sqrt(0.1 * 0.9 / n) ~ 0.0021)
        assert np.abs(counts / n - 0.1).max() < 0.011


def test_same_seed_same_batch_and_generator_accepted():
    a = gen_data(50, 30, "test", rng=7)
    b = gen_data(50, 30, "test", rng=np.random.default_rng(7))
    c = gen_data(50, 30, "test", rng=8)
    assert all((x == y).all() for x, y in zip(a, b, strict=False))
    assert not (a[0] == c[0]).all()


@pytest.mark.parametrize("call, match", [
    (lambda: gen_data(10, 0), "maxlen"),
    (lambda: gen_data(10, 2.5), "maxlen"),
    (lambda: gen_data(0, 5), "batch_size"),
    (lambda: gen_data("10", 5), "batch_size"),
    (lambda: gen_data(10, True), "maxlen"),
    (lambda: gen_data(10, 5, split="valid"), "split"),
    (lambda: gen_data(10, 5, rng=-1), "seed"),
    (lambda: ints_to_digits([1000], 3), "length=3"),
    (lambda: ints_to_digits([-5], 3), "non-negative"),
    (lambda: ints_to_digits([1.5], 3), "non-negative"),
    (lambda: digits_to_ints([[1, 10]]), "0-9"),
    (lambda: digits_to_ints([[1, -1]]), "0-9"),
    (lambda: digits_to_ints([[1.0, 2.0]]), "integers"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
