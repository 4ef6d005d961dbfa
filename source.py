"""Entry point: `python source.py` runs pt_main and then every experiment of experiments.py.

    python source.py                  everything (cached experiments are only redrawn)
    python source.py lr cells         just those
    python source.py --list           the experiment ids
    python source.py --quick          tiny settings, end to end in about 3 minutes on 2 cores (plots/quick/)
    python source.py --force          retrain even where a cached result matches

Every (run, seed) is looked up in the run store (store.py) first and trained only if missing; each
trained run is written to the store as soon as it finishes, so an interrupted run loses no finished
run. Each experiment's result is then assembled, written to plots/<id>.json (atomically) and drawn
as plots/<id>.png; plots/README.md is regenerated at the end. A result made by other code (its code
fingerprint differs) is never served as current: its runs are retrained, with a line saying why.
"""
import numerics  # noqa: I001 - first: it sets the numerics before torch loads
import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from collections import Counter
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch
from tqdm import tqdm

import cluster
import experiments
import plot
import report
from models import ModelConfig
from store import (
    HISTORY_FIELDS,
    Store,
    StoreError,
    atomic_write,
    changed,
    code_id,
    fingerprint,
    hook_id,
    hook_modules,
    load_json,
    model_from_blob,
    prepare,
    result_problem,
    weights_blob,
)
from train import resolve_device, train_run

SCHEMA_VERSION = 2  # bump when the result JSON changes shape: every cached result is retrained
OUT_DIR = Path(__file__).resolve().parent / "plots"
QUICK = {"seeds": 2, "steps": 100, "every": 20, "maxlen_div": 5}  # --quick: seeds, step cap, interval, maxlen / 5
QUICK_EVAL_SIZE = 100  # --quick: held-out sums per evaluation (the full study's: train.EVAL_SIZE)


def quick_plan(plan):
    """Shrink a plan to the QUICK caps (labels kept, so the chart still names the settings)."""
    runs = []
    for r in plan["runs"]:
        t = dict(r["train"])
        scale = QUICK["steps"] / t["steps"]
        t.update(steps=min(t["steps"], QUICK["steps"]), maxlen=max(1, round(t["maxlen"] / QUICK["maxlen_div"])),
                 loss_every=QUICK["every"], eval_every=QUICK["every"],
                 eval_size=min(t.get("eval_size", QUICK_EVAL_SIZE), QUICK_EVAL_SIZE),
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
    """Temp file + rename (store.atomic_write): an interrupted write never leaves a torn result."""
    atomic_write(path, json.dumps(obj, indent=1).encode())


RUN_THREADS = 1  # torch threads per run: fixed, because the thread count changes float sums (and curves)


def request(run, seed, device, stop):
    """One (run, seed) as the store keys it: model and training settings, seed, device, stop at exact, hook."""
    return {"model": run["model"], "train": run["train"], "seed": seed, "device": device, "stop": stop,
            "after": run.get("after")}


def _job(job):
    """Train and/or measure one (run, seed), in a worker or in-process: (history, measurement, weights).

    With a store path the worker writes the run (and measurement) itself as soon as it has it, so a
    finished run survives whatever happens to the driver; without one (a cluster without a shared
    disk) it returns the weights as bytes for the driver to store.
    """
    torch.set_num_threads(RUN_THREADS)  # same numbers serial or parallel, whatever --workers is
    run, req, todo = job["run"], job["req"], job["todo"]
    check_code(job["fp"], [req["after"]["fn"]] if req["after"] else [])
    st = Store(job["store"], job["fp"]) if job.get("store") else None
    hist = extra = blob = None
    if "train" in todo:
        with st.lock(req) if st is not None else nullcontext():  # one process trains a run; the others wait
            done = None if st is None or job.get("force") else st.stored_run(req)  # another process trained it
            if done is not None:
                hist, blob = done
                model = model_from_blob(req["model"], blob, req["device"]) if "measure" in todo else None
            else:
                hist, model = train_run(ModelConfig(**req["model"]), **req["train"], seed=req["seed"],
                                        device=req["device"], stop_at_exact=req["stop"], progress=job.get("progress"))
                blob = weights_blob(model)
                if st is not None:
                    st.save_run(req, hist, blob)
    else:
        model = model_from_blob(req["model"], job["weights"], req["device"])
    if "measure" in todo:  # an experiment's own measurement of the trained model, stored per seed as "extra"
        extra = experiments.resolve(run["after"]["fn"])(model, run, req["seed"], **run["after"].get("args", {}))
        if st is not None:
            st.save_measure(req, extra)
    return hist, extra, (None if st is not None else blob)


class CodeChanged(RuntimeError):
    """A worker's code is not the code the driver fingerprinted: it refuses to run (its results would be mislabeled)."""


def check_code(fp, hooks):
    """Refuse to train or measure with other code than the driver's fingerprint `fp` (an edit made mid-run)."""
    mine = fingerprint(hooks)
    diff = changed(fp, mine, hooks) if code_id(fp) != code_id(mine) or any(
        hook_id(fp, h) != hook_id(mine, h) for h in hooks) else []
    if diff:
        raise CodeChanged(f"the code changed after this run started ({', '.join(diff)}): rerun to use the new code")


def snapshot(plans):
    """Import every hook the plans name, then fingerprint the code as loaded: once per process, at its start."""
    hooks = sorted({h for plan in plans for h in hook_modules(plan["runs"])})
    for h in hooks:
        experiments.resolve(h)
    return fingerprint(hooks)


def _worker_start(hooks):
    """Pool initializer: load and fingerprint the code now, so a later edit is caught by check_code."""
    for h in hooks:
        experiments.resolve(h)
    fingerprint(hooks)
    numerics.apply()


def job_cost(run):
    """Rough relative cost of a run, to start the longest ones first."""
    t, m = run["train"], run["model"]
    return t["steps"] * (t["maxlen"] + 1) * max(1, m["num_layers"]) * (4 if m["cell"] == "lstm" else 1)


class Runner:
    """Trains what the store lacks of a plan, serially or in a pool of worker processes made once and reused."""

    def __init__(self, device, workers, store=None, pool=None):
        """pool: a cluster's (cluster.RayPool): jobs go there and return their weights, stored here."""
        self.device, self.workers, self.pool, self.remote = device, workers, pool, pool is not None
        self.store = store if store is not None else Store()
        self.trained = self.measured = 0

    def close(self, terminate=False):
        if self.pool is not None:
            self.pool.terminate() if terminate else self.pool.close()
            self.pool.join()
            self.pool = None

    def plan_jobs(self, eid, plan, seeds, stop_at_exact, force):
        """Look every (run, seed) up; return (histories, measurements, jobs): jobs hold what is missing."""
        hists, extras, jobs, stale = {}, {}, {}, Counter()
        for i, run in enumerate(plan["runs"]):
            for s in seeds:
                req = request(run, s, self.device, stop_at_exact)
                hist, has_weights = (None, False) if force else self.store.history(req)
                extra = None if force or not req["after"] else self.store.measure(req)
                if hist is not None:
                    hists[i, s] = hist
                if extra is not None:
                    extras[i, s] = extra
                measure = req["after"] is not None and extra is None
                todo = (("train",) if hist is None or (measure and not has_weights) else ()) + (
                    ("measure",) if measure else ())
                if not todo:
                    continue
                if hist is None and not force:
                    stale[tuple(self.store.stale_reason(req))] += 1
                folder, stem = self.store._run_stem(req)
                key = (str(folder / stem), json.dumps(req["after"], sort_keys=True), todo)  # identical runs: one job
                job = jobs.setdefault(key, {"run": run, "req": req, "todo": todo, "keys": [], "fp": self.store.fp,
                                            "store": None if self.remote else str(self.store.root), "force": force})
                job["keys"].append((i, s))
        for files, n in stale.items():
            if files:
                tqdm.write(f"[{eid}] {', '.join(files)} changed since {n} of its runs were stored: retraining them")
        return hists, extras, list(jobs.values())

    def run(self, eid, plan, seeds, stop_at_exact, force=False):
        """Histories and measurements of every (run index, seed): from the store, else trained now."""
        hists, extras, jobs = self.plan_jobs(eid, plan, seeds, stop_at_exact, force)
        for job in jobs:
            if job["todo"] == ("measure",):
                job["weights"] = self.store.weights(job["req"])
        jobs.sort(key=lambda j: -job_cost(j["run"]))
        self.trained = sum("train" in j["todo"] for j in jobs)
        self.measured = sum("measure" in j["todo"] for j in jobs)
        with tqdm(total=len(jobs), desc=eid, unit="run", dynamic_ncols=True, leave=False, disable=None) as bar:
            if self.workers <= 1 and not self.remote:
                def progress(k, job):  # in-process: the bar moves by the fraction of the run's steps done
                    done = [0]

                    def update(n):
                        done[0] += n
                        bar.n = k + min(1.0, done[0] / job["run"]["train"]["steps"])
                        bar.refresh()
                    return update

                results = ((j, _job({**j, "progress": progress(k, j)})) for k, j in enumerate(jobs))
            else:
                if self.pool is None:  # spawn, not fork: forking a process that already ran torch can hang
                    hooks = sorted(self.store.fp.get("hooks") or {})
                    self.pool = mp.get_context("spawn").Pool(self.workers, _worker_start, (hooks,))
                done = self.pool.imap_unordered(_indexed_job, list(enumerate(jobs)))
                results = ((jobs[n], out) for n, out in done)
            for n, (job, (hist, extra, blob)) in enumerate(results, 1):
                if blob is not None:
                    self.store.save_run(job["req"], hist, blob)
                    if extra is not None:
                        self.store.save_measure(job["req"], extra)
                for key in job["keys"]:
                    if hist is not None:
                        hists[key] = hist
                    if extra is not None:
                        extras[key] = extra
                bar.n = n  # whole runs done
                bar.set_postfix_str(f"{job['run']['label']}, seed {job['req']['seed']}", refresh=True)
        return hists, extras


def _indexed_job(item):
    n, job = item
    return n, _job(job)


def assemble(eid, plan, config, seeds, hists, device, wall, extras=None):
    series = []
    for i, r in enumerate(plan["runs"]):
        hs = [hists[i, s] for s in seeds]
        series.append({
            "label": r["label"], "settings": {**r["model"], **r["train"]}, "seeds": list(seeds),
            "steps": hs[0]["eval_steps"], "loss_steps": hs[0]["loss_steps"],
            **{k: [h[k] for h in hs] for k in HISTORY_FIELDS}})
        if r.get("after"):
            series[-1]["extra"] = [(extras or {}).get((i, s)) for s in seeds]
    result = {"id": eid, "title": plan["title"], "config": config, "series": series,
              "device": device, "torch": torch.__version__, "wall_seconds": wall,
              **{k: plan[k] for k in ("chart", "section") if k in plan}}
    if plan.get("heatmap"):  # runs are row-major over (rows, cols); plot.heatmap_cells reads the cells from them
        result["heatmap"] = plan["heatmap"]
    return result


def run_experiment(eid, out_dir, runner, seeds=None, quick=False, force=False):
    """One experiment from the store (training only the runs it lacks); write its JSON and PNG.

    Returns (result, runs trained now; None: the stored result was reused whole).
    seeds None: the plan's own "seeds" count, else experiments.SEEDS.
    A stored result whose config and code fingerprint equal the current ones is only redrawn.
    """
    plan = experiments.EXPERIMENTS[eid]()
    if seeds is None:
        seeds = range(plan.get("seeds", experiments.SEEDS))
    if quick:
        plan = quick_plan(plan)
    config = make_config(plan, seeds)
    fp = fingerprint(hook_modules(plan["runs"]))
    path = out_dir / f"{eid}.json"
    problem, kept = damaged_result(path), sorted(out_dir.glob(f"{eid}.json.damaged*"))
    if problem is not None:
        kept = [set_aside_result(path)]
        tqdm.write(f"[{eid}] {path} is damaged ({problem}): set aside as {kept[0].name}; rebuilding it from the run "
                   f"store and training only, with no runs taken from other results", file=sys.stderr)
    elif kept and not path.exists():
        tqdm.write(f"[{eid}] rebuilding {path.name} from the run store and training only (its damaged copy is set "
                   f"aside as {kept[-1].name})", file=sys.stderr)
    # a damaged result is rebuilt from this store's own runs: runs read from other JSONs could be another machine's
    rebuild = bool(kept) and not path.exists()
    cached = None if force else load_json(path)
    if cached is not None and cached.get("config") == config and cached.get("fingerprint") == fp:
        result, trained = cached, None
    else:
        t0 = time.perf_counter()
        stop = "heatmap" in plan or plan.get("stop_at_exact", False)
        with own_runs_only(runner.store) if rebuild else nullcontext():
            hists, extras = runner.run(eid, plan, seeds, stop_at_exact=stop, force=force)
        result = assemble(eid, plan, config, seeds, hists, runner.device, time.perf_counter() - t0, extras)
        trained = runner.trained
        result.update(workers=runner.workers, code=code_id(fp), fingerprint=fp, runs_planned=len(plan["runs"]) * len(
            seeds), runs_trained=trained, measured=runner.measured)
        write_json(path, result)
    draw = experiments.resolve(result["chart"]) if "chart" in result else plot.draw
    draw(result, out_dir / f"{eid}.png")
    return result, trained


@contextmanager
def own_runs_only(store):
    """Within it, the store serves histories and measurements from its own entries, none read from result JSONs."""
    saved = store.index, store.index_measures
    store.index, store.index_measures = {}, {}
    try:
        yield store
    finally:
        store.index, store.index_measures = saved


def damaged_result(path):
    """Why the result JSON at `path` is not a whole result (None: it is one, or there is none)."""
    if not path.exists():
        return None
    try:
        return result_problem(json.loads(path.read_bytes()))
    except ValueError:
        return "not valid JSON"


def set_aside_result(path):
    """Rename a damaged result to <id>.json.damaged (never deleted: git or the user may want it); its new path."""
    dst, n = path.with_name(f"{path.name}.damaged"), 1
    while dst.exists():
        n += 1
        dst = path.with_name(f"{path.name}.damaged{n}")
    os.replace(path, dst)
    return dst


def set_aside_damaged(out_dir, ids):
    """Set aside the damaged results of these experiments (not run now), each named in one line."""
    for eid in ids:
        problem = damaged_result(out_dir / f"{eid}.json")
        if problem is not None:
            kept = set_aside_result(out_dir / f"{eid}.json")
            print(f"[{eid}] {out_dir / eid}.json is damaged ({problem}): set aside as {kept.name} and left out of "
                  f"the report; `python source.py {eid}` rebuilds it from the run store", file=sys.stderr)


def refusal(args):
    """Why these arguments cannot run, in one line, found before anything trains or is written (None: they can)."""
    if not (args.gpus_per_run and args.device == "auto"):  # with GPUs per run, the cluster's workers have them
        try:
            resolve_device(args.device)
        except ValueError as e:  # cuda asked for on a machine without it
            return str(e)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        return f"--out {args.out} is a file, not a folder"
    try:
        prepare(args.store)
    except StoreError as e:
        return str(e)
    return None


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
    p.add_argument("--store", type=Path, default=None,
                   help="run store folder (default: $ADDER_STORE or ./store; `python store.py` manages it)")
    p.add_argument("--numerics", choices=numerics.MODES, default=None,
                   help="pinned (default: the same numbers on every x86-64 CPU with AVX2) or native (torch's "
                        "own kernel choice for this CPU); also $ADDER_NUMERICS. See numerics.py")
    cluster.add_arguments(p)
    return p.parse_args(argv)


def switch_numerics(value):
    """--numerics: the mode must be set before torch picks kernels, so the script restarts itself in it."""
    if value is None or value == numerics.mode():
        return None
    if __name__ != "__main__":
        return (f"--numerics {value}: set {numerics.ENV}={value} before Python starts "
                f"(this process runs {numerics.mode()})")
    env = {k: v for k, v in os.environ.items() if k not in numerics.PINNED_ENV}
    env[numerics.ENV] = value
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main(argv=None):
    args = parse_args(argv)
    bad_numerics = switch_numerics(args.numerics)
    try:
        numerics.apply()
    except numerics.NumericsError as e:  # an unknown ADDER_NUMERICS, or torch loaded with other kernels
        bad_numerics = bad_numerics or str(e)
    if bad_numerics:
        print(bad_numerics, file=sys.stderr)
        return 2
    valid = list(experiments.EXPERIMENTS)
    bad_ray = cluster.check_arguments(args, valid)
    if args.list:
        print("\n".join(valid))
        return 0
    unknown = [i for i in args.ids if i not in experiments.EXPERIMENTS]
    if unknown:
        print(f"unknown experiment id(s): {', '.join(unknown)}; valid ids: {', '.join(valid)}", file=sys.stderr)
        return 2
    n_seeds = args.seeds if args.seeds is not None else (QUICK["seeds"] if args.quick else None)
    if (n_seeds is not None and n_seeds < 1) or args.workers < 1 or bad_ray:
        print(bad_ray or f"--seeds and --workers must be >= 1, got {n_seeds} and {args.workers}", file=sys.stderr)
        return 2
    try:  # a constant of experiments.py that no run can use: one line, before anything trains
        experiments.check(args.ids or valid)
    except experiments.ConstantError as e:
        print(f"experiments.py: {e}", file=sys.stderr)
        return 2
    try:  # --ray: every (run, seed) is a Ray task; this process stores what they return
        pool = None if args.ray is None else cluster.RayPool(cluster.connect(args.ray), args.gpus_per_run)
    except cluster.ClusterError as e:  # Ray not installed, or no GPU for --gpus-per-run
        print(e, file=sys.stderr)
        return 2
    problem = refusal(args)  # before anything trains: a run is never trained only to be lost
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    out_dir = args.out or (OUT_DIR / "quick" if args.quick else OUT_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = args.ids or valid
    store = Store(args.store, snapshot([experiments.EXPERIMENTS[eid]() for eid in ids]))  # the code, once
    store.add_results(out_dir)  # the runs of results already there (e.g. committed ones) are not retrained
    set_aside_damaged(out_dir, [i for i in valid if args.ids and i not in args.ids])  # those run: run_experiment's
    device = "cuda" if args.gpus_per_run and args.device == "auto" else resolve_device(args.device)  # GPUs: workers'
    runner = Runner(device, pool.slots if pool else args.workers, store, pool)
    t0 = time.perf_counter()
    planned = trained_total = 0
    try:
        for eid in ids:
            seeds = None if n_seeds is None else range(n_seeds)  # None: the plan's own count
            result, trained = run_experiment(eid, out_dir, runner, seeds, args.quick, args.force)
            n = len(result["series"]) * len(result["config"]["seeds"])
            planned, trained_total = planned + n, trained_total + (trained or 0)
            how = ("cached" if trained is None else f"all {n} runs from the store" if not trained else
                   f"trained {trained} of {n} runs in {result['wall_seconds']:.1f}s")
            tqdm.write(f"[{eid}] {how}: {report.summary_line(result)}")
    except KeyboardInterrupt:
        runner.close(terminate=True)
        print(f"\ninterrupted: finished runs are kept in {store.root}; rerun to resume", file=sys.stderr)
        return 130
    except CodeChanged as e:
        runner.close(terminate=True)
        print(f"[{eid}] {e}", file=sys.stderr)
        return 2
    except cluster.TaskFailed as e:
        runner.close(terminate=True)
        print(f"[{eid}] {e}\nthe other runs are kept in {store.root}; rerun to retry", file=sys.stderr)
        return 1
    runner.close()
    report.write_report(out_dir, quick=args.quick)
    print(f"done in {time.perf_counter() - t0:.1f}s: trained {trained_total} of {planned} runs; "
          f"report: {out_dir / 'README.md'}; store: {store.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
