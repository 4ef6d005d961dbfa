"""A proof certificate file: a model's exact float32 weights and the boxes that prove it adds at every length.

The file is a numpy .npz (no pickles) holding
    format       FORMAT, to tell a certificate from any other .npz
    config       the model's settings (models.ModelConfig) as JSON
    w/<name>     every tensor of the model's state_dict, float32, bit for bit
    sha256       SHA-256 of the settings and the weights (model_hash): a damaged or altered model is refused
    m, lo, hi    the context depth (an integer scalar) and the boxes (finite float64, lo <= hi, one per context)
    meta         JSON: whatever the writer wants to keep beside them (which run, seed, search statistics)
and nothing else; _read checks each field's type, shape and values. content_hash() is the SHA-256 of all of it: the
name of one certificate (add.py trusts its meta only for the one it pins).

verify() rebuilds the model from the file alone and runs two checkers on the file's boxes: proof.check() and
recheck.check(), an independent one in exact arithmetic; the model is proven only if both accept. Nothing of the
search that found the boxes is trusted, so a certificate is as good as the checkers whoever wrote it. load_model()
gives the model (add.py can answer with a proven model). A file that is not a whole, well-typed certificate gets a
one-line ValueError (exit 2 from the command).
"""
import hashlib
import json
import time

import numpy as np
import torch

from measures.exact import proof, recheck
from models import ModelConfig, myPTRNNModel

FORMAT = "rnn-adder proof certificate v1"  # the format field's value
MAX_M = 2  # deepest context a certificate may use (m = 3 would be 2,000,000 boxes)


def model_hash(config, weights):
    """SHA-256 (hex) of the settings (a dict) and the weights ({name: float32 array}), in a fixed order."""
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for name in sorted(weights):
        w = np.ascontiguousarray(weights[name], dtype="<f4")
        h.update(f"{name}:{w.shape}".encode())
        h.update(w.tobytes())
    return h.hexdigest()


def save(path, model, lo, hi, m, meta=None):
    """Write model (an rnn myPTRNNModel) and its boxes (lo, hi: (2 * 100^m, L, H)) as a certificate at path."""
    if not isinstance(model, myPTRNNModel):
        raise ValueError(f"a certificate holds an rnn adder (models.myPTRNNModel), got {type(model).__name__}")
    config = model.cfg.to_dict()
    weights = {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    _check_boxes(lo, hi, m, config)
    arrays = {"format": np.array(FORMAT), "config": np.array(json.dumps(config, sort_keys=True)),
              "sha256": np.array(model_hash(config, weights)), "m": np.array(m, dtype=np.int64), "lo": lo, "hi": hi,
              "meta": np.array(json.dumps(meta or {}, sort_keys=True))}
    arrays.update({f"w/{k}": v for k, v in weights.items()})
    with open(path, "wb") as f:  # a file object: numpy would append .npz to a path without it
        np.savez_compressed(f, **arrays)


def _check_boxes(lo, hi, m, config):
    """Boxes as a certificate holds them: float64 (real, native order), finite, lo <= hi, one per context."""
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= MAX_M:
        raise ValueError(f"context depth m must be an integer in 1..{MAX_M}, got {m!r}")
    shape = (2 * proof.PAIRS**m, config["num_layers"], config["hidden_size"])
    if lo.dtype != np.float64 or hi.dtype != np.float64:
        raise ValueError(f"boxes must be float64, got {lo.dtype} and {hi.dtype}")
    if lo.shape != shape or hi.shape != shape:
        raise ValueError(f"boxes must have shape {shape} (contexts, layers, units), got {lo.shape} and {hi.shape}")
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()) or (lo > hi).any():
        raise ValueError("boxes must be finite with lo <= hi")


FIELDS = ("format", "config", "sha256", "m", "lo", "hi", "meta")  # a certificate's arrays besides w/<name>


def content_hash(data):
    """SHA-256 (hex) of every array of a certificate ({name: array}): names, dtypes, shapes and bytes, in name
    order. Weights, boxes, settings and meta all count: it names one file's whole content (add.SHIPPED_SHA256)."""
    h = hashlib.sha256()
    for name in sorted(data):
        a = np.ascontiguousarray(data[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}:".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _text(data, name):
    """A 0-d unicode array's string, else a ValueError naming the field."""
    a = data[name]
    if a.dtype.kind != "U" or a.shape != ():
        raise ValueError(f"field {name!r} must be a text scalar, got {a.dtype} {a.shape}")
    return str(a)


def _read(path):
    """The certificate's fields, each checked for type, shape and integrity (not yet for the proof); a one-line
    ValueError naming the file and what is wrong otherwise."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # numpy/zipfile/zlib raise many kinds for a truncated or foreign file: all mean unreadable
        raise ValueError(f"{path} is not a readable certificate ({type(e).__name__})") from None
    missing = [k for k in FIELDS if k not in data]
    if missing or data["format"].dtype.kind != "U" or str(data["format"]) != FORMAT:
        raise ValueError(f"{path} is not a certificate of format {FORMAT!r} (missing: {', '.join(missing) or 'none'})")
    try:
        return _fields(data)
    except ValueError as e:
        raise ValueError(f"{path}: {str(e).splitlines()[0]}") from None


def _fields(data):
    extra = [k for k in data if k not in FIELDS and not k.startswith("w/")]
    if extra:
        raise ValueError(f"unexpected fields {', '.join(map(repr, extra))}")
    try:
        config, meta = json.loads(_text(data, "config")), json.loads(_text(data, "meta"))
        if not isinstance(config, dict) or set(config) != set(ModelConfig().to_dict()):
            raise ValueError(f"settings must name exactly {', '.join(sorted(ModelConfig().to_dict()))}")
        ModelConfig(**config)
    except (ValueError, TypeError) as e:
        raise ValueError(f"its settings do not describe a model ({str(e).splitlines()[0]})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a JSON object, got {type(meta).__name__}")
    sha = _text(data, "sha256")
    m = data["m"]
    if m.dtype.kind != "i" or m.shape != () or not 1 <= int(m) <= MAX_M:
        raise ValueError(f"m must be an integer scalar in 1..{MAX_M}, got {m.dtype} {m!r}")
    weights = {k[2:]: v for k, v in data.items() if k.startswith("w/")}
    for name, v in weights.items():
        if v.dtype != np.float32 or not np.isfinite(v).all():
            raise ValueError(f"weight {name!r} must be finite float32, got {v.dtype}")
    if model_hash(config, weights) != sha:
        raise ValueError("the model's SHA-256 does not match the one recorded (altered or damaged)")
    lo, hi = data["lo"], data["hi"]
    _check_boxes(lo, hi, int(m), config)
    return {"config": config, "weights": weights, "sha256": sha, "m": int(m), "lo": lo, "hi": hi, "meta": meta,
            "certificate_sha256": content_hash(data)}


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
    return _model(path, _read(path))


def verify(path):
    """Re-check a certificate from the file alone: proof.check()'s result plus the model's settings, hash and meta."""
    return verified_model(path)[1]


def both(net, config, weights, lo, hi, m):
    """proof.check()'s result with the second checker's verdict: "proof_check" and "recheck" (each True if that
    checker accepts), "proven" only if both do, and each one's seconds ("sec_check", "sec_recheck")."""
    t0 = time.perf_counter()
    out = proof.check(net, lo, hi, m=m)
    t1 = time.perf_counter()
    second = recheck.check(config, weights, m, lo, hi)
    out.update(proof_check=out["proven"], recheck=bool(second), proven=bool(out["proven"] and second),
               sec_check=t1 - t0, sec_recheck=time.perf_counter() - t1)
    return out


def verified_model(path):
    """(the model a certificate holds, verify()'s result), from one read of the file. The result is both()'s plus the
    model's settings, its weights' SHA-256, the certificate's content SHA-256 (certificate_sha256) and meta."""
    cert = _read(path)
    model = _model(path, cert)
    try:
        net = proof.extract(model)
        out = both(net, cert["config"], cert["weights"], cert["lo"], cert["hi"], cert["m"])
    except ValueError as e:
        raise ValueError(f"{path}: {str(e).splitlines()[0]}") from None
    out.update(model=cert["config"], sha256=cert["sha256"], certificate_sha256=cert["certificate_sha256"],
               meta=cert["meta"])
    return model, out


def prove(model, path, m=1, max_iter=300, budget_s=60, meta=None):
    """Search boxes for model, check them with both checkers, and write the certificate at path only if both accept.

    Returns both()'s result plus the search's iterations, closed and certified steps.
    """
    net, lo, hi, out = proof.attempt(model, m=m, max_iter=max_iter, budget_s=budget_s)
    if out["proven"]:
        weights = {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}
        out.update(both(net, model.cfg.to_dict(), weights, lo, hi, m))
    if out["proven"]:
        save(path, model, lo, hi, m, {**(meta or {}), "iterations": out["iterations"]})
    return out


def words(out):
    """verify()'s verdict in words: which checkers accept."""
    if out["proven"]:
        return "PROVEN exact at every length (both checkers accept: proof.check and recheck)"
    return (f"NOT proven (proof.check {'accepts' if out['proof_check'] else 'refuses'}, recheck "
            f"{'accepts' if out['recheck'] else 'refuses'})")


def main(argv=None):
    """`python -m measures.exact.certificate FILE...`: verify each; exit 0 if both checkers prove every file, 1 if one
    is not proven, 2 for a file that is not a whole certificate (a one-line error)."""
    import sys

    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m measures.exact.certificate CERTIFICATE.npz ...", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            out = verify(path)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"{path}: {words(out)} (m={out['m']}, {out['transitions_certified']}/{out['transitions']} transitions, "
              f"{out['outputs_certified']}/{out['reached']} outputs, margin bound {out['min_margin_bound']:.4g}; "
              f"checked in {out['sec_check']:.1f} s and {out['sec_recheck']:.1f} s; certificate SHA-256 "
              f"{out['certificate_sha256']})")
        status = max(status, 0 if out["proven"] else 1)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
