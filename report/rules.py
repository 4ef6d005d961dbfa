"""What every claim rule shares: NotJudged (a premise an edit removed), need (a series found by its settings or
NotJudged), and two per-seed readings of a curve (seed_drops, never_learned)."""
from judge import stats


class NotJudged(Exception):
    """A claim's premise is absent from the results (an edited constant removed it): one line says which."""


def seed_drops(series):
    """Per seed, how far its accuracy fell in total between consecutive evaluations (0 for a rising curve)."""
    out = []
    for curve in series["accuracy"]:
        vals = [a for a in curve if a is not None]  # a diverged seed: up to its divergence
        out.append(sum(max(0.0, a - b) for a, b in zip(vals, vals[1:], strict=False)))
    return out


def never_learned(series):
    """Seeds that did not diverge yet stayed at accuracy 0 on every evaluation ("fails to learn")."""
    return sum(not d and all(not a for a in c) for c, d in zip(series["accuracy"], series["diverged"], strict=True))


def need(result, what, **settings):
    """The series of `result` with these settings, or NotJudged naming what the constants lack."""
    s = stats.find_series(result, **settings)
    if s is None:
        raise NotJudged(f"{what}: no series with " + ", ".join(f"{k} {v}" for k, v in settings.items()))
    return s
