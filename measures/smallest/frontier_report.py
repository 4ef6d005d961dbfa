"""exact_frontier's chart, report section and certificates: units -> seeds proven, margin bounds, the smallest model,
and the floor (the constructed 2-unit adder; 1 unit cannot add: constructed.py).

"Proven" is the project's one standard: both checkers (proof.check, recheck) accepted the model's boxes (frontier.
prove_model) and its weights were kept. The plan's "keep" step (keep_certificates; no chart writes a file) keeps
plots/exact_certificate_small.npz of the smallest proven pruned model (fewest units, then the widest margin bound):
the certificate its hook made (frontier.frontier_eval, at the depth m it was proven at), written out unchanged by
verdicts.keep_certificate; a certificate file of every proven step in plots/FOLDER (certificate.write, from the kept
weights: its boxes searched again, proof.search being deterministic, and kept only if both checkers accept the file;
a file already there that holds that very model and meta is kept unread by the checkers, so a rerun costs nothing);
and the constructed adder's, plots/exact_certificate_constructed.npz. A record made before both checkers were
required (no "recheck" or no kept weights) is shown as proof.check's alone, never counted as proven.
"""
from pathlib import Path

from matplotlib.lines import Line2D

from measures.exact import verdicts
from models import ModelConfig
from plot import footer, header, plt, save
from proof import certificate, constructed

CERTIFICATE = "exact_certificate_small.npz"  # next to exact_frontier.png in plots/
FOLDER = "exact_frontier_certificates"  # in plots/: one certificate per proven step, seed<S>_<U>units.npz


def pruned(result):
    """[(seed, its frontier_eval record)] of the seeds the series ran on (the others' records are empty)."""
    return [(seed, e) for s in result["series"] for seed, e in zip(s["seeds"], s["extra"], strict=True) if e]


def params(settings, units):
    """Trainable parameters of a one-layer net of `units` units (recurrent layer and output layer)."""
    return verdicts.params({"settings": {**settings, "hidden_size": units, "num_layers": 1}})


def attempts(e):
    """A seed's attempts, its proven start first: [{"units", "proven", "m", "min_margin_bound", ...}]."""
    return [e["start"]] + e["steps"]


def proven(a):
    """An attempt proven by the project's standard: both checkers accepted and its weights are kept."""
    return bool(a["proven"] and a.get("recheck") and a.get("weights"))


def certificate_name(seed, units):
    """The file of a proven step's certificate in FOLDER."""
    return f"seed{seed}_{units}units.npz"


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
        won = [a for _, a in tried if proven(a)]
        cells = ["; ".join(cell(a) for a in attempts(e) if a["units"] == u) or "-" for _, e in seeds]
        best = max((a["min_margin_bound"] for a in won), default=None)
        lines.append(f"| {u} | {params(settings, u):,} | {len({s for s, a in tried if proven(a)})}/"
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
    if a["proven"] and not proven(a):
        return f"proof.check only ({how})"
    return f"{'proven' if a['proven'] else 'not proven'} ({how})"


def smallest(result):
    """(units, -margin, seed, record) of the smallest proven pruned model, or None."""
    best = [(e["smallest"]["units"], -e["smallest"]["min_margin_bound"], seed, e) for seed, e in pruned(result)
            if e.get("smallest") and any(proven(a) and a["units"] == e["smallest"]["units"] for a in attempts(e))]
    return min(best, key=lambda t: t[:3]) if best else None


def _config(result, units):
    s = result["series"][0]
    return {**{k: v for k, v in s["settings"].items() if k in ModelConfig.__dataclass_fields__}, "hidden_size": units}


def _prove_args(result, m):
    """certificate.write's search keywords for a step proven at depth m (the hook's own settings)."""
    f = result["config"]["runs"][0]["after"]["args"]["frontier"]
    return {**f["prove"], **(f["m2"] if m == 2 else {}), "m": m}


def _write(result, path, seed, a, start_units):
    """certificate.write of one proven attempt a of `seed` at path; (path or None, its result)."""
    s = result["series"][0]
    model = certificate.model_from_text(_config(result, a["units"]), a["weights"])
    origin = "trained" if a["units"] == start_units else "pruned"
    what = s["label"] if origin == "trained" else f"{s['label']} to {a['units']} units"
    return certificate.write(path, model, origin=origin, targets=[], **_prove_args(result, a["m"]),
                             meta={"series": what, "seed": seed, "units": a["units"]}, recheck_kept=False)


def write_certificates(result, out_dir):
    """Keep out_dir/FOLDER/<certificate_name> of every proven attempt of every seed (certificate.write: kept if it
    still verifies, else written anew from the kept weights and kept only if both checkers accept the file).
    Returns {(seed, units): path or None}."""
    folder = Path(out_dir) / FOLDER
    folder.mkdir(exist_ok=True)
    return {(seed, a["units"]): _write(result, folder / certificate_name(seed, a["units"]), seed, a,
                                       e["start"]["units"])[0]
            for seed, e in pruned(result) for a in attempts(e) if proven(a)}


def write_certificate(result, out_dir):
    """Keep out_dir/CERTIFICATE for smallest()'s model: the certificate its hook made (verdicts.keep_certificate).
    Returns the path or None."""
    best = smallest(result)
    return verdicts.keep_certificate(Path(out_dir) / CERTIFICATE, None if best is None else best[3]["smallest"])


def keep_certificates(result, out_dir):
    """The exact_frontier plan's keep step: the smallest proven model's certificate, every proven step's, and the
    constructed adder's (the floor)."""
    write_certificate(result, out_dir)
    if pruned(result):
        lost = [k for k, path in write_certificates(result, out_dir).items() if path is None]
        if lost:  # its boxes are searched again here: a search that budget_s stopped (a slow or busy machine) fails
            print(f"[exact_frontier] not kept (its proof search did not close again here; rerun `python source.py "
                  f"exact_frontier` on a less busy machine): {', '.join(f'seed {s}, {u} units' for s, u in lost)}")
    constructed.write_certificate(out_dir, recheck_kept=False)


def frontier_chart(result, path):
    """Margin bound vs units per seed: filled = a proven model (joined in pruning order), hollow on the lower strip =
    a cut that did not prove (pruning then tried a smaller cut from the last proven model); the smallest proven
    model named."""
    fig, ax = plt.subplots(figsize=(10, 4.8))
    strip, row = -0.45, 0.12  # failed cuts: seed k's on a row at strip - row * k, below every proven margin (> 0)
    seeds = pruned(result)
    for k, (seed, e) in enumerate(seeds):
        tried = attempts(e)
        won = [a for a in tried if proven(a)]
        color = f"C{k % 10}"
        ax.plot([a["units"] for a in won], [a["min_margin_bound"] for a in won], "o-", color=color,
                label=f"seed {seed}")
        lost = [a["units"] for a in tried if not proven(a)]
        ax.plot(lost, [strip - row * k] * len(lost), "o", mfc="none", color=color)
    best = smallest(result)
    if best is not None:
        units, margin, seed, _ = best
        ax.annotate(f"smallest proven: {units} units (seed {seed})", (units, -margin), textcoords="offset points",
                    xytext=(-10, 28), ha="right", fontsize=9, arrowprops=dict(arrowstyle="->", color="black"))
    ax.axhline(0, color="grey", lw=0.5)
    ax.invert_xaxis()
    ax.set(xlabel="hidden units (one layer; pruned from the right-hand 32)",
           ylabel="margin bound of the proof (> 0: proven)")
    ticks = [t for t in ax.get_yticks() if t >= 0]
    middle = strip - row * (len(seeds) - 1) / 2  # the middle of the failed cuts' rows: named on the axis,
    ax.set_yticks([middle, *ticks], ["not proven", *(f"{t:g}" for t in ticks)])  # not written over a marker
    ax.grid(alpha=0.3)
    if seeds:
        handles = [*ax.get_legend_handles_labels()[0],
                   Line2D([], [], marker="o", color="grey", label="filled: proven at that size (joined in order)"),
                   Line2D([], [], marker="o", mfc="none", linestyle="none", color="grey",
                          label="hollow, below 0: a cut that did not prove;\npruning went on from the last proven "
                                "model\nwith a smaller cut (e.g. 20 -> 18 failed, 20 -> 19 -> 18 proved)")]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    save(fig, path, "the smallest proven adder: proof margin bound vs units, per seed", result)


def floor_lines():
    """The lower bound: 1 unit cannot add, 2 suffice (the constructed adder, proven by both checkers now)."""
    out = constructed.proof_summary()
    n = params({"embed_size": 1}, constructed.UNITS)
    return [f"**The floor: 1 unit cannot add; 2 suffice (constructed, proven).** No one-layer RNN of this shape with "
            "1 unit adds, for any weights, embedding size or monotone activation (the argument is in "
            "`proof/constructed.py`: with one state each digit's region is an interval, the states that carry "
            "and those that do not must lie apart, and then digits 0 and 1 would each need states of both kinds). A "
            f"2-unit tanh adder built by a rule (embedding size 1; {n} parameters counted as in the table, {n + 10} "
            "with its embedding: a graded sum unit and a saturated carry unit) is "
            + (f"proven by both checkers (m = 1, {out['transitions']:,} transitions, margin bound "
               f"{out['min_margin_bound']:.3g}); its certificate is `{constructed.CERTIFICATE}` beside this page."
               if out["proven"] else "NOT proven by both checkers with the current code: the floor is not shown.")]


def frontier_section(result):
    args = result["config"]["runs"][0]["after"]["args"]
    f = args["frontier"]
    lines = header(result) + [
        f"Seeds {', '.join(str(s) for s in args['seeds'])} of `{result['series'][0]['label'].split(',')[0]}`, "
        "hardened and proven as in `exact_adder`, then pruned (`measures/smallest/frontier.py`): "
        f"{f['first_step']} units at a time (halved after a failed step, down to one, from the last proven model), "
        "each removed unit folded into the others by least squares over the states the model reaches; each cut model "
        "is proven as it is or else hardened again (saturation on, at most "
        f"{f['harden']['rounds']} rounds) and proven again" + (" (a near miss, clean under attack, also at m = 2)"
                                                               if f.get("m2") else "") + ". Margin bound: the proof's "
        "lowest bound on the right digit's logit minus any other; steps: Adam steps of the re-hardening (and of the "
        "shrinking, if any); minutes: the step's cut, hardening and proofs. Proven: both checkers (`proof.check` and "
        "the independent `recheck`) accepted the model's boxes and its weights were kept; each proven step's "
        f"certificate is kept in `{FOLDER}/` beside this page (`python -m proof.certificate "
        f"plots/{FOLDER}/*.npz` re-checks them all from the files alone).", "", *floor_lines(), ""]
    seeds = pruned(result)
    if not seeds:
        return lines + ["No seed was pruned.", *footer(result)]
    lines += table(result) + [""]
    best = smallest(result)
    if best is None and any(a["proven"] for _, e in seeds for a in attempts(e)):
        lines.append("None of these attempts meets the standard: they were made before a proven step had to pass both "
                     "checkers and keep its weights (\"proof.check only\"); rerun `python source.py exact_frontier`.")
    elif best is None:
        lines.append("No pruned seed was proven at its start.")
    else:
        units, margin, seed, e = best
        settings = result["series"][0]["settings"]
        lines.append(f"The smallest proven adder: {units} units ({params(settings, units):,} parameters), seed {seed}, "
                     f"margin bound {-margin:.3g} (m = {e['smallest']['m']}); its certificate is `{CERTIFICATE}` "
                     f"beside this page (`python -m proof.certificate plots/{CERTIFICATE}`).")
    return lines + footer(result)
