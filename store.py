"""The run store: every (settings, seed) run is trained once, kept with its weights, reused everywhere.

    python store.py            where the store is, how many runs and measurements it holds, its size
    python store.py --clear    delete it (results in plots/ stay; a rerun retrains what they lack)
    python store.py --prune    delete the entries made by older code only

Layout (ADDER_STORE or --store, default ./store/, out of git):

    runs/<lineage>/<code>_s<steps>_<full|stop>.json   the run's history      (one JSON per run)
    runs/<lineage>/<code>_s<steps>_<full|stop>.pt     its weights (+ carried state), torch.save
    measures/<lineage>/<code>_s<steps>_<full|stop>__<measure>.json   an "after" hook's result

lineage = hash of the run's canonical settings without its step count, its seed and its device;
code = hash of what decides a run's numbers: train_run and every project definition it uses (codehash.py:
syntax trees, so comments, docstrings and formatting do not count), the torch and numpy versions and the
numerics mode (numerics.py); a measurement's key adds its hook's own code closure. A run of N steps holds every shorter
run of the same lineage as a prefix (same data stream, same schedule, same evaluation grid), so the
history of a 500-step run is read from a stored 1,000-step one (truncate). Settings that provably do
not change the computation map to one lineage (canonical; each identity has a bitwise test).
Every write is a temp file + os.replace, so a killed process never leaves a torn entry.
"""
import numerics  # noqa: I001 - first: it sets the numerics before torch loads
import argparse
import copy
import hashlib
import inspect
import io
import json
import os
import shutil
import sys
from functools import lru_cache
from pathlib import Path

import torch

import codehash

ROOT = Path(__file__).resolve().parent
DEFAULT_DIR = ROOT / "store"  # the default location (gitignored); ADDER_STORE or --store moves it
TRAINING = ("train", "train_run")  # the function whose code closure decides a run's numbers
ENVIRONMENT = ("torch", "numpy", "numerics")  # what else decides them: versions and the numerics mode


def store_dir(path=None):
    return Path(path or os.environ.get("ADDER_STORE") or DEFAULT_DIR)


def _digest(obj, n=16):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:n]


def environment():
    """The versions and numerics mode a run's numbers depend on.

    torch without its build tag: a CUDA build and a CPU build of one version run the same CPU kernels, so a
    fresh clone on either reuses the committed results. numpy draws the data stream. "native" numerics depend
    on the CPU's kernels, so they carry the capability ATen picked (numerics.py).
    """
    import numpy

    mode = numerics.mode()
    tag = mode if mode == "pinned" else f"native-{torch.backends.cpu.get_cpu_capability()}"
    return {"torch": torch.__version__.split("+")[0], "numpy": numpy.__version__, "numerics": tag}


@lru_cache(maxsize=None)
def _closure(fn):
    """The code closure of train_run ("train.train_run") or of a hook (its short name in experiments.NAMES)."""
    import experiments

    module, _, name = (fn if fn == ".".join(TRAINING) else experiments.qualname(fn)).rpartition(".")
    return codehash.closure(module, name)


@lru_cache(maxsize=None)
def _fingerprint(hooks):
    return {"code": _closure(".".join(TRAINING)), **environment(), "hooks": {h: _closure(h) for h in hooks}}


def fingerprint(hooks=()):
    """The code and environment that decide runs and the named "after" hooks' measurements, as this process
    first saw them: computed once per process (reset_fingerprints() forgets), so an edit made while a long run
    goes on never relabels it; workers compare theirs with the driver's and refuse to run other code.

    {"code": {"module.name": hash} of train_run's closure, "torch", "numpy", "numerics",
     "hooks": {hook: its closure}}.
    """
    return copy.deepcopy(_fingerprint(tuple(sorted(set(hooks)))))


def reset_fingerprints():
    """Forget the fingerprints computed so far (after an edit, in a process that wants to see it)."""
    _fingerprint.cache_clear()
    _closure.cache_clear()
    codehash.reset()


def hook_modules(runs):
    """The "after" hooks ("module.function") that measure the trained models of these runs."""
    return sorted({r["after"]["fn"] for r in runs if r.get("after")})


def code_id(fp):
    """The part of a fingerprint that decides training: train_run's closure (contents only) and the environment."""
    return _digest({"code": codehash.digest(fp.get("code") or {}), **{k: fp.get(k) for k in ENVIRONMENT}}, 10)


def hook_id(fp, hook):
    """The part of a fingerprint that decides a hook's measurement (besides the run it measures)."""
    return codehash.digest(((fp or {}).get("hooks") or {}).get(hook) or {})


def changed(old, new, hooks=()):
    """What differs between two fingerprints: edited definitions ("train.EVAL_SIZE"), versions, the mode."""
    old = old or {}
    if "code" not in old:  # a fingerprint of older code (files hashed whole), or none
        return ["code fingerprint of an older format"]
    out = codehash.changed(old.get("code"), new.get("code"))
    out += [f"{k} {old.get(k)} -> {new.get(k)}" for k in ENVIRONMENT if old.get(k) != new.get(k)]
    for h in hooks:
        was = (old.get("hooks") or {}).get(h)
        out += [f"{h}'s code (not fingerprinted)"] if was is None else [
            d for d in codehash.changed(was, (new.get("hooks") or {}).get(h)) if d not in out]
    return out


def stale_files(result):
    """What changed since a result JSON was made (["unknown"]: no fingerprint recorded); empty when current."""
    if "fingerprint" not in result:
        return ["unknown"]
    hooks = hook_modules(result["config"]["runs"])
    return changed(result["fingerprint"], fingerprint(hooks), hooks)


def canonical(model, train):
    """Settings that give bitwise the same run map to one form (each identity is tested by training both).

    zero == none (an explicit zero state is what nn.RNN uses when none is passed); h0_init only matters
    when the state is carried; the nonlinearity only for cell rnn; gamma only with milestones; the
    no-RNN baseline has no recurrent settings at all. Training defaults are filled in from train_run.
    """
    from models import ModelConfig
    from train import check_settings, train_run

    m = {**ModelConfig().to_dict(), **model}
    defaults = {k: p.default for k, p in inspect.signature(train_run).parameters.items()
                if p.kind == p.KEYWORD_ONLY and p.default is not inspect.Parameter.empty}
    t = check_settings({k: v for k, v in {**defaults, **train}.items()
                        if k not in ("device", "stop_at_exact", "progress", "seed")})
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
        t["gamma"] = defaults["gamma"]
    return m, t


def lineage(model, train, seed, device):
    m, t = canonical(model, train)
    t.pop("steps")
    return _digest({"model": m, "train": t, "seed": seed, "device": device})


def covers(hist, steps, stop):
    """Whether a stored history holds the whole trajectory of a run of `steps` steps (stop: ends at exact)."""
    first = hist["first_exact"]
    if stop and first is not None and first <= steps:
        return True
    if hist["diverged"] and hist["diverged_at"] <= steps:
        return True
    return steps <= hist["steps_run"]


def truncate(hist, steps, stop, loss_every, eval_every):
    """The history a run of `steps` steps (stop: ending at its first exact evaluation) would have had."""
    first = hist["first_exact"] if hist["first_exact"] is not None and hist["first_exact"] <= steps else None
    end = first if stop and first is not None else steps
    div = hist["diverged_at"] if hist["diverged"] and hist["diverged_at"] <= end else None
    end = div or end

    def regrid(old_steps, values, every):
        old = dict(zip(old_steps, values, strict=True))
        grid = list(range(every, steps + 1, every))
        return grid, [old.get(s) if s <= end else None for s in grid]

    loss_steps, loss = regrid(hist["loss_steps"], hist["loss"], loss_every)
    eval_steps, acc = regrid(hist["eval_steps"], hist["accuracy"], eval_every)
    _, digit = regrid(hist["eval_steps"], hist["digit_accuracy"], eval_every)
    return {**hist, "loss_steps": loss_steps, "eval_steps": eval_steps, "loss": loss, "accuracy": acc,
            "digit_accuracy": digit, "diverged": div is not None, "diverged_at": div, "first_exact": first,
            "first_exact_sec": hist["first_exact_sec"] if first is not None else None, "steps_run": end}


class Store:
    """Runs and measurements on disk; lookups for histories (any covering run), weights and measurements."""

    def __init__(self, path=None, fp=None):
        self.root = store_dir(path)
        self.fp = fp or fingerprint()
        self.code = code_id(self.fp)
        self.index, self.index_measures = {}, {}  # histories and measurements read from result JSONs
        self.index_stale = {}  # lineage -> fingerprint of a result JSON made by other code

    def add_results(self, out_dir):
        """Index the histories (and measurements) of every result JSON in out_dir made by the current code.

        So a fresh clone, whose store is empty, reuses the committed results' runs: only runs they lack, or
        measurements that need weights, are trained.
        """
        from models import ModelConfig

        keys = set(ModelConfig.__dataclass_fields__)
        for path in sorted(Path(out_dir).glob("*.json")):
            result = load_json(path)
            if not isinstance(result, dict) or "config" not in result or "series" not in result:
                continue
            current = result.get("code") == self.code
            stop = bool(result["config"].get("stop_at_exact") or result["config"].get("heatmap"))
            for run, series in zip(result["config"]["runs"], result["series"], strict=True):
                for k, seed in enumerate(series["seeds"]):
                    req = {"model": {k2: v for k2, v in series["settings"].items() if k2 in keys},
                           "train": {k2: v for k2, v in series["settings"].items() if k2 not in keys},
                           "seed": seed, "device": result["device"], "stop": stop, "after": run.get("after")}
                    hist = {f: series[f][k] for f in HISTORY_FIELDS}
                    hist.update(loss_steps=series["loss_steps"], eval_steps=series["steps"], seed=seed)
                    folder, _ = self._run_stem(req)
                    if not current:
                        self.index_stale[folder.name] = result.get("fingerprint", {})
                        continue
                    self.index.setdefault(folder.name, []).append(hist)
                    hook = req["after"]["fn"] if req["after"] else None
                    if hook and series.get("extra") and series["extra"][k] is not None \
                            and hook_id(result["fingerprint"], hook) == self.hook_code(hook):
                        self.index_measures[self._measure_path(req)] = series["extra"][k]

    def _run_stem(self, req):
        lin = lineage(req["model"], req["train"], req["seed"], req["device"])
        kind = "stop" if req["stop"] else "full"
        return self.root / "runs" / lin, f"{self.code}_s{req['train']['steps']}_{kind}"

    def history(self, req):
        """(history, has_weights) of the request from the store, or (None, False)."""
        folder, stem = self._run_stem(req)
        exact = folder / f"{stem}.json"
        entry = load_json(exact)
        if entry is not None:
            return entry["history"], (folder / f"{stem}.pt").exists()
        stored = [e["history"] for e in map(load_json, sorted(folder.glob(f"{self.code}_s*.json"))) if e is not None] \
            if folder.exists() else []
        for hist in stored + self.index.get(folder.name, []):
            if covers(hist, req["train"]["steps"], req["stop"]):
                t = canonical(req["model"], req["train"])[1]
                return truncate(hist, t["steps"], req["stop"], t["loss_every"], t["eval_every"]), False
        return None, False

    def stale_reason(self, req):
        """Files whose change made the stored runs of this lineage unusable (empty: none stored at all)."""
        folder, _ = self._run_stem(req)
        for path in folder.glob("*.json") if folder.exists() else []:
            entry = load_json(path)
            if entry is not None and entry.get("code") != self.code:
                return changed(entry.get("fingerprint"), self.fp)
        if folder.name in self.index_stale:
            return changed(self.index_stale[folder.name], self.fp)
        return []

    def save_run(self, req, hist, weights):
        """Write one trained run: its history and (bytes of torch.save) its weights; weights first."""
        folder, stem = self._run_stem(req)
        folder.mkdir(parents=True, exist_ok=True)
        if weights is not None:
            atomic_write(folder / f"{stem}.pt", weights)
        m, t = canonical(req["model"], req["train"])
        entry = {"model": m, "train": t, "seed": req["seed"], "device": req["device"], "stop_at_exact": req["stop"],
                 "code": self.code, "fingerprint": self.fp, "history": hist}
        atomic_write(folder / f"{stem}.json", json.dumps(entry).encode())

    def weights(self, req):
        """The stored weights (torch.save bytes) of this exact run, or None."""
        folder, stem = self._run_stem(req)
        path = folder / f"{stem}.pt"
        return path.read_bytes() if path.exists() else None

    def hook_code(self, hook):
        """The hash of a hook's code closure, from this store's fingerprint (else computed now, once)."""
        hooks = self.fp.get("hooks") or {}
        return codehash.digest(hooks[hook]) if hook in hooks else hook_id(fingerprint([hook]), hook)

    def _measure_path(self, req):
        folder, stem = self._run_stem(req)
        after = req["after"]
        key = _digest({"fn": after["fn"], "args": after.get("args", {}), "code": self.hook_code(after["fn"])}, 10)
        return self.root / "measures" / folder.name / f"{stem}__{key}.json"

    def measure(self, req):
        """The stored result of the request's "after" hook on its trained model, or None."""
        path = self._measure_path(req)
        entry = load_json(path)
        return self.index_measures.get(path) if entry is None else entry["value"]

    def save_measure(self, req, value):
        path = self._measure_path(req)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps({"after": req["after"], "value": value}).encode())


HISTORY_FIELDS = ("loss", "accuracy", "digit_accuracy", "diverged", "diverged_at", "first_exact", "first_exact_sec",
                  "steps_run", "sec_per_step")  # per-seed fields a result's series keeps of each run


def weights_blob(model):
    """torch.save bytes of a trained model's weights and, in carry mode, the state it carries."""
    h = model.carried_state() if hasattr(model, "carried_state") else None
    buf = io.BytesIO()
    torch.save({"state": model.state_dict(), "h": list(h) if isinstance(h, tuple) else h}, buf)
    return buf.getvalue()


def model_from_blob(model_cfg, blob, device):
    """The trained model that weights_blob saved, on `device`."""
    from models import ModelConfig, build_model

    saved = torch.load(io.BytesIO(blob), map_location=device, weights_only=True)
    model = build_model(ModelConfig(**model_cfg)).to(device)
    model.load_state_dict(saved["state"])
    if saved.get("h") is not None:
        model.load_carried_state(saved["h"])
    return model


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


def summary(path=None):
    """(lines describing the store, stale entry paths)."""
    s = Store(path)
    runs = list((s.root / "runs").glob("*/*.json")) if s.root.exists() else []
    weights = list((s.root / "runs").glob("*/*.pt")) if s.root.exists() else []
    measures = list((s.root / "measures").glob("*/*.json")) if s.root.exists() else []
    stale = [p for p in runs if not p.name.startswith(s.code + "_")]
    size = sum(p.stat().st_size for p in s.root.rglob("*") if p.is_file()) if s.root.exists() else 0
    lines = [f"store: {s.root}", f"runs: {len(runs)} ({len(weights)} with weights, {len(stale)} from older code)",
             f"measurements: {len(measures)}", f"size: {size / 2**20:.1f} MiB",
             f"code: {s.code} (train_run and the {len(s.fp['code'])} definitions it uses; "
             + ", ".join(f"{k} {s.fp[k]}" for k in ENVIRONMENT) + ")"]
    return lines, stale


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", type=Path, default=None, help="store folder (default: ADDER_STORE or ./store)")
    p.add_argument("--clear", action="store_true", help="delete the whole store")
    p.add_argument("--prune", action="store_true", help="delete runs made by older code")
    args = p.parse_args(argv)
    root = store_dir(args.store)
    if args.clear:
        shutil.rmtree(root, ignore_errors=True)
        print(f"cleared {root}")
        return 0
    lines, stale = summary(args.store)
    if args.prune:
        for path in stale:
            path.unlink(missing_ok=True)
            path.with_suffix(".pt").unlink(missing_ok=True)
        print(f"pruned {len(stale)} runs made by older code")
        lines, _ = summary(args.store)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
