"""What a verdict rests on (ANALYSIS_PLAN.md §5-6): each claim's tests adjusted together (Holm), the estimate on runs
cut to half their length, and each seed left out with the adjustment held fixed.

`settle(results, claims, judge)` judges every claim on the same rules (judge(results, claim) -> (parts, notes,
fixed verdict or None), as report/claims.py's judge_claim):
- as stored: every test of one claim in one family, Holm-adjusted (judge/stats.py: holm), each part's outcome
  re-read from its adjusted p-values (judge/parts.py: Part.decide); the claim's Bonferroni level (ALPHA / its tests)
  is the level its undecided parts plan their seeds at;
- on the runs cut to their first half of evaluations (halve): a decided part whose half-run estimate does not
  support its outcome (the other sign, or shrunk into the margin; an "alike" whose half-run gap lies outside it) is
  marked run-length dependent; its outcome and the verdict word stay (runs are judged at the source's lengths);
- with each seed left out (drop_seed): every test keeps the Holm multiplier it had on all seeds, so a flip comes
  from the part's own numbers. One or two seeds that flip a part, or the verdict word, are named with the
  direction; more than two mean a p-value near its threshold ("borderline"), not a seed.
"""
from judge import stats
from judge.parts import HOLDS, NOT_COUNTED, verdict

PER_SEED = ("seeds", "accuracy", "digit_accuracy", "loss", "diverged", "diverged_at", "first_exact",
            "first_exact_sec", "steps_run", "sec_per_step", "extra")  # a series' per-seed lists (one entry a seed)
NAMED = 2  # at most this many flipping seeds are named; more read "borderline"


def _drop(series, seed):
    seeds = series.get("seeds")
    if not isinstance(seeds, list) or seed not in seeds or len(seeds) < 3:
        return series
    i = seeds.index(seed)
    return {k: v[:i] + v[i + 1:] if k in PER_SEED and isinstance(v, list) and len(v) == len(seeds) else v
            for k, v in series.items()}


def drop_seed(results, seed):
    """The results with seed `seed` left out of every series that has it (and at least 3 seeds)."""
    return {eid: {**r, "series": [_drop(s, seed) for s in r["series"]]} if isinstance(r.get("series"), list) else r
            for eid, r in results.items()}


def unseen(results, pilot, later=True):
    """The results without seeds 0..pilot-1 in every series that has seeds beyond them (the seeds a plan was written
    after); series with no seed beyond them are kept whole. later=False: those series keep only seeds 0..pilot-1
    (the pilot's view of them)."""
    def cut(s):
        seeds = s.get("seeds")
        if not isinstance(seeds, list) or not any(isinstance(x, int) and x >= pilot for x in seeds):
            return s
        keep = [i for i, x in enumerate(seeds) if (x >= pilot) == later]
        return {k: [v[i] for i in keep] if k in PER_SEED and isinstance(v, list) and len(v) == len(seeds) else v
                for k, v in s.items()}

    return {eid: {**r, "series": [cut(s) for s in r["series"]]} if isinstance(r.get("series"), list) else r
            for eid, r in results.items()}


def _halve(series):
    steps = series.get("steps")
    if not isinstance(steps, list) or len(steps) < 2 or "accuracy" not in series:
        return series
    h = len(steps) // 2
    cut = steps[h - 1]
    out = {**series, "steps": steps[:h], "accuracy": [c[:h] for c in series["accuracy"]]}
    if series.get("digit_accuracy"):
        out["digit_accuracy"] = [c[:h] if c else c for c in series["digit_accuracy"]]
    if series.get("loss_steps"):
        k = sum(st <= cut for st in series["loss_steps"])
        out["loss_steps"], out["loss"] = series["loss_steps"][:k], [c[:k] for c in series.get("loss", [])]
    if "first_exact" in series:
        out["first_exact"] = [f if f is not None and f <= cut else None for f in series["first_exact"]]
    if "diverged_at" in series:
        out["diverged"] = [d is not None and d <= cut for d in series["diverged_at"]]
    return out


def halve(results):
    """The results as if every run had stopped after the first half of its evaluations."""
    return {eid: {**r, "series": [_halve(s) for s in r["series"]]} if isinstance(r.get("series"), list) else r
            for eid, r in results.items()}


def adjust(parts):
    """Holm over every test of one claim's parts: each part decided from its adjusted p-values; returns the tests."""
    tests = [(p, i) for p in parts for i in range(len(p.tests))]
    raw = [p.tests[i][1] for p, i in tests]
    adjusted, mult = stats.holm(raw), stats.holm_multipliers(raw)
    by_part = {}
    for (p, _), q, k in zip(tests, adjusted, mult, strict=True):
        by_part.setdefault(id(p), (p, [], []))
        by_part[id(p)][1].append(q)
        by_part[id(p)][2].append(k)
    for p, qs, ks in by_part.values():
        p.decide(qs)
        p.multipliers = ks
    for p in parts:
        p.level = stats.ALPHA / len(tests) if tests else None
    return len(tests)


def judged(results, claims, judge):
    """{claim id: (parts, notes, fixed)} with each claim's tests adjusted as one family; {claim id: its tests}."""
    out = {c[0]: judge(results, c) for c in claims}
    return out, {cid: adjust(parts) for cid, (parts, _, _) in out.items()}


def _variant(make, claims, judge):
    """The claims judged (not adjusted) on altered results, or None where the results do not have the shape the
    change reads (a hand-made or partial result: the check is skipped, never a traceback)."""
    try:
        results = make()
        return {c[0]: judge(results, c) for c in claims}
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, ZeroDivisionError):
        return None


def _match(parts, other):
    """Each part's counterpart among `other` (same position when the counts agree, else the same text)."""
    if len(parts) == len(other):
        return list(other)
    texts = {q.text: q for q in other}
    return [texts.get(p.text) for p in parts]


def seeds_of(results):
    return sorted({x for r in results.values() for s in r.get("series") or [] for x in s.get("seeds") or []
                   if isinstance(x, int)})


def supports(whole, half):
    """Whether a part's half-run estimate supports its whole-run outcome (judged on the estimate, not a test)."""
    if half is None or half.estimate is None or whole.estimate is None:
        return True
    o, e, h = whole.outcome, whole.estimate, half.estimate
    if whole.test.startswith("TOST"):  # a claimed likeness: holds inside the margin, contradicted outside
        if o == HOLDS:
            return abs(h) < half.bound
        return abs(h) > half.bound if o == "contradicted" else True
    if o == "alike":  # a claimed difference shown within the margin
        return abs(h) < half.bound
    if o.startswith(HOLDS) or o == "contradicted":
        if h * e <= 0:
            return False  # the other sign on half the run
        outside = whole.bound is not None and abs(e) >= whole.bound
        return not (outside and abs(h) < half.bound)  # an effect beyond the margin that shrinks into it
    return True


def _fixed(part, other):
    """`other` (the same part on other data) decided with `part`'s Holm multipliers: its outcome."""
    if part.multipliers is None or len(other.tests) != len(part.tests):
        return other.outcome
    return other.decide([min(1.0, k * p) for k, p in zip(part.multipliers, other.raw(), strict=True)])


def settle(results, claims, judge):
    """{claim id: (parts, notes, verdict)} with half-run and leave-one-out checks on every part; {claim id: tests}."""
    base, sizes = judged(results, claims, judge)
    half = _variant(lambda: halve(results), claims, judge)
    left = {s: v for s in seeds_of(results) if (v := _variant(lambda s=s: drop_seed(results, s), claims, judge))}
    out = {}
    for cid, (parts, notes, fixed) in base.items():
        halves = _match(parts, half[cid][0]) if half else [None] * len(parts)
        flips = {i: [] for i in range(len(parts))}
        moved = []  # (seed, verdict word without it)
        for seed, other in left.items():
            others = _match(parts, other[cid][0])
            outcomes = []
            for i, q in enumerate(others):
                o = parts[i].outcome if q is None or parts[i].outcome in NOT_COUNTED else _fixed(parts[i], q)
                outcomes.append(o)
                if o != parts[i].outcome:
                    flips[i].append((seed, o))
            if not fixed and verdict(outcomes) != verdict([p.outcome for p in parts]):
                moved.append((seed, verdict(outcomes)))
        for i, p in enumerate(parts):
            p.flips = flips[i]
            p.half = halves[i]
            p.run_length = p.outcome not in NOT_COUNTED and p.outcome != "undecided" and not supports(p, halves[i])
        out[cid] = (parts, notes, fixed or claim_verdict(parts, moved, len(left)))
    return out, sizes


def flip_text(flips, n):
    """'stable' / 'without seed 7: undecided' / 'borderline (8 of 10 single-seed drops flip it)'."""
    if not flips:
        return "stable"
    if len(flips) <= NAMED:
        return "; ".join(f"without seed {s}: {o}" for s, o in flips)
    return f"borderline ({len(flips)} of {n} single-seed drops flip it)"


def claim_verdict(parts, moved=(), drops=0):
    """The verdict of judged parts, with what it rests on: 'undecided at n = 10'; 'rests on seed 7 (without it:
    refuted)' where one or two seeds move the word; 'borderline' where more do."""
    found = verdict([p.outcome for p in parts])
    ns = sorted({p.n for p in parts if p.n is not None})
    if found == "undecided" and ns:
        found += f" at n = {'/'.join(map(str, ns))}"
    quals = []
    if moved:
        if len(moved) <= NAMED:
            quals.append("rests on " + ", ".join(f"seed {s}: without it {w}" for s, w in moved))
        else:
            quals.append(f"borderline: {len(moved)} of {drops} single-seed drops move it")
    if any(p.run_length for p in parts):
        quals.append("run-length dependent part")
    return found + (f" ({'; '.join(quals)})" if quals else "")
