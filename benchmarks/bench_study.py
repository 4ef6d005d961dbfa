"""The whole study: wall time, training steps and achieved FLOP rate per experiment, against the machine.

    python -m benchmarks.bench_study                              the study from an empty run store, tabulated
    python -m benchmarks.bench_study --quick --workers 2 pt_main no_rnn     any source.py arguments pass through
    python -m benchmarks.bench_study --from-json [--quick]        only tabulate the JSONs already in plots/

Default: delete the result JSONs of the experiments asked for, time source.main(args) in this process with
a new, empty run store (a temporary folder unless --store is given), so every run the study needs is
trained once, then read plots/<id>.json (plots/quick/ with --quick, or --out) of every experiment asked
for and write benchmarks/study_times.csv (study_times_quick.csv with --quick). Per experiment:
    runs          series x seeds (planned)
    trained       runs trained for it (the others were in the store: trained by an earlier experiment)
    train_steps   steps actually run, summed over runs and seeds: the JSON's steps_run if it has one, else
                  diverged_at for a diverged seed, min(steps, first_exact) in a heatmap experiment (those
                  stop at their first exact evaluation), else the planned steps
    wall_seconds  the JSON's wall_seconds (training only; plotting and the report are outside it)
    step_seconds  sum of sec_per_step x steps: worker time inside training steps (no evaluation, no startup)
    tflop         sum of benchmarks.flops.train_step_flops x steps (evaluation passes not counted)
    gflop_s       tflop / wall_seconds
train_steps, step_seconds and tflop count every run the result holds, also those an earlier experiment
trained (trained < runs): there gflop_s is what the result holds per wall second, not the machine's rate.
The aggregate peak is the single-thread torch.mm 1024x1024 rate measured here x --workers (each study run
trains single-threaded, one run per worker process).
"""
from machinery import numerics  # noqa: F401, I001 - first: it sets the numerics before torch loads
import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import torch

import experiments
import source
from machinery.store import load_json
from benchmarks.flops import peak_matmul_gflops, train_step_flops
from models import MODEL_KEYS

torch.set_num_threads(1)  # as machinery/runner.py's RUN_THREADS: every run trains single-threaded

HERE = Path(__file__).resolve().parent
CSV_FULL, CSV_QUICK = HERE / "study_times.csv", HERE / "study_times_quick.csv"  # output tables
COLUMNS = ["experiment", "runs", "trained", "train_steps", "wall_seconds", "step_seconds", "tflop", "gflop_s"]


def steps_run(series, k, heatmap):
    """Training steps seed k of this series actually ran."""
    if "steps_run" in series:
        return series["steps_run"][k]
    planned = series["settings"]["steps"]
    if series.get("diverged_at") and series["diverged_at"][k] is not None:
        return series["diverged_at"][k]
    first = series["first_exact"][k]
    return min(planned, first) if heatmap and first is not None else planned


def experiment_row(result):
    heatmap = "heatmap" in result
    runs = steps = flop = step_sec = 0
    for s in result["series"]:
        st = s["settings"]
        model = {k: v for k, v in st.items() if k in MODEL_KEYS}
        per_step = train_step_flops(model, st["maxlen"], st.get("batch_size", 200))
        for k in range(len(s["seeds"])):
            n = steps_run(s, k, heatmap)
            runs, steps, flop, step_sec = runs + 1, steps + n, flop + per_step * n, step_sec + s["sec_per_step"][k] * n
    wall = result["wall_seconds"]
    return {"experiment": result["id"], "runs": runs, "trained": result.get("runs_trained", runs),
            "train_steps": steps, "wall_seconds": wall,
            "step_seconds": step_sec, "tflop": flop / 1e12, "gflop_s": flop / 1e9 / wall}


def total_row(rows):
    tot = {c: sum(r[c] for r in rows) for c in COLUMNS[1:-1]}
    return {"experiment": "TOTAL", **tot, "gflop_s": tot["tflop"] * 1e3 / tot["wall_seconds"]}


def fmt(r):
    return (f"{r['experiment']:<22} {r['runs']:>5} {r['trained']:>7} {r['train_steps']:>9} {r['wall_seconds']:>9.1f} "
            f"{r['step_seconds']:>9.1f} {r['tflop']:>8.3f} {r['gflop_s']:>8.1f}")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from-json", action="store_true", help="train nothing; tabulate the existing JSONs")
    ours, rest = p.parse_known_args(argv)
    args = source.parse_args(rest)  # the folder, ids and workers exactly as source.py reads them
    out_dir = args.out or (source.OUT_DIR / "quick" if args.quick else source.OUT_DIR)
    ids = args.ids or list(experiments.EXPERIMENTS)

    print(f"torch {torch.__version__}, torch.set_num_threads(1) here and in every study run; workers {args.workers}")
    study_wall = None
    if not ours.from_json:
        for eid in ids:
            (out_dir / f"{eid}.json").unlink(missing_ok=True)
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            t0 = time.perf_counter()
            code = source.main([*rest, *([] if args.store else ["--store", tmp])])
            study_wall = time.perf_counter() - t0
        if code != 0:
            print(f"source.main exited with {code}", file=sys.stderr)
            return code

    rows, missing = [], []
    for eid in ids:
        result = load_json(out_dir / f"{eid}.json")
        if result is None:
            missing.append(eid)
        else:
            rows.append(experiment_row(result))
    if not rows:
        print(f"no results in {out_dir} for {', '.join(ids)}", file=sys.stderr)
        return 1
    rows.append(total_row(rows))

    csv_path = CSV_QUICK if args.quick else CSV_FULL
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()})

    print(f"\nresults: {out_dir}   table: {csv_path.relative_to(HERE.parent)}")
    if missing:
        print(f"no JSON (skipped): {', '.join(missing)}")
    print(f"\n{'experiment':<22} {'runs':>5} {'trained':>7} {'steps':>9} {'wall s':>9} {'step s':>9} {'TFLOP':>8} "
          f"{'GFLOP/s':>8}")
    print("-" * 83)
    for r in rows:
        if r["experiment"] == "TOTAL":
            print("-" * 83)
        print(fmt(r))

    tot = rows[-1]
    peak = peak_matmul_gflops()
    aggregate = peak * args.workers
    print()
    if study_wall is not None:
        print(f"total wall time: {study_wall:.1f} s (source.main, incl. plots and report); "
              f"training {tot['wall_seconds']:.1f} s")
    else:
        print(f"total training wall time (from the JSONs): {tot['wall_seconds']:.1f} s")
    print(f"total: {tot['tflop']:.3f} TFLOP in {tot['train_steps']} training steps")
    print(f"peak: torch.mm 1024x1024 float32, 1 thread = {peak:.1f} GFLOP/s x {args.workers} workers "
          f"= {aggregate:.1f} GFLOP/s" + ("" if study_wall is not None else
                                          " (--workers as given now; the JSONs do not record it)"))
    print(f"achieved: {tot['gflop_s']:.1f} GFLOP/s = {tot['gflop_s'] / aggregate:.1%} of the aggregate peak; "
          f"step time / (wall x workers) = {tot['step_seconds'] / (tot['wall_seconds'] * args.workers):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
