"""Entry point: `python source.py` runs pt_main and then every experiment of experiments.py.

    python source.py                  everything (cached experiments are only redrawn)
    python source.py lr cells         just those
    python source.py --list           one line per experiment: its id and what it measures
    python source.py --quick          tiny settings end to end (plots/quick/): checks the pipeline, not results
    python source.py --force          retrain even where a cached result matches

Thin: it parses the arguments, runs each experiment through machinery/runner.py and writes the report
(report/page.py). Every (run, seed) is looked up in the run store (machinery/store.py) first and
trained only if missing; each trained run is written to the store as soon as it finishes, so an
interrupted run loses no finished run. Each experiment's result is then assembled, written to
plots/<id>.json (atomically) and drawn as plots/<id>.png; plots/README.md is regenerated at the end. A result
made by other code (its code fingerprint differs) is never served as current: its runs are retrained, with a
line saying why.
"""
from machinery import numerics  # noqa: I001 - first: it sets the numerics before torch loads
import argparse
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

import experiments
from machinery import checks, cluster, plans
from machinery.runner import CodeChanged, Runner, planned, run_experiment, set_aside_damaged, snapshot
from machinery.store import Store, StoreError, prepare
from judge import tables
from report import page
from train import resolve_device

OUT_DIR = Path(__file__).resolve().parent / "plots"  # results, charts and the report (--out moves them)
COMMITTED_FAMILY = "portable"  # the numerics family of the results plots/ holds (machinery/numerics.py)
COMMITTED_DEVICE = "cpu"  # and their device


def results_folder(args, ids, n_seeds, device):
    """(folder the results go to, a line saying why it is not plots/, or None).

    plots/ holds the study as `python source.py` runs it. A run that would give other results for the same
    experiments (other seed counts, another numerics family, another device) never replaces them there: another
    family's go to plots/families/<family>/ (report/other_numerics.py reads them), other seeds or devices to
    plots/variants/<what>/; --force writes into plots/ all the same, --out wherever it says.
    """
    if args.quick or (args.out is not None and args.out.resolve() != OUT_DIR.resolve()):
        return args.out or OUT_DIR / "quick", None
    family = numerics.family()
    seeds = sorted({planned(eid).get("seeds", experiments.SEEDS) for eid in ids})
    other = [f"--seeds {n_seeds}"] if n_seeds is not None and seeds != [n_seeds] else []
    other += [f"numerics {family}"] if family != COMMITTED_FAMILY else []
    other += [f"device {device}"] if device != COMMITTED_DEVICE else []
    if not other or args.force:
        return OUT_DIR, None
    folder = OUT_DIR / "families" / family if family != COMMITTED_FAMILY else OUT_DIR
    variant = ([f"seeds-{n_seeds}"] if other[0].startswith("--seeds") else []) + (
        [device] if device != COMMITTED_DEVICE else [])
    if variant:
        folder = OUT_DIR / "variants" / "-".join(([family] if family != COMMITTED_FAMILY else []) + variant)
    where = folder.relative_to(OUT_DIR.parent)
    return folder, (f"{' and '.join(other)}: results go to {where}/, not plots/, whose committed results stay as they "
                    f"are (--force writes into plots/, --out DIR anywhere)")


def refusal(args, out_dir):
    """Why these arguments cannot run, in one line, found before anything trains (None: they can). The result
    folder is made here (the one thing written), so a folder that cannot be made is refused before training."""
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
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # /proc/x, a path under a file, a read-only disk
        return f"--out {out_dir}: cannot make this folder ({e.strerror}); give a folder that can be written"
    if not os.access(out_dir, os.W_OK | os.X_OK):
        return f"--out {out_dir}: this folder cannot be written to; give a folder that can be written"
    return None


class Help(argparse.RawDescriptionHelpFormatter):
    """The module docstring as written, and each option's default after its help (unless the help gives it)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, argparse.SUPPRESS) or action.default is False or (
                not action.option_strings):
            return text
        return f"{text} (default: %(default)s)"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: a terminated run stops as an interrupted one does (workers ended,
    finished runs kept, one line), with exit code 143 (128 + SIGTERM, as a shell reports a process it ended)."""


def _terminated(signum, frame):
    raise Terminated


@contextmanager
def sigterm_as_interrupt():
    """Within it, SIGTERM raises Terminated instead of killing the process at once (which leaves the pool's
    workers writing to a closed pipe and its semaphores unreleased)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=Help)
    p.add_argument("ids", nargs="*", help="experiments to run (default: all, in order; --list names them)")
    p.add_argument("--list", action="store_true",
                   help="print one line per experiment (its id and what it measures; only the ids given, if any) "
                        "and exit")
    p.add_argument("--seeds", type=int, default=None,
                   help=f"seeds per curve (default: the experiment's own count, {experiments.SEEDS} unless its plan "
                        f"sets one; {experiments.QUICK['seeds']} with --quick)")
    p.add_argument("--force", action="store_true", help="retrain even if a cached result matches (and with --seeds, "
                   "another numerics family or device, write into plots/ all the same)")
    q = experiments.QUICK
    p.add_argument("--quick", action="store_true",
                   help=f"tiny settings ({q['seeds']} seeds, at most {q['steps']} steps, maxlen / {q['maxlen_div']}) "
                        "into plots/quick/: checks the pipeline end to end; its numbers are not the study's")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where runs train: cpu, cuda, or auto: cuda when torch sees a GPU, else cpu; the committed "
                        "results are CPU ones")
    p.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 8),
                   help="parallel training processes (1 = in this process; default: %(default)s, this machine's "
                        "CPU count, at most 8)")
    p.add_argument("--out", type=Path, default=None, help="result folder (default plots/ or plots/quick/)")
    p.add_argument("--store", type=Path, default=None,
                   help="run store folder (default: $ADDER_STORE or ./store; `python -m machinery.store` manages it)")
    p.add_argument("--numerics", choices=numerics.MODES, default=None,
                   help="portable (default: the same numbers on every x86-64 CPU with AVX2, Intel or AMD), "
                        "pinned (faster, the same numbers on Intel CPUs) or native (this CPU's own kernels, "
                        "fastest); also $ADDER_NUMERICS. See machinery/numerics.py")
    cluster.add_arguments(p)
    return p.parse_args(argv)


def describe(plan):
    """What an experiment varies and measures, in one line: its title, with the quantity of the plain charts."""
    if "heatmap" in plan:
        hm = plan["heatmap"]
        return f"{plan['title']}: median over seeds, by {hm['row_name']} x {hm['col_name']}"
    if "chart" not in plan:  # plot.line_chart: the two line panels
        return f"{plan['title']}: training loss and held-out exact-match accuracy vs step"
    return plan["title"]


def switch_numerics(value):
    """--numerics: the mode must be set before torch picks kernels, so the script restarts itself in it."""
    if value is None or value == numerics.mode():
        return None
    if __name__ != "__main__":
        return (f"--numerics {value}: set {numerics.ENV}={value} before Python starts "
                f"(this process runs {numerics.mode()})")
    os.execve(sys.executable, [sys.executable, *sys.argv], numerics.clean_env(value))


def main(argv=None):
    """Run the study (study()); a Ctrl-C or SIGTERM outside its training loop also ends in one line."""
    with sigterm_as_interrupt():
        try:
            return study(argv)
        except KeyboardInterrupt as e:  # before or after the training loop: nothing trains, nothing to stop
            print("terminated (SIGTERM)" if isinstance(e, Terminated) else "\ninterrupted", file=sys.stderr)
            return 143 if isinstance(e, Terminated) else 130


def study(argv):
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
    unknown = [i for i in args.ids if i not in experiments.EXPERIMENTS]
    if unknown:
        print(f"unknown experiment id(s): {', '.join(unknown)}; valid ids: {', '.join(valid)}", file=sys.stderr)
        return 2
    if args.list:
        width = max(map(len, valid))
        print("\n".join(f"{eid:<{width}}  {describe(planned(eid, args.quick))}"
                        for eid in args.ids or valid))
        return 0
    bad = [f"{flag} must be an integer >= 1, got {value}"
           for flag, value in (("--seeds", args.seeds), ("--workers", args.workers)) if value is not None and value < 1]
    if bad or bad_ray:
        print("; ".join(bad) or bad_ray, file=sys.stderr)
        return 2
    n_seeds = args.seeds if args.seeds is not None else (experiments.QUICK["seeds"] if args.quick else None)
    try:  # a constant of experiments.py that no run can use: one line, before anything trains
        checks.check(args.ids or valid)
    except plans.ConstantError as e:
        print(f"experiments.py: {e}", file=sys.stderr)
        return 2
    try:  # --ray: every (run, seed) is a Ray task; this process stores what they return
        pool = None if args.ray is None else cluster.RayPool(cluster.connect(args.ray), args.gpus_per_run)
    except cluster.ClusterError as e:  # Ray not installed, or no GPU for --gpus-per-run
        print(e, file=sys.stderr)
        return 2
    out_dir = args.out or (OUT_DIR / "quick" if args.quick else OUT_DIR)
    problem = refusal(args, out_dir)  # before anything trains: a run is never trained only to be lost
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    ids = args.ids or valid
    device = "cuda" if args.gpus_per_run and args.device == "auto" else resolve_device(args.device)  # GPUs: workers'
    out_dir, moved = results_folder(args, ids, n_seeds, device)
    if moved:
        print(moved, file=sys.stderr)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = Store(args.store, snapshot([experiments.EXPERIMENTS[eid]() for eid in ids]))  # the code, once
    for folder in dict.fromkeys([OUT_DIR, out_dir]):  # the committed results' runs serve whatever --out says
        store.add_results(folder)  # the runs of results already there are not retrained
    set_aside_damaged(out_dir, [i for i in valid if args.ids and i not in args.ids])  # those run: run_experiment's
    runner = Runner(device, pool.slots if pool else args.workers, store, pool)
    t0 = time.perf_counter()
    n_planned = trained_total = 0
    eid = ids[0]
    try:
        for eid in ids:
            seeds = None if n_seeds is None else range(n_seeds)  # None: the plan's own count
            result, trained = run_experiment(eid, out_dir, runner, seeds, args.quick, args.force)
            n = len(result["series"]) * len(result["config"]["seeds"])
            n_planned, trained_total = n_planned + n, trained_total + (trained or 0)
            how = ("cached" if trained is None else f"all {n} runs from the store" if not trained else
                   f"trained {trained} of {n} runs in {result['wall_seconds']:.1f}s")
            tqdm.write(f"[{eid}] {how}: {tables.summary_line(result)}")
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (Terminated): the same clean stop
        runner.close(terminate=True)
        how = "terminated (SIGTERM)" if isinstance(e, Terminated) else "\ninterrupted"
        print(f"{how} in [{eid}]: finished runs are kept in {store.root}; rerun to resume", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    except CodeChanged as e:
        runner.close(terminate=True)
        print(f"[{eid}] {e}", file=sys.stderr)
        return 2
    except cluster.TaskFailed as e:
        runner.close(terminate=True)
        print(f"[{eid}] {e}\nthe other runs are kept in {store.root}; rerun to retry", file=sys.stderr)
        return 1
    runner.close()
    page.write_report(out_dir, quick=args.quick, reuse=True)
    print(f"done in {time.perf_counter() - t0:.1f}s: trained {trained_total} of {n_planned} runs; "
          f"report: {out_dir / 'README.md'}; store: {store.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
