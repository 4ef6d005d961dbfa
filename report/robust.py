"""What a verdict survives: the family of tests adjusted together (Holm), the runs cut to half their length, and
each seed left out.

`settle(results, claims, judge)` judges every claim three ways on the same rules (judge(results, claim) ->
(parts, notes, fixed verdict or None), as report/claims.py's judge_claim):
- as stored, every test of every part in one family, Holm-adjusted (judge/stats.py: holm; the tests of one part
  have mutually exclusive null hypotheses, so the part counts once, Shaffer's refinement), each part's outcome
  re-read from its adjusted p-values (judge/parts.py: Part.decide);
- on the runs cut to their first half of evaluations (halve): a part whose outcome changes reads RUN_LENGTH and does
  not count, since its verdict came from how long training went on after the ceiling;
- with each seed left out (drop_seed), the family adjusted again: a part whose outcome changes is fragile.
"""
from judge import stats
from judge.parts import NOT_COUNTED, RUN_LENGTH, verdict

PER_SEED = ("seeds", "accuracy", "digit_accuracy", "loss", "diverged", "diverged_at", "first_exact",
            "first_exact_sec", "steps_run", "sec_per_step", "extra")  # a series' per-seed lists (one entry a seed)


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


def judged(results, claims, judge):
    """{claim id: (parts, notes, fixed)} with every test of every part adjusted as one family; (tests, parts)."""
    out = {c[0]: judge(results, c) for c in claims}
    tests = [(p, i) for parts, _, _ in out.values() for p in parts for i in range(len(p.tests))]
    adjusted = stats.holm([p.tests[i][1] for p, i in tests], [id(p) for p, _ in tests])  # a part's tests exclude
    by_part = {}
    for (p, _), q in zip(tests, adjusted, strict=True):
        by_part.setdefault(id(p), (p, []))[1].append(q)
    for p, qs in by_part.values():
        p.decide(qs)
    return out, (len(tests), len(by_part))


def _variant(make, claims, judge):
    """The claims judged on altered results, or None where the results do not have the shape the change reads
    (a hand-made or partial result: the check is skipped, never a traceback)."""
    try:
        return judged(make(), claims, judge)[0]
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
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


def settle(results, claims, judge):
    """{claim id: (parts, notes, verdict)} with half-length and leave-one-out outcomes on every part; (tests, parts)
    of the family."""
    base, m = judged(results, claims, judge)
    half = _variant(lambda: halve(results), claims, judge)
    left = {s: v for s in seeds_of(results) if (v := _variant(lambda s=s: drop_seed(results, s), claims, judge))}
    out = {}
    for cid, (parts, notes, fixed) in base.items():
        halves = _match(parts, half[cid][0]) if half else [None] * len(parts)
        flips = {i: [] for i in range(len(parts))}
        for seed, other in left.items():
            for i, q in enumerate(_match(parts, other[cid][0])):
                if q is not None and q.outcome != parts[i].outcome:
                    flips[i].append((seed, q.outcome))
        for i, p in enumerate(parts):
            p.fragile = flips[i]
            q = halves[i]
            p.half = None if q is None else q.outcome
            if q is not None and q.outcome != p.outcome and p.outcome not in NOT_COUNTED:
                p.whole, p.outcome = p.outcome, RUN_LENGTH
        out[cid] = (parts, notes, fixed or claim_verdict(parts))
    return out, m


def claim_verdict(parts):
    """The verdict of judged parts: 'undecided at n = 5' names the seeds; 'fragile' names what rests on one seed."""
    found = verdict([p.outcome for p in parts])
    ns = sorted({p.n for p in parts if p.n is not None})
    if found == "undecided" and ns:
        found += f" at n = {'/'.join(map(str, ns))}"
    shaky = [p for p in parts if p.fragile and p.outcome not in NOT_COUNTED]
    if shaky:
        k = len(shaky)
        found += f" (fragile: {k} of its counted parts flip{'s' if k == 1 else ''} when one seed is left out)"
    return found
