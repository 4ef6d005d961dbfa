"""Ray backend of the runner: `python source.py --ray [ADDRESS]` trains every (run, seed) as one Ray task.

    python source.py --ray                        a local Ray instance on this machine
    python source.py --ray HOST:6379 lr           a running cluster (or set RAY_ADDRESS)
    python source.py --ray --gpus-per-run 0.25    four runs share each GPU of the cluster

The project's code reaches the workers through Ray's runtime environment (this folder as working_dir,
less the run store, the results and git's data), and each task returns its run's history and weights:
the driver writes them into the run store as each one arrives, so workers need no shared filesystem and
a finished run is never lost. Ray schedules the tasks, one CPU each (every run trains with one torch
thread, runner.RUN_THREADS, so results equal serial ones bitwise). A task whose worker process died is
run again up to MAX_RETRIES times; one that still fails is reported by name once every other task has
finished and been stored. ray.util.multiprocessing.Pool is not used: it hands work to its actors
round-robin (a short run waits behind a long one while another actor idles) and never replaces an
actor that died, so every later run sent to it would fail too.

A cluster whose nodes mix Intel and AMD CPUs gives the results one machine gives: every task runs under the
driver's numerics mode (numerics.env() in its runtime environment), and in the default mode, portable, every x86-64
CPU with AVX2 computes the same bits (machinery/numerics.py). Each task fingerprints its own process, numerics family
included, and refuses to run when it differs from the driver's (runner.check_code): under pinned or native numerics
a node of another vendor or kernel set is refused by name, never mixed in.

Ray is optional: only --ray imports it, and without it --ray is a one-line error (INSTALL).
"""
import os
from pathlib import Path

from machinery import numerics

ROOT = Path(__file__).resolve().parents[1]  # the project root
INSTALL = "pip install ray==2.60.0"  # the version the tests run (requirements-dev.txt)
EXCLUDES = ["store/", "plots/", "__pycache__/", ".pytest_cache/", ".hypothesis/", ".venv/",
            "*.pt"]  # not shipped to the workers: runs, results, caches
MAX_RETRIES = 2  # times a task whose worker process died is run again before it is reported


class ClusterError(RuntimeError):
    """Ray cannot run the study as asked: a one-line message for the user."""


class RayMissing(ClusterError):
    """--ray was asked for but Ray is not installed."""


class TaskFailed(RuntimeError):
    """Runs that failed on the cluster; every other run of the experiment finished and was stored."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayMissing(f"--ray needs Ray, which is not installed here: {INSTALL}") from None
    return ray


def runtime_env(root=ROOT):
    """How the project's code reaches Ray's workers: this folder, uploaded by Ray, as their working directory."""
    return {"working_dir": str(root), "excludes": EXCLUDES, "env_vars": numerics.env()}  # same numerics there


def connect(address=None, num_cpus=None):
    """Join the cluster at `address` (else $RAY_ADDRESS), or start a local instance ("local" or neither).

    Reuses a Ray already initialised in this process. num_cpus caps a local instance (tests use 2).
    """
    ray = import_ray()
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or "local"
        local = {"num_cpus": num_cpus, "include_dashboard": False} if address == "local" else {}
        ray.init(address=address, runtime_env=runtime_env(), logging_level="WARNING", **local)
    return ray


def describe(item):
    """The run an (index, job) item of source.Runner trains, as its progress bar names it."""
    _, job = item
    return f"{job['run']['label']}, seed {job['req']['seed']}"


class RayPool:
    """Jobs as Ray tasks, results in the order they finish: the runner's imap_unordered, close, terminate, join."""

    def __init__(self, ray, gpus_per_run=0):
        self.ray, self.pending = ray, {}
        self.options = {"num_cpus": 1, "max_retries": MAX_RETRIES, **({"num_gpus": gpus_per_run} if gpus_per_run
                                                                        else {})}
        res = ray.cluster_resources()
        if gpus_per_run and not res.get("GPU"):  # the tasks would wait for a GPU forever
            raise ClusterError(f"--gpus-per-run {gpus_per_run}: the Ray cluster has no GPU")
        slots = res.get("CPU", 1) if not gpus_per_run else min(res.get("CPU", 1), res.get("GPU", 0) / gpus_per_run)
        self.slots = max(1, int(slots))  # runs the cluster trains at once (recorded as the result's workers)

    def _next_done(self):
        """The next finished task (Ctrl-C interrupts the wait at once)."""
        done, _ = self.ray.wait(list(self.pending), num_returns=1)
        return done[0]

    def imap_unordered(self, fn, items):
        """fn(item) for every item on the cluster, yielded as each finishes; TaskFailed at the end if any failed."""
        task = self.ray.remote(**self.options)(fn)
        self.pending = {task.remote(item): item for item in items}
        failed = []
        while self.pending:
            ref = self._next_done()
            item = self.pending.pop(ref)
            try:
                out = self.ray.get(ref)
            except self.ray.exceptions.RayError as e:
                failed.append((item, e))
                continue
            yield out
        if failed:
            tries = self.options["max_retries"] + 1
            raise TaskFailed("\n".join(f"run {describe(item)} failed: {reason(self.ray, e, tries)}"
                                        for item, e in failed))

    def close(self):
        self.pending = {}

    def terminate(self):
        """Cancel every task not finished (Ctrl-C): a running one's worker is killed, a queued one never starts."""
        for ref in self.pending:
            self.ray.cancel(ref, force=True)
        self.pending = {}

    def join(self):
        pass


def reason(ray, error, tries):
    """One line for a lost worker; the remote traceback for an error raised by the run's own code."""
    if isinstance(error, ray.exceptions.RayTaskError):
        return str(error)
    lost = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.OutOfMemoryError)
    if isinstance(error, lost):
        return f"its worker process died on each of {tries} tries ({type(error).__name__})"
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def add_arguments(parser):
    """source.py's --ray and --gpus-per-run."""
    parser.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                        help="train on Ray: a local instance, or the cluster at ADDRESS / $RAY_ADDRESS")
    parser.add_argument("--gpus-per-run", type=float, default=0, metavar="F",
                        help="with --ray: GPUs each run asks for (0.25: four runs share a GPU)")


def check_arguments(args, ids):
    """Fix up `--ray pt_main lr` (pt_main is an experiment, not an address); an error message, or None."""
    if args.ray in ids:
        args.ids.insert(0, args.ray)
        args.ray = ""
    if args.gpus_per_run < 0 or (args.gpus_per_run and args.ray is None):
        return f"--gpus-per-run needs --ray and must be >= 0, got {args.gpus_per_run}"
    return None
