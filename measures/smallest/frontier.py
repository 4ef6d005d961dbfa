"""The size frontier of proven adders: a proven one-layer tanh adder pruned step by step, re-hardened, re-proven.

series() starts from a proven model of H units and repeats, until a step of one unit fails or `floor` units:

    1. cut: remove `step` units, one at a time, each folded into the others by least squares (prune.py); with
       `shrink`, the units to cut are first shrunk by a group-lasso penalty on their outgoing weights (shrink.py);
    2. prove the cut model as it is (proof.attempt); if that fails, harden it (harden.harden with its saturation
       term, the rounds ending only once the attack finds nothing and the proof closes, or after `rounds`) and
       prove it again; a model the attack finds clean whose m = 1 proof does not close (a near miss) is tried
       at m = 2 when `m2` is given;
    3. a proven model is the new start (the step stays); a failed step is taken again from the last proven model
       with half as many units (4 -> 2 -> 1), and a failed one-unit step ends the series.

Every attempt is recorded (units, units cut and which, proven and at what m, margin bound, fine-tuning steps and
rounds, whether the attack was clean, seconds), so the frontier is what was run. "Proven" is the project's one
standard: proof.check and recheck both accept (prove_model), and every proven model's weights are kept in its record,
from which frontier_report writes its certificate file for anyone to re-check. Everything is drawn from the seed:
the states of each fold from (seed, units) (prune.reached_states), each hardening's attacks and fine-tuning from the
step seed STEP_SEED * seed + units (harden.harden's seed); the proof's budget_s is a safety valve, as in
exact_adder (max_iter decides). frontier_eval is the "after" hook of the exact_frontier experiment.
"""
import copy
import time

import numpy as np

from measures.exact import harden as harden_module
from measures.exact.evaluate import certificate_text
from measures.smallest import prune
from measures.smallest import shrink as shrink_module
from proof import certificate, proof, recheck

STEP_SEED = 1000  # a step's hardening seed: STEP_SEED * seed + units (> every training seed, so no stream is shared)


def fine_tune_steps(log, steps, saturate_steps):
    """Adam steps a harden() record ran: `steps` a fine-tuning round, `saturate_steps` the round that began the
    saturation stage (the round before the first one marked saturating)."""
    rounds = log["rounds"]
    return sum(saturate_steps if not r["saturating"] and i + 1 < len(rounds) and rounds[i + 1]["saturating"] else steps
               for i, r in enumerate(rounds) if "loss" in r)


def proof_summary(out):
    """The JSON-ready fields of a prove() result the frontier keeps."""
    return {k: out[k] for k in ("proven", "proof_check", "recheck", "m", "min_margin_bound", "certified_steps",
                                "outputs_certified", "reached", "iterations") if k in out} | \
        ({"weights": out["weights"]} if out.get("weights") else {})


def prove_model(model, **kwargs):
    """proof.attempt on `model` (its keywords: m, max_iter, budget_s), held to the project's standard: "proven" only
    if proof.check and recheck both accept the boxes ("proof_check", "recheck"), and then the model's weights are
    kept ("weights", certificate.weights_text) so the report writes its certificate file from them (the search is
    deterministic) and anyone can re-check it."""
    from proof import certificate

    net, lo, hi, out = proof.attempt(model, **kwargs)
    out["proof_check"], out["recheck"] = out["proven"], False
    if out["proven"]:
        weights = {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}
        out["recheck"] = recheck.check(model.cfg.to_dict(), weights, out["m"], lo, hi, tanh_err=net["tanh_err"])
        out["proven"] = out["recheck"]
    if out["proven"]:
        out["weights"] = certificate.weights_text(model)
    return out


def attempt(model, seed, maxlen, harden, prove, m2=None, quick=False):
    """Prove `model` as it is; if that fails, harden it in place and prove again (module docstring, step 2).
    Returns the record of the attempt (without the units, which series() adds)."""
    t0 = time.perf_counter()
    out = proof_summary(prove_model(model, **prove))
    rec = {"proven_as_cut": out["proven"], "fine_tune_steps": 0, "rounds": 0, "attack_clean": None}
    if not out["proven"]:
        log = harden_module.harden(model, seed, maxlen, **harden, quick=quick)
        out = proof_summary(prove_model(model, **prove))
        if quick:
            caps = (min(harden["steps"], 20), 20)  # harden's quick caps
        else:
            caps = (harden["steps"], harden.get("saturate_steps", 1500))
        rec.update(fine_tune_steps=fine_tune_steps(log, *caps), rounds=len(log["rounds"]) - 1,
                   attack_clean=bool(log["found_nothing"]), accuracy=log["accuracy"])
        if not out["proven"] and log["found_nothing"] and m2 and not quick:  # a near miss: one pair deeper
            deeper = proof_summary(prove_model(model, m=2, **m2))
            rec["m1" if deeper["proven"] else "m2"] = out if deeper["proven"] else deeper  # the other depth's proof
            out = deeper if deeper["proven"] else out
    rec.update(out, sec=time.perf_counter() - t0)
    return rec


def cut_units(model, cut, seed, maxlen, step_seed, shrink=None, saturation=0.0):
    """Step 1 of series(): (the model without `cut` units, the units removed, the shrink record or None). With
    shrink ({"steps", "lr", "weight"}), the `cut` units prune.cost ranks cheapest are first shrunk (shrink.py)."""
    model, rec = copy.deepcopy(model), None
    if shrink:
        S, w = prune.reached_states(model, seed, maxlen), prune.weights(model)
        targets = sorted(np.argsort([prune.cost(w, S, j) for j in range(S.shape[1])], kind="stable")[:cut].tolist())
        rec = shrink_module.shrink(model, targets, step_seed, maxlen, **shrink, saturation=saturation)
    model, removed = prune.prune(model, cut, seed, maxlen)
    return model, removed, rec


def series(model, seed, maxlen, harden, prove, first_step=4, floor=5, m2=None, quick=False, try_model=None,
           shrink=None):
    """Prune a proven one-layer model as far as it stays provable (module docstring); (the smallest proven model,
    the record of every attempt). try_model(model, step_seed) -> attempt()'s record (the model hardened in place)
    replaces attempt() (tests give it their own rule); shrink: cut_units' group-lasso shrinking before each cut."""
    if try_model is None:
        def try_model(m, s):
            return attempt(m, s, maxlen, harden, prove, m2, quick)
    best, step, record = model, first_step, []
    while step >= 1 and best.cfg.hidden_size - 1 >= floor:
        units = best.cfg.hidden_size
        cut = min(step, units - floor)
        step_seed, t0 = STEP_SEED * seed + units - cut, time.perf_counter()
        cand, removed, shrunk = cut_units(best, cut, seed, maxlen, step_seed, shrink,
                                          (harden or {}).get("saturation", 0.0))
        rec = {"units": units - cut, "from": units, "cut": cut, "removed": removed,
               "cut_sec": time.perf_counter() - t0, **try_model(cand, step_seed)}
        if shrunk:
            rec["shrink"] = shrunk
        record.append(rec)
        if rec["proven"]:
            best = cand
        elif cut == 1:
            break
        else:
            step = cut // 2
    return best, record


def frontier_eval(model, state, run, seed, harden, frontier, seeds=(), quick=False):
    """The exact_frontier hook: on the seeds named, harden a copy of the trained model as exact_adder's saturated
    series does (harden: its settings) and prove it; if proven, run series() with `frontier` (its keywords: harden,
    prove, first_step, floor, m2, shrink). Returns {} on other seeds."""
    if seed not in seeds:
        return {}
    maxlen = run["train"]["maxlen"]
    model = copy.deepcopy(model)
    t0 = time.perf_counter()
    out = {"harden": harden_module.harden(model, seed, maxlen, **harden, quick=quick)}
    prove = frontier["prove"] if not quick else {**frontier["prove"], "max_iter": 20, "budget_s": 10}
    out["start"] = {"units": model.cfg.hidden_size, **proof_summary(prove_model(model, **prove))}
    out["steps"] = []
    if out["start"]["proven"]:
        best, out["steps"] = series(model, seed, maxlen, frontier["harden"], prove, frontier.get("first_step", 4),
                                    frontier.get("floor", 5), frontier.get("m2"), quick, shrink=frontier.get("shrink"))
        best_rec = next((r for r in reversed(out["steps"]) if r["proven"]), out["start"])
        units = best.cfg.hidden_size
        out["smallest"] = {"units": units, "m": best_rec["m"],
                           "min_margin_bound": best_rec["min_margin_bound"], "weights": certificate.weights_text(best)}
        at = {**frontier["prove"], **({"m": 2, **frontier["m2"]} if best_rec["m"] == 2 else {})}
        pruned = units < out["start"]["units"]
        what = f"{run.get('label')} to {units} units" if pruned else run.get("label")
        out["smallest"]["certificate"] = certificate_text(best, at, {"series": what, "seed": seed, "units": units},
                                                          quick, origin="pruned" if pruned else "trained")
    out["sec"] = time.perf_counter() - t0
    return out
