"""`python -m machinery.store`: where the run store is, what it holds; pruning and clearing it.

    python -m machinery.store                 where the store is, how many runs and measurements, its size, and
                                              how many runs the committed results in plots/ serve besides it
    python -m machinery.store --clear         delete it (results in plots/ stay; a rerun retrains what they lack)
    python -m machinery.store --prune         delete the entries made by older code and measurements nothing uses
    python -m machinery.store --clear --yes   without asking (required when not on a terminal)

--clear and --prune act only on a folder holding the marker file .adder-store, written when a store is
created, and delete only the store's own files in it.

"""
import argparse
import shutil
import sys
from pathlib import Path

from machinery import numerics
from machinery.fingerprint import ENVIRONMENT, fingerprint
from machinery.store import MARKER, ROOT, Store, StoreError, is_store, load_json, store_dir

RESULTS = ROOT / "plots"  # the committed results: source.py serves their runs' histories whatever --out says


def summary(path=None, results=RESULTS):
    """(lines describing the store and the committed results that serve runs too, stale entry paths)."""
    s = Store(path)
    s.add_results(results)  # what source.py serves runs from besides the store (histories; weights are the store's)
    here = s.root.is_dir()
    runs = list((s.root / "runs").glob("*/*.json")) if here else []
    weights = list((s.root / "runs").glob("*/*.pt")) if here else []
    measures = list((s.root / "measures").glob("*/*.json")) if here else []
    corrupt = [p for p in s.root.rglob("*.corrupt*") if p.is_file()] if here else []
    stale = [p for p in runs if not p.name.startswith(s.code + "_")]
    size = sum(p.stat().st_size for p in s.root.rglob("*") if p.is_file()) if here else 0
    kind = "" if not here else "" if is_store(s.root) else f" (not a run store: no {MARKER})"
    lines = [f"store: {s.root}{kind}",
             f"runs: {len(runs)} ({len(weights)} with weights, {len(stale)} from older code)",
             f"measurements: {len(measures)}", f"size: {size / 2**20:.1f} MiB",
             f"results in {results}: {len(s.index)} runs of the current code serve histories (no weights: a "
             f"measurement of one retrains it), {len(s.index_stale)} runs of older code",
             f"code: {s.code} (train.learn and the {len(s.fp['code']) - 1} definitions it uses; "
             + ", ".join(f"{k} {s.fp[k]}" for k in ENVIRONMENT) + ")"]
    if corrupt:
        lines.insert(4, f"set aside as corrupt: {len(corrupt)} files (*.corrupt, kept for inspection)")
    return lines, stale


def stale_measures(s):
    """Measurement files of store `s` that nothing can serve: their run is gone or their hook code changed.

    A measurement is current when the path the store would look it up at now, from its run's entry and
    its hook, is where it lies.
    """
    out = []
    for path in (s.root / "measures").glob("*/*.json"):
        run = load_json(s.root / "runs" / path.parent.name / f"{path.stem.rpartition('__')[0]}.json")
        entry = load_json(path)
        try:
            req = {"model": run["model"], "train": run["train"], "seed": run["seed"], "device": run["device"],
                   "stop": run["stop_at_exact"], "after": entry["after"]}
            current = s.hook_code(entry["after"]["fn"]) is not None and s.measure_path(req) == path
        except (OSError, KeyError, TypeError, ValueError):  # no run, not a measurement, or its hook module gone
            current = False
        if not current:
            out.append(path)
    return out


def prune(path=None):
    """Delete the runs made by older code (with their weights) and then every measurement nothing can serve.

    Returns (runs deleted, measurements deleted). Files set aside as corrupt are kept.
    """
    from machinery.runner import every_hook  # here: it plans the study, which the other commands do not need

    s = Store(path, fingerprint(every_hook().values()))  # a measurement by a hook no plan holds is unused
    _, runs = summary(path)
    for p in runs:
        for suffix in (".json", ".pt", ".lock"):
            p.with_suffix(suffix).unlink(missing_ok=True)
    measures = stale_measures(s)
    for p in measures:
        p.unlink()
    for folder in [*(s.root / "runs").glob("*"), *(s.root / "measures").glob("*")]:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return len(runs), len(measures)


def clear(path=None):
    """Delete the store's own files (runs/, measures/, the marker) and the folder if nothing else is left.

    Returns the names of other files found in it (kept).
    """
    root = store_dir(path)
    for part in ("runs", "measures"):
        if (root / part).exists():
            shutil.rmtree(root / part)
    (root / MARKER).unlink()
    left = sorted(p.name for p in root.iterdir())
    if not left:
        root.rmdir()
    return left


def confirm(question, what, yes):
    """Whether to go on: --yes, else a "y" typed on a terminal; not on a terminal, refuse (StoreError)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise StoreError(f"{what}: not on a terminal, so pass --yes to confirm")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", type=Path, default=None, help="store folder (default: ADDER_STORE or ./store)")
    p.add_argument("--clear", action="store_true", help="delete the whole store")
    p.add_argument("--prune", action="store_true", help="delete runs made by older code and unused measurements")
    p.add_argument("--yes", action="store_true", help="do not ask before deleting (needed when not on a terminal)")
    args = p.parse_args(argv)
    try:
        numerics.mode()  # the code id names the numerics family: an unknown mode is one line, not a traceback
    except numerics.NumericsError as e:
        print(e, file=sys.stderr)
        return 2
    root = store_dir(args.store)
    try:
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root} is a file, not a run store")
        if args.clear or args.prune:
            flag = "--clear" if args.clear else "--prune"
            if not root.exists():
                print(f"no run store at {root}: nothing to delete")
                return 0
            if not is_store(root):
                raise StoreError(f"{root} is not a run store (no {MARKER} file in it): {flag} deleted nothing")
            lines, stale = summary(args.store)
            question = (f"delete the run store {root} ({lines[1]})?" if args.clear else
                        f"delete {len(stale)} runs made by older code and the unused measurements in {root}?")
            if not confirm(question, f"{flag} deletes files in {root}", args.yes):
                print("nothing deleted")
                return 1
            if args.clear:
                left = clear(args.store)
                print(f"cleared {root}" + (f" (kept {len(left)} files that are not the store's: "
                                           f"{', '.join(left[:3])})" if left else ""))
                return 0
            runs, measures = prune(args.store)
            print(f"pruned {runs} runs made by older code and {measures} measurements nothing uses")
    except (StoreError, OSError) as e:
        print(f"machinery/store.py: {e}", file=sys.stderr)
        return 2
    print("\n".join(summary(args.store)[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
