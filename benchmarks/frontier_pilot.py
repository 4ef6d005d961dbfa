"""Pilot of the exact_frontier series on stored proven seeds, run by hand, never part of the test suite.

    python -m benchmarks.frontier_pilot OUT.json [SEED ...]

Takes each seed's proven weights from plots/exact_adder.json (the series EXACT_HARDENED's saturated 1 x 32; what
frontier_eval would harden the trained run into), runs frontier.series() on it with the exact_frontier plan's
settings on one torch thread, and writes {seed: record} to OUT.json as it goes, with the smallest proven model's
weights (certificate.weights_text).
"""
import json
import sys
import time

import torch

import experiments
from measures.exact import certificate, frontier, verdicts

SERIES = "1 x 32 hardened + saturated"  # the exact_adder series whose proven seeds are pruned


def main(argv):
    torch.set_num_threads(1)
    out_path, seeds = argv[0], [int(s) for s in argv[1:]] or [0]
    result = json.load(open("plots/exact_adder.json"))
    s = next(s for s in result["series"] if s["label"] == SERIES)
    args = experiments.exact_frontier()["runs"][0]["after"]["args"]["frontier"]
    keys = experiments.MODEL_KEYS
    done = {}
    for seed in seeds:
        p = dict(verdicts.measured(s, "proof"))[seed]
        model = certificate.model_from_text({k: v for k, v in s["settings"].items() if k in keys}, p["weights"])
        maxlen, t0 = s["settings"]["maxlen"], time.perf_counter()

        def try_model(m, step_seed, seed=seed, maxlen=maxlen):  # frontier.attempt, printed as it ends
            rec = frontier.attempt(m, step_seed, maxlen, args["harden"], args["prove"], args.get("m2"))
            print(f"seed {seed}: {m.cfg.hidden_size} units: {'proven' if rec['proven'] else 'NOT proven'} "
                  f"(m={rec['m']}, margin {rec['min_margin_bound']:.3g}, as cut {rec['proven_as_cut']}, "
                  f"{rec['fine_tune_steps']} steps, {rec['rounds']} rounds, attack clean {rec['attack_clean']}, "
                  f"{rec['sec'] / 60:.1f} min)", flush=True)
            return rec

        best, steps = frontier.series(model, seed, maxlen, args["harden"], args["prove"], args["first_step"],
                                      args["floor"], args.get("m2"), try_model=try_model)
        done[seed] = {"start_margin": p["min_margin_bound"], "steps": steps, "sec": time.perf_counter() - t0,
                      "smallest": best.cfg.hidden_size, "weights": certificate.weights_text(best),
                      "config": best.cfg.to_dict()}
        with open(out_path, "w") as f:
            json.dump(done, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
