"""cost_to_exact: steps, sums and seconds to the first exact evaluation, and what the source code's
undetached carry cost. Measurement, summary, chart and report section.

bptt_cost is an "after" hook (the plan format: machinery/plans.py) on the carry-mode model: one training step
back-propagating through the last d batches (the source never detached its state), for growing d.
"""
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from data import check_int, gen_data, measure_rng
from judge import stats
from judge.parts import differs
from judge.tables import seed_first_steps
from plot import footer, header, plt, save
from train import BATCH_SIZE

SOURCE_RESET = 50  # C2: the source evaluates when step % 50 == 0, and its evaluate() replaces the carried state


def bptt_cost(model, state, run, seed, depths, maxlen=None, repeats=3, quick=False):
    """Seconds per training step when the loss back-propagates through the last d batches' graph.

    The source code's carry mode passed the previous batch's final state on without detaching it, so a
    step back-propagated through every batch since the state was last replaced: its evaluate() replaced it
    every 50 steps, so depths 1..50 (current PyTorch refuses the second backward). Here that graph is
    rebuilt to depth d from fresh batches of the run's size, of `maxlen` digits (default: the run's).
    Denormals are flushed while timing: gradients that vanish through 100+ steps otherwise run the CPU's slow
    denormal path (measured: a depth-25 step took 540-640 ms on 3 seeds, 73 ms on 2), a cost of x86 float
    handling, not of back-propagation; the trained weights are not touched.
    """
    depths = [check_int("depth", d, 1) for d in depths][: 2 if quick else None]
    t, rng = {**run["train"], **({"maxlen": check_int("maxlen", maxlen, 1)} if maxlen else {})}, \
        measure_rng(seed, "long_sums", 1)
    device = next(model.parameters()).device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)  # GPU work is asynchronous
    model.train()
    out = {"depths": depths, "maxlen": t["maxlen"], "sec_per_step": [], "flush_denormal": True}
    flushed = torch.set_flush_denormal(True)  # True where the CPU supports it (SSE3)
    for d in depths:
        size = t.get("batch_size", BATCH_SIZE)
        batches = [[torch.from_numpy(v).to(device) for v in gen_data(size, t["maxlen"], "train", rng)]
                   for _ in range(d)]
        best = float("inf")
        for _ in range(repeats):
            model.zero_grad(set_to_none=True)
            h = None
            for i, (a, b, r) in enumerate(batches):  # noqa: B007 (r: the last batch's target, used below)
                if i == d - 1:  # the step itself: this batch's forward, then backward through all d batches
                    sync()
                    t0 = time.perf_counter()
                y, h = model.run(a, b, h)
            loss = F.cross_entropy(model.out(y).reshape(-1, 10), r.reshape(-1))  # the last batch's loss only
            loss.backward()
            sync()
            best = min(best, time.perf_counter() - t0)
        out["sec_per_step"].append(best)
    model.zero_grad(set_to_none=True)
    torch.set_flush_denormal(False)  # back to torch's default for whatever runs next in this process
    out["flush_denormal"] = flushed
    return out

def _median_or_none(values):
    hit = [v for v in values if v is not None]
    return (statistics.median(hit) if hit else None), len(hit)

def cost_rows(result):
    """Per series: (label, median steps, examples, seconds to the first exact evaluation, seeds reaching, ms/step)."""
    rows = []
    for s in result["series"]:
        steps, hit = _median_or_none(s["first_exact"])
        secs, _ = _median_or_none(s["first_exact_sec"])
        batch = s["settings"].get("batch_size", BATCH_SIZE)
        rows.append((s["label"], steps, None if steps is None else steps * batch, secs, hit,
                     1e3 * statistics.mean(s["sec_per_step"])))
    return rows


def cost_chart(result, path):
    from plot import words

    rows = cost_rows(result)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, j, name in ((axes[0], 1, "training steps"), (axes[1], 2, "training sums"),
                        (axes[2], 3, "wall seconds (training + evaluations)")):
        for k, (s, row) in enumerate(zip(result["series"], rows, strict=False)):
            ax.bar(k, row[j] or 0, color=f"C{k}", alpha=0.6)
            per_seed = s["first_exact"] if j < 3 else s["first_exact_sec"]
            scale = s["settings"].get("batch_size", BATCH_SIZE) if j == 2 else 1
            ax.plot([k] * len(per_seed), [v * scale for v in per_seed if v is not None]
                    + [np.nan] * sum(v is None for v in per_seed), "k.", markersize=6)
        ax.set_xticks(range(len(rows)), [words(r[0].replace("hidden_mode ", "hidden_mode=")) for r in rows],
                      rotation=20, ha="right", fontsize=8)
        ax.set(title=name, ylabel="median (bar) and per seed (dots)")
        ax.grid(alpha=0.3, axis="y")
    save(fig, path, f"{result['title']}: each run stops at its first exact evaluation")

def cost_section(result):
    rows = cost_rows(result)
    cap = result["series"][0]["settings"]["steps"]
    every = result["series"][0]["settings"]["eval_every"]
    lines = header(result) + [
        f"Median over seeds of the training steps, training sums and wall seconds (training and the evaluations "
        f"every {every} steps, one CPU thread) until the first evaluation with every held-out sum right "
        f"(cap {cap} steps).", "", "| series | steps | examples | seconds | seeds reaching | ms/step |",
        "|---|---|---|---|---|---|"]
    def fmt(v, f):
        return "never" if v is None else f.format(v)

    for label, steps, examples, secs, hit, ms in rows:
        lines.append(f"| {label} | {fmt(steps, '{:g}')} | {fmt(examples, '{:,.0f}')} | {fmt(secs, '{:.1f}')} | "
                     f"{hit}/{len(result['config']['seeds'])} | {ms:.2f} |")
    lines += [""] + answer_232(result, rows)
    return lines + footer(result)

def answer_232(result, rows):
    """The source study's §2.3.2 question, answered from this result's numbers (judge/parts.py's paired test)."""
    by = {r[0]: r for r in rows}
    carry = next((s for s in result["series"] if s.get("extra") and any(s["extra"])), None)
    if carry is None:
        return []
    st = carry["settings"]
    none = stats.find_series(result, cell=st.get("cell"), nonlinearity=st.get("nonlinearity"), hidden_mode="none")
    c = by[carry["label"]]
    n_seeds = len(result["config"]["seeds"])
    fast = [r for r in rows if r[0] != c[0] and r[1] is not None]
    head = ["### Why the model learns with no hidden state passed in (source study §2.3.2)", ""]
    text = ["The state given to `nn.RNN` is only the initial state of each sum, the state before its units digit; "
            "the recurrence from one digit to the next, which carries the carry, runs inside the layer whatever "
            "is passed in."]
    if fast:
        text.append("With nothing passed (zeros) the model learns the task here: " + ", ".join(
            f"{r[0]} reaches its first exact evaluation after a median {r[1]:g} steps ({r[4]}/{n_seeds} seeds)"
            for r in fast) + ".")
    else:
        text.append("No series without a passed state reached an exact evaluation in this run.")
    if none is not None:
        n = by[none["label"]]

        def steps(r):
            return "never gets there" if r[1] is None else f"needs a median {r[1]:g} steps"

        a, b, paired = stats.pair(carry, seed_first_steps(carry), none, seed_first_steps(none))
        part = differs("carry later", "carry", a, "none", b, paired, margin=None)  # one unadjusted test
        verdict = {"holds": "passing the state in slows learning",
                   "contradicted": "passing the state in speeds learning",
                   "undecided": f"no difference is shown, {part.note()}"}[part.outcome]
        text.append(f"With the previous batch's final state passed in (carry mode, detached), {c[0]} {steps(c)} "
                    f"({c[4]} seeds reaching) at {c[5]:.2f} ms/step; without it {steps(n)} ({n[4]} seeds reaching) "
                    f"at {n[5]:.2f} ms/step: {verdict} ({part.comparison.stat()}; that state belongs to unrelated "
                    "sums).")
    cost = bptt_profile(result)
    reset = cost["reset"]
    text.append(f"The source code's carry mode never detached that state, but its evaluate() replaced it every "
                f"{reset} steps with one carrying no graph, so a step back-propagated through 1 to {reset} batches "
                f"(mean {(reset + 1) / 2:g}) and a run's cost grows linearly with its length. Measured on this "
                f"model (mean over the {len(cost['cycle'])} seeds), one step back-propagating through "
                + ", ".join(f"{k} batch{'es' if k > 1 else ''} takes {ms:.1f} ms"
                            for k, ms in zip(cost["depths"], cost["ms"], strict=True))
                + f"; {'extrapolated' if cost['extrapolated'] else 'interpolated'} to the depths the source "
                f"reached (geometric mean over seeds of each seed's ratio, {1 - stats.ALPHA:.0%} CI): "
                f"{_ratio(cost['at_reset'])} the depth-1 step at depth {reset}, {_ratio(cost['cycle'])} averaged "
                f"over its {reset}-step cycle.")
    return head + [" ".join(text), ""]


def _ratio(ratios):
    g, lo, hi = stats.geometric(ratios)
    return f"{g:.1f}x [{lo:.1f}, {hi:.1f}]"


def bptt_profile(result, reset=SOURCE_RESET):
    """The source code's undetached carry, costed from cost_to_exact's bptt_cost extras; None if absent.

    The source's evaluate() replaced the carried state every `reset` steps with one computed without a graph,
    so step n back-propagated through (n mod reset) + 1 batches: depth 1..reset, mean (reset + 1) / 2; the cost
    of a run grows linearly with its length. Per seed, the cost ratio (a step through d batches over one through
    1) is interpolated linearly between the measured depths. Returns {depths, by_depth: {d: per-seed ratios},
    at_reset: per-seed ratios at depth `reset`, cycle: per-seed ratios averaged over depths 1..reset, ms: per
    depth, the mean over seeds of the step's milliseconds, maxlen, label}.
    """
    for s in (result or {}).get("series", []):
        extras = [e for e in s.get("extra") or [] if e and "depths" in e]
        if extras:
            break
    else:
        return None
    depths = extras[0]["depths"]
    ratios = [[v / e["sec_per_step"][0] for v in e["sec_per_step"]] for e in extras]

    def at(rs, d):
        if d <= depths[0]:
            return rs[0]
        for (d0, r0), (d1, r1) in zip(zip(depths, rs, strict=True), zip(depths[1:], rs[1:], strict=True),
                                      strict=False):
            if d <= d1:
                return r0 + (r1 - r0) * (d - d0) / (d1 - d0)
        d0, d1 = depths[-2:] if len(depths) > 1 else (depths[0], depths[0] + 1)
        slope = (rs[-1] - rs[-2]) / (d1 - d0) if len(depths) > 1 else 0.0
        return rs[-1] + slope * (d - depths[-1])  # beyond the deepest measured depth: extrapolated

    return {"depths": depths, "by_depth": {d: [rs[i] for rs in ratios] for i, d in enumerate(depths)},
            "at_reset": [at(rs, reset) for rs in ratios],
            "cycle": [statistics.fmean(at(rs, d) for d in range(1, reset + 1)) for rs in ratios],
            "ms": [1e3 * statistics.fmean(e["sec_per_step"][i] for e in extras) for i in range(len(depths))],
            "maxlen": extras[0].get("maxlen", s["settings"].get("maxlen")), "label": s["label"], "reset": reset,
            "extrapolated": reset > depths[-1]}
