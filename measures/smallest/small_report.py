"""small_adder's table, chart, report section and certificate files: units x route -> seeds separable / proven.

keep_certificates(), the plan's keep step, keeps one certificate per proven (units, route, seed) in plots/small_adder/
(certificate.py's format; its meta names the run, origin "trained" and the route's auxiliary targets, [] for sums
alone): the file the hook made and checked with both checkers (small.small_eval), written out unchanged; no chart
writes one. `python -m proof.certificate FILE` re-checks each.
"""
import re
from pathlib import Path

from measures.exact import verdicts
from measures.smallest.readout import MIN_T
from measures.smallest.small import GRID

FOLDER = "small_adder"  # next to small_adder.png in plots/


def rows(result):
    """[(series, [(seed, its small_eval record)])] of every (units, route) series."""
    return [(s, [(seed, e) for seed, e in zip(s["seeds"], s["extra"], strict=True) if e]) for s in result["series"]]


def route_of(result, s):
    """The small_eval arguments of series s (its route, restarts, ...), from the result's recorded plan."""
    run = next(r for r in result["config"]["runs"] if r["label"] == s["label"])
    return run["after"]["args"]


def targets(args):
    return list(args["route"].get("targets", []))


def table(result):
    """Markdown rows: per (units, route), the seeds whose states a readout separates (states LP t > 0), proven by
    proof.check, by both checkers, exact on the worst-case suite; the widest margin bound; restarts; CPU seconds."""
    lines = ["| units | parameters | route | auxiliary targets | separable (states LP) | proof.check | proven (both) | "
             "suite passed | widest margin bound | restarts | CPU s per seed (mean) |", "|---" * 11 + "|"]
    for s, seeds in rows(result):
        n = len(seeds)
        args = route_of(result, s)
        count = lambda key, seeds=seeds: sum(bool(e.get(key)) for _, e in seeds)  # noqa: E731
        sep = sum(e["separable"] for _, e in seeds)
        best = max((e["min_margin_bound"] for _, e in seeds if e["proven"]), default=None)
        sec = sum(e["sec"] + e.get("suite_sec", 0) for _, e in seeds) / max(n, 1)
        lines.append(f"| {s['settings']['hidden_size']} | {verdicts.params(s):,} | {route_name(s)} | "
                     f"{', '.join(targets(args)) or 'none'} | {sep}/{n} | {count('proof_check')}/{n} | "
                     f"{count('proven')}/{n} | {count('suite_passed')}/{n} | "
                     + (f"{best:.3g}" if best is not None else "-")
                     + f" | {sum(e['restarts'] for _, e in seeds)} | {sec:.0f} |")
    return lines


def route_name(s):
    """The route part of a series label '<k> units, <route>'."""
    return s["label"].split(", ", 1)[-1]


def smallest(result, sums_alone):
    """(units, seeds proven, seeds tried, series) of the fewest units proven for some seed, among the routes with
    (sums_alone False) or without (True) auxiliary targets; None if none was proven."""
    best = None
    for s, seeds in rows(result):
        if (not targets(route_of(result, s))) != sums_alone:
            continue
        won = sum(e["proven"] for _, e in seeds)
        k = s["settings"]["hidden_size"]
        if won and (best is None or (k, -won) < (best[0], -best[1])):
            best = (k, won, len(seeds), s)
    return best


def closest(result):
    """The sums-alone seed that came closest, as (series, seed, record): the largest states-LP margin among the
    separable ones, else the fewest states sharing a cell with another digit's (small.shared); None if none ran."""
    tried = [(s, seed, e) for s, seeds in rows(result) if not targets(route_of(result, s)) for seed, e in seeds]
    sep = [x for x in tried if x[2]["separable"]]
    if sep:
        return max(sep, key=lambda x: x[2]["states_t"])
    known = [x for x in tried if x[2].get("shared") == x[2].get("shared") and x[2].get("shared") is not None]
    return min(known, key=lambda x: x[2]["shared"]) if known else None


def file_name(s, seed):
    """The certificate file of (series s, seed): units, route slug and seed."""
    slug = re.sub(r"[^a-z0-9]+", "-", route_name(s).lower()).strip("-")
    return f"{s['settings']['hidden_size']}units_{slug}_seed{seed}.npz"


def keep_certificates(result, out_dir):
    """The plan's keep step: out_dir/FOLDER/<file_name> of every proven (series, seed), the certificate its hook made
    (verdicts.keep_certificate writes it unchanged; nothing is proven here). Returns the paths kept."""
    folder, kept = Path(out_dir) / FOLDER, []
    for s, seeds in rows(result):
        for seed, e in seeds:
            if e["proven"]:
                folder.mkdir(exist_ok=True)
                path = verdicts.keep_certificate(folder / file_name(s, seed), e)
                kept += [path] if path else []
    return kept


def small_chart(result, path):
    """Seeds proven by both checkers vs units, one line per route; a hollow marker: seeds whose reached states a
    readout separates (the states LP), proven or not. Routes sit side by side at each unit count, so no marker hides
    another; the legend sits below the axes."""
    from plot import plt, save

    fig, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
    routes = {}
    for s, seeds in rows(result):
        routes.setdefault(route_name(s), []).append((s["settings"]["hidden_size"], seeds))
    width = 0.08  # units between routes at one unit count (the x axis is categorical in effect: 2, 3, 4, 8)
    for i, (name, pts) in enumerate(routes.items()):
        pts.sort(key=lambda p: p[0])
        ks = [k + width * (i - (len(routes) - 1) / 2) for k, _ in pts]
        line = ax.plot(ks, [sum(e["proven"] for _, e in seeds) for _, seeds in pts], "o-", label=name, zorder=3)[0]
        ax.plot(ks, [sum(e["separable"] for _, e in seeds) for _, seeds in pts], "o", mfc="none", ms=10,
                color=line.get_color(), zorder=2)
    n = max((len(seeds) for _, seeds in rows(result)), default=0)
    ax.set(xlabel="units (one tanh layer)", ylabel=f"seeds (of {n})", xticks=sorted(
        {s["settings"]["hidden_size"] for s, _ in rows(result)}))
    ax.set_ylim(-0.5, n + 0.5)
    ax.grid(alpha=0.3)
    if routes:
        ax.plot([], [], "ko", label="filled: proven by both checkers")
        ax.plot([], [], "ko", mfc="none", ms=10, label="hollow: states separable by a readout (LP)")
        fig.legend(loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    save(fig, path, "small trained adders: seeds proven per number of units and route", result)


def small_section(result):
    from plot import footer, header

    s0, _ = rows(result)[0]
    args = route_of(result, s0)
    tune = args["tune"]
    lines = header(result) + [
        "One-layer tanh adders of a few units (embedding size "
        f"{s0['settings']['embed_size']}, zero start), trained by `train.fit` on {s0['settings']['maxlen']}-digit sums "
        f"for {s0['settings']['steps']} steps, then by each route (`measures/smallest/small.py`): "
        f"{tune['steps']:,} Adam "
        f"steps at each learning rate of {tune['lrs']} on batches holding every (carry in, digit pair) transition and "
        f"carry-chain-rich sums of {tune['length']} digits, the loss the route's weighting of cross-entropy, "
        "auxiliary targets (the carry out on unit 0, the column sum a + b + c_in on unit 1: functions of the operands, "
        "like the digits) and a saturation term on unit 0. The readout is then fitted exactly by a linear program "
        "(the largest smallest margin over every state of the sums of operands below 1,000), and, where that "
        "separates the states, on the corners of the proof's own boxes; proven = both checkers accept (m = "
        f"{args['prove']['m']}); the suite is exact_adder's worst-case suite. CPU seconds: training, LPs, proof and "
        "suite of one seed (restarts included).", ""]
    lines += table(result) + [""]
    for sums_alone, what in ((False, "with auxiliary targets"), (True, "from sums alone")):
        best = smallest(result, sums_alone)
        if best is None:
            lines.append(f"Trained {what}: none proven.")
            continue
        k, won, n, s = best
        lines.append(f"Trained {what}: the smallest proven has {k} units ({verdicts.params(s):,} parameters), "
                     f"{won}/{n} seeds ({route_name(s)}); certificates in `plots/{FOLDER}/`.")
    near = closest(result)
    if near is not None and smallest(result, True) is None:
        s, seed, e = near
        tried = [e for s, seeds in rows(result) if not targets(route_of(result, s)) for _, e in seeds]
        if e["separable"]:
            lines.append(f"From sums alone the closest was {s['label']}, seed {seed}: its states separable (states-LP "
                         f"margin {e['states_t']:.3g}) but not proven (margin bound "
                         f"{e.get('min_margin_bound', float('nan')):.3g}).")
        else:
            lines.append(f"From sums alone no readout separated the states of any of the {len(tried)} trained seeds "
                         f"(states-LP margin <= {MIN_T:g}: the collapse, digits that share states); the least "
                         f"collapsed, {s['label']} seed {seed}, had {e['shared']:.0%} of its states within {GRID} "
                         "of a state of another digit.")
    return lines + footer(result)
