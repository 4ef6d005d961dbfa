"""exact_eval, the "after" hook of exact_adder: the worst-case suite, the example sums, the attack and the proof.

Its own module so that the suite (exact.py), which the adversary re-scores with, imports neither: no cycle.
"""
import copy

from measures.exact import adversary, certificate
from measures.exact import harden as harden_module
from measures.exact import proof as proof_module
from measures.exact.exact import examples_eval, suite_eval


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
        if out["proof"]["proven"]:  # kept, so the report can write its certificate and add.py can use it
            out["proof"]["weights"] = certificate.weights_text(model)
    return out
