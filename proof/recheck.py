"""A second checker of proof certificates, sharing no code with the search (proof.py): exact arithmetic throughout.

Theorem. Let a certificate hold a zero-started tanh nn.RNN adder (L layers of H units; embedding E; output
V, c), a depth m and boxes lo <= hi of shape (2 * 100^m, L, H). Context k = c0 * 100^m + p_1 ... p_m (base 100, pair
p = 10 a + b, oldest first; c0 the carry into p_1) shows digit (a_m + b_m + carry into p_m) mod 10; pair y moves it
to k' = (carry out of p_1) * 100^m + p_2 ... p_m y, and the first pair y of a sum starts in context y. If check()
returns True, then for every sum of two non-negative integers of any length, the model run on the CPU in float32
(matrix products summed in any order, with or without flush-to-zero) keeps each state in its true context's box and
puts the largest logit on the true digit at every step: it adds exactly. Assumed (and recorded in the file, whose
"assumptions" must name exactly this checker's ROUNDING, CONTEXT_RULE and LAYER_RULE): float32 rounding to nearest;
torch's float32 tanh within the file's allowance of tanh, at least TANH_ERR (measured by tanh_error.py on the CPU).
check_bytes() reads the file with this module's own reader (zipfile and its own .npy header parse, not np.load):
each member once, each a .npy array of a type a certificate holds, JSON without duplicate keys.

Proof obligations, checked for every box k (and the zero state, towards contexts 0..99), pair y, layer l, unit j:
 - a pre-activation z = sum of n terms t_i (products w v, two biases) lies in [z_lo, z_hi] over the box (v's ends
   are box ends; layer l > 0 takes its input from layer l - 1 of the target box, checked first), and float32
   computes it within e = g * sum|t_i| + 2^-125 * (2n + sum|w| + sum|v|), g = n 2^-24 / (1 - n 2^-24): the
   rounding of any summation order plus underflow (products, sums, flushed operands; doubled for later roundings);
   valid only without overflow, so (1 + g) * sum|t_i| < 2^127 is required too;
 - tanh: z_lo - e >= atanh(lo' + T) and z_hi + e <= atanh(hi' - T) (T = TANH_ERR + 2^-126 for a flushed result;
   lo', hi' the target box's ends; a side is free past -1 or 1);
 - outputs: over box k, logit(true) - logit(d) - e_true - e_d > 0 for every other digit d, with no overflow.
Every float32 weight and float64 box end is a dyadic rational: sums and products are exact Python integers over
the denominator 2^(2P); atanh is enclosed by mpmath interval arithmetic (outward rounding). The terms from box k
and from target t enter a condition additively, so each target needs only the extreme over its source boxes.
"""
import ast
import io
import json
import zipfile
from fractions import Fraction

import numpy as np
from mpmath import iv

TANH_ERR = 1e-6  # least absolute error allowed to float32 tanh (tanh_error.py measures torch's: ~3e-8 on the CPU)
PREC = 100  # bits of the interval arithmetic for atanh
INF = float("inf")  # a threshold nothing passes (or, negated, that everything passes); Python compares it exactly
FORMAT = "rnn-adder proof certificate v2"  # the certificates this checker reads
# The rules this checker holds a file to, word for word as the file must record them ("assumptions"); rounding.py keeps
# its own copy of each (tests compare them), so neither checker trusts the other's.
ROUNDING = ("IEEE 754 binary32, round to nearest (ties to even); products and sums in any order, fused or not; "
            "with or without flush-to-zero")
CONTEXT_RULE = ("v1: context = (carry into the oldest of the last m pairs, those pairs oldest first), numbered "
                "c * 100^m + pairs in base 100; the first pair y starts in context y")
LAYER_RULE = ("v1: every layer reads the source box's own layer; layer l > 0 reads layer l - 1 of the target box, "
              "whose own obligation is checked too")
DTYPES = {"<f4", "<f8", "<i8"}  # the .npy types of a certificate's numbers (text: "<U<n>")


def _ints(a, p):
    """Float array -> object array of exact integers N with a = N / 2^p."""
    out = np.empty(a.shape, dtype=object)
    for i, v in np.ndenumerate(a):
        num, den = float(v).as_integer_ratio()
        out[i] = num << (p - den.bit_length() + 1)
    return out


def _bits(a):
    """The p that makes every value of float array a an integer times 2^-p."""
    return max((float(v).as_integer_ratio()[1].bit_length() - 1 for v in a.ravel()), default=0)


def _affine(w, lo, hi, p):
    """sum_i w_ji v_i over boxes v in [lo, hi] (N, K), w (J, K) exact at 2^-2p: (low, high, sum|w v|), each (N, J),
    and sum_i |v_i| (N,) at 2^-p."""
    wp, wn = np.where(w > 0, w, 0), np.where(w < 0, w, 0)
    mag = np.maximum(np.abs(lo), np.abs(hi))
    return lo @ wp.T + hi @ wn.T, hi @ wp.T + lo @ wn.T, mag @ np.abs(w).T, mag.sum(axis=1)


def _scaled(t, d, q, up):
    """ceil (up) or floor of d * t * 2^q for t an mpmath interval end (sign, mantissa, exponent, bits); +-INF."""
    sign, man, exp, bc = t
    if man == 0 and bc < 0:  # an infinite end: no finite bound
        return INF if up else -INF
    v, s = d * (-man if sign else man), exp + q
    return v << s if s >= 0 else (-((-v) >> -s) if up else v >> -s)


def _atanh_bound(y, d, q, upper):
    """The integer bound of d * atanh(y) * 2^q from above (upper) or below, y a Fraction in (-1, 1)."""
    iv.prec = PREC
    r = (1 + y) / (1 - y)  # exact; atanh(y) = log(r) / 2
    a = iv.log(iv.mpf(r.numerator) / iv.mpf(r.denominator)) / 2
    return _scaled(a._mpi_[1] if upper else a._mpi_[0], d, q, upper)


def _thresholds(lo, hi, d, q, cache, tanh_err):
    """Per target box end: z - e must reach CL = d atanh(lo + T), z + e stay within CH = d atanh(hi - T) (integers at
    2^-q, rounded towards the safe side; -INF / INF where a side is free / impossible)."""
    cl, ch = np.empty(lo.shape, dtype=object), np.empty(hi.shape, dtype=object)
    t = Fraction(tanh_err) + Fraction(2) ** -126  # the tanh allowance, and a result flushed to zero
    for i, v in np.ndenumerate(lo):
        y = Fraction(float(v)) + t
        if (0, y, d) not in cache:
            cache[0, y, d] = -INF if y <= -1 else INF if y >= 1 else _atanh_bound(y, d, q, True)
        cl[i] = cache[0, y, d]
    for i, v in np.ndenumerate(hi):
        y = Fraction(float(v)) - t
        if (1, y, d) not in cache:
            cache[1, y, d] = INF if y >= 1 else -INF if y <= -1 else _atanh_bound(y, d, q, False)
        ch[i] = cache[1, y, d]
    return cl, ch


def contexts(m):
    """(next context base of each context (add the pair y), its digit), for the 2 * 100^m contexts of depth m."""
    n = 100**m
    k = np.arange(2 * n)
    carry, pairs = k // n, [(k % n) // 100 ** (m - 1 - i) % 100 for i in range(m)]
    first_out = (pairs[0] // 10 + pairs[0] % 10 + carry >= 10).astype(np.int64)
    for p in pairs[:-1]:
        carry = (p // 10 + p % 10 + carry >= 10).astype(np.int64)
    digit = (pairs[-1] // 10 + pairs[-1] % 10 + carry) % 10
    return first_out * n + (k % n) % (n // 100) * 100, digit


def check(config, weights, m, lo, hi, tanh_err=TANH_ERR):
    """True if the certificate (config dict, {name: float32 array}, depth m, float64 boxes) proves its model with
    float32 tanh within tanh_err (at least TANH_ERR) of tanh."""
    if isinstance(tanh_err, bool) or not isinstance(tanh_err, float) or not TANH_ERR <= tanh_err < 0.5:
        raise ValueError(f"recheck: the tanh allowance must be a float in [{TANH_ERR:g}, 0.5), got {tanh_err!r}")
    layers, h = config["num_layers"], config["hidden_size"]
    if config["cell"] != "rnn" or config["hidden_mode"] not in ("none", "zero") or config["nonlinearity"] != "tanh":
        return False  # beyond this checker: zero-started tanh nn.RNN adders only
    emb_size = config["embed_size"]
    shapes = {"embed.weight": (10, emb_size), "out.weight": (10, h), "out.bias": (10,)}
    for i in range(layers):
        shapes.update({f"rnn.weight_ih_l{i}": (h, 2 * emb_size if i == 0 else h), f"rnn.weight_hh_l{i}": (h, h),
                       f"rnn.bias_ih_l{i}": (h,), f"rnn.bias_hh_l{i}": (h,)})
    if {k: getattr(v, "shape", None) for k, v in weights.items()} != shapes:
        raise ValueError("recheck: the weights do not have the shapes the settings give")
    typed = [(a, np.float32) for a in weights.values()] + [(lo, np.float64), (hi, np.float64)]
    if not all(isinstance(a, np.ndarray) and a.dtype == t and np.isfinite(a).all() for a, t in typed) or \
            lo.shape != (2 * 100**m, layers, h) or hi.shape != lo.shape or not (lo <= hi).all():
        raise ValueError("recheck needs finite float32 weights and float64 boxes lo <= hi, (2 * 100^m, L, H)")
    rows, inv = np.unique(np.concatenate([lo, hi], axis=1).reshape(len(lo), -1), axis=0, return_inverse=True)
    lo, hi = (rows.reshape(-1, 2 * layers, h)[:, s] for s in (slice(0, layers), slice(layers, None)))
    p = max(150, _bits(lo), _bits(hi), max(_bits(w) for w in weights.values()))  # values at 2^-p, products 2^-2p
    q, big = 2 * p, 2**127
    w = {k: _ints(v.astype(np.float64), p) for k, v in weights.items()}
    blo, bhi = _ints(lo, p), _ints(hi, p)  # the distinct boxes; box k of the certificate is row inv[k]
    emb = w["embed.weight"]
    x = np.concatenate([emb[np.arange(100) // 10], emb[np.arange(100) % 10]], axis=1)  # (100, 2E): pair y's input
    base, digit = contexts(m)
    groups = {b: np.flatnonzero(base == b) for b in np.unique(base)}
    zero = np.zeros((1, h), dtype=object)
    cache = {}
    for li in range(layers):
        w_ih, w_hh = w[f"rnn.weight_ih_l{li}"], w[f"rnn.weight_hh_l{li}"]
        b_ih, b_hh = w[f"rnn.bias_ih_l{li}"], w[f"rnn.bias_hh_l{li}"]
        n = w_ih.shape[1] + h + 2
        d = 2**24 - n  # g = n / d
        bias, b_abs = (b_ih + b_hh) << p, (np.abs(b_ih) + np.abs(b_hh)) << p
        tau_c = (2 * n << (q - 125)) + ((np.abs(w_ih).sum(1) + np.abs(w_hh).sum(1) + np.abs(b_ih) + np.abs(b_hh))
                                        << (p - 125))
        s_lo, s_hi, s_abs, s_mag = _affine(w_hh, blo[:, li], bhi[:, li], p)  # from the source box's own layer
        src_lo = (d * (s_lo - (s_mag << (p - 125))[:, None]) - n * s_abs)[inv]
        src_hi = (d * (s_hi + (s_mag << (p - 125))[:, None]) + n * s_abs)[inv]
        s_abs = s_abs[inv]
        if li == 0:  # from the target's pair: context t's last pair is t mod 100
            i_lo, i_hi, i_abs, i_mag = _affine(w_ih, x, x, p)
            i_lo, i_hi, i_abs, i_mag = (v[np.arange(len(inv)) % 100] for v in (i_lo, i_hi, i_abs, i_mag))
        else:  # from the layer below in the target box (checked already)
            i_lo, i_hi, i_abs, i_mag = (v[inv] for v in _affine(w_ih, blo[:, li - 1], bhi[:, li - 1], p))
        tau_t = (i_mag << (p - 125))[:, None] + tau_c
        tgt_lo = d * (i_lo + bias - tau_t) - n * (i_abs + b_abs)
        tgt_hi = d * (i_hi + bias + tau_t) + n * (i_abs + b_abs)
        cl, ch = (v[inv] for v in _thresholds(lo[:, li], hi[:, li], d, q, cache, tanh_err))
        for b, ks in groups.items():
            lo_min, hi_max, abs_max = src_lo[ks].min(axis=0), src_hi[ks].max(axis=0), s_abs[ks].max(axis=0)
            if b == 0:  # the first step: from the zero state
                lo_min, hi_max = np.minimum(lo_min, zero[0]), np.maximum(hi_max, zero[0])
            t = b + np.arange(100)
            total = abs_max + i_abs[t] + b_abs
            if (total * 2**24 >= big * d * 2**q).any():  # a partial sum could overflow float32
                return False
            if not ((lo_min + tgt_lo[t] >= cl[t]).all() and (hi_max + tgt_hi[t] <= ch[t]).all()):
                return False
    v, c = w["out.weight"], w["out.bias"]
    n = h + 1
    d = 2**24 - n
    _, _, o_abs, o_mag = _affine(v, blo[:, -1], bhi[:, -1], p)  # per distinct box: sum|V h| (U, 10), sum|h| (U,)
    e = n * (o_abs + (np.abs(c) << p)) + d * (((2 * n) << (q - 125)) + ((np.abs(v).sum(1) + np.abs(c)) << (p - 125))
                                               + (o_mag << (p - 125))[:, None])  # d * e_d per context and digit
    if ((o_abs + (np.abs(c) << p)) * 2**24 >= big * d * 2**q).any():
        return False
    box_digit = np.unique(inv * 10 + digit)  # the distinct (box, digit it must show) of the contexts
    for want in range(10):
        ks = box_digit[box_digit % 10 == want] // 10
        diff_lo = _affine(v[want] - v, blo[ks, -1], bhi[ks, -1], p)[0]  # (K, 10): logit(want) - logit(d)
        low = d * (diff_lo + ((c[want] - c) << p)) - e[ks] - e[ks, want][:, None]
        if not (np.delete(low, want, axis=1) > 0).all():
            return False
    return True


def _npy(blob, name):
    """One .npy member's bytes -> its array, parsed here (magic, version, header dict, data of exactly the right
    length; no pickles, C order, little-endian numbers or text), not by np.load."""
    if blob[:6] != b"\x93NUMPY" or blob[6:7] not in (b"\x01", b"\x02", b"\x03"):
        raise ValueError(f"member {name!r} is not a .npy array")
    size = 2 if blob[6] == 1 else 4
    start = 8 + size
    header = blob[8:start]
    if len(header) < size:
        raise ValueError(f"member {name!r} is cut short")
    end = start + int.from_bytes(header, "little")
    try:
        meta = ast.literal_eval(blob[start:end].decode("utf8" if blob[6] == 3 else "latin1"))
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
        raise ValueError(f"member {name!r} has no readable .npy header") from None
    if not isinstance(meta, dict) or set(meta) != {"descr", "fortran_order", "shape"} or \
            meta["fortran_order"] is not False or not isinstance(meta["shape"], tuple) or \
            not all(type(n) is int and n >= 0 for n in meta["shape"]):
        raise ValueError(f"member {name!r} has a .npy header this checker does not read")
    descr = meta["descr"]
    if not isinstance(descr, str) or not (descr in DTYPES or (descr.startswith("<U") and descr[2:].isdigit())):
        raise ValueError(f"member {name!r} has type {descr!r}, not one a certificate holds")
    dtype = np.dtype(descr)
    count = int(np.prod(meta["shape"], dtype=object))
    data = blob[end:]
    if len(data) != count * dtype.itemsize:
        raise ValueError(f"member {name!r} holds {len(data)} bytes, not the {count * dtype.itemsize} of its header")
    return np.frombuffer(data, dtype=dtype).reshape(meta["shape"]).copy()


def read_bytes(raw):
    """A certificate file's bytes -> {field: array}, read here: zip members (each name once, each a .npy array)."""
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        names = z.namelist()
        if len(set(names)) != len(names):
            raise ValueError("a zip member appears twice (two meanings for one file)")
        if not all(n.endswith(".npy") for n in names):
            raise ValueError("a zip member is not a .npy array")
        return {n[:-4]: _npy(z.read(n), n) for n in names}


def _unique_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a JSON key appears twice (two meanings for one file)")
    return dict(pairs)


def _json(data, name):
    a = data[name]
    if a.dtype.kind != "U" or a.shape != ():
        raise ValueError(f"field {name!r} must be text")
    return json.loads(str(a), object_pairs_hook=_unique_keys, parse_constant=_finite)


def _finite(name):
    raise ValueError(f"JSON number {name} is not finite")


def tanh_allowance(a):
    """The tanh allowance of a file's assumptions, if every rule it names is this checker's (else ValueError)."""
    want = {"rounding": ROUNDING, "contexts": CONTEXT_RULE, "layers": LAYER_RULE}
    if not isinstance(a, dict) or set(a) != set(want) | {"tanh_abs_error"}:
        raise ValueError("the assumptions do not name the tanh allowance and the rounding, context and layer rules")
    if any(a[k] != v for k, v in want.items()):
        raise ValueError("the assumptions' rules are not the ones recheck holds")
    t = a["tanh_abs_error"]
    if type(t) not in (int, float) or not TANH_ERR <= t < 0.5:
        raise ValueError(f"the tanh allowance must be a number in [{TANH_ERR:g}, 0.5), got {t!r}")
    return float(t)


def check_bytes(raw):
    """check() on a certificate file's bytes, read by this module's own reader (not np.load; the weights' hash is
    certificate.py's job); a one-line ValueError for bytes it cannot read as a certificate."""
    try:
        data = read_bytes(raw)
        fmt = data["format"]
        if fmt.dtype.kind != "U" or fmt.shape != () or str(fmt) != FORMAT:
            raise ValueError(f"not a certificate of format {FORMAT!r}")
        config, m = _json(data, "config"), data["m"]
        tanh_err = tanh_allowance(_json(data, "assumptions"))
        _json(data, "meta")  # not used here, but read: JSON of one meaning too
        if m.dtype != np.int64 or m.shape != () or not 1 <= int(m) <= 2:
            raise ValueError(f"m must be an integer 1 or 2, got {m!r}")
        weights = {k[2:]: v for k, v in data.items() if k.startswith("w/")}
        if data["lo"].dtype != np.float64 or data["hi"].dtype != np.float64 or \
                any(v.dtype != np.float32 for v in weights.values()):
            raise ValueError("boxes must be float64 and weights float32")
        return check(config, weights, int(m), data["lo"], data["hi"], tanh_err)
    except ValueError as e:
        raise ValueError(f"recheck: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    except Exception as e:  # a missing field, settings of the wrong type, a file that is no zip of arrays
        raise ValueError(f"not a certificate recheck can read ({type(e).__name__})") from None


def check_file(path):
    """check_bytes() on the file at path; a one-line ValueError naming it for a file it cannot read as one."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        return check_bytes(raw)
    except (ValueError, OSError) as e:
        raise ValueError(f"{path}: {e}") from None
