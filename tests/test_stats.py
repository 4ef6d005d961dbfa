"""stats.py against printed tables and hand computation: the t distribution, paired vs unpaired, TOST, power."""
import math
import statistics

import pytest

from judge import parts, stats

# Two-sided 95% critical values of Student's t (any statistics textbook's table).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 9: 2.262, 10: 2.228, 30: 2.042}
T_95 = {4: 2.132, 9: 1.833}  # one-sided 95% (the TOST quantile)


@pytest.mark.parametrize("df, t", sorted(T_975.items()))
def test_t_quantiles_match_the_printed_table(df, t):
    assert stats.t_quantile(0.975, df) == pytest.approx(t, abs=1e-3)
    assert stats.t_cdf(t, df) == pytest.approx(0.975, abs=1e-4)
    assert stats.t_cdf(-t, df) == pytest.approx(0.025, abs=1e-4)


@pytest.mark.parametrize("df, t", sorted(T_95.items()))
def test_one_sided_quantiles(df, t):
    assert stats.t_quantile(0.95, df) == pytest.approx(t, abs=1e-3)


def test_t_cdf_closed_forms():
    for t in (-2.0, -0.3, 0.0, 0.8, 5.0):
        assert stats.t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi)  # Cauchy
        assert stats.t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)))
    assert stats.t_cdf(math.inf, 3) == 1.0 and stats.t_cdf(-math.inf, 3) == 0.0
    with pytest.raises(ValueError):
        stats.t_cdf(1.0, 0)


def test_paired_t_by_hand():
    a, b = [0.90, 0.91, 0.95, 0.80, 0.85], [0.85, 0.90, 0.90, 0.78, 0.80]
    d = [x - y for x, y in zip(a, b, strict=True)]
    c = stats.Comparison(a, b)
    se = statistics.stdev(d) / math.sqrt(5)
    assert (c.diff, c.se, c.df) == (pytest.approx(statistics.fmean(d)), pytest.approx(se), 4)
    assert c.t == pytest.approx(statistics.fmean(d) / se)
    assert c.p == pytest.approx(2 * (1 - stats.t_cdf(abs(c.t), 4)))
    assert c.test == "paired t"


def test_paired_and_unpaired_disagree_on_seed_paired_data():
    """Seeds differ a lot from each other but every seed gains the same: only the paired test sees it."""
    base = [0.60, 0.75, 0.90, 0.70, 0.82]
    a = [x + 0.03 + e for x, e in zip(base, [0.004, -0.003, 0.002, -0.001, 0.0], strict=True)]
    paired, unpaired = stats.Comparison(a, base), stats.Comparison(a, base, paired=False)
    assert paired.sign() == 1 and paired.p < 0.001
    assert unpaired.sign() == 0 and unpaired.p > 0.5
    assert unpaired.test == "Welch t" and stats.above(a, base)[0] is True and stats.above(a, base, False)[0] is None


def test_unpaired_against_a_constant_is_a_one_sample_test():
    c = stats.Comparison([5.0, 6.0, 7.0], [4.0], paired=False)
    assert c.test == "one-sample t" and c.df == 2
    assert c.t == pytest.approx((6.0 - 4.0) / (1.0 / math.sqrt(3)))


def test_equal_seeds_give_exact_answers_without_noise():
    same = stats.Comparison([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert same.t == 0 and same.sign() == 0 and same.equivalence(0.01) == 1
    shifted = stats.Comparison([0.6, 0.7, 0.8], [0.5, 0.6, 0.7])
    assert shifted.sign() == 1 and shifted.equivalence(0.05) == -1 and shifted.equivalence(0.2) == 1


def test_tost_holds_contradicts_or_is_undecided():
    noise = [0.004, -0.004, 0.002, -0.002, 0.0]
    b = [0.8, 0.7, 0.9, 0.6, 0.75]
    close = [x + 0.001 + e for x, e in zip(b, noise, strict=True)]
    far = [x + 0.1 + e for x, e in zip(b, noise, strict=True)]
    wide = [x + e * 10 for x, e in zip(b, noise, strict=True)]  # spread 0.04: cannot show a 0.02 margin
    assert stats.alike(close, b, 0.02)[0] is True
    assert stats.alike(far, b, 0.02)[0] is False
    assert stats.alike(wide, b, 0.02)[0] is None
    c = stats.Comparison(close, b)
    lo, hi = c.interval(0.9)
    half = stats.t_quantile(0.95, 4) * c.se
    assert (lo, hi) == (pytest.approx(c.diff - half), pytest.approx(c.diff + half))


def test_seeds_needed_grows_with_noise_and_matches_the_formula():
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [0.5, 2.2, 2.1, 3.9, 4.3]
    c = stats.Comparison(a, b)
    n = c.seeds_needed()
    q = stats.t_quantile(1 - stats.ALPHA / 2, n - 1) + stats.t_quantile(stats.POWER, n - 1)
    assert n >= (q * c.sd / abs(c.diff)) ** 2  # the t-based sample-size condition holds at n ...
    q1 = stats.t_quantile(1 - stats.ALPHA / 2, n - 2) + stats.t_quantile(stats.POWER, n - 2)
    assert n - 1 < (q1 * c.sd / abs(c.diff)) ** 2 or n == 2  # ... and not at n - 1
    m = c.diff  # the same mean gap, each seed's deviation from it doubled
    noisier = stats.Comparison([y + m + 2 * (x - y - m) for x, y in zip(a, b, strict=True)], b)
    assert noisier.diff == pytest.approx(m) and noisier.seeds_needed() > n
    assert stats.Comparison([1.0, 2.0], [1.0, 2.0]).seeds_needed() is None  # no gap: nothing to detect
    note = parts.direction_note(c, "above")
    assert note.startswith("undecided at n = 5: the estimate points toward the claim") and f"about {n} seeds" in note


def test_median_first_ranks_never_last():
    assert stats.median_first([100, None, None]) is None
    assert stats.median_first([100, 200, None]) == 200
    assert stats.median_first([100, 200, None, None]) is None  # middle pair (200, never): never
    assert stats.earliest({"a": [300, 350, None], "b": [200, None, None], "c": [300, 350, 400]}) == ["a", "c"]
    assert stats.earliest({"a": [None], "b": [None]}) == []


def test_find_series_by_settings_not_label():
    result = {"series": [{"label": "x", "settings": {"cell": "gru", "maxlen": 5}},
                         {"label": "gru", "settings": {"cell": "lstm", "maxlen": 5}}]}
    assert stats.find_series(result, cell="gru")["label"] == "x"
    assert stats.find_series(result, cell="lstm", maxlen=5)["label"] == "gru"
    assert stats.find_series(result, cell="rnn") is None and stats.find_series(None, cell="gru") is None


def test_holm_against_a_hand_computation():
    ps = [0.01, 0.04, 0.03, 0.005, 0.5]
    # sorted 0.005, 0.01, 0.03, 0.04, 0.5 times 5, 4, 3, 2, 1: 0.025, 0.04, 0.09, 0.08 -> 0.09 (monotone), 0.5
    assert stats.holm(ps) == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.5])
    assert stats.holm([0.3, 0.6]) == pytest.approx([0.6, 0.6])  # capped at 1 and never below an earlier one
    assert stats.holm([]) == []


def test_holm_counts_exclusive_hypotheses_of_one_part_once():
    """Two tests of one part (their nulls exclude each other) count as one until both are rejected (Shaffer)."""
    ps, groups = [0.01, 0.02, 0.04], ["a", "a", "b"]
    # 0.01: groups a and b open -> x2 = 0.02; 0.02: a still open (its other test) -> x2 = 0.04; 0.04: only b -> 0.04
    assert stats.holm(ps, groups) == pytest.approx([0.02, 0.04, 0.04])
    assert stats.holm(ps, [0, 1, 2]) == pytest.approx([0.03, 0.04, 0.04])  # plain Holm: x3, x2, x1
    assert stats.holm(ps, [0, 1, 2]) == pytest.approx(stats.holm(ps))


def test_binomial_rate_against_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    for k, n in ((1, 5), (5, 5), (0, 8), (7, 10), (10, 10)):
        r, ref = stats.Rate(k, n), scipy_stats.binomtest(k, n)
        ci = ref.proportion_ci(confidence_level=0.95, method="exact")
        assert r.p == pytest.approx(ref.pvalue, abs=1e-9)
        assert r.interval == pytest.approx((ci.low, ci.high), abs=1e-6)
    assert stats.Rate(5, 5).sign() == 0 and stats.Rate(10, 10).sign() == 1 and stats.Rate(0, 10).sign() == -1
    assert stats.Rate(5, 5).seeds_needed() == 6  # 6/6: p = 2/64 < 0.05
    with pytest.raises(ValueError):
        stats.Rate(6, 5)


def test_tost_and_apart_p_values_agree_with_the_interval():
    b = [0.8, 0.7, 0.9, 0.6, 0.75]
    for shift, spread in ((0.001, 1), (0.1, 1), (0.0, 10), (0.019, 1), (0.025, 1)):
        a = [x + shift + e * spread for x, e in zip(b, [0.004, -0.004, 0.002, -0.002, 0.0], strict=True)]
        c = stats.Comparison(a, b)
        assert (c.p_alike(0.02) < stats.ALPHA) == (c.equivalence(0.02) == 1)
        assert (c.p_apart(0.02) < stats.ALPHA) == (c.equivalence(0.02) == -1)
        m = c.smallest_margin()
        assert c.equivalence(m * 1.0001) == 1 and c.equivalence(m * 0.999) != 1


def test_geometric_mean_and_its_interval_by_hand():
    g, lo, hi = stats.geometric([2.0, 8.0])
    assert g == pytest.approx(4.0)
    half = stats.t_quantile(0.975, 1) * statistics.stdev([math.log(2), math.log(8)]) / math.sqrt(2)
    assert (lo, hi) == (pytest.approx(4.0 * math.exp(-half)), pytest.approx(4.0 * math.exp(half)))
    assert stats.geometric([3.0, 3.0, 3.0]) == pytest.approx((3.0, 3.0, 3.0))
