"""Pilot of the exact_frontier series on stored proven models, run by hand, never part of the test suite.

    python -m benchmarks.frontier_pilot OUT.json [SEED ...] [--start PILOT.json] [--rounds N] [--first-step K]
                                         [--shrink STEPS,LR,WEIGHT]
    python -m benchmarks.frontier_pilot CERTIFICATE.npz SEED --start PILOT.json --certify

Takes each seed's proven weights from plots/exact_adder.json (the series FRONTIER_SERIES: what frontier_eval would
harden the trained run into), or with --start the smallest proven model an earlier pilot wrote, runs
frontier.series() on it with the exact_frontier plan's settings (or the options' changes) on one torch thread, and
writes {seed: record} to OUT.json after every attempt, with each proven model's weights (certificate.weights_text).
With --certify, the smallest proven model of PILOT.json's seed is proven again (at the depth m it was proven at,
the plan's settings) and written as a certificate (certificate.prove) instead.
"""
import argparse
import json
import time

import torch

import experiments
from measures.exact import verdicts
from measures.smallest import frontier
from models import MODEL_KEYS
from proof import certificate


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("seeds", nargs="*", type=int, default=[0])
    p.add_argument("--start")
    p.add_argument("--rounds", type=int)
    p.add_argument("--first-step", type=int)
    p.add_argument("--shrink")
    p.add_argument("--certify", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    args = experiments.exact_frontier()["runs"][0]["after"].keywords["frontier"]
    if a.rounds:
        args["harden"] = {**args["harden"], "rounds": a.rounds}
    if a.first_step:
        args["first_step"] = a.first_step
    if a.shrink:
        steps, lr, weight = a.shrink.split(",")
        args["shrink"] = {"steps": int(steps), "lr": float(lr), "weight": float(weight)}
    if a.certify:
        return certify(a.out, a.seeds[0], a.start, args)
    result = json.load(open("plots/exact_adder.json"))
    s = next(s for s in result["series"] if s["label"] == experiments.FRONTIER_SERIES)
    maxlen, done = s["settings"]["maxlen"], {}
    for seed in a.seeds:
        if a.start:
            d = json.load(open(a.start))[str(seed)]
            model = certificate.model_from_text(d["config"], d["weights"])
            start = {"units": d["smallest"], "from_pilot": a.start}
        else:
            p = dict(verdicts.measured(s, "proof"))[seed]
            model = certificate.model_from_text({k: v for k, v in s["settings"].items() if k in MODEL_KEYS},
                                                p["weights"])
            start = {"units": model.cfg.hidden_size, "min_margin_bound": p["min_margin_bound"]}
        t0, steps = time.perf_counter(), []
        done[seed] = {"start": start, "settings": args, "steps": steps}

        def try_model(m, step_seed, seed=seed, steps=steps, t0=t0):  # frontier.attempt, printed and saved
            rec = frontier.attempt(m, step_seed, maxlen, args["harden"], args["prove"], args.get("m2"))
            print(f"seed {seed}: {m.cfg.hidden_size} units: {'proven' if rec['proven'] else 'NOT proven'} "
                  f"(m={rec['m']}, margin {rec['min_margin_bound']:.3g}, as cut {rec['proven_as_cut']}, "
                  f"{rec['fine_tune_steps']} steps, {rec['rounds']} rounds, attack clean {rec['attack_clean']}, "
                  f"{rec['sec'] / 60:.1f} min)", flush=True)
            steps.append({"units": m.cfg.hidden_size, **rec})
            if rec["proven"]:
                done[seed].update(smallest=m.cfg.hidden_size, weights=certificate.weights_text(m),
                                  config=m.cfg.to_dict())
            done[seed]["sec"] = time.perf_counter() - t0
            with open(a.out, "w") as f:
                json.dump(done, f, indent=1)
            return rec

        frontier.series(model, seed, maxlen, args["harden"], args["prove"], args["first_step"], args["floor"],
                        args.get("m2"), try_model=try_model, shrink=args.get("shrink"))


def certify(path, seed, start, args):
    d = json.load(open(start))[str(seed)]
    model = certificate.model_from_text(d["config"], d["weights"])
    rec = [r for r in d["steps"] if r["proven"]][-1]
    prove = {**args["prove"], **({"m": 2, **args["m2"]} if rec["m"] == 2 else {})}
    label = f"{experiments.FRONTIER_SERIES}, pruned to {model.cfg.hidden_size} units"
    out = certificate.prove(model, path, origin="pruned", targets=[], **prove, meta={"series": label, "seed": seed,
                                                        "units": model.cfg.hidden_size, "made_by": "benchmarks/"
                                                        "frontier_pilot.py (exact_frontier's series, pilot)"})
    print(f"{path}: {'written' if out['proven'] else 'NOT proven, not written'} (m={out['m']}, margin bound "
          f"{out['min_margin_bound']:.4g}, {out['outputs_certified']}/{out['reached']} outputs)")


if __name__ == "__main__":
    main()
