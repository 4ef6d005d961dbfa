"""The vocabulary a verdict is stated in (ANALYSIS_PLAN.md, plan v1): a Part (one judged comparison), the rules
that make one (differs, same, first_before, rate, ratio_above, ratio_about) and verdict (parts -> the claim's word).
Any section can say "X faster than Y" in one call:

    part = differs("none learns faster than carry", "none", a, "carry", b, margin=0.083)   # a, b: per seed, paired
    part.outcome, part.row()   # "holds" / "contradicted" / "alike" / "undecided", the table row
    part.sentence()            # "none learns faster than carry: holds (none 0.909 vs carry 0.863; paired t, ...)"

A Part keeps the p-value of every test whose rejection would decide it (`tests`: [(test, p, outcome if rejected)],
in order of precedence), so a claim's tests can be adjusted together (report/robust.py: Holm) and `decide`
re-reads the outcome from the adjusted p-values. Outcomes of parts no test decides (an identity) are fixed.
"""
import math
import statistics

from judge import stats
from judge.stats import pair
from judge.tables import seed_speeds

PLAN = "v1"  # the version of ANALYSIS_PLAN.md these rules implement (the report names it)
DELAY = 25  # steps: "alike" = within this delay, half the 50-step evaluation interval (ANALYSIS_PLAN.md §2)
HOLDS = "holds"
HOLDS_SMALL = "holds (smaller than the margin)"  # the direction shown, the size shown below the margin
BY_CONSTRUCTION = "true by construction"  # a part no measurement could contradict: shown, not counted
NOT_MEASURED = "not measured yet"  # a planned part whose runs do not exist yet: shown, not counted
NOT_COUNTED = (BY_CONSTRUCTION, NOT_MEASURED)
AGAINST = ("contradicted", "alike")  # outcomes that count against a claim


class Part:
    """One judged part of a claim: what was compared, its outcome and the numbers behind it.

    estimate: the signed number the run-length rule reads (a - b, a net share or a rate minus 1/2); bound: the
    margin it is read against (None: direction only); need(level): seeds for POWER at that level (None: none can);
    way: which way the estimate points, in words.
    """

    def __init__(self, text, outcome, test="-", margin="-", stat="-", n=None, tests=(), estimate=None, bound=None,
                 need=None, way=""):
        self.text, self.outcome, self.test, self.margin, self.stat = text, outcome, test, margin, stat
        self.n = n  # seeds the part was judged on (None: not a test over seeds)
        self.tests = list(tests)  # [(test name, raw p, outcome when rejected)], first rejected wins
        self.estimate, self.bound, self.need, self.way = estimate, bound, need, way
        self.adjusted = None  # the tests' Holm-adjusted p-values, once the claim's family was adjusted (decide)
        self.multipliers = None  # each test's Holm multiplier on all seeds (held fixed for leave-one-out)
        self.level = None  # the claim's Bonferroni level (ALPHA / tests in the claim): seeds needed are planned at it
        self.flips, self.half, self.run_length = None, None, False  # set by report/robust.py
        self.headline = stat  # the one number a short line quotes
        self.why = ""  # the margin's reason in this part's runs (the report's notes)

    def decide(self, adjusted):
        """Re-read the outcome from adjusted p-values (same order as tests); fixed outcomes stay."""
        if not self.tests:
            return self.outcome
        self.adjusted = list(adjusted)
        shown = [o for (_, _, o), p in zip(self.tests, adjusted, strict=True) if p < stats.ALPHA]
        self.outcome = shown[0] if shown else "undecided"
        if self.outcome == HOLDS and "alike" in shown:
            self.outcome = HOLDS_SMALL
        return self.outcome

    def raw(self):
        return [p for _, p, _ in self.tests]

    def note(self):
        """For an undecided part: which way the estimate points and the seeds that would decide it at its level."""
        if self.outcome != "undecided" or self.need is None:
            return ""
        level = self.level or stats.ALPHA
        need = self.need(level)
        count = ("no seed count would decide it" if need is None else
                 f"more than {stats.MAX_SEEDS:,} seeds would be needed" if need > stats.MAX_SEEDS else
                 f"about {need} seeds would decide it ({stats.POWER:.0%} power at level {level:.2g})")
        return f"undecided at n = {self.n}: {self.way}; {count}"

    def p_text(self):
        """'p = 0.017 (Holm 0.11)' for the test that decided the part, else for its smallest p-value."""
        if not self.tests:
            return "-"
        adj = self.adjusted or self.raw()
        i = next((i for i, p in enumerate(adj) if p < stats.ALPHA), min(range(len(adj)), key=adj.__getitem__))
        name, raw, _ = self.tests[i]
        return f"{name}: {fmt_p(raw)}" + (f" (Holm {fmt_p(adj[i])})" if self.adjusted is not None else "")

    def row(self):
        return (self.text, self.test, self.margin, self.stat, self.outcome)

    def sentence(self):
        """'none learns faster than carry: holds (none 0.909 vs carry 0.863; paired t, ...)': one line for a section
        (one test, unadjusted: a section's part is not in a claim's family)."""
        note = self.note()
        return f"{self.text}: {self.outcome} ({self.stat}" + (f"; {note}" if note else "") + ")"


def fmt_p(p):
    return "< 0.001" if p < 1e-3 else f"{p:.3f}"


def _mean(v, fmt):
    return fmt.format(statistics.fmean(v))


def margin_for(series, upto=None):
    """The learning-speed margin of `series` (its first `upto` evaluations): DELAY / S, S the last step averaged
    over. A curve delayed by d steps loses at most d / S of its mean accuracy over the evaluations."""
    steps = series["steps"][:upto] if upto else series["steps"]
    return DELAY / steps[-1]


def _toward(c, margin=None):
    if margin is None:
        return "the estimate points toward the claim" if c.diff > 0 else "the estimate points against the claim"
    return ("the estimate lies inside the margin (toward the claim)" if abs(c.diff) < margin else
            "the estimate lies outside the margin (against the claim)")


def differs(text, name_a, a, name_b, b, paired=True, margin=None, fmt="{:.3f}"):
    """The part "a is above b": holds / contradicted / alike (shown within margin; None: no margin) / undecided."""
    c = stats.Comparison(a, b, paired)
    tests = [(c.test, c.p, HOLDS if c.diff > 0 else "contradicted")]
    if margin is not None:
        tests.append(("TOST", c.p_alike(margin), "alike"))
    stat = f"{name_a} {_mean(a, fmt)} vs {name_b} {_mean(b, fmt)}; {c.stat()}"
    def need(level):  # whichever decides first: the difference, or (inside the margin) the likeness
        ns = [c.seeds_needed(level)] + ([c.seeds_needed(level, margin)] if margin and abs(c.diff) < margin else [])
        return min((n for n in ns if n is not None), default=None)

    part = Part(text, "undecided", c.test + ("" if margin is None else " + TOST"),
                "-" if margin is None else f"±{margin:.3g}", stat, c.n, tests, c.diff, margin, need, _toward(c))
    part.comparison = c
    part.headline = f"{name_a} minus {name_b} {c.diff:+.3g}"
    part.decide(part.raw())
    return part


def same(text, name_a, a, name_b, b, paired=True, margin=0.0, fmt="{:.3f}", runs=None):
    """The part "a and b are alike": holds (TOST within margin) / contradicted (apart beyond it) / undecided.

    runs: the series whose learning speeds are compared (a's, or (a's, b's)), to state the margin in their steps
    and accuracy points.
    """
    c = stats.Comparison(a, b, paired)
    lo, hi = c.interval(1 - 2 * stats.ALPHA)
    stat = (f"{name_a} {_mean(a, fmt)} vs {name_b} {_mean(b, fmt)}; {c.stat()}; "
            f"{1 - 2 * stats.ALPHA:.0%} CI of the gap [{lo:+.3g}, {hi:+.3g}]")
    tests = [("TOST", c.p_alike(margin), HOLDS), ("beyond margin", c.p_apart(margin), "contradicted")]
    pair_ = runs if isinstance(runs, tuple) else (runs, None)
    part = Part(text, "undecided", f"TOST ({c.test})", f"±{margin:.3g}", stat, c.n, tests, c.diff, margin,
                lambda level: c.seeds_needed(level, margin), _toward(c, margin))
    part.why = margin_reason(pair_[0], margin, pair_[1]) if runs is not None else ""
    part.comparison = c
    part.headline = f"gap {c.diff:+.3g}, {1 - 2 * stats.ALPHA:.0%} CI [{lo:+.3g}, {hi:+.3g}] vs ±{margin:.3g}"
    part.decide(part.raw())
    return part


def first_before(text, name_a, a, name_b, b, cap_step):
    """The part "b reaches accuracy 1.0 before a": a paired sign test on first exact steps, never (None) censored
    (holds: a later on most untied seeds, shown; contradicted: a earlier). cap_step: where never is put for the
    Wilcoxon p-value shown beside."""
    s = stats.SignTest(a, b)

    def med(v):
        m = stats.median_first(v)
        return "never" if m is None else f"{m:g}"

    stat = (f"median first exact step {name_a} {med(a)} vs {name_b} {med(b)}; {name_a} {s.stat()}; "
            f"Wilcoxon (never at {cap_step}, normal approximation, not deciding) p = {s.wilcoxon(cap_step):.3f}")
    part = Part(text, "undecided", s.test, "-", stat, s.n, [(s.test, s.p, HOLDS if s.later > s.earlier
                                                           else "contradicted")], s.diff, None,
                s.seeds_needed, "the estimate points toward the claim" if s.later > s.earlier else
                "the estimate points against the claim")
    part.comparison = s
    part.headline = f"{name_a} later on {s.later}, earlier on {s.earlier} of {s.n} seeds"
    part.decide(part.raw())
    return part


def rate(text, k, n, event):
    """The part "most seeds show `event`": an exact binomial test of the rate 1/2 (k of n seeds)."""
    r = stats.Rate(k, n)
    way = "the estimate points toward the claim" if 2 * k > n else "the estimate points against the claim"
    part = Part(text, "undecided", "binomial (rate 1/2)", "-", f"{event} {r.stat()}", n,
                [("binomial", r.p, HOLDS if 2 * k > n else "contradicted")], r.diff, None, r.seeds_needed, way)
    part.headline = f"{event} {k}/{n} seeds"
    part.decide(part.raw())
    return part


def _log_ratio(ratios, claimed):
    logs = [math.log(r) for r in ratios]
    return stats.Comparison(logs, [math.log(claimed)] * len(logs))  # differences from a value: one-sample


def _ratio_stat(ratios, c):
    gm, lo, hi = stats.geometric(ratios)
    return (f"geometric mean {gm:.1f}x, {1 - stats.ALPHA:.0%} CI [{lo:.1f}x, {hi:.1f}x] (median "
            f"{statistics.median(ratios):.1f}x); t on log ratios, t({c.df}) = {c.t:.2f}")


def ratio_above(text, ratios, claimed=1.0):
    """The part "the ratio exceeds `claimed`": a one-sample t-test on log ratios; geometric mean with its CI."""
    c = _log_ratio(ratios, claimed)
    part = Part(text, "undecided", "one-sample t (log ratio)", "-", _ratio_stat(ratios, c) + f" vs {claimed:g}x",
                len(ratios), [("one-sample t", c.p, HOLDS if c.diff > 0 else "contradicted")], c.diff, None,
                lambda level: c.seeds_needed(level), _toward(c))
    part.headline = _ratio_short(ratios)
    part.decide(part.raw())
    return part


def _ratio_short(ratios):
    gm, lo, hi = stats.geometric(ratios)
    return f"{gm:.1f}x, {1 - stats.ALPHA:.0%} CI [{lo:.1f}x, {hi:.1f}x]"


def ratio_about(text, ratios, low, high):
    """The part "the ratio is about X": TOST on log ratios within [low, high] (holds), or outside it (contradicted)."""
    c = _log_ratio(ratios, 1.0)
    bounds = (math.log(low), math.log(high))
    tests = [("TOST (log ratio)", c.p_alike(bounds), HOLDS), ("outside the bounds", c.p_apart(bounds),
                                                              "contradicted")]
    inside = bounds[0] < c.diff < bounds[1]
    part = Part(text, "undecided", "TOST (log ratio)", f"[{low:.2f}x, {high:.2f}x]", _ratio_stat(ratios, c),
                len(ratios), tests, None, None, lambda level: c.seeds_needed(level, bounds),
                "the estimate lies inside the bounds" if inside else "the estimate lies outside the bounds")
    part.headline = _ratio_short(ratios)
    part.decide(part.raw())
    return part


def speeds(sa, sb, upto=None):
    """Paired per-seed learning speeds of two series: (a, b, paired)."""
    return pair(sa, seed_speeds(sa, upto), sb, seed_speeds(sb, upto))


def verdict(outcomes):
    """Part outcomes -> the claim's verdict (ANALYSIS_PLAN.md §6); parts not counted are left out.

    confirmed = every counted part holds; refuted = none holds and some are contradicted or alike; mixed = some hold
    and some are against; partly confirmed = some hold, none against, the rest undecided; undecided = none decided.
    """
    counted = [o for o in outcomes if o not in NOT_COUNTED]
    held = [o for o in counted if o.startswith(HOLDS)]
    against = [o for o in counted if o in AGAINST]
    if counted and len(held) == len(counted):
        return "confirmed"
    if held:
        return "mixed" if against else "partly confirmed"
    return "refuted" if against else "undecided"


def identical(sa, sb):
    """Two series with the same seeds and bitwise-equal accuracy curves (the same computation)."""
    return sa["seeds"] == sb["seeds"] and sa["accuracy"] == sb["accuracy"]


def margin_reason(series, margin, other=None):
    """Why a learning-speed margin is what it is, for the runs of `series`; with the `other` arm, where the two arms'
    mean accuracies differ most."""
    steps, evals = series["steps"][-1], len(series["steps"])
    out = f"{margin:.3g} = a {margin * steps:.0f}-step delay in a {steps}-step run"
    if other is not None and other["steps"] == series["steps"]:
        def mean_at(s, i):
            return statistics.fmean(c[i] if c[i] is not None else 0.0 for c in s["accuracy"])

        gaps = [mean_at(series, i) - mean_at(other, i) for i in range(evals)]
        i = max(range(evals), key=lambda j: abs(gaps[j]))
        out += f"; the arms differ most at step {series['steps'][i]}: {100 * gaps[i]:+.1f} accuracy points"
    return out
