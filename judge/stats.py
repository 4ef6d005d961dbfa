"""The statistics every claim of the report is judged with: paired tests over seeds, equivalence, power.

Seed s gives the same training stream and test batch in every setting of one experiment (and the same initial
weights where two settings build the same layers; across cells or sizes only the embedding is shared), so two
settings are compared seed by seed: the test runs on the per-seed differences d_s = a_s - b_s. The pairing needs
only that seeds are independent of each other; shared weights merely make the differences less noisy.

Which test, and why. A paired t-test (two-sided, level ALPHA) on the differences. The exact alternative, the
sign-flip permutation test, is distribution-free but with n pairs its smallest two-sided p-value is 2/2^n
(0.0625 at n = 5): below 6 seeds it can never reject at 0.05. The t-test
uses the size of the differences as well as their signs; its assumption (differences roughly normal) is the
price, and the report prints every per-seed number it was judged on. Where the two sides do not share seeds
(one side a single number, e.g. a claimed factor) the same code runs Welch's unpaired t-test.

"Alike" is equivalence, not a failed test: two one-sided tests (TOST) at level ALPHA with a margin fixed in
the rule before looking at the data (the 1 - 2·ALPHA confidence interval of the mean difference lies
inside [-margin, +margin]). A difference is shown to exceed the margin when that interval lies outside it.

When a part is neither shown nor refuted the outcome is "undecided at n = N", and `seeds_needed` gives how
many seeds a study would need for POWER (80%) to decide it if the observed mean difference and spread were
the truth (the usual t-based sample-size iteration).

Several parts decide a verdict, so their p-values are adjusted together (`holm`: Holm's step-down
method, family-wise error at ALPHA; each test's p-value is `Comparison.p_for`). Counts get an exact binomial test
with a Clopper-Pearson interval (`Rate`), ratios a t interval on their logarithms (`geometric`).

The t distribution is computed here, not imported: its CDF for integer degrees of freedom has a closed form
(Abramowitz & Stegun 26.7.3-4), and quantiles come from bisection on it. Non-integer Welch degrees of
freedom are rounded down (a slightly conservative test).
"""
import math
import statistics
from functools import lru_cache

ALPHA = 0.05  # two-sided level of every test; TOST uses a 1 - 2·ALPHA (90%) interval
POWER = 0.8  # the power `seeds_needed` plans for
MAX_SEEDS = 10_000  # seeds_needed gives up beyond this (reported as "more than MAX_SEEDS")
EPS = 1e-12  # differences below this are float noise (all seeds agree exactly: standard error 0)


def t_cdf(t, df):
    """P(T <= t) for Student's t with integer df >= 1 (closed form, Abramowitz & Stegun 26.7.3/26.7.4)."""
    df = int(df)
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    theta = math.atan2(t, math.sqrt(df))  # sin = t / sqrt(df + t^2)
    s, c = math.sin(theta), math.cos(theta)
    if df % 2:  # odd: A = 2/pi (theta + sin cos (1 + 2/3 cos^2 + 2·4/(3·5) cos^4 + ...))
        term, acc = 1.0, 1.0 if df > 1 else 0.0
        for k in range(1, (df - 1) // 2):
            term *= (2 * k) / (2 * k + 1) * c * c
            acc += term
        a = 2 / math.pi * (theta + (s * c * acc if df > 1 else 0.0))
    else:  # even: A = sin (1 + 1/2 cos^2 + 1·3/(2·4) cos^4 + ...)
        term, acc = 1.0, 1.0
        for k in range(1, df // 2):
            term *= (2 * k - 1) / (2 * k) * c * c
            acc += term
        a = s * acc
    return 0.5 + 0.5 * a  # A = P(|T| <= |t|) signed by t


@lru_cache(maxsize=None)  # seeds_needed asks for the same few quantiles thousands of times
def t_quantile(p, df):
    """The t with P(T <= t) = p (bisection on t_cdf)."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    lo, hi = -1e6, 1e6
    for _ in range(100):  # the interval reaches adjacent floats within ~75 halvings
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def _sd(v):
    return statistics.stdev(v) if len(v) > 1 else 0.0


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
            num, den = (va + vb) ** 2, (va ** 2 / (len(a) - 1) if len(a) > 1 else 0) + (
                vb ** 2 / (len(b) - 1) if len(b) > 1 else 0)
            self.df = max(1, math.floor(num / den)) if den > 0 else max(1, len(a) + len(b) - 2)
        if self.se <= EPS:  # every seed gives the same difference: it is exact, not noisy
            self.t = 0.0 if abs(self.diff) <= EPS else math.copysign(math.inf, self.diff)
        else:
            self.t = self.diff / self.se
        self.p = 2 * (1 - t_cdf(abs(self.t), self.df)) if self.df >= 1 else 1.0

    @property
    def test(self):
        if self.paired:
            return "paired t"
        return "one-sample t" if min(len(self.a), len(self.b)) == 1 else "Welch t"

    def interval(self, level):
        """Two-sided confidence interval of the mean difference at `level` (0.9 for TOST)."""
        half = 0.0 if self.se <= EPS else t_quantile(0.5 + level / 2, self.df) * self.se
        return self.diff - half, self.diff + half

    def sign(self):
        """+1: a above b (p < ALPHA), -1: below, 0: not decided."""
        if abs(self.diff) <= EPS or self.p >= ALPHA:
            return 0
        return 1 if self.diff > 0 else -1

    def equivalence(self, margin):
        """+1: alike within margin (TOST), -1: apart by more than margin (shown), 0: not decided."""
        lo, hi = self.interval(1 - 2 * ALPHA)
        if -margin < lo and hi < margin:
            return 1
        if lo > margin or hi < -margin:
            return -1
        return 0

    def seeds_needed(self, margin=None):
        """Seeds for POWER to decide: the sign test (margin None) or TOST; None when no seed count can."""
        if margin is None:
            effect, sides = abs(self.diff), 2
        else:
            effect, sides = margin - abs(self.diff), 1  # TOST: distance of the observed gap from the margin
        if effect <= EPS:
            return None
        if self.sd <= EPS:
            return 2
        def enough(n):  # monotone in n: the quantiles shrink as n grows
            q = t_quantile(1 - ALPHA / sides, n - 1) + t_quantile(POWER, n - 1)
            return n >= (q * self.sd / effect) ** 2

        if not enough(MAX_SEEDS):
            return None
        lo, hi = 2, MAX_SEEDS  # the smallest n that is enough, by bisection (the same n as a scan from 2)
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if enough(mid) else (mid + 1, hi)
        return lo

    def _tail(self, t):
        """P(T >= t) with this comparison's degrees of freedom (an exact comparison: 0 or 1)."""
        return 1 - t_cdf(t, self.df)

    def p_alike(self, margin):
        """TOST p-value for "|a - b| < margin": the larger of the two one-sided p-values."""
        if self.se <= EPS:
            return 0.0 if abs(self.diff) < margin else 1.0
        return max(self._tail((self.diff + margin) / self.se), 1 - self._tail((self.diff - margin) / self.se))

    def p_apart(self, margin):
        """One-sided p-value for "|a - b| > margin" (the 1 - 2·ALPHA interval outside the margin at p < ALPHA)."""
        if self.se <= EPS:
            return 0.0 if abs(self.diff) > margin else 1.0
        return self._tail((abs(self.diff) - margin) / self.se)

    def smallest_margin(self):
        """The smallest margin at which TOST shows "alike" (any larger one passes): the far end of the 90% CI."""
        lo, hi = self.interval(1 - 2 * ALPHA)
        return max(abs(lo), abs(hi))

    def stat(self):
        """The numbers a part was judged on, in a few words."""
        p = "p < 0.001" if self.p < 1e-3 else f"p = {self.p:.3f}"
        return f"{self.test}, diff {self.diff:+.3g}, t({self.df}) = {self.t:.2f}, {p}"


def holm(ps, groups=None):
    """Holm's step-down adjusted p-values (same order as ps): family-wise error <= ALPHA when each is < ALPHA.

    Sorted ascending, p_(j) becomes max over i <= j of min(1, t_i p_(i)). Plain Holm (Holm 1979): t_i = m - i + 1,
    the hypotheses not yet rejected. groups: hypotheses sharing a group are mutually exclusive (at most one can be
    true, as "a - b = 0" and "|a - b| >= margin", or "|a - b| >= margin" and "< margin"); then t_i counts the groups
    that still hold an unrejected hypothesis, the most true hypotheses possible if the first i - 1 are false
    (Shaffer 1986, method S1). With every hypothesis in its own group both are the same.
    """
    groups = list(range(len(ps))) if groups is None else list(groups)
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    left = {}  # group -> hypotheses of it not yet rejected
    for g in groups:
        left[g] = left.get(g, 0) + 1
    out, running = [0.0] * len(ps), 0.0
    for i in order:
        t = sum(1 for n in left.values() if n > 0)
        running = max(running, min(1.0, t * ps[i]))
        out[i] = running
        left[groups[i]] -= 1
    return out


def binom_cdf(k, n, q):
    """P(X <= k) for X ~ Binomial(n, q)."""
    return sum(math.comb(n, i) * q ** i * (1 - q) ** (n - i) for i in range(0, k + 1)) if k >= 0 else 0.0


def _solve(f, target):
    """The q in [0, 1] with f(q) = target for f decreasing in q (bisection)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) > target else (lo, mid)
    return (lo + hi) / 2


class Rate:
    """k of n seeds show an event: exact two-sided binomial test of rate 1/2, Clopper-Pearson interval."""

    def __init__(self, k, n):
        if not 0 <= k <= n or n < 1:
            raise ValueError(f"a rate needs 0 <= k <= n and n >= 1, got {k} of {n}")
        self.k, self.n = k, n
        self.p = min(1.0, 2 * min(binom_cdf(k, n, 0.5), 1 - binom_cdf(k - 1, n, 0.5)))
        lo = 0.0 if k == 0 else _solve(lambda q: -(1 - binom_cdf(k - 1, n, q)), -ALPHA / 2)
        hi = 1.0 if k == n else _solve(lambda q: binom_cdf(k, n, q), ALPHA / 2)
        self.interval = (lo, hi)

    def sign(self):
        """+1: the rate is shown above 1/2, -1: below, 0: not decided."""
        return 0 if self.p >= ALPHA else 1 if 2 * self.k > self.n else -1

    def seeds_needed(self):
        """Seeds at which the same observed rate would be shown off 1/2 (None: a rate of exactly 1/2)."""
        if 2 * self.k == self.n:
            return None
        rate = self.k / self.n
        for n in range(self.n, MAX_SEEDS):
            if Rate(round(rate * n), n).sign() != 0:
                return n
        return None

    def stat(self):
        p = "p < 0.001" if self.p < 1e-3 else f"p = {self.p:.3f}"
        lo, hi = self.interval
        return f"{self.k}/{self.n}, {1 - ALPHA:.0%} CI of the rate [{lo:.2f}, {hi:.2f}]; binomial test of 1/2, {p}"


def geometric(ratios, level=1 - ALPHA):
    """(geometric mean, low, high) of positive ratios: a t interval on their logarithms, exponentiated."""
    logs = [math.log(r) for r in ratios]
    m = statistics.fmean(logs)
    if len(logs) < 2:
        return math.exp(m), math.exp(m), math.exp(m)
    half = t_quantile(0.5 + level / 2, len(logs) - 1) * _sd(logs) / math.sqrt(len(logs))
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
