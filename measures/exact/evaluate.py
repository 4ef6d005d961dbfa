"""exact_eval, the "after" hook of exact_adder: the worst-case suite, the example sums, the attack and the proof;
certificate_text, the certificate a hook makes of the model it proved (exact_frontier's hook makes one too).

Its own module so that the suite (exact.py), which the adversary re-scores with, imports neither: no cycle.
"""
import base64
import copy
import tempfile
from pathlib import Path

from measures.exact import adversary
from measures.exact import harden as harden_module
from measures.exact.exact import examples_eval, suite_eval
from proof import certificate
from proof import proof as proof_module


def exact_eval(model, state, run, seed, suite, harden=None, attack=None, attack_seeds=(), proof=None, proof_seeds=(),
               quick=False):
    """The exact_adder hook: the suite; on seed 0 the example sums; the attack and proof on the seeds named.

    harden: settings of adversarial fine-tuning (harden.py); the trained model is hardened first (a copy: the
    stored run is not changed) and everything after measures the hardened model; a hardened seed is attacked only
    when it passes the suite (one that fails has its failing sums already).
    """
    out = {}
    if harden is not None:
        model = copy.deepcopy(model)
        out["harden"] = harden_module.harden(model, seed, run["train"]["maxlen"], **harden, quick=quick)
    out["suite"] = suite_eval(model, run, seed, **suite, quick=quick)
    if seed == 0:
        out["examples"] = examples_eval(model)
    if attack is not None and seed in attack_seeds and (harden is None or out["suite"]["passed"]):
        out["attack"] = adversary.attack_eval(model, run, seed, **attack, quick=quick)
    if proof is not None and seed in proof_seeds and out["suite"]["passed"]:
        out["proof"] = proof_module.proof_eval(model, **proof, quick=quick)
        if out["proof"]["proven"]:  # kept, so the report can name the model and keep its certificate for add.py
            out["proof"]["weights"] = certificate.weights_text(model)
            meta = {"series": run.get("label"), "seed": seed, "settings": {**run.get("model", {}), **run["train"]}}
            out["proof"]["certificate"] = certificate_text(model, proof, meta, quick)
    return out


def certificate_text(model, prove, meta, quick=False, origin="trained", targets=()):
    """The certificate of a model a hook proved, made by that hook: certificate.prove's file (its boxes searched again
    with prove's {"m", "max_iter", "budget_s"} and checked by both checkers) as base64 text, for the result to keep
    and the report to write out unchanged (measures/exact/verdicts.keep_certificate); None if the search does not
    prove it again (one cut by budget_s). quick: the search capped as proof.proof_eval caps it. origin, targets: the
    certificate's ("trained", "pruned" or "constructed"; the auxiliary training targets, none from sums alone)."""
    prove = {k: prove[k] for k in ("m", "max_iter", "budget_s") if k in prove}
    if quick:
        prove.update(max_iter=min(prove.get("max_iter", 20), 20), budget_s=min(prove.get("budget_s", 10), 10))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "certificate.npz"
        out = certificate.prove(model, path, origin=origin, targets=list(targets), **prove, meta=meta)
        return base64.b64encode(path.read_bytes()).decode() if out["proven"] else None
