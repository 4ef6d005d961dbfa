"""The runner: trains and measures what the run store lacks of a plan, and assembles each experiment's result.

run_experiment(eid, ...) plans one experiment (experiments.py), looks every (run, seed) up in the store
(machinery/store.py), trains the missing ones serially, in a pool of worker processes or on a Ray cluster
(machinery/cluster.py), calls each run's "after" hook (a function the plan holds) on its trained model, writes
plots/<id>.json (atomically) and draws plots/<id>.png. Nothing here decides a number: the runs are train.train_run's,
the measurements the hooks'.
"""
import json
import multiprocessing as mp
import os
import sys
import time
from collections import Counter
from contextlib import contextmanager, nullcontext

import torch
from tqdm import tqdm

import experiments
from machinery import numerics, plans
from machinery.entries import HISTORY_FIELDS, model_from_blob, result_problem, weights_blob
from machinery.fingerprint import changed, code_id, fingerprint, hook_id, same_code
from machinery.store import TIMING, Store, atomic_write, load_json
from models import ModelConfig
from train import train_run

SCHEMA_VERSION = 2  # bump when the result JSON changes shape: every cached result is retrained



def make_config(plan, seeds):
    """What the cached result must match to be reused: schema, seeds, every run's settings (and its hook, chart
    and section by short name: plans.recorded).

    The plan format is machinery/plans.py's docstring.
    """
    plan = plans.recorded(plan)
    return {"schema": SCHEMA_VERSION, "seeds": list(seeds), "runs": plan["runs"], "heatmap": plan.get("heatmap"),
            **{k: plan[k] for k in ("chart", "section", "stop_at_exact") if k in plan}}


def write_json(path, obj):
    """Temp file + rename (store.atomic_write): an interrupted write never leaves a torn result."""
    atomic_write(path, json.dumps(obj, indent=1).encode())


RUN_THREADS = 1  # torch threads per run: fixed, because the thread count changes float sums (and curves)


def request(run, seed, device, stop):
    """One (run, seed) as the store keys it: model and training settings, seed, device, stop at exact, hook (by
    short name, with its arguments: plans.after)."""
    return {"model": run["model"], "train": run["train"], "seed": seed, "device": device, "stop": stop,
            "after": plans.after(run.get("after"))}


def run_job(job):
    """Train and/or measure one (run, seed), in a worker or in-process: (history, measurement, weights).

    With a store path the worker writes the run (and measurement) itself as soon as it has it, so a
    finished run survives whatever happens to the driver; without one (a cluster without a shared
    disk) it returns the weights as bytes for the driver to store.
    """
    torch.set_num_threads(RUN_THREADS)  # same numbers serial or parallel, whatever --workers is
    numerics.apply()  # the kernels every machine runs (or an error if torch was loaded with others)
    run, req, todo = job["run"], job["req"], job["todo"]
    check_code(job["fp"], list(plans.hooks([run]).values()))
    st = Store(job["store"], job["fp"]) if job.get("store") else None
    hist = extra = blob = None
    if "train" in todo:
        with st.lock(req) if st is not None else nullcontext():  # one process trains a run; the others wait
            done = None if st is None or job.get("force") else st.stored_run(req)  # another process trained it
            if done is not None:
                hist, blob = done
                if "measure" in todo:
                    model, state = model_from_blob(req["model"], blob, req["device"])
            else:
                hist, model, state = train_run(ModelConfig(**req["model"]), **req["train"], seed=req["seed"],
                                               device=req["device"], stop_at_exact=req["stop"],
                                               progress=job.get("progress"))
                blob = weights_blob(model, state)
                if st is not None:
                    st.save_run(req, hist, blob)
    else:
        model, state = model_from_blob(req["model"], job["weights"], req["device"])
    if "measure" in todo:  # an experiment's own measurement of the trained model, stored per seed as "extra"
        extra = run["after"](model, state, run, req["seed"])
        if st is not None:
            st.save_measure(req, extra)
    return hist, extra, (None if st is not None else blob)


class CodeChanged(RuntimeError):
    """A worker's code is not the code the driver fingerprinted: it refuses to run (its results would be mislabeled)."""


def check_code(fp, hooks):
    """Refuse to train or measure with other code than the driver's fingerprint `fp` (an edit made mid-run).

    hooks: the hook functions the job calls."""
    mine = fingerprint(hooks)
    if fp.get("numerics") != mine.get("numerics"):  # a node of another CPU kind, outside the portable mode
        raise CodeChanged(f"this process computes numerics family {mine.get('numerics')}, the driver's runs "
                          f"{fp.get('numerics')}: run both in one mode (ADDER_NUMERICS=portable gives every x86-64 "
                          f"CPU the same numbers)")
    hooks = [plans.short(h) for h in hooks]
    diff = changed(fp, mine, hooks) if code_id(fp) != code_id(mine) or any(
        hook_id(fp, h) != hook_id(mine, h) for h in hooks) else []
    if diff:
        raise CodeChanged(f"the code changed after this run started ({', '.join(diff)}): rerun to use the new code")


def snapshot(planned):
    """Fingerprint the code as loaded, with every hook the plans hold: once per process, at its start."""
    return fingerprint(plans.hooks([r for plan in planned for r in plan["runs"]]).values())


def every_hook():
    """{short name: function} of the "after" hooks of every plan of experiments.py."""
    return plans.hooks([r for plan in experiments.EXPERIMENTS.values() for r in plan()["runs"]])


def _worker_start(hooks):
    """Pool initializer: load and fingerprint the code now (the hook functions: unpickling them imports their
    modules), so a later edit is caught by check_code."""
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
        hists, extras, jobs, why = {}, {}, {}, Counter()
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
                folder, stem = self.store.run_entry(req)
                key = (str(folder / stem), json.dumps(req["after"], sort_keys=True), todo)  # identical runs: one job
                if key not in jobs and "train" in todo:  # why it trains, said once per run below
                    why[("force",) if force else ("weights",) if hist is not None else
                        ("changed", *self.store.stale_reason(req))] += 1
                elif key not in jobs:  # trained and kept: only its measurement is made (again)
                    why[("measure",)] += 1
                job = jobs.setdefault(key, {"run": run, "req": req, "todo": todo, "keys": [], "fp": self.store.fp,
                                            "store": None if self.remote else str(self.store.root), "force": force})
                job["keys"].append((i, s))
        for reason, n in why.items():
            tqdm.write(f"[{eid}] {training_reason(eid, reason, n)}")
        return hists, extras, list(jobs.values())

    def run(self, eid, plan, seeds, stop_at_exact, force=False):
        """Histories and measurements of every (run index, seed): from the store, else trained now."""
        hists, extras, jobs = self.plan_jobs(eid, plan, seeds, stop_at_exact, force)
        for job in jobs:
            if job["todo"] == ("measure",):
                job["weights"] = self.store.weights(job["req"])
        jobs.sort(key=lambda j: -job_cost(j["run"]))
        self.trained = len({self.store.run_entry(j["req"]) for j in jobs if "train" in j["todo"]})  # one run measured
        # twice (two hooks or arguments) is two jobs that train it once: the second finds it stored
        self.measured = sum("measure" in j["todo"] for j in jobs)
        t0 = time.perf_counter()
        with tqdm(total=len(jobs), desc=eid, unit="run", dynamic_ncols=True, leave=False, disable=None) as bar:
            if self.workers <= 1 and not self.remote:
                def progress(k, job):  # in-process: the bar moves by the fraction of the run's steps done
                    done = [0]

                    def update(n):
                        done[0] += n
                        bar.n = k + min(1.0, done[0] / job["run"]["train"]["steps"])
                        bar.refresh()
                    return update

                results = ((j, run_job({**j, "progress": progress(k, j)})) for k, j in enumerate(jobs))
            else:
                if self.pool is None:  # spawn, not fork: forking a process that already ran torch can hang
                    fps = self.store.fp.get("hooks") or {}  # every hook of the plans the driver fingerprinted
                    hooks = [fn for h, fn in every_hook().items() if h in fps]
                    self.pool = mp.get_context("spawn").Pool(self.workers, _worker_start, (hooks,))
                done = self.pool.imap_unordered(indexed_job, list(enumerate(jobs)))
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
                if bar.disable:  # off a terminal (a log, CI, nohup): a line per finished run instead of the bar
                    print(f"[{eid}] {n}/{len(jobs)} done: {job['run']['label']}, seed {job['req']['seed']} "
                          f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        return hists, extras


def training_reason(eid, reason, n):
    """One line saying why `n` runs of experiment `eid` train now: reason = ("force",), ("weights",) or ("changed",
    *files that changed since the runs were stored; none: the runs were never trained); ("measure",): they only get
    measured."""
    runs = f"{n} run{'s' if n != 1 else ''}"
    if reason[0] == "measure":
        return (f"{runs} trained and kept but not measured by the current code of its hooks (or with these settings): "
                "measuring them from their stored weights")
    if reason[0] == "force":
        return f"--force: retraining {runs}"
    if reason[0] == "weights":
        return f"weights are not in the repository or the store: retraining {runs} for {eid}'s measurements"
    if len(reason) > 1:
        return f"{', '.join(reason[1:])} changed since {n} of its runs were stored: retraining them"
    return f"{runs} not trained before: training them"


def indexed_job(item):
    n, job = item
    return n, run_job(job)


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
              "device": device, "torch": torch.__version__, "numerics": numerics.describe(), "wall_seconds": wall,
              **{k: plans.short(plan[k]) for k in ("chart", "section") if k in plan}}
    if plan.get("heatmap"):  # runs are row-major over (rows, cols); plot.heatmap_cells reads the cells from them
        result["heatmap"] = plan["heatmap"]
    return result


def planned(eid, quick=False):
    """Experiment `eid`'s plan, shrunk to experiments.QUICK's caps when quick, its title's {setting} fields filled in
    from the settings of its first run: a title names what is trained (--quick's maxlen, not the full study's)."""
    plan = experiments.EXPERIMENTS[eid]()
    if quick:
        plan = plans.shrink(plan, experiments.QUICK, experiments.QUICK_EVAL_SIZE)
    return {**plan, "title": plan["title"].format(**plans.settings_of(plan["runs"][0]))}


def run_experiment(eid, out_dir, runner, seeds=None, quick=False, force=False):
    """One experiment from the store (training only the runs it lacks); write its JSON and PNG.

    Returns (result, runs trained now; None: the stored result was reused whole).
    seeds None: the plan's own "seeds" count, else experiments.SEEDS.
    A stored result whose config and code fingerprint equal the current ones is only redrawn.
    """
    plan = planned(eid, quick)
    if seeds is None:
        seeds = range(plan.get("seeds", experiments.SEEDS))
    config = make_config(plan, seeds)
    fp = fingerprint(plans.hooks(plan["runs"]).values())
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
    if cached is not None and cached.get("config") == config and same_code(cached.get("fingerprint"), fp):
        result, trained = cached, None
    else:
        t0 = time.perf_counter()
        stop = plans.stops_at_exact(plan)
        with own_runs_only(runner.store) if rebuild else nullcontext():
            hists, extras = runner.run(eid, plan, seeds, stop_at_exact=stop, force=force)
        result = assemble(eid, plan, config, seeds, hists, runner.device, time.perf_counter() - t0, extras)
        trained = runner.trained
        result.update(workers=runner.workers, code=code_id(fp), fingerprint=fp, runs_planned=len(plan["runs"]) * len(
            seeds), runs_trained=trained, measured=runner.measured)
        if not trained:  # nothing trained now: the result keeps the timing of the session that trained its runs
            result.update(training_record(cached if cached is not None else load_json(path), result["code"])
                          or runner.store.timings.get(eid, {}))
        write_json(path, result)
    if plan.get("keep"):  # a file the hooks made (a certificate), written beside the result: charts only draw
        plan["keep"](result, out_dir)
    plans.chart(plan)(result, out_dir / f"{eid}.png")
    return result, trained


def training_record(result, code):
    """The timing fields (TIMING) of an earlier result made by the same code, or None: what its training cost."""
    if not isinstance(result, dict) or result.get("code") != code:
        return None
    return {k: result[k] for k in TIMING if k in result}


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
