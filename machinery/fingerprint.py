"""Code fingerprints of runs and measurements: what decides their numbers, taken once per process.

A run's numbers are decided by train.learn (the run train_run starts once it has checked the settings; its loop
is train.fit) and every
project definition it reaches (codehash.py: syntax trees,
so comments, docstrings, formatting and moved files do not count), the torch and numpy versions and the numerics mode
(numerics.py); a measurement's adds its "after" hook's own closure. code_id() is the short id of the first part
(`python -m machinery.store` prints it), hook_id() that of a hook's closure; the store keys entries by them.
"""
from machinery import numerics  # noqa: I001 - first: it sets the numerics before torch loads
import copy
import hashlib
import json
from functools import lru_cache

import torch

from machinery import codehash, plans

TRAINING = ("train", "learn")  # the function whose code closure decides a run's numbers (train_run checks, calls it)
ENVIRONMENT = ("torch", "numpy", "numerics")  # what else decides them: versions and the numerics mode


def json_digest(obj, n=16):
    """A short hash of a JSON-able object (keys sorted): the run store's and the code id's."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:n]


def environment():
    """The versions and numerics family a run's numbers depend on.

    torch without its build tag: a CUDA build and a CPU build of one version run the same CPU kernels, so a
    fresh clone on either reuses the committed results. numpy draws the data stream. The numerics family
    (numerics.family(): portable, pinned-<vendor>, native-<capability>-<vendor>) says which kernels made them.
    """
    import numpy

    return {"torch": torch.__version__.split("+")[0], "numpy": numpy.__version__, "numerics": numerics.family()}


@lru_cache(maxsize=None)
def _closure(where):
    """The code closure of a function, by "module.name" ("train.learn", or where a hook lives)."""
    module, _, name = where.rpartition(".")
    return codehash.closure(module, name)


@lru_cache(maxsize=None)
def _fingerprint(hooks):
    return {"code": _closure(".".join(TRAINING)), **environment(), "hooks": {h: _closure(w) for h, w in hooks}}


def fingerprint(hooks=()):
    """The code and environment that decide runs and these "after" hooks' measurements, as this process first saw
    them: computed once per process (reset_fingerprints() forgets), so an edit made while a long run goes on never
    relabels it; workers compare theirs with the driver's and refuse to run other code.

    hooks: the hook functions (as plans hold them; machinery/plans.py). Returns {"code": {"module.name": hash} of
    train.learn's closure, "torch", "numpy", "numerics", "hooks": {hook's short name: its closure}}.
    """
    where = {plans.short(fn): f"{plans.function(fn).__module__}.{plans.short(fn)}" for fn in hooks}
    return copy.deepcopy(_fingerprint(tuple(sorted(where.items()))))


def reset_fingerprints():
    """Forget the fingerprints computed so far (after an edit, in a process that wants to see it)."""
    _fingerprint.cache_clear()
    _closure.cache_clear()
    codehash.reset()


def hook_names(runs):
    """The short names of the "after" hooks that measure the trained models of a result's runs."""
    return sorted({r["after"]["fn"] for r in runs if r.get("after")})


def code_id(fp):
    """The part of a fingerprint that decides training: train.learn's closure (contents only) and the environment."""
    return json_digest({"code": codehash.digest(fp.get("code") or {}), **{k: fp.get(k) for k in ENVIRONMENT}}, 10)


def hook_id(fp, hook):
    """The part of a fingerprint that decides a hook's measurement (besides the run it measures)."""
    return codehash.digest(((fp or {}).get("hooks") or {}).get(hook) or {})


def same_code(old, new):
    """Whether two fingerprints decide the same numbers: equal contents of train_run's and every hook's closure and
    the same environment, wherever the definitions live (a moved file leaves a result current)."""
    if not isinstance(old, dict) or "code" not in old or set(old.get("hooks") or {}) != set(new.get("hooks") or {}):
        return False
    return code_id(old) == code_id(new) and all(hook_id(old, h) == hook_id(new, h) for h in new.get("hooks") or {})


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


def stale_files(result, hooks):
    """What changed since a result JSON was made (["unknown"]: no fingerprint recorded); empty when current.

    hooks: {short name: function} of the hooks the plans name (plans.hooks), to fingerprint the result's.
    """
    if "fingerprint" not in result:
        return ["unknown"]
    names = hook_names(result["config"]["runs"])
    return changed(result["fingerprint"], fingerprint(hooks[h] for h in names if h in hooks), names)
