"""Re-derive a certificate's model from its seed on this machine and compare it bit for bit.

    python -m benchmarks.rederive_certificate                          the shipped plots/exact_certificate.npz
    python -m benchmarks.rederive_certificate FILE --store DIR         take the base run from a run store

A certificate's meta names the exact_adder series and seed its model came from. This retrains that seed's base run
(train.train_run with the series' settings; or reads it from --store), hardens a copy as the series' hook does
(experiments.exact_adder's plan: its harden settings), and compares the hardened weights with the certificate's,
tensor by tensor. Under the portable numerics (machinery/numerics.py) the same bits should come out on every x86-64
CPU with AVX2: run it on an Intel and on an AMD machine. Minutes on one core (training, then hardening's rounds).
"""
from machinery import numerics  # noqa: I001 - first: it sets the numerics before torch loads
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

import experiments
from machinery.entries import model_from_blob
from machinery.runner import request
from machinery.store import Store
from proof import certificate
from measures.exact import harden as harden_module
from models import ModelConfig
from train import train_run

ROOT = Path(__file__).resolve().parents[1]


def base_run(meta, store_dir):
    """(the series' plan run, the trained base model): from the store when it holds the run, else trained now."""
    plan = experiments.exact_adder()
    run = next(r for r in plan["runs"] if r["label"] == meta["series"])
    seed = meta["seed"]
    if store_dir is not None:
        stored = Store(store_dir).stored_run(request(run, seed, "cpu", plan.get("stop_at_exact", False)))
        if stored is not None:
            return run, model_from_blob(run["model"], stored[1], "cpu")[0], "from the store"
    _, model, _ = train_run(ModelConfig(**run["model"]), **run["train"], seed=seed, device="cpu")
    return run, model, "trained now"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("certificate", nargs="?", type=Path, default=ROOT / "plots" / "exact_certificate.npz")
    p.add_argument("--store", type=Path, default=None, help="a run store holding the base run (else it is trained)")
    args = p.parse_args(argv)
    numerics.apply()
    torch.set_num_threads(1)  # as the study trains
    try:
        want, result = certificate.verified_model(args.certificate)
    except (OSError, ValueError) as e:
        print(e, file=sys.stderr)
        return 2
    meta = result["meta"]
    t0 = time.perf_counter()
    run, model, where = base_run(meta, args.store)
    harden_module.harden(model, meta["seed"], run["train"]["maxlen"], **run["after"].keywords["harden"])
    got, ref = model.state_dict(), want.state_dict()
    same = {k: bool(torch.equal(got[k], ref[k])) for k in ref}
    worst = max(float(np.max(np.abs(got[k].numpy() - ref[k].numpy()))) for k in ref)
    print(f"{args.certificate}: {meta['series']!r} seed {meta['seed']}, base run {where}, hardened in "
          f"{time.perf_counter() - t0:.0f} s under numerics {numerics.family()} (probe {numerics.probe()})")
    rederived = certificate.model_hash(result["model"], {k: v.numpy() for k, v in got.items()})
    print(f"certificate's model {result['sha256'][:12]}, re-derived {rederived[:12]}: "
          + ("identical, bit for bit" if all(same.values())
             else f"DIFFER in {sum(not v for v in same.values())} of {len(same)} tensors (largest gap {worst:.3g})"))
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
