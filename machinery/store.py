"""The run store: every (settings, seed) run is trained once, kept with its weights, reused everywhere.

`python -m machinery.store` says where it is and what it holds, and prunes or clears it (store_cli.py).

Layout (ADDER_STORE or --store, default ./store/, out of git):

    runs/<lineage>/<code>_s<steps>_<full|stop>.json   the run's history      (one JSON per run)
    runs/<lineage>/<code>_s<steps>_<full|stop>.pt     its weights (+ carried state), torch.save
    runs/<lineage>/<code>_s<steps>_<full|stop>.lock   held by the process training the run
    measures/<lineage>/<code>_s<steps>_<full|stop>__<measure>.json   an "after" hook's result

lineage = hash of the run's canonical settings without its step count, its seed and its device;
code = hash of what decides a run's numbers: train.learn and every project definition it uses (codehash.py:
syntax trees, so comments, docstrings and formatting do not count), the torch and numpy versions and the
numerics mode (numerics.py); a measurement's key adds its hook's own code closure. A run of N steps holds every shorter
run of the same lineage as a prefix (same data stream, same schedule, same evaluation grid), so the
history of a 500-step run is read from a stored 1,000-step one (truncate). Settings that provably do
not change the computation map to one lineage (canonical; each identity has a bitwise test).
Every write is a temp file + os.replace, so a killed process never leaves a torn entry. An entry is
one unit: the weights are written first and the JSON, written last, records their SHA-256, so a JSON
is served only with the very weights it was written with (entries made before the hash was recorded
are checked by loading their weights). A corrupt or mismatched entry is named in one line, set aside
as <file>.corrupt (never deleted) and retrained.
"""
from machinery import numerics  # noqa: F401, I001 - first: it sets the numerics before torch loads
import hashlib
import json
import os
import sys
from pathlib import Path

from filelock import FileLock

from machinery import codehash, plans
from machinery.entries import HISTORY_FIELDS, blob_problem, covers, entry_problem, result_problem, truncate
from machinery.fingerprint import changed, code_id, fingerprint, hook_id, json_digest
from models import MODEL_KEYS, ModelConfig
from train import DEFAULTS, check_settings

ROOT = Path(__file__).resolve().parents[1]  # the project root
DEFAULT_DIR = ROOT / "store"  # the default location (gitignored); ADDER_STORE or --store moves it


def store_dir(path=None):
    return Path(path or os.environ.get("ADDER_STORE") or DEFAULT_DIR)


MARKER = ".adder-store"  # file in every store folder: --clear and --prune act only where it is
STORE_VERSION = 1  # the layout's version, recorded in MARKER
STORE_PARTS = ("runs", "measures", MARKER)  # what a store folder holds: all --clear deletes
TIMING = ("wall_seconds", "workers")  # a result's record of the training that made its runs (kept by a rerun)


class StoreError(Exception):
    """A store that cannot be used as asked (a file, not a store, unwritable): one line, exit 2."""


def prepare(path=None):
    """Make the store folder ready to be written before anything trains, or raise StoreError saying why not.

    A new or empty folder becomes a store (its marker is written); so does one holding only runs/ and
    measures/ (a store made before the marker existed). A file, a folder holding anything else (say the
    repository, with --store .) or one that cannot be written to is refused. Returns the folder.
    """
    root = store_dir(path)
    if root.exists() and not root.is_dir():
        raise StoreError(f"run store {root} is a file, not a folder: give a folder (--store DIR or ADDER_STORE)")
    if root.is_dir() and not is_store(root):
        others = sorted(p.name for p in root.iterdir() if p.name not in STORE_PARTS)
        if others:
            raise StoreError(f"run store {root} is a folder that is not a run store (no {MARKER}; it holds "
                             f"{', '.join(others[:3])}{', ...' if len(others) > 3 else ''}): give a new or "
                             f"empty folder")
    try:
        for part in ("runs", "measures"):
            (root / part).mkdir(parents=True, exist_ok=True)
            probe = root / part / f".probe.{os.getpid()}"  # a real write: permission bits alone can mislead
            probe.write_bytes(b"")
            probe.unlink()
        if not is_store(root):
            atomic_write(root / MARKER, json.dumps({"store": "rnn-adder run store", "version": STORE_VERSION,
                                                    "layout": "see store.py"}).encode())
    except OSError as e:
        raise StoreError(f"run store {root} is not writable ({e.strerror or e}): give a folder you can write "
                         f"to") from None
    return root


RUN_ONLY = ("device", "stop_at_exact", "progress", "seed")  # train_run arguments that are not a run's settings


def canonical(model, train):
    """(model settings, training settings) in the one form every bitwise-equal run shares (each identity is tested
    by training both; tests/test_store.py). Not called by train_run, so not part of any code fingerprint.

    zero == none (an explicit zero state is what nn.RNN uses when none is passed); h0_init only matters
    when the state is carried; the nonlinearity only for cell rnn; gamma only with milestones; the
    no-RNN baseline has no recurrent settings at all; eval_fresh off is no setting at all (runs made before it
    existed keep their key). Training defaults are filled in from train_run.
    """
    m = {**ModelConfig().to_dict(), **model}
    t = check_settings({k: v for k, v in {**DEFAULTS, **train}.items() if k not in RUN_ONLY})
    t["milestones"] = list(t["milestones"])
    if m["hidden_mode"] == "zero":
        m["hidden_mode"] = "none"
    if m["hidden_mode"] != "carry":
        m["h0_init"] = "randn"
    if m["cell"] != "rnn":
        m["nonlinearity"] = "relu"
    if m["cell"] == "linear":
        base = ModelConfig(cell="linear").to_dict()
        m = {**base, "embed_size": m["embed_size"]}
    if not t["milestones"]:
        t["gamma"] = DEFAULTS["gamma"]
    if not t["eval_fresh"]:
        del t["eval_fresh"]
    return m, t


def lineage(model, train, seed, device):
    """The store's key of a run without its step count: its shorter runs are prefixes of its history."""
    m, t = canonical(model, train)
    t.pop("steps")
    return json_digest({"model": m, "train": t, "seed": seed, "device": device})


class Store:
    """Runs and measurements on disk; lookups for histories (any covering run), weights and measurements."""

    def __init__(self, path=None, fp=None):
        self.root = store_dir(path)
        self.fp = fp or fingerprint()
        self.code = code_id(self.fp)
        self.index, self.index_measures = {}, {}  # histories and measurements read from result JSONs
        self.index_stale = {}  # lineage -> fingerprint of a result JSON made by other code
        self.timings = {}  # experiment id -> the timing fields (TIMING) of the first indexed result of it

    def add_results(self, out_dir):
        """Index the histories (and measurements) of every result JSON in out_dir made by the current code.

        So a fresh clone, whose store is empty, reuses the committed results' runs: only runs they lack, or
        measurements that need weights, are trained. A JSON that is not a whole result is left out.
        """
        for path in sorted(Path(out_dir).glob("*.json")):
            result = load_json(path)
            if result_problem(result) is not None:
                continue
            current = result.get("code") == self.code
            if current:
                self.timings.setdefault(result.get("id"), {k: result[k] for k in TIMING if k in result})
            stop = plans.stops_at_exact(result["config"])
            for run, series in zip(result["config"]["runs"], result["series"], strict=True):
                for k, seed in enumerate(series["seeds"]):
                    req = {"model": {k2: v for k2, v in series["settings"].items() if k2 in MODEL_KEYS},
                           "train": {k2: v for k2, v in series["settings"].items() if k2 not in MODEL_KEYS},
                           "seed": seed, "device": result["device"], "stop": stop, "after": run.get("after")}
                    hist = {f: series[f][k] for f in HISTORY_FIELDS}
                    hist.update(loss_steps=series["loss_steps"], eval_steps=series["steps"], seed=seed)
                    folder, _ = self.run_entry(req)
                    if not current:
                        self.index_stale[folder.name] = result.get("fingerprint", {})
                        continue
                    self.index.setdefault(folder.name, []).append(hist)
                    hook = req["after"]["fn"] if req["after"] else None
                    if hook and series.get("extra") and series["extra"][k] is not None \
                            and hook_id(result["fingerprint"], hook) == self.hook_code(hook):
                        self.index_measures[self.measure_path(req)] = series["extra"][k]

    def run_entry(self, req):
        """(folder, file stem) of a request's run entry: runs/<lineage>/<code>_s<steps>_<full|stop>."""
        lin = lineage(req["model"], req["train"], req["seed"], req["device"])
        kind = "stop" if req["stop"] else "full"
        return self.root / "runs" / lin, f"{self.code}_s{req['train']['steps']}_{kind}"

    def ensure(self):
        """prepare() this store's folder (StoreError if it cannot be written); the store."""
        prepare(self.root)
        return self

    def lock(self, req):
        """The lock of one run entry, held while the run is trained and written: a second process that wants
        the same run waits for it and then reads the entry. An OS file lock: the holder's death releases it."""
        folder, stem = self.run_entry(req)
        folder.mkdir(parents=True, exist_ok=True)
        return FileLock(folder / f"{stem}.lock")

    def _set_aside(self, paths, problem, redo):
        """Rename a corrupt entry's files to <name>.corrupt (never deleted) and say so in one line."""
        moved = []
        for path in paths:
            if not path.exists():
                continue
            dst, n = path.with_name(f"{path.name}.corrupt"), 1
            while dst.exists():
                n += 1
                dst = path.with_name(f"{path.name}.corrupt{n}")
            try:
                os.replace(path, dst)
            except OSError as e:
                raise StoreError(f"{path} is corrupt ({problem}) and cannot be set aside ({e.strerror})") from None
            moved.append(dst.name)
        say(f"store: {paths[0].relative_to(self.root)} is corrupt ({problem}): set aside as {' and '.join(moved)}; "
            f"{redo}")

    def _entry(self, folder, stem):
        """The run entry {stem}.json of `folder` as a dict, or None: missing, or corrupt and set aside now."""
        path = folder / f"{stem}.json"
        if not path.exists():
            return None
        try:
            entry = json.loads(path.read_bytes())
        except ValueError:
            problem = "not valid JSON"
        else:
            problem = entry_problem(entry)
        if problem is None:
            return entry
        self._set_aside([path, folder / f"{stem}.pt"], problem, "retraining the run")
        return None

    def _weights(self, folder, stem, entry):
        """The entry's weights (torch.save bytes) if they are the ones its JSON was written with, else None.

        None when there are none; weights that do not match (hash, or for an entry written before the hash
        was recorded, a failed load) make the whole entry corrupt: it is set aside.
        """
        pt = folder / f"{stem}.pt"
        if not pt.exists() or entry.get("weights_sha256", "legacy") is None:  # saved without weights
            return None
        blob = pt.read_bytes()
        want = entry.get("weights_sha256")  # None: an entry written before the hash was recorded
        problem = blob_problem(blob) if want is None else \
            None if hashlib.sha256(blob).hexdigest() == want else "its weights are not the ones it was written with"
        if problem is None:
            return blob
        self._set_aside([folder / f"{stem}.json", pt], problem, "retraining the run")
        return None

    def stored_run(self, req):
        """(history, weights) of this exact run if the store holds it whole, else None."""
        folder, stem = self.run_entry(req)
        entry = self._entry(folder, stem)
        blob = None if entry is None else self._weights(folder, stem, entry)
        return None if blob is None else (entry["history"], blob)

    def history(self, req):
        """(history, has_weights) of the request from the store, or (None, False)."""
        folder, stem = self.run_entry(req)
        entry = self._entry(folder, stem)
        if entry is not None:
            if not (folder / f"{stem}.pt").exists() or entry.get("weights_sha256", "legacy") is None:
                return entry["history"], False  # an entry without weights
            if self._weights(folder, stem, entry) is not None:
                return entry["history"], True
        stems = sorted(p.stem for p in folder.glob(f"{self.code}_s*.json")) if folder.exists() else []
        stored = [e["history"] for e in (self._entry(folder, st) for st in stems) if e is not None]
        for hist in stored + self.index.get(folder.name, []):
            if covers(hist, req["train"]["steps"], req["stop"]):
                t = canonical(req["model"], req["train"])[1]
                return truncate(hist, t["steps"], req["stop"], t["loss_every"], t["eval_every"]), False
        return None, False

    def stale_reason(self, req):
        """Files whose change made the stored runs of this lineage unusable (empty: none stored at all)."""
        folder, _ = self.run_entry(req)
        for path in folder.glob("*.json") if folder.exists() else []:
            entry = load_json(path)
            if isinstance(entry, dict) and entry.get("code") != self.code:
                return changed(entry.get("fingerprint"), self.fp)
        if folder.name in self.index_stale:
            return changed(self.index_stale[folder.name], self.fp)
        return []

    def save_run(self, req, hist, weights):
        """Write one trained run as one unit: its weights (bytes of torch.save), then its history with their hash.

        The JSON is what makes the entry exist, so a process killed between the two writes leaves no entry.
        """
        folder, stem = self.run_entry(req)
        folder.mkdir(parents=True, exist_ok=True)
        if weights is not None:
            atomic_write(folder / f"{stem}.pt", weights)
        m, t = canonical(req["model"], req["train"])
        entry = {"model": m, "train": t, "seed": req["seed"], "device": req["device"], "stop_at_exact": req["stop"],
                 "code": self.code, "fingerprint": self.fp, "history": hist,
                 "weights_sha256": None if weights is None else hashlib.sha256(weights).hexdigest()}
        atomic_write(folder / f"{stem}.json", json.dumps(entry).encode())

    def weights(self, req):
        """The stored weights (torch.save bytes) of this exact run, or None."""
        return (self.stored_run(req) or (None, None))[1]

    def hook_code(self, hook):
        """The hash of a hook's code closure, from this store's fingerprint (None: a hook it does not fingerprint,
        whose measurements it cannot serve)."""
        hooks = self.fp.get("hooks") or {}
        return codehash.digest(hooks[hook]) if hook in hooks else None

    def measure_path(self, req):
        """Where the measurement of a request's "after" hook on its run is kept (its key: hook, args, hook code)."""
        folder, stem = self.run_entry(req)
        after = req["after"]
        key = json_digest({"fn": after["fn"], "args": after.get("args", {}), "code": self.hook_code(after["fn"])}, 10)
        return self.root / "measures" / folder.name / f"{stem}__{key}.json"

    def measure(self, req):
        """The stored result of the request's "after" hook on its trained model, or None."""
        path = self.measure_path(req)
        entry = load_json(path)
        if path.exists() and (not isinstance(entry, dict) or "value" not in entry):
            self._set_aside([path], "not a measurement", "measuring again")
            entry = None
        return self.index_measures.get(path) if entry is None else entry["value"]

    def save_measure(self, req, value):
        path = self.measure_path(req)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps({"after": req["after"], "value": value}).encode())


def say(line):
    """One line to the user about the store (stderr, so results on stdout stay clean)."""
    print(line, file=sys.stderr, flush=True)


def is_store(root):
    """Whether a folder is recognisably a run store: it holds the MARKER file."""
    return (Path(root) / MARKER).is_file()


def atomic_write(path, data):
    """Write bytes through a temp file + rename: a killed process never leaves a torn file."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def load_json(path):
    """The JSON in `path`, or None if it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


if __name__ == "__main__":  # `python -m machinery.store` runs the command-line tool (store_cli.py, which imports this)
    import runpy

    runpy.run_module("machinery.store_cli", run_name="__main__")
