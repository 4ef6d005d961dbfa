"""exact_frontier's chart, report section and certificate: units -> seeds proven, margin bounds, the smallest model.

write_certificate() keeps plots/exact_certificate_small.npz (certificate.py) of the smallest proven pruned model
(fewest units, then the widest margin bound): the certificate the hook made of it (frontier.frontier_eval, at the
depth m it was proven at), written out by verdicts.keep_certificate. The plan's "keep" step calls it; no chart does.
"""
from pathlib import Path

from measures.exact import verdicts
from plot import footer, header, plt, save

CERTIFICATE = "exact_certificate_small.npz"  # next to exact_frontier.png in plots/


def pruned(result):
    """[(seed, its frontier_eval record)] of the seeds the series ran on (the others' records are empty)."""
    return [(seed, e) for s in result["series"] for seed, e in zip(s["seeds"], s["extra"], strict=True) if e]


def params(settings, units):
    """Trainable parameters of a one-layer net of `units` units (recurrent layer and output layer)."""
    return verdicts.params({"settings": {**settings, "hidden_size": units, "num_layers": 1}})


def attempts(e):
    """A seed's attempts, its proven start first: [{"units", "proven", "m", "min_margin_bound", ...}]."""
    return [e["start"]] + e["steps"]


def table(result):
    """Markdown rows: per number of units, the seeds proven at it (of those that tried it), the widest margin bound,
    and per seed its outcome (margin bound, fine-tuning steps, minutes)."""
    seeds = pruned(result)
    settings = result["series"][0]["settings"]
    units = sorted({a["units"] for _, e in seeds for a in attempts(e)}, reverse=True)
    lines = ["| units | parameters | seeds proven | widest margin bound | "
             + " | ".join(f"seed {seed}" for seed, _ in seeds) + " |", "|---" * (4 + len(seeds)) + "|"]
    for u in units:
        tried = [(seed, a) for seed, e in seeds for a in attempts(e) if a["units"] == u]
        won = [a for _, a in tried if a["proven"]]
        cells = ["; ".join(cell(a) for a in attempts(e) if a["units"] == u) or "-" for _, e in seeds]
        best = max((a["min_margin_bound"] for a in won), default=None)
        lines.append(f"| {u} | {params(settings, u):,} | {len({s for s, a in tried if a['proven']})}/"
                     f"{len({s for s, _ in tried})} | " + (f"{best:.3g}" if best is not None else "-") + " | "
                     + " | ".join(cells) + " |")
    return lines


def cell(a):
    """One attempt: 'proven (m 1, 1.32; 600 steps, 2.1 min)' or 'not proven (...)'."""
    how = f"m {a['m']}, {a['min_margin_bound']:.3g}"
    if "fine_tune_steps" in a:
        steps = a["fine_tune_steps"] + a.get("shrink", {}).get("steps", 0)
        how += f"; {steps:,} steps, {(a['sec'] + a.get('cut_sec', 0)) / 60:.1f} min"
        if not a["proven"] and a.get("attack_clean"):
            how += ", attack clean"
    return f"{'proven' if a['proven'] else 'not proven'} ({how})"


def smallest(result):
    """(units, -margin, seed, record) of the smallest proven pruned model, or None."""
    best = [(e["smallest"]["units"], -e["smallest"]["min_margin_bound"], seed, e) for seed, e in pruned(result)
            if e.get("smallest")]
    return min(best, key=lambda t: t[:3]) if best else None


def write_certificate(result, out_dir):
    """Keep out_dir/CERTIFICATE for smallest()'s model: the certificate its hook made (verdicts.keep_certificate).
    Returns the path or None."""
    best = smallest(result)
    return verdicts.keep_certificate(Path(out_dir) / CERTIFICATE, None if best is None else best[3]["smallest"])


def frontier_chart(result, path):
    """Margin bound vs units per seed (filled: proven; hollow at the axis: not proven); beside it the certificate."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for seed, e in pruned(result):
        tried = attempts(e)
        won = [a for a in tried if a["proven"]]
        line = ax.plot([a["units"] for a in won], [a["min_margin_bound"] for a in won], "o-", label=f"seed {seed}")[0]
        lost = [a["units"] for a in tried if not a["proven"]]
        ax.plot(lost, [0] * len(lost), "o", mfc="none", color=line.get_color())
    ax.axhline(0, color="grey", lw=0.5)
    ax.invert_xaxis()
    ax.set(xlabel="units (one layer)", ylabel="margin bound of the proof")
    if pruned(result):
        ax.legend(title="filled: proven; hollow: not")
    save(fig, path, "the smallest proven adder: proof margin bound vs units, per seed")


def frontier_section(result):
    args = result["config"]["runs"][0]["after"]["args"]
    f = args["frontier"]
    lines = header(result) + [
        f"Seeds {', '.join(str(s) for s in args['seeds'])} of `{result['series'][0]['label'].split(',')[0]}`, "
        "hardened and proven as in `exact_adder`, then pruned (`measures/exact/frontier.py`): "
        f"{f['first_step']} units at a time (halved after a failed step, down to one, from the last proven model), "
        "each removed unit folded into the others by least squares over the states the model reaches; each cut model "
        "is proven as it is or else hardened again (saturation on, at most "
        f"{f['harden']['rounds']} rounds) and proven again" + (" (a near miss, clean under attack, also at m = 2)"
                                                               if f.get("m2") else "") + ". Margin bound: the proof's "
        "lowest bound on the right digit's logit minus any other; steps: Adam steps of the re-hardening (and of the "
        "shrinking, if any); minutes: the step's cut, hardening and proofs.", ""]
    seeds = pruned(result)
    if not seeds:
        return lines + ["No seed was pruned.", *footer(result)]
    lines += table(result) + [""]
    best = smallest(result)
    if best is None:
        lines.append("No pruned seed was proven at its start.")
    else:
        units, margin, seed, e = best
        settings = result["series"][0]["settings"]
        lines.append(f"The smallest proven adder: {units} units ({params(settings, units):,} parameters), seed {seed}, "
                     f"margin bound {-margin:.3g} (m = {e['smallest']['m']}); its certificate is `{CERTIFICATE}` "
                     f"beside this page (`python -m measures.exact.certificate plots/{CERTIFICATE}`).")
    return lines + footer(result)
