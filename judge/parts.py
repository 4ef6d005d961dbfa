"""The vocabulary a verdict is stated in: a Part (one judged comparison), the rules that make one (differs, same,
rate, ratio_above), and verdict (parts -> the claim's word). Any section can say "X faster than Y" in one call:

    part = differs("none learns faster than carry", "none", a, "carry", b)   # a, b: per-seed values, paired
    part.outcome, part.row()   # "holds" / "contradicted" / "alike" / "undecided", the table row
    part.sentence()            # "none learns faster than carry: holds (none 0.909 vs carry 0.863; paired t, ...)"

A Part keeps the p-value of every test whose rejection would decide it (`tests`: [(test, p, outcome if rejected)],
in order of precedence), so a family of parts can be adjusted together (report/robust.py: Holm) and `decide`
re-reads the outcome from the adjusted p-values. Outcomes of parts no test decides (a count, an identity) are fixed.
"""
import math
import statistics

from judge import stats
from judge.stats import pair
from judge.tables import seed_speeds

MARGIN = 0.02  # "alike": learning speeds within this many accuracy units (the reason: margin_reason)
BY_CONSTRUCTION = "true by construction"  # a part no measurement could contradict: shown, not counted
RUN_LENGTH = "depends on run length"  # a part whose outcome changes on runs cut to half their length: not counted
NOT_COUNTED = (BY_CONSTRUCTION, RUN_LENGTH)


class Part:
    """One judged part of a claim: what was compared, its outcome and the numbers behind it."""

    def __init__(self, text, outcome, test="-", margin="-", stat="-", n=None, tests=(), note=""):
        self.text, self.outcome, self.test, self.margin, self.stat = text, outcome, test, margin, stat
        self.n = n  # seeds the part was judged on (None: not a test over seeds)
        self.tests = list(tests)  # [(test name, raw p, outcome when rejected)], first rejected wins
        self.note = note  # what an undecided part would need (seeds, and which way the estimate points)
        self.adjusted = None  # the tests' family-adjusted p-values, once a family was adjusted (decide)
        self.fragile, self.half = None, None  # set by report/robust.py: seeds whose drop flips it; half-length outcome
        self.whole = None  # the outcome on the whole runs, where the half-length one differs (report/robust.py)

    def decide(self, adjusted):
        """Re-read the outcome from family-adjusted p-values (same order as tests); fixed outcomes stay."""
        if not self.tests:
            return self.outcome
        self.adjusted = list(adjusted)
        self.outcome = next((o for (_, _, o), p in zip(self.tests, adjusted, strict=True) if p < stats.ALPHA),
                            "undecided")
        return self.outcome

    def p_text(self):
        """'p = 0.017 (Holm 0.11)' for the test that decided the part, else for its smallest p-value."""
        if not self.tests:
            return "-"
        adj = self.adjusted or [p for _, p, _ in self.tests]
        i = next((i for i, p in enumerate(adj) if p < stats.ALPHA), min(range(len(adj)), key=adj.__getitem__))
        name, raw, _ = self.tests[i]
        return f"{name}: {fmt_p(raw)}" + (f" (Holm {fmt_p(adj[i])})" if self.adjusted is not None else "")

    def row(self):
        return (self.text, self.test, self.margin, self.stat, self.outcome)

    def sentence(self):
        """'none learns faster than carry: holds (none 0.909 vs carry 0.863; paired t, ...)': one line for a section
        (one test, unadjusted: a section's part is not in the claims' family)."""
        return f"{self.text}: {self.outcome} ({self.stat}" + (f"; {self.note}" if self.outcome == "undecided"
                                                               else "") + ")"


def fmt_p(p):
    return "< 0.001" if p < 1e-3 else f"{p:.3f}"


def _mean(v, fmt):
    return fmt.format(statistics.fmean(v))


def direction_note(c, claim, margin=None):
    """What more seeds would do for an undecided part, and which way the estimate points."""
    if claim == "alike":
        toward = abs(c.diff) < margin
        need = c.seeds_needed(margin) if toward else apart_needed(c, margin)
        way = ("the estimate lies inside the margin (toward the claim)" if toward else
               "the estimate lies outside the margin (against the claim)")
    else:
        need, way = c.seeds_needed(), ("the estimate points toward the claim" if c.diff > 0 else
                                       "the estimate points against the claim")
    count = ("no seed count would decide it" if need is None else f"more than {stats.MAX_SEEDS:,} seeds would"
             if need >= stats.MAX_SEEDS else f"about {need} seeds would decide it at {stats.POWER:.0%} power")
    return f"undecided at n = {c.n}: {way}; {count}"


def apart_needed(c, margin):
    """Seeds for POWER to show a gap outside the margin (the one-sided test beyond it)."""
    shifted = stats.Comparison([x - math.copysign(margin, c.diff) for x in c.a], c.b, c.paired)
    return shifted.seeds_needed(None)


def differs(text, name_a, a, name_b, b, paired=True, margin=MARGIN, fmt="{:.3f}"):
    """The part "a is above b": holds / contradicted / alike (within margin; None: no margin) / undecided."""
    c = stats.Comparison(a, b, paired)
    tests = [(c.test, c.p, "holds" if c.diff > 0 else "contradicted")]
    if margin is not None:
        tests.append(("TOST", c.p_alike(margin), "alike"))
    stat = f"{name_a} {_mean(a, fmt)} vs {name_b} {_mean(b, fmt)}; {c.stat()}"
    part = Part(text, "undecided", c.test, "-" if margin is None else f"{margin:g}", stat, c.n, tests,
                direction_note(c, "above"))
    part.comparison = c
    part.decide([p for _, p, _ in tests])
    return part


def same(text, name_a, a, name_b, b, paired=True, margin=MARGIN, fmt="{:.3f}", runs=None):
    """The part "a and b are alike": holds (TOST within margin) / contradicted (apart beyond it) / undecided.

    runs: the series whose learning speeds are compared (a's, or (a's, b's)), to state the margin in their steps
    and accuracy points.
    """
    c = stats.Comparison(a, b, paired)
    lo, hi = c.interval(1 - 2 * stats.ALPHA)
    stat = (f"{name_a} {_mean(a, fmt)} vs {name_b} {_mean(b, fmt)}; {c.stat()}; "
            f"{1 - 2 * stats.ALPHA:.0%} CI of the gap [{lo:+.3g}, {hi:+.3g}]")
    tests = [("TOST", c.p_alike(margin), "holds"), ("beyond margin", c.p_apart(margin), "contradicted")]
    pair_ = runs if isinstance(runs, tuple) else (runs, None)
    why = f" ({margin_reason(pair_[0], margin, pair_[1])})" if runs is not None else ""
    part = Part(text, "undecided", f"TOST ({c.test})", f"±{margin:g}{why}; passes from ±{c.smallest_margin():.3g}",
                stat, c.n, tests, direction_note(c, "alike", margin))
    part.comparison = c
    part.decide([p for _, p, _ in tests])
    return part


def rate(text, k, n, event):
    """The part "most seeds show `event`": an exact binomial test of the rate 1/2 (k of n seeds)."""
    r = stats.Rate(k, n)
    need = r.seeds_needed()
    way = "toward the claim" if 2 * k > n else "against the claim"
    note = (f"undecided at n = {n}: the estimate points {way}; " + ("no seed count would decide it" if need is None
            else f"about {need} seeds would decide it if the rate stayed {k / n:.2f}"))
    part = Part(text, "undecided", "binomial (rate 1/2)", "-", f"{event} {r.stat()}", n,
                [("binomial", r.p, "holds" if 2 * k > n else "contradicted")], note)
    part.decide([r.p])
    return part


def ratio_above(text, ratios, claimed):
    """The part "the ratio exceeds `claimed`": a one-sample t-test on log ratios; geometric mean with its CI."""
    logs = [math.log(r) for r in ratios]
    c = stats.Comparison(logs, [math.log(claimed)] * len(logs))  # differences from the claim: a one-sample test
    gm, lo, hi = stats.geometric(ratios)
    stat = (f"geometric mean {gm:.1f}x, {1 - stats.ALPHA:.0%} CI [{lo:.1f}x, {hi:.1f}x] vs claimed {claimed:g}x "
            f"(median {statistics.median(ratios):.1f}x); t on log ratios, t({c.df}) = {c.t:.2f}")
    part = Part(text, "undecided", "one-sample t (log ratio)", "-", stat, len(ratios),
                [("one-sample t", c.p, "holds" if c.diff > 0 else "contradicted")], direction_note(c, "above"))
    part.decide([c.p])
    return part


def speeds(sa, sb, upto=None):
    """Paired per-seed learning speeds of two series: (a, b, paired)."""
    return pair(sa, seed_speeds(sa, upto), sb, seed_speeds(sb, upto))


def verdict(outcomes):
    """Part outcomes -> the claim's verdict; parts true by construction or depending on run length do not count.

    confirmed = every counted part holds; mixed = some hold; refuted = none holds and some are contradicted or
    alike; undecided = none is decided.
    """
    outcomes = [o for o in outcomes if o not in NOT_COUNTED]
    if outcomes and all(o == "holds" for o in outcomes):
        return "confirmed"
    if any(o == "holds" for o in outcomes):
        return "mixed"
    return "refuted" if any(o in ("contradicted", "alike") for o in outcomes) else "undecided"


def identical(sa, sb):
    """Two series with the same seeds and bitwise-equal accuracy curves (the same computation)."""
    return sa["seeds"] == sb["seeds"] and sa["accuracy"] == sb["accuracy"]


def margin_reason(series, margin=MARGIN, other=None):
    """Why a learning-speed margin is small, in steps and in accuracy points, for the runs of `series`; with the
    `other` arm, where the two arms' mean accuracies differ most.

    Learning speed is the mean accuracy over E evaluations of a run of S steps: a curve delayed by d steps loses
    about d / S of it, and a gap at one evaluation alone of x accuracy points moves it by x / E.
    """
    steps, evals = series["steps"][-1], len(series["steps"])
    interval = series["steps"][1] - series["steps"][0] if evals > 1 else steps
    out = (f"{margin:g} = a delay of {margin * steps:.0f} steps in a {steps}-step run (the evaluations are "
           f"{interval} steps apart) or {100 * margin * evals:.0f} accuracy points at one of its {evals} evaluations")
    if other is not None and other["steps"] == series["steps"]:
        def mean_at(s, i):
            return statistics.fmean(c[i] if c[i] is not None else 0.0 for c in s["accuracy"])

        gaps = [mean_at(series, i) - mean_at(other, i) for i in range(evals)]
        i = max(range(evals), key=lambda j: abs(gaps[j]))
        out += f"; the arms differ most at step {series['steps'][i]}: {100 * gaps[i]:+.1f} accuracy points"
    return out
