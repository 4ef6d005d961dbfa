"""Entry point: `python source.py` runs pt_main and then every experiment of experiments.py.

    python source.py                  everything (cached experiments are only redrawn)
    python source.py lr cells         just those
    python source.py --list           the experiment ids
    python source.py --quick          tiny settings, end to end in about a minute (plots/quick/)
    python source.py --force          retrain even where a cached result matches

Each experiment's result is written to plots/<id>.json (atomically) and drawn as plots/<id>.png
as soon as it finishes, so an interrupted run keeps every finished experiment; a rerun skips an
experiment whose stored config equals its current one. plots/README.md is regenerated at the end.
"""
import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

import experiments
import plot
import report
from models import ModelConfig
from train import resolve_device, train_run

SCHEMA_VERSION = 1  # bump when the result JSON changes shape: every cached result is retrained
OUT_DIR = Path(__file__).resolve().parent / "plots"
QUICK = {"seeds": 2, "steps": 100, "every": 20, "maxlen_div": 5}  # --quick: seeds, step cap, interval, maxlen / 5


def quick_plan(plan):
    """Shrink a plan to the QUICK caps (labels kept, so the chart still names the settings)."""
    runs = []
    for r in plan["runs"]:
        t = dict(r["train"])
        scale = QUICK["steps"] / t["steps"]
        t.update(steps=min(t["steps"], QUICK["steps"]), maxlen=max(1, round(t["maxlen"] / QUICK["maxlen_div"])),
                 loss_every=QUICK["every"], eval_every=QUICK["every"],
                 milestones=sorted({max(1, round(m * scale)) for m in t["milestones"]}))
        if r.get("after"):  # the measurement shrinks itself (its test lengths, sums) when told it is quick
            r = {**r, "after": {**r["after"], "args": {**r["after"].get("args", {}), "quick": True}}}
        runs.append({**r, "train": t})
    plan = {**plan, "runs": runs}
    if "heatmap" in plan:
        plan["heatmap"] = {**plan["heatmap"], "cap": QUICK["steps"]}
    return plan


def make_config(plan, seeds):
    """What the cached result must match to be reused: schema, seeds, every run's settings.

    A plan may also name, per run, "after": {"fn": "module.function", "args": {...}} called as
    fn(model, run, seed, **args) on each trained model (its JSON-ready return is stored per seed as
    the series' "extra"), and "chart" / "section": "module.function" to draw it and write its report
    section in place of the default line chart and table. "seeds": N sets its number of seeds when
    --seeds is not given; "stop_at_exact": true ends each run at its first exact evaluation.
    """
    return {"schema": SCHEMA_VERSION, "seeds": list(seeds), "runs": plan["runs"], "heatmap": plan.get("heatmap"),
            **{k: plan[k] for k in ("chart", "section", "stop_at_exact") if k in plan}}


def write_json(path, obj):
    """Temp file + rename: an interrupted write never leaves a torn result."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def load_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


RUN_THREADS = 1  # torch threads per run: fixed, because the thread count changes float sums (and curves)


def _job(args):
    """One (run, seed) in a worker or in-process: the history, without the model."""
    torch.set_num_threads(RUN_THREADS)  # same numbers serial or parallel, whatever --workers is
    run, seed, device, stop_at_exact = args[:4]
    progress = args[4] if len(args) > 4 else None
    hist, model = train_run(ModelConfig(**run["model"]), **run["train"], seed=seed, device=device,
                            stop_at_exact=stop_at_exact, progress=progress)
    if run.get("after"):  # an experiment's own measurement of the trained model, stored per seed as "extra"
        hist["extra"] = experiments.resolve(run["after"]["fn"])(model, run, seed, **run["after"].get("args", {}))
    return hist


def job_cost(run):
    """Rough relative cost of a run, to start the longest ones first."""
    t, m = run["train"], run["model"]
    return t["steps"] * (t["maxlen"] + 1) * max(1, m["num_layers"]) * (4 if m["cell"] == "lstm" else 1)


class Runner:
    """Trains the runs of a plan, serially or in a pool of worker processes made once and reused."""

    def __init__(self, device, workers):
        self.device, self.workers, self.pool = device, workers, None

    def close(self, terminate=False):
        if self.pool is not None:
            self.pool.terminate() if terminate else self.pool.close()
            self.pool.join()
            self.pool = None

    def run(self, eid, plan, seeds, stop_at_exact):
        jobs = [(i, s) for i, _ in enumerate(plan["runs"]) for s in seeds]
        jobs.sort(key=lambda j: -job_cost(plan["runs"][j[0]]))
        total = sum(plan["runs"][i]["train"]["steps"] for i, _ in jobs)
        hists = {}
        with tqdm(total=total, desc=eid, unit="step", dynamic_ncols=True, leave=False) as bar:
            if self.workers <= 1:
                for n, (i, s) in enumerate(jobs, 1):
                    bar.set_postfix_str(f"run {n}/{len(jobs)}: {plan['runs'][i]['label']}, seed {s}")
                    hists[i, s] = _job((plan["runs"][i], s, self.device, stop_at_exact, bar.update))
            else:
                if self.pool is None:  # spawn, not fork: forking a process that already ran torch can hang
                    self.pool = mp.get_context("spawn").Pool(self.workers)
                args = [(plan["runs"][i], s, self.device, stop_at_exact) for i, s in jobs]
                for n, ((i, s), h) in enumerate(zip(jobs, self.pool.imap(_job, args), strict=False), 1):
                    hists[i, s] = h
                    bar.set_postfix_str(f"run {n}/{len(jobs)} done")
                    bar.update(plan["runs"][i]["train"]["steps"])
        return hists


def assemble(eid, plan, config, seeds, hists, device, wall):
    series = []
    for i, r in enumerate(plan["runs"]):
        hs = [hists[i, s] for s in seeds]
        series.append({
            "label": r["label"], "settings": {**r["model"], **r["train"]}, "seeds": list(seeds),
            "steps": hs[0]["eval_steps"], "loss_steps": hs[0]["loss_steps"],
            **{k: [h[k] for h in hs] for k in ("loss", "accuracy", "digit_accuracy", "diverged", "diverged_at",
                                               "first_exact", "first_exact_sec", "steps_run", "sec_per_step")}})
        if r.get("after"):
            series[-1]["extra"] = [h.get("extra") for h in hs]
    result = {"id": eid, "title": plan["title"], "config": config, "series": series,
              "device": device, "torch": torch.__version__, "wall_seconds": wall,
              **{k: plan[k] for k in ("chart", "section") if k in plan}}
    if plan.get("heatmap"):
        hm = plan["heatmap"]
        cells = iter(series)  # runs are row-major over (rows, cols)
        values = [[statistics.median(hm["cap"] if f is None else f for f in next(cells)["first_exact"])
                   for _ in hm["cols"]] for _ in hm["rows"]]
        result["heatmap"] = {**hm, "values": values}
    return result


def run_experiment(eid, out_dir, runner, seeds=None, quick=False, force=False):
    """Train (or reuse from cache) one experiment; write its JSON and PNG; return (result, trained).

    seeds None: the plan's own "seeds" count, else experiments.SEEDS.
    """
    plan = experiments.EXPERIMENTS[eid]()
    if seeds is None:
        seeds = range(plan.get("seeds", experiments.SEEDS))
    if quick:
        plan = quick_plan(plan)
    config = make_config(plan, seeds)
    path = out_dir / f"{eid}.json"
    cached = None if force else load_json(path)
    if cached is not None and cached.get("config") == config:
        result, trained = cached, False
    else:
        t0 = time.perf_counter()
        hists = runner.run(eid, plan, seeds, stop_at_exact="heatmap" in plan or plan.get("stop_at_exact", False))
        result = assemble(eid, plan, config, seeds, hists, runner.device, time.perf_counter() - t0)
        result["workers"] = runner.workers
        write_json(path, result)
        trained = True
    draw = experiments.resolve(result["chart"]) if "chart" in result else plot.draw
    draw(result, out_dir / f"{eid}.png")
    return result, trained


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ids", nargs="*", help="experiments to run (default: all, in order)")
    p.add_argument("--list", action="store_true", help="list the experiment ids and exit")
    p.add_argument("--seeds", type=int, default=None, help=f"seeds per curve (default {experiments.SEEDS})")
    p.add_argument("--force", action="store_true", help="retrain even if a cached result matches")
    p.add_argument("--quick", action="store_true", help="tiny settings into plots/quick/")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 8),
                   help="parallel training processes (1 = in this process)")
    p.add_argument("--out", type=Path, default=None, help="result folder (default plots/ or plots/quick/)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    valid = list(experiments.EXPERIMENTS)
    if args.list:
        print("\n".join(valid))
        return 0
    unknown = [i for i in args.ids if i not in experiments.EXPERIMENTS]
    if unknown:
        print(f"unknown experiment id(s): {', '.join(unknown)}\nvalid ids: {', '.join(valid)}", file=sys.stderr)
        return 2
    n_seeds = args.seeds if args.seeds is not None else (QUICK["seeds"] if args.quick else None)
    if (n_seeds is not None and n_seeds < 1) or args.workers < 1:
        print(f"--seeds and --workers must be >= 1, got {n_seeds} and {args.workers}", file=sys.stderr)
        return 2
    out_dir = args.out or (OUT_DIR / "quick" if args.quick else OUT_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    runner = Runner(resolve_device(args.device), args.workers)
    t0 = time.perf_counter()
    try:
        for eid in args.ids or valid:
            seeds = None if n_seeds is None else range(n_seeds)  # None: the plan's own count
            result, trained = run_experiment(eid, out_dir, runner, seeds, args.quick, args.force)
            how = f"trained in {result['wall_seconds']:.1f}s" if trained else "cached"
            tqdm.write(f"[{eid}] {how}: {report.summary_line(result)}")
    except KeyboardInterrupt:
        runner.close(terminate=True)
        print(f"\ninterrupted: finished experiments are kept in {out_dir}; rerun to resume", file=sys.stderr)
        return 130
    runner.close()
    report.write_report(out_dir, quick=args.quick)
    print(f"done in {time.perf_counter() - t0:.1f}s; report: {out_dir / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
