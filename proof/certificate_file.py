"""The certificate file's format, with one meaning per file: what a certificate holds and how it is read and written.

The file is a zip of .npy arrays (what np.load reads as .npz; no pickles) holding exactly
    format       FORMAT, to tell a certificate from any other .npz
    config       the model's settings (models.ModelConfig) as JSON
    w/<name>     every tensor of the model's state_dict, float32, bit for bit
    sha256       SHA-256 of the settings and the weights (model_hash): a damaged or altered model is refused
    m, lo, hi    the context depth (an integer scalar) and the boxes (finite float64, lo <= hi, one per context)
    assumptions  JSON: what the boxes are checked under (rounding.assumptions): the tanh allowance, the float32
                 rounding model and the versions of the context and layer rules; both checkers read and check it
    meta         JSON: its `origin` (ORIGINS), its auxiliary training `targets` (a list; [] for a model trained from
                 sums alone) and whatever else the writer keeps (which run, seed, search statistics)
and nothing else. One file has one meaning: a duplicated zip member, a member that is not a .npy array, a duplicated
JSON key or a non-finite JSON number is refused, and every field's type, shape and values are checked (read()). A
file is named by the SHA-256 of its bytes (read()'s certificate_sha256; add.SHIPPED_SHA256 pins the one the
repository ships), and encode() makes those bytes a function of the content alone (sorted members, fixed zip dates),
so writing the same certificate again gives the same file. certificate.py proves, writes and verifies certificates.
"""
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from models import ModelConfig
from proof import proof

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


def encode(arrays):
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


def check_boxes(lo, hi, m, config):
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


def read(path):
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
    check_boxes(lo, hi, int(m), config)
    return {"config": config, "weights": weights, "sha256": sha, "m": int(m), "lo": lo, "hi": hi, "meta": meta,
            "tanh_err": tanh_err}
