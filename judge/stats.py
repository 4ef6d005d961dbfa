"""The statistics every claim of the report is judged with (ANALYSIS_PLAN.md §3): paired tests over seeds,
equivalence, a censoring-aware sign test, exact rates, Holm, power. Distributions come from scipy.stats.

Seed s gives the same training stream and test batch in every setting of one experiment (and the same initial
weights where two settings build the same layers), so two settings are compared seed by seed: the test runs on the
per-seed differences d_s = a_s - b_s. The pairing needs only that seeds are independent of each other.

- `Comparison`: a paired t-test (two-sided) on the differences, Welch's unpaired test where the sides share no
  seeds; TOST ("alike within a margin": the 1 - 2·level interval inside it) and its opposite (the gap beyond it).
- `SignTest`: which of two runs of one seed reaches accuracy 1.0 first. "Never" is censored at the cap: it is
  later than any step, and nothing stands in for its value; both never, or both at one evaluation, is a tie and is
  dropped. With two runs per seed, a log-rank test stratified by seed has the same score (±1/2 per untied seed).
- `Rate`: k of n seeds show an event; exact binomial test of 1/2, Clopper-Pearson interval.
- `holm`: Holm's step-down adjustment (plain: each test counted); `geometric`: a t interval on log ratios.
- `seeds_needed` of each: the n at which the same estimate and spread would be decided with POWER at a given
  level (the level a verdict uses: the claim's Bonferroni level, ANALYSIS_PLAN.md §6).

scipy.stats is imported on first use (about 1 s): the module loads without it.
"""
import math
import statistics

ALPHA = 0.05  # two-sided level of every test before adjustment; TOST uses a 1 - 2·level interval
POWER = 0.8  # the power `seeds_needed` plans for
MAX_SEEDS = 1000  # seeds_needed gives up beyond this (reported as "more than MAX_SEEDS")
EPS = 1e-12  # differences below this are float noise (all seeds agree exactly: standard error 0)


def sp():
    """scipy.stats, imported on first use (its import costs about a second that a no-op rerun need not pay)."""
    from scipy import stats
    return stats


def _sd(v):
    return statistics.stdev(v) if len(v) > 1 else 0.0


def _smallest(enough):
    """The smallest n in [2, MAX_SEEDS] with enough(n) (monotone in n), or MAX_SEEDS + 1 (more than any)."""
    if not enough(MAX_SEEDS):
        return MAX_SEEDS + 1
    lo, hi = 2, MAX_SEEDS
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid + 1, hi)
    return lo


def power_t(effect, sd, n, level, sides=2):
    """Power of a (paired or one-sample) t-test at `level` to show a true mean `effect` with spread `sd` at n."""
    if sd <= EPS:
        return 1.0 if abs(effect) > EPS else 0.0
    st, df = sp(), n - 1
    return float(st.nct.sf(st.t.ppf(1 - level / sides, df), df, abs(effect) * math.sqrt(n) / sd))


def power_tost(diff, sd, margin, n, level):
    """Power of TOST at `level` (each one-sided test) to show |mean| < margin for a true mean `diff`: the usual
    lower bound P(lower test rejects) + P(upper test rejects) - 1 with the noncentral t."""
    if sd <= EPS:
        return 1.0 if abs(diff) < margin else 0.0
    st, df, se = sp(), n - 1, sd / math.sqrt(n)
    tc = st.t.ppf(1 - level, df)
    return max(0.0, float(st.nct.sf(tc, df, (diff + margin) / se) + st.nct.cdf(-tc, df, (diff - margin) / se) - 1))


class Comparison:
    """Mean difference a - b over seeds with its standard error, degrees of freedom and test, paired or not.

    paired: a[i] and b[i] come from the same seed (same length required); else Welch's unpaired test.
    """

    def __init__(self, a, b, paired=True):
        a, b = [float(x) for x in a], [float(x) for x in b]
        if not a or not b:
            raise ValueError("a comparison needs at least one value on each side")
        if paired and len(a) != len(b):
            raise ValueError(f"paired values need equal counts, got {len(a)} and {len(b)}")
        self.a, self.b, self.paired = a, b, paired
        if paired:
            d = [x - y for x, y in zip(a, b, strict=True)]
            self.n, self.diff = len(d), statistics.fmean(d)
            self.sd = _sd(d)  # spread of the per-seed differences
            self.se, self.df = self.sd / math.sqrt(self.n), self.n - 1
        else:
            va, vb = _sd(a) ** 2 / len(a), _sd(b) ** 2 / len(b)
            self.n, self.diff = min(len(a), len(b)), statistics.fmean(a) - statistics.fmean(b)
            self.se = math.sqrt(va + vb)
            self.sd = self.se * math.sqrt(self.n)  # the per-seed spread that gives this SE at n seeds
            den = (va ** 2 / (len(a) - 1) if len(a) > 1 else 0) + (vb ** 2 / (len(b) - 1) if len(b) > 1 else 0)
            self.df = (va + vb) ** 2 / den if den > 0 else max(1, len(a) + len(b) - 2)  # Welch-Satterthwaite
        if self.se <= EPS:  # every seed gives the same difference: it is exact, not noisy
            self.t = 0.0 if abs(self.diff) <= EPS else math.copysign(math.inf, self.diff)
        else:
            self.t = self.diff / self.se
        self.p = 2 * self._tail(abs(self.t)) if self.df >= 1 else 1.0

    @property
    def test(self):
        if self.paired:
            return "paired t"
        return "one-sample t" if min(len(self.a), len(self.b)) == 1 else "Welch t"

    def _tail(self, t):
        """P(T >= t) with this comparison's degrees of freedom (infinite t: 0 or 1)."""
        if math.isinf(t):
            return 0.0 if t > 0 else 1.0
        return float(sp().t.sf(t, self.df))

    def interval(self, level):
        """Two-sided confidence interval of the mean difference at `level` (0.9 for TOST at 0.05)."""
        half = 0.0 if self.se <= EPS else float(sp().t.ppf(0.5 + level / 2, self.df)) * self.se
        return self.diff - half, self.diff + half

    def sign(self, level=ALPHA):
        """+1: a above b (p < level), -1: below, 0: not decided."""
        if abs(self.diff) <= EPS or self.p >= level:
            return 0
        return 1 if self.diff > 0 else -1

    def equivalence(self, margin, level=ALPHA):
        """+1: alike within margin (TOST), -1: apart by more than margin (shown), 0: not decided."""
        if self.p_alike(margin) < level:
            return 1
        return -1 if self.p_apart(margin) < level else 0

    @staticmethod
    def _bounds(margin):
        """A margin as (low, high) bounds of the difference: a number m is (-m, m)."""
        return (-margin, margin) if isinstance(margin, (int, float)) else tuple(margin)

    def p_alike(self, margin):
        """TOST p-value for "low < a - b < high" (margin m: |a - b| < m): the larger one-sided p-value."""
        lo, hi = self._bounds(margin)
        if self.se <= EPS:
            return 0.0 if lo < self.diff < hi else 1.0
        return max(self._tail((self.diff - lo) / self.se), self._tail((hi - self.diff) / self.se))

    def p_apart(self, margin):
        """One-sided p-value for "a - b outside the margin", on the side the estimate lies."""
        lo, hi = self._bounds(margin)
        if self.se <= EPS:
            return 0.0 if not lo <= self.diff <= hi else 1.0
        mid = (lo + hi) / 2
        return self._tail((self.diff - hi) / self.se) if self.diff >= mid else self._tail((lo - self.diff) / self.se)

    def smallest_margin(self, level=ALPHA):
        """The smallest symmetric margin at which TOST at `level` shows "alike": the far end of the 1 - 2·level
        interval."""
        lo, hi = self.interval(1 - 2 * level)
        return max(abs(lo), abs(hi))

    def seeds_needed(self, level=ALPHA, margin=None):
        """Seeds for POWER at `level`: to show the difference (margin None), the likeness within the margin (the
        estimate inside it) or the gap beyond it (outside); None when no seed count can."""
        if margin is None:
            if abs(self.diff) <= EPS:
                return None
            return _smallest(lambda n: power_t(self.diff, self.sd, n, level) >= POWER)
        lo, hi = self._bounds(margin)
        if lo < self.diff < hi:
            mid, half = (lo + hi) / 2, (hi - lo) / 2
            return _smallest(lambda n: power_tost(self.diff - mid, self.sd, half, n, level) >= POWER)
        beyond = self.diff - hi if self.diff >= hi else lo - self.diff
        if beyond <= EPS:
            return None
        return _smallest(lambda n: power_t(beyond, self.sd, n, level, sides=1) >= POWER)

    def stat(self):
        """The numbers a part was judged on, in a few words."""
        p = "p < 0.001" if self.p < 1e-3 else f"p = {self.p:.3f}"
        df = f"{self.df:g}" if float(self.df).is_integer() else f"{self.df:.1f}"
        return f"{self.test}, diff {self.diff:+.3g}, t({df}) = {self.t:.2f}, {p}"


class SignTest:
    """Which of two runs of each seed reaches accuracy 1.0 first, "never" (None) censored at the cap.

    later: seeds where a is later than b (a never and b reached, or both reached and a's step larger); earlier: the
    opposite; ties (both never, or the same step) are dropped. Two-sided exact binomial test of 1/2 on the untied.
    """

    test = "sign test"

    def __init__(self, a, b):
        if len(a) != len(b) or not a:
            raise ValueError(f"a sign test needs paired first steps, got {len(a)} and {len(b)}")
        self.a, self.b, self.n = list(a), list(b), len(a)

        def later(x, y):
            return (x is None and y is not None) or (x is not None and y is not None and x > y)

        self.later = sum(later(x, y) for x, y in zip(a, b, strict=True))
        self.earlier = sum(later(y, x) for x, y in zip(a, b, strict=True))
        self.ties = self.n - self.later - self.earlier
        untied = self.later + self.earlier
        self.p = float(sp().binomtest(self.later, untied, 0.5).pvalue) if untied else 1.0
        self.diff = (self.later - self.earlier) / self.n  # the estimate: net share of seeds where a is later

    def sign(self, level=ALPHA):
        if self.p >= level or self.later == self.earlier:
            return 0
        return 1 if self.later > self.earlier else -1

    def wilcoxon(self, cap_step):
        """Wilcoxon signed-rank p-value with never put at `cap_step` (shown beside, not deciding: its magnitudes for
        censored pairs are lower bounds)."""
        d = [(cap_step if x is None else x) - (cap_step if y is None else y) for x, y in zip(self.a, self.b,
                                                                                          strict=True)]
        if not any(d):
            return 1.0
        return float(sp().wilcoxon(d, zero_method="wilcox", method="asymptotic").pvalue)  # normal approximation:
        # the exact null with ties is a permutation test, 0.1 s a call, and this p-value decides nothing

    def seeds_needed(self, level=ALPHA):
        """Seeds at which the observed shares of later / earlier / tied seeds give the sign test POWER at `level`
        (exact binomial sums); None when later and earlier are equal."""
        if self.later == self.earlier:
            return None
        import numpy as np

        st = sp()
        pl, pe = self.later / self.n, self.earlier / self.n
        lead = max(pl, pe) / (pl + pe)

        def power(n):
            u = np.arange(1, n + 1)  # untied seeds
            k = st.binom.isf(level / 2, u, 0.5) + 1  # the fewest "later" of u the two-sided test rejects with
            return float(np.sum(st.binom.pmf(u, n, pl + pe) * st.binom.sf(k - 1, u, lead)))

        return _smallest(lambda n: power(n) >= POWER)

    def stat(self):
        p = "p < 0.001" if self.p < 1e-3 else f"p = {self.p:.3f}"
        return f"{self.later} later, {self.earlier} earlier, {self.ties} tied; sign test {p}"


class Rate:
    """k of n seeds show an event: exact two-sided binomial test of rate 1/2, Clopper-Pearson interval."""

    def __init__(self, k, n):
        if not 0 <= k <= n or n < 1:
            raise ValueError(f"a rate needs 0 <= k <= n and n >= 1, got {k} of {n}")
        self.k, self.n = k, n
        r = sp().binomtest(k, n, 0.5)
        self.p = float(r.pvalue)
        ci = r.proportion_ci(1 - ALPHA, method="exact")
        self.interval = (float(ci.low), float(ci.high))
        self.diff = k / n - 0.5  # the estimate: how far the rate is from 1/2

    def sign(self, level=ALPHA):
        """+1: the rate is shown above 1/2, -1: below, 0: not decided."""
        return 0 if self.p >= level or 2 * self.k == self.n else 1 if 2 * self.k > self.n else -1

    def seeds_needed(self, level=ALPHA):
        """Seeds at which a true rate equal to the observed one is shown off 1/2 with POWER at `level` (exact);
        None for a rate of exactly 1/2."""
        if 2 * self.k == self.n:
            return None
        import numpy as np

        st, rate = sp(), self.k / self.n

        def power(n):
            k = np.arange(n + 1)
            p = np.minimum(1.0, 2 * np.minimum(st.binom.cdf(k, n, 0.5), st.binom.sf(k - 1, n, 0.5)))  # two-sided
            toward = (2 * k > n) if rate > 0.5 else (2 * k < n)
            return float(np.sum(st.binom.pmf(k, n, rate) * (toward & (p < level))))

        return next((n for n in range(2, 301) if power(n) >= POWER), None)  # not monotone in n: a scan

    def stat(self):
        p = "p < 0.001" if self.p < 1e-3 else f"p = {self.p:.3f}"
        lo, hi = self.interval
        return f"{self.k}/{self.n}, {1 - ALPHA:.0%} CI of the rate [{lo:.2f}, {hi:.2f}]; binomial test of 1/2, {p}"


def holm(ps):
    """Holm's step-down adjusted p-values (same order as ps): family-wise error <= ALPHA when each is < ALPHA.

    Sorted ascending, p_(j) becomes max over i <= j of min(1, (m - i + 1) p_(i)) (Holm 1979). Every test counts."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out


def holm_multipliers(ps):
    """Each test's Holm multiplier, m - rank (rank from 0 in ascending order of p): held fixed for leave-one-out."""
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    out = [0] * len(ps)
    for rank, i in enumerate(order):
        out[i] = len(ps) - rank
    return out


def geometric(ratios, level=1 - ALPHA):
    """(geometric mean, low, high) of positive ratios: a t interval on their logarithms, exponentiated."""
    logs = [math.log(r) for r in ratios]
    m = statistics.fmean(logs)
    if len(logs) < 2:
        return math.exp(m), math.exp(m), math.exp(m)
    half = float(sp().t.ppf(0.5 + level / 2, len(logs) - 1)) * _sd(logs) / math.sqrt(len(logs))
    return math.exp(m), math.exp(m - half), math.exp(m + half)


def above(a, b, paired=True):
    """The part "a is above b": (True holds / False contradicted / None undecided, Comparison)."""
    c = Comparison(a, b, paired)
    return {1: True, -1: False, 0: None}[c.sign()], c


def alike(a, b, margin, paired=True):
    """The part "a and b are alike within margin": (True / False / None, Comparison)."""
    c = Comparison(a, b, paired)
    return {1: True, -1: False, 0: None}[c.equivalence(margin)], c


def median_first(firsts):
    """Median over seeds of the first exact step, "never" (None) ranked after every step; None if never."""
    if not firsts:
        return None
    med = statistics.median(math.inf if f is None else f for f in firsts)
    return None if med == math.inf else med


def earliest(groups):
    """{name: per-seed first exact steps (None = never)} -> names sharing the earliest median (never last)."""
    meds = {k: median_first(v) for k, v in groups.items()}
    reached = [m for m in meds.values() if m is not None]
    if not reached:
        return []
    best = min(reached)
    return [k for k, m in meds.items() if m == best]


def find_series(result, **settings):
    """The series of a result whose settings hold every given value (None if none): selection by settings.

    A value of None matches a series lacking the key. Used wherever a claim or chart needs one curve, so an
    edited label never changes what is compared.
    """
    for s in (result or {}).get("series", []):
        st = s.get("settings", {})
        if all(st.get(k) == v for k, v in settings.items()):
            return s
    return None


def pair(sa, va, sb, vb):
    """Per-seed values of two series -> (a, b, paired): matched by seed id where the two share seeds."""
    seeds_a, seeds_b = sa.get("seeds", range(len(va))), sb.get("seeds", range(len(vb)))  # no ids: by position
    common = [x for x in seeds_a if x in set(seeds_b)]
    if len(common) >= 2:
        ia, ib = {x: i for i, x in enumerate(seeds_a)}, {x: i for i, x in enumerate(seeds_b)}
        return [va[ia[x]] for x in common], [vb[ib[x]] for x in common], True
    return va, vb, False
