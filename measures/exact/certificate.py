"""A proof certificate file: a model's exact float32 weights and the boxes that prove it adds at every length.

The file is a zip of .npy arrays (what np.load reads as .npz; no pickles) holding exactly
    format       FORMAT, to tell a certificate from any other .npz
    config       the model's settings (models.ModelConfig) as JSON
    w/<name>     every tensor of the model's state_dict, float32, bit for bit
    sha256       SHA-256 of the settings and the weights (model_hash): a damaged or altered model is refused
    m, lo, hi    the context depth (an integer scalar) and the boxes (finite float64, lo <= hi, one per context)
    assumptions  JSON: what the boxes are checked under (proof.assumptions): the tanh allowance, the float32
                 rounding model and the versions of the context and layer rules; both checkers read and check it
    meta         JSON: its `origin` (ORIGINS), its auxiliary training `targets` (a list; [] for a model trained from
                 sums alone) and whatever else the writer keeps (which run, seed, search statistics)
and nothing else. One file has one meaning: a duplicated zip member, a member that is not a .npy array, a duplicated
JSON key or a non-finite JSON number is refused, and every field's type, shape and values are checked. A file is
named by the SHA-256 of its bytes (certificate_sha256; add.SHIPPED_SHA256 pins the one the repository ships), and the
writer makes those bytes a function of the content alone (sorted members, fixed zip dates), so rewriting the same
certificate gives the same file.

verify() rebuilds the model from the file alone and runs two checkers on the file's boxes: proof.check() and
recheck.check_file(), an independent one in exact arithmetic that reads the file with its own reader; the model is
proven only if both accept. Nothing of the search that found the boxes is trusted, so a certificate is as good as the
checkers whoever wrote it. write() is the one writer (exact_adder's, exact_frontier's and the constructed adder's
certificates): it keeps a file of the same model and meta that verifies, else searches, checks and writes. A file
that is not a whole, well-typed certificate gets a one-line ValueError (exit 2 from the command).
"""
import hashlib
import io
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from measures.exact import proof, recheck
from models import ModelConfig, myPTRNNModel

FORMAT = "rnn-adder proof certificate v2"  # the format field's value (v2: assumptions, origin and targets recorded)
MAX_M = 2  # deepest context a certificate may use (m = 3 would be 2,000,000 boxes)
ORIGINS = ("trained", "pruned", "constructed")  # meta's origin: how the model's weights came about
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # every member's zip date: the file's bytes depend on its content alone


def model_hash(config, weights):
    """SHA-256 (hex) of the settings (a dict) and the weights ({name: float32 array}), in a fixed order."""
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for name in sorted(weights):
        w = np.ascontiguousarray(weights[name], dtype="<f4")
        h.update(f"{name}:{w.shape}".encode())
        h.update(w.tobytes())
    return h.hexdigest()


def check_meta(meta):
    """meta as a certificate keeps it: a JSON object whose origin is one of ORIGINS and targets a list of names."""
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a JSON object, got {type(meta).__name__}")
    if meta.get("origin") not in ORIGINS:
        raise ValueError(f"meta's origin must be one of {', '.join(ORIGINS)}, got {meta.get('origin')!r}")
    targets = meta.get("targets")
    if not isinstance(targets, list) or not all(isinstance(t, str) and t for t in targets):
        raise ValueError(f"meta's targets must be a list of target names ([] for sums alone), got {targets!r}")
    return meta


def _zip_bytes(arrays):
    """{name: array} -> the bytes of a zip of name.npy members, sorted, deflated, dated ZIP_DATE (deterministic)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            z.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()


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
    _check_boxes(lo, hi, m, config)
    arrays = {"format": np.array(FORMAT), "config": np.array(json.dumps(config, sort_keys=True)),
              "sha256": np.array(model_hash(config, weights)), "m": np.array(m, dtype=np.int64), "lo": lo, "hi": hi,
              "assumptions": np.array(json.dumps(proof.assumptions(tanh_err), sort_keys=True)),
              "meta": np.array(json.dumps(meta, sort_keys=True))}
    arrays.update({f"w/{k}": v for k, v in weights.items()})
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(_zip_bytes(arrays))
    os.replace(tmp, path)


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


FIELDS = ("format", "config", "sha256", "m", "lo", "hi", "assumptions", "meta")  # besides w/<name>


def _text(data, name):
    """A 0-d unicode array's string, else a ValueError naming the field."""
    a = data[name]
    if a.dtype.kind != "U" or a.shape != ():
        raise ValueError(f"field {name!r} must be a text scalar, got {a.dtype} {a.shape}")
    return str(a)


def _pairs(pairs):
    """json object_pairs_hook: a duplicated key is two meanings for one file."""
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError(f"duplicate JSON key {dup[0]!r}")
    return dict(pairs)


def _no_constant(name):
    raise ValueError(f"JSON number {name} is not finite")


def json_field(data, name):
    """A text field's JSON value: duplicate keys and NaN/Infinity refused (one meaning per file)."""
    try:
        return json.loads(_text(data, name), object_pairs_hook=_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise ValueError(f"field {name!r} is not JSON ({e.msg})") from None


def _members(raw):
    """The bytes of a certificate file -> {name: array}: a zip whose members are distinct name.npy arrays."""
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        names = z.namelist()
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"zip member {dup[0]!r} appears {names.count(dup[0])} times (two meanings for one file)")
        data = {}
        for n in names:
            if not n.endswith(".npy"):
                raise ValueError(f"zip member {n!r} is not a .npy array")
            try:
                data[n[:-4]] = np.lib.format.read_array(io.BytesIO(z.read(n)), allow_pickle=False)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
                raise ValueError(f"zip member {n!r} is not a .npy array ({type(e).__name__})") from None
    return data


def _read(path):
    """The certificate's fields, each checked for type, shape and integrity (not yet for the proof), with the SHA-256
    of the file's bytes and the bytes themselves; a one-line ValueError naming the file and what is wrong otherwise."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ValueError(f"{path} is not a readable certificate ({e.strerror or type(e).__name__})") from None
    try:
        data = _members(raw)
    except ValueError as e:
        raise ValueError(f"{path}: {str(e).splitlines()[0]}") from None
    except Exception as e:  # zipfile/zlib raise many kinds for a truncated or foreign file: all mean unreadable
        raise ValueError(f"{path} is not a readable certificate ({type(e).__name__})") from None
    missing = [k for k in FIELDS if k not in data]
    if missing or data["format"].dtype.kind != "U" or data["format"].shape != () or str(data["format"]) != FORMAT:
        raise ValueError(f"{path} is not a certificate of format {FORMAT!r} (missing: {', '.join(missing) or 'none'})")
    try:
        cert = _fields(data)
    except ValueError as e:
        raise ValueError(f"{path}: {str(e).splitlines()[0]}") from None
    return {**cert, "certificate_sha256": hashlib.sha256(raw).hexdigest(), "raw": raw}


def _fields(data):
    extra = [k for k in data if k not in FIELDS and not k.startswith("w/")]
    if extra:
        raise ValueError(f"unexpected fields {', '.join(map(repr, extra))}")
    try:
        config = json_field(data, "config")
        if not isinstance(config, dict) or set(config) != set(ModelConfig().to_dict()):
            raise ValueError(f"settings must name exactly {', '.join(sorted(ModelConfig().to_dict()))}")
        ModelConfig(**config)
    except (ValueError, TypeError) as e:
        raise ValueError(f"its settings do not describe a model ({str(e).splitlines()[0]})") from None
    meta = check_meta(json_field(data, "meta"))
    tanh_err = proof.read_assumptions(json_field(data, "assumptions"))
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
            "tanh_err": tanh_err}


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
    cert = _read(path)
    model = _model(path, cert)
    try:
        net = proof.extract(model, tanh_err=cert["tanh_err"])
        out = both(net, cert["config"], cert["weights"], cert["lo"], cert["hi"], cert["m"], raw=cert["raw"])
    except ValueError as e:
        raise ValueError(f"{path}: {str(e).splitlines()[0]}") from None
    out.update(model=cert["config"], sha256=cert["sha256"], certificate_sha256=cert["certificate_sha256"],
               tanh_err=cert["tanh_err"], meta=cert["meta"])
    return model, out


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


def write(path, model, *, origin, targets, meta=None, m=1, max_iter=300, budget_s=60):
    """The one certificate writer: keep path if it holds this very model with this meta (origin, targets and the
    rest; the search's iterations aside) and both checkers accept it; else prove() the model there (search, write,
    verify). A certificate that cannot be proven leaves no file: an earlier one is set aside as .stale.

    Returns (path or None, verify()'s or prove()'s result). origin: one of ORIGINS ("trained", "pruned",
    "constructed"); targets: the auxiliary training targets' names ([] when trained from sums alone)."""
    path = Path(path)
    want_meta = check_meta({**(meta or {}), "origin": origin, "targets": list(targets)})
    want = model_hash(model.cfg.to_dict(), {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()})
    try:
        kept = verify(path) if path.exists() else None
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
    """Why this process's float32 arithmetic may not round as the proof assumes (proof.ROUNDING: to nearest, ties to
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
        print(f"{path}: {words(out)} (origin {out['meta']['origin']}, m={out['m']}, tanh allowance "
              f"{out['tanh_err']:g}, {out['transitions_certified']}/{out['transitions']} transitions, "
              f"{out['outputs_certified']}/{out['reached']} outputs, margin bound {out['min_margin_bound']:.4g}; "
              f"checked in {out['sec_check']:.1f} s and {out['sec_recheck']:.1f} s; file SHA-256 "
              f"{out['certificate_sha256']})")
        status = max(status, 0 if out["proven"] else 1)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
