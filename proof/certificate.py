"""Proof certificates: prove a model and write its certificate, verify one from the file alone, and the command.

A certificate (its format: certificate_file.py) holds a model's exact float32 weights, the boxes that prove it adds
at every length, the assumptions they are checked under and its meta (origin, auxiliary targets).

verify() rebuilds the model from the file alone and runs two checkers on the file's boxes: proof.check() and
recheck.check_bytes(), an independent one in exact arithmetic that reads the same bytes with its own reader; the
model is proven only if both accept. Nothing of the search that found the boxes is trusted, so a certificate is as
good as the checkers whoever wrote it. write() is the one writer (exact_adder's, exact_frontier's and the constructed
adder's certificates): it keeps a file of the same model and meta that verifies, else searches, writes and verifies
(prove()). rounding_problem() probes this process's float32 rounding (add.py asks before it says "proven"). A file
that is not a whole, well-typed certificate gets a one-line ValueError (exit 2 from the command).
"""
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from models import ModelConfig, myPTRNNModel
from proof import certificate_file, proof, recheck
from proof.certificate_file import ORIGINS, check_boxes, check_meta, encode, model_hash, read

__all__ = ["ORIGINS", "ModelConfig", "model_hash", "myPTRNNModel"]  # names tests and callers use from here


def save(path, model, lo, hi, m, *, origin, targets, meta=None, tanh_err=proof.TANH_ERR):
    """Write model (an rnn myPTRNNModel) and its boxes (lo, hi: (2 * 100^m, L, H)) as a certificate at path.

    origin: "trained", "pruned" or "constructed"; targets: the auxiliary training targets (a list of names, []
    when trained from sums alone); meta: anything else to keep (JSON-ready dict); tanh_err: the tanh allowance the
    boxes were checked under (recorded in the file's assumptions). Written whole or not at all (a temporary file
    renamed), with bytes that depend on the content alone."""
    if not isinstance(model, myPTRNNModel):
        raise ValueError(f"a certificate holds an rnn adder (models.myPTRNNModel), got {type(model).__name__}")
    meta = check_meta({**(meta or {}), "origin": origin, "targets": list(targets)})
    config = model.cfg.to_dict()
    weights = {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    check_boxes(lo, hi, m, config)
    arrays = {"format": np.array(certificate_file.FORMAT), "config": np.array(json.dumps(config, sort_keys=True)),
              "sha256": np.array(model_hash(config, weights)), "m": np.array(m, dtype=np.int64), "lo": lo, "hi": hi,
              "assumptions": np.array(json.dumps(proof.assumptions(tanh_err), sort_keys=True)),
              "meta": np.array(json.dumps(meta, sort_keys=True))}
    arrays.update({f"w/{k}": v for k, v in weights.items()})
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(encode(arrays))
    os.replace(tmp, path)


def _model(path, cert):
    try:
        model = myPTRNNModel(ModelConfig(**cert["config"]))
        model.load_state_dict({k: torch.from_numpy(v) for k, v in cert["weights"].items()})
    except (ValueError, RuntimeError) as e:  # a cell without recurrence; missing or misshapen tensors
        raise ValueError(f"{path}: its weights do not fit its settings ({str(e).splitlines()[0]})") from None
    return model.eval()


def weights_text(model):
    """A model's weights as JSON-ready text, exact: {name: [shape, base64 of the float32 little-endian bytes]}."""
    import base64

    return {k: [list(v.shape), base64.b64encode(np.ascontiguousarray(v.detach().cpu().numpy(), "<f4").tobytes())
                .decode()] for k, v in model.state_dict().items()}


def model_from_text(config, text):
    """weights_text's inverse: the model of settings `config` (a dict) with those weights, bit for bit."""
    import base64

    model = myPTRNNModel(ModelConfig(**config))
    model.load_state_dict({k: torch.from_numpy(np.frombuffer(base64.b64decode(b), "<f4").astype(np.float32)
                                               .reshape(shape)) for k, (shape, b) in text.items()})
    return model.eval()


def load_model(path):
    """The model a certificate holds (weights checked against its SHA-256; whether it is proven: verify())."""
    return _model(path, read(path))


def verify(path):
    """Re-check a certificate from the file alone: both()'s result plus the model's settings, hashes and meta."""
    return verified_model(path)[1]


def both(net, config, weights, lo, hi, m, raw=None):
    """proof.check()'s result with the second checker's verdict: "proof_check" and "recheck" (each True if that
    checker accepts), "proven" only if both do, and each one's seconds ("sec_check", "sec_recheck"). raw: the
    certificate file's bytes, which recheck then reads with its own reader (else it checks the arrays given)."""
    t0 = time.perf_counter()
    out = proof.check(net, lo, hi, m=m)
    t1 = time.perf_counter()
    second = recheck.check_bytes(raw) if raw is not None else \
        recheck.check(config, weights, m, lo, hi, tanh_err=net["tanh_err"])
    out.update(proof_check=out["proven"], recheck=bool(second), proven=bool(out["proven"] and second),
               sec_check=t1 - t0, sec_recheck=time.perf_counter() - t1)
    return out


def verified_model(path):
    """(the model a certificate holds, verify()'s result), from one read of the file's bytes: proof.check on the
    arrays read here, recheck on the same bytes through its own reader. The result is both()'s plus the model's
    settings, its weights' SHA-256, the SHA-256 of the file's bytes (certificate_sha256), the tanh allowance and
    meta."""
    cert = read(path)
    model = _model(path, cert)
    try:
        net = proof.extract(model, tanh_err=cert["tanh_err"])
        out = both(net, cert["config"], cert["weights"], cert["lo"], cert["hi"], cert["m"], raw=cert["raw"])
    except ValueError as e:
        raise ValueError(f"{path}: {str(e).splitlines()[0]}") from None
    out.update(model=cert["config"], sha256=cert["sha256"], certificate_sha256=cert["certificate_sha256"],
               tanh_err=cert["tanh_err"], meta=cert["meta"])
    return model, out


def described(path):
    """What a certificate file holds, read (every field checked for type and shape) but not checked for the proof:
    its model's hash, depth m and meta. For write(recheck_kept=False): such a file was written only once both
    checkers accepted it ("proven" here says that, no more)."""
    cert = read(path)
    return {"sha256": cert["sha256"], "m": cert["m"], "meta": cert["meta"], "proven": True}


def prove(model, path, *, origin, targets, m=1, max_iter=300, budget_s=60, meta=None):
    """Search boxes for model, write them as a certificate, and keep it at path only if both checkers accept the
    file (verify(): each reads it). origin, targets, meta: as save() takes them (the search's iterations are added
    to meta). Returns verify()'s result, or the search's check when proof.check already refuses, plus the search's
    iterations, closed and certified steps."""
    net, lo, hi, out = proof.attempt(model, m=m, max_iter=max_iter, budget_s=budget_s)
    search = {k: out[k] for k in ("iterations", "closed", "certified_steps")}
    if not out["proven"]:
        return {**out, "proof_check": False, "recheck": False}
    path = Path(path)
    tmp = path.with_name(path.name + ".new")
    save(tmp, model, lo, hi, m, origin=origin, targets=targets, meta={**(meta or {}), "iterations": out["iterations"]})
    out = {**verify(tmp), **search}
    if out["proven"]:
        os.replace(tmp, path)
    else:
        tmp.unlink()  # written just now by this call
    return out


def set_aside(path):
    """Move an earlier certificate at path to path.stale (never shown as current; nothing is deleted)."""
    path = Path(path)
    if path.exists():
        path.replace(path.with_name(path.name + ".stale"))


def write(path, model, *, origin, targets, meta=None, m=1, max_iter=300, budget_s=60, recheck_kept=True):
    """The one certificate writer: keep path if it holds this very model with this meta (origin, targets and the
    rest; the search's iterations aside) and both checkers accept it; else prove() the model there (search, write,
    verify). A certificate that cannot be proven leaves no file: an earlier one is set aside as .stale.
    recheck_kept=False: a file that holds this very model, depth and meta is kept without running the checkers on it
    again (it was written only after both accepted it; a report's keep step reruns at no cost; add.py and
    `python -m proof.certificate` check a file at every use).

    Returns (path or None, verify()'s or prove()'s result). origin: one of ORIGINS ("trained", "pruned",
    "constructed"); targets: the auxiliary training targets' names ([] when trained from sums alone)."""
    path = Path(path)
    want_meta = check_meta({**(meta or {}), "origin": origin, "targets": list(targets)})
    want = model_hash(model.cfg.to_dict(), {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()})
    try:
        kept = None if not path.exists() else verify(path) if recheck_kept else described(path)
    except ValueError:
        kept = None  # not a certificate (or damaged, or of an older format): written anew below
    if kept is not None and kept["sha256"] == want and kept["proven"] and kept["m"] == m and \
            {k: v for k, v in kept["meta"].items() if k != "iterations"} == want_meta:
        return path, kept
    out = prove(model, path, origin=origin, targets=targets, m=m, max_iter=max_iter, budget_s=budget_s, meta=meta)
    if not out["proven"]:
        set_aside(path)
        return None, out
    return path, out


def rounding_problem():
    """Why this process's float32 arithmetic may not round as the proof assumes (rounding.ROUNDING: to nearest, ties to
    even), or None. Probed in numpy and torch on the CPU, element-wise and in a matrix product: 1 + 2^-24 is 1 (a tie,
    kept even), (1 + 2^-23) + 2^-24 is 1 + 2^-22 (a tie, rounded up to even), -1 - 2^-24 is -1; rounding towards
    zero, up or down fails one of them."""
    u = 2.0**-24
    cases = ((1.0, u, 1.0), (1.0 + 2 * u, u, 1.0 + 4 * u), (-1.0, -u, -1.0))
    for a, b, want in cases:
        got = {"numpy": float(np.float32(a) + np.float32(b)),
               "torch": float(torch.tensor([a], dtype=torch.float32) + torch.tensor([b], dtype=torch.float32)),
               "torch matmul": float(torch.tensor([[a, b]], dtype=torch.float32)
                                     @ torch.ones(2, 1, dtype=torch.float32))}
        for where, v in got.items():
            if v != want:
                return (f"{where} gives {a!r} + {b!r} = {v!r} in float32, not {want!r}: this process does not round "
                        "to nearest even, which the proof assumes")
    return None


def words(out):
    """verify()'s verdict in words: which checkers accept."""
    if out["proven"]:
        return "PROVEN exact at every length (both checkers accept: proof.check and recheck)"
    return (f"NOT proven (proof.check {'accepts' if out['proof_check'] else 'refuses'}, recheck "
            f"{'accepts' if out['recheck'] else 'refuses'})")


def main(argv=None):
    """`python -m proof.certificate FILE...`: verify each; exit 0 if both checkers prove every file, 1 if one
    is not proven, 2 for a file that is not a whole certificate (a one-line error)."""
    import sys

    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m proof.certificate CERTIFICATE.npz ...", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            out = verify(path)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"{path}: {words(out)} (origin {out['meta']['origin']}, m={out['m']}, tanh allowance "
              f"{out['tanh_err']:g}, {out['transitions_certified']}/{out['transitions']} transitions, "
              f"{out['outputs_certified']}/{out['reached']} outputs, margin bound {out['min_margin_bound']:.4g}; "
              f"checked in {out['sec_check']:.1f} s and {out['sec_recheck']:.1f} s; file SHA-256 "
              f"{out['certificate_sha256']})")
        status = max(status, 0 if out["proven"] else 1)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
