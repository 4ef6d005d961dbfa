"""judge/stats.py against references that share nothing with it: a printed t table, the t distribution through
mpmath's incomplete beta function, exact binomial sums in Python fractions, Holm by closed testing over every
subset, and power by simulation."""
import itertools
import math
import statistics
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from judge import parts, stats

# Two-sided 95% critical values of Student's t (any statistics textbook's table).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 9: 2.262, 10: 2.228, 30: 2.042}


def t_sf(t, df):
    """P(T >= t) for Student's t: 1/2 I_{df/(df+t^2)}(df/2, 1/2) for t >= 0 (mpmath, 30 digits)."""
    mpmath.mp.dps = 30
    x = mpmath.mpf(df) / (df + mpmath.mpf(t) ** 2)
    tail = mpmath.betainc(mpmath.mpf(df) / 2, mpmath.mpf(1) / 2, 0, x, regularized=True) / 2
    return float(tail if t >= 0 else 1 - tail)


def binom_two_sided(k, n):
    """The exact two-sided binomial p-value of k of n against 1/2 (Python fractions): 2 x the smaller tail."""
    tail = min(sum(Fraction(math.comb(n, i), 2 ** n) for i in range(k + 1)),
               sum(Fraction(math.comb(n, i), 2 ** n) for i in range(k, n + 1)))
    return float(min(Fraction(1), 2 * tail))


@pytest.mark.parametrize("df, t", sorted(T_975.items()))
def test_paired_t_p_value_matches_the_printed_table(df, t):
    """A one-sample comparison whose t statistic is the table's critical value has p = 0.05."""
    c = stats.Comparison([t], [0.0], paired=False)
    c.df, c.t = df, t  # the test's arithmetic past the statistic
    assert 2 * c._tail(t) == pytest.approx(0.05, abs=1e-4)
    assert t_sf(t, df) == pytest.approx(0.025, abs=1e-4)  # the reference agrees with the table too


def test_paired_t_against_mpmath():
    a, b = [0.90, 0.91, 0.95, 0.80, 0.85], [0.85, 0.90, 0.90, 0.78, 0.80]
    d = [x - y for x, y in zip(a, b, strict=True)]
    c = stats.Comparison(a, b)
    se = statistics.stdev(d) / math.sqrt(5)
    assert (c.diff, c.se, c.df) == (pytest.approx(statistics.fmean(d)), pytest.approx(se), 4)
    assert c.t == pytest.approx(statistics.fmean(d) / se)
    assert c.p == pytest.approx(2 * t_sf(abs(c.t), 4), rel=1e-9)
    assert c.test == "paired t"
    lo, hi = c.interval(0.9)
    assert t_sf((hi - c.diff) / c.se, 4) == pytest.approx(0.05, rel=1e-7)  # the 90% interval's edge
    assert c.diff - lo == pytest.approx(hi - c.diff)


def test_welch_uses_the_satterthwaite_degrees_of_freedom():
    a, b = [5.0, 6.5, 7.0, 9.0], [4.0, 4.2, 4.1, 3.9, 4.3, 4.0]
    c = stats.Comparison(a, b, paired=False)
    va, vb = statistics.variance(a) / 4, statistics.variance(b) / 6
    df = (va + vb) ** 2 / (va ** 2 / 3 + vb ** 2 / 5)
    assert c.df == pytest.approx(df) and c.t == pytest.approx((statistics.fmean(a) - statistics.fmean(b)) /
                                                              math.sqrt(va + vb))
    assert c.p == pytest.approx(2 * t_sf(abs(c.t), df), rel=1e-7) and c.test == "Welch t"


def test_paired_and_unpaired_disagree_on_seed_paired_data():
    """Seeds differ a lot from each other but every seed gains the same: only the paired test sees it."""
    base = [0.60, 0.75, 0.90, 0.70, 0.82]
    a = [x + 0.03 + e for x, e in zip(base, [0.004, -0.003, 0.002, -0.001, 0.0], strict=True)]
    paired, unpaired = stats.Comparison(a, base), stats.Comparison(a, base, paired=False)
    assert paired.sign() == 1 and paired.p < 0.001
    assert unpaired.sign() == 0 and unpaired.p > 0.5
    assert stats.above(a, base)[0] is True and stats.above(a, base, False)[0] is None


def test_equal_seeds_give_exact_answers_without_noise():
    same = stats.Comparison([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert same.t == 0 and same.sign() == 0 and same.equivalence(0.01) == 1
    shifted = stats.Comparison([0.6, 0.7, 0.8], [0.5, 0.6, 0.7])
    assert shifted.sign() == 1 and shifted.equivalence(0.05) == -1 and shifted.equivalence(0.2) == 1


def test_tost_p_values_are_the_two_one_sided_tests():
    b = [0.8, 0.7, 0.9, 0.6, 0.75]
    for shift, spread in ((0.001, 1), (0.1, 1), (0.0, 10), (0.019, 1), (0.025, 1)):
        a = [x + shift + e * spread for x, e in zip(b, [0.004, -0.004, 0.002, -0.002, 0.0], strict=True)]
        c = stats.Comparison(a, b)
        lower, upper = t_sf((c.diff + 0.02) / c.se, 4), t_sf((0.02 - c.diff) / c.se, 4)
        assert c.p_alike(0.02) == pytest.approx(max(lower, upper), rel=1e-7)
        assert c.p_apart(0.02) == pytest.approx(t_sf((abs(c.diff) - 0.02) / c.se, 4), rel=1e-7)
        assert (c.p_alike(0.02) < stats.ALPHA) == (c.equivalence(0.02) == 1)
        m = c.smallest_margin()
        assert c.equivalence(m * 1.0001) == 1 and c.equivalence(m * 0.999) != 1
        strict = c.smallest_margin(0.01)  # a stricter level needs a wider margin
        assert strict > m and c.p_alike(strict * 1.0001) < 0.01 < c.p_alike(strict * 0.999)


def test_asymmetric_bounds_are_a_shifted_symmetric_margin():
    a, b = [1.2, 1.5, 1.4, 1.3], [0.0] * 4
    c, centred = stats.Comparison(a, b), stats.Comparison([x - 1.4 for x in a], b)
    assert c.p_alike((1.0, 1.8)) == pytest.approx(centred.p_alike(0.4))
    assert c.p_apart((1.0, 1.1)) == pytest.approx(t_sf((c.diff - 1.1) / c.se, 3), rel=1e-7)


def test_holm_against_closed_testing():
    """Holm's adjusted p-value of H_i is the largest Bonferroni p-value over every intersection containing i."""
    rng = np.random.default_rng(0)
    for m in (1, 2, 3, 5, 6):
        for _ in range(20):
            ps = [float(x) for x in rng.uniform(0, 0.2, m)]
            ref = [min(1.0, max(len(s) * min(ps[j] for j in s) for r in range(1, m + 1)
                                for s in itertools.combinations(range(m), r) if i in s)) for i in range(m)]
            assert stats.holm(ps) == pytest.approx(ref)
    assert stats.holm([]) == []
    ps = [0.01, 0.04, 0.03]
    assert stats.holm_multipliers(ps) == [3, 1, 2]


def test_binomial_rate_against_exact_fractions():
    for k, n in ((1, 5), (5, 5), (0, 8), (7, 10), (10, 10), (1, 10), (13, 30)):
        r = stats.Rate(k, n)
        assert r.p == pytest.approx(binom_two_sided(k, n), rel=1e-9)
        lo, hi = r.interval  # Clopper-Pearson: each end leaves 2.5% in its tail
        if k > 0:
            assert float(sum(math.comb(n, i) * lo ** i * (1 - lo) ** (n - i) for i in range(k, n + 1))) == \
                pytest.approx(0.025, rel=1e-6)
        if k < n:
            assert float(sum(math.comb(n, i) * hi ** i * (1 - hi) ** (n - i) for i in range(k + 1))) == \
                pytest.approx(0.025, rel=1e-6)
    assert stats.Rate(5, 5).sign() == 0 and stats.Rate(10, 10).sign() == 1 and stats.Rate(0, 10).sign() == -1
    with pytest.raises(ValueError):
        stats.Rate(6, 5)


def test_rate_seeds_needed_is_the_first_n_with_enough_exact_power():
    r = stats.Rate(1, 10)  # true rate 0.1, level 0.025
    n = r.seeds_needed(0.025)

    def power(n):
        return sum(math.comb(n, k) * 0.1 ** k * 0.9 ** (n - k) for k in range(n + 1)
                   if 2 * k < n and binom_two_sided(k, n) < 0.025)

    assert power(n) >= stats.POWER > max(power(m) for m in range(2, n))
    assert stats.Rate(5, 10).seeds_needed() is None


def test_sign_test_censors_never_and_drops_ties():
    a = [300, None, None, 400, 200, 250, None, 500]
    b = [200, 300, None, 400, 250, 100, 900, 450]
    s = stats.SignTest(a, b)
    # later: 300>200, never>300, 250>100, never>900, 500>450; earlier: 200<250; ties: never/never, 400/400
    assert (s.later, s.earlier, s.ties) == (5, 1, 2)
    assert s.p == pytest.approx(binom_two_sided(5, 6)) and s.sign() == 0
    s = stats.SignTest([None] * 9 + [100], [50] * 10)
    assert s.p == pytest.approx(binom_two_sided(10, 10)) and s.sign() == 1
    assert stats.SignTest([None, 100], [None, 100]).p == 1.0
    with pytest.raises(ValueError):
        stats.SignTest([1], [1, 2])


def test_sign_test_seeds_needed_against_simulation():
    s = stats.SignTest([400] * 8 + [None, 300], [300] * 8 + [300, 300])  # 9 later, 1 tie
    level = 0.05 / 11
    n = s.seeds_needed(level)
    rng = np.random.default_rng(1)

    def simulated(n, runs=4000):
        draws = rng.choice(3, size=(runs, n), p=[0.9, 0.0, 0.1])  # 0 later, 2 tie
        hits = 0
        for row in draws:
            later, untied = int(np.sum(row == 0)), int(np.sum(row != 2))
            hits += untied > 0 and binom_two_sided(later, untied) < level
        return hits / runs

    assert simulated(n) >= stats.POWER - 0.03 and simulated(n - 2) < stats.POWER + 0.03


def test_power_of_the_t_test_against_simulation():
    rng = np.random.default_rng(2)
    effect, sd, n, level = 0.05, 0.06, 12, 0.01
    d = rng.normal(effect, sd, size=(20000, n))
    t = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
    crit = next(x for x in np.arange(2.5, 6, 1e-4) if 2 * t_sf(x, n - 1) < level)
    assert stats.power_t(effect, sd, n, level) == pytest.approx(float(np.mean(t > crit)), abs=0.015)
    lower_bound = stats.power_tost(0.01, sd, 0.06, n, 0.05)
    e = rng.normal(0.01, sd, size=(20000, n))
    se = e.std(axis=1, ddof=1) / math.sqrt(n)
    q = next(x for x in np.arange(1.5, 4, 1e-4) if t_sf(x, n - 1) < 0.05)
    shown = np.mean(((e.mean(axis=1) + 0.06) / se > q) & ((0.06 - e.mean(axis=1)) / se > q))
    assert lower_bound <= shown + 0.01 and lower_bound > shown - 0.05


def test_seeds_needed_is_the_first_n_with_enough_power():
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [0.5, 2.2, 2.1, 3.9, 4.3]
    c = stats.Comparison(a, b)
    for level in (0.05, 0.005):
        n = c.seeds_needed(level)
        assert stats.power_t(c.diff, c.sd, n, level) >= stats.POWER > stats.power_t(c.diff, c.sd, n - 1, level)
    assert c.seeds_needed(0.005) > c.seeds_needed(0.05)  # a stricter level needs more seeds
    assert stats.Comparison([1.0, 2.0], [1.0, 2.0]).seeds_needed() is None  # no gap: nothing to detect
    near = stats.Comparison([0.01, 0.03, 0.02, 0.0], [0.0] * 4)
    n = near.seeds_needed(0.05, margin=0.05)  # inside the margin: TOST's power
    assert stats.power_tost(near.diff, near.sd, 0.05, n, 0.05) >= stats.POWER


def test_geometric_mean_and_its_interval_by_mpmath():
    g, lo, hi = stats.geometric([2.0, 8.0, 4.0])
    assert g == pytest.approx(4.0)
    s = statistics.stdev([math.log(2), math.log(8), math.log(4)]) / math.sqrt(3)
    assert t_sf(math.log(hi / g) / s, 2) == pytest.approx(0.025, rel=1e-6)
    assert stats.geometric([3.0, 3.0, 3.0]) == pytest.approx((3.0, 3.0, 3.0))


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


def test_an_undecided_part_plans_its_seeds_at_its_level():
    a, b = [0.91, 0.95, 0.88, 0.97, 0.90], [0.90, 0.90, 0.90, 0.90, 0.90]
    part = parts.differs("a above b", "a", a, "b", b)
    assert part.outcome == "undecided"
    part.level = 0.01
    need = part.comparison.seeds_needed(0.01)
    assert part.note() == (f"undecided at n = 5: the estimate points toward the claim; about {need} seeds would "
                           "decide it (80% power at level 0.01)")
    assert need > part.comparison.seeds_needed(0.05)


def test_the_margin_is_the_plans_delay_over_the_steps():
    series = {"steps": [50, 100, 150, 200, 250, 300]}
    assert parts.margin_for(series) == pytest.approx(parts.DELAY / 300)
    assert parts.margin_for(series, 2) == pytest.approx(parts.DELAY / 100)
