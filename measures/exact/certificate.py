"""A proof certificate file: a model's exact float32 weights and the boxes that prove it adds at every length.

The file is a numpy .npz (no pickles) holding
    format       FORMAT, to tell a certificate from any other .npz
    config       the model's settings (models.ModelConfig) as JSON
    w/<name>     every tensor of the model's state_dict, float32, bit for bit
    sha256       SHA-256 of the settings and the weights (model_hash): a damaged or altered model is refused
    m, lo, hi    the context depth and the boxes (float64, one per context, as proof.search gives them)
    meta         JSON: whatever the writer wants to keep beside them (which run, seed, search statistics)

verify() rebuilds the model from the file alone and runs proof.check() on the file's boxes: nothing of the search
that found them is trusted, so a certificate is as good as check() whoever wrote it. load_model() gives the model
(add.py can answer with a proven model). A file that is not a whole certificate gets a one-line ValueError.
"""
import hashlib
import json

import numpy as np
import torch

from measures.exact import proof
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
    if not isinstance(m, (int, np.integer)) or not 1 <= m <= MAX_M:
        raise ValueError(f"context depth m must be an integer in 1..{MAX_M}, got {m!r}")
    shape = (2 * proof.PAIRS**m, config["num_layers"], config["hidden_size"])
    if lo.shape != shape or hi.shape != shape:
        raise ValueError(f"boxes must have shape {shape} (contexts, layers, units), got {lo.shape} and {hi.shape}")


def _read(path):
    """The certificate's fields, checked for completeness and integrity (not yet for the proof)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # numpy/zipfile/zlib raise many kinds for a truncated or foreign file: all mean unreadable
        raise ValueError(f"{path} is not a readable certificate ({type(e).__name__})") from None
    missing = [k for k in ("format", "config", "sha256", "m", "lo", "hi", "meta") if k not in data]
    if missing or str(data["format"]) != FORMAT:
        raise ValueError(f"{path} is not a certificate of format {FORMAT!r} (missing: {', '.join(missing) or 'none'})")
    try:
        config = json.loads(str(data["config"]))
        meta = json.loads(str(data["meta"]))
        ModelConfig(**config)
        m = int(data["m"])
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: its settings do not describe a model ({str(e).splitlines()[0]})") from None
    weights = {k[2:]: v for k, v in data.items() if k.startswith("w/")}
    if any(v.dtype != np.float32 for v in weights.values()) or data["lo"].dtype != np.float64:
        raise ValueError(f"{path}: weights must be float32 and boxes float64")
    if model_hash(config, weights) != str(data["sha256"]):
        raise ValueError(f"{path}: the model's SHA-256 does not match the one recorded (altered or damaged)")
    try:
        _check_boxes(data["lo"], data["hi"], m, config)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return {"config": config, "weights": weights, "sha256": str(data["sha256"]), "m": m, "lo": data["lo"],
            "hi": data["hi"], "meta": meta}


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


def verified_model(path):
    """(the model a certificate holds, verify()'s result), from one read of the file."""
    cert = _read(path)
    model = _model(path, cert)
    try:
        net = proof.extract(model)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    out = proof.check(net, cert["lo"], cert["hi"], m=cert["m"])
    out.update(model=cert["config"], sha256=cert["sha256"], meta=cert["meta"])
    return model, out


def prove(model, path, m=1, max_iter=300, budget_s=60, meta=None):
    """Search boxes for model, check them, and write the certificate at path only if they prove it.

    Returns check()'s result plus the search's iterations, closed and certified steps.
    """
    _, lo, hi, out = proof.attempt(model, m=m, max_iter=max_iter, budget_s=budget_s)
    if out["proven"]:
        save(path, model, lo, hi, m, {**(meta or {}), "iterations": out["iterations"]})
    return out


def main(argv=None):
    """`python -m measures.exact.certificate FILE...`: verify each; exit 0 if all are proven, 1 if one is not, 2 for
    a file that is not a whole certificate (a one-line error)."""
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
        print(f"{path}: {'PROVEN exact at every length' if out['proven'] else 'NOT proven'} "
              f"(m={out['m']}, {out['transitions_certified']}/{out['transitions']} transitions, "
              f"{out['outputs_certified']}/{out['reached']} outputs, margin bound {out['min_margin_bound']:.4g}, "
              f"model {out['sha256'][:12]})")
        status = max(status, 0 if out["proven"] else 1)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
