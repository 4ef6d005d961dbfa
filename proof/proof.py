"""A proof that a trained rnn (tanh or relu) adds correctly at every length, by a finite abstraction.

After step t the state h_t must show the digit (a_t + b_t + c_t) mod 10 and remember the carry c_{t+1}. Call the
last m digit pairs and the carry into the oldest of them the step's *context* (2 * 100^m contexts). The search
builds one box (per-coordinate interval of every layer's state) per context such that

    (init)   from the zero state, the state after the first pair y lies in the box of context (0..0, y; carry 0);
    (step)   for every context k and every next pair y, every state of k's box is mapped into the box of the
             context k shifted by y (carry into it: the true carry of k's oldest pair);
    (output) every state of a context's box puts the largest logit on its true digit.

Then, by induction on t, every state the model reaches on any sum of any length is in the box of its true context,
so every digit is right: "proven for every length". Boxes are pushed through the step by interval arithmetic on
the pre-activations (mid/radius form) and the monotone activation; m = 2 keeps apart the states that one step
of history separates (a tighter region than one box per (pair, carry)). With more than one layer, layer l > 0 of a
step's image is computed from layer l - 1 of the *target* box (LAYER_RULE), whose own containment is checked too: the
same obligation as recheck.py's, so the two checkers agree on multi-layer certificates.

Rounding: the certificate is for float32 arithmetic: the model on the CPU, or on CUDA with TF32 off
(machinery/numerics.py turns it off; proof_eval refuses a CUDA model while TF32 is on, see tf32_problem). Every
image box is widened by a bound on the float32 error of one step in any summation order: gamma_n = n u / (1 - n u),
u = 2^-24, times the sum of the absolute terms (relative error), plus an absolute term for underflow: an operation
whose result is below 2^-126 (subnormal, or flushed to zero under flush-to-zero, torch.set_flush_denormal) loses up
to 2^-126, and a subnormal operand read as zero up to 2^-126 times the other, so a dot product of n terms may lose 2
* 2^-126 * (2n + sum|w| + sum|h|) whatever its scale; tanh adds its allowance (net["tanh_err"], at least TANH_ERR;
relu 2^-126) and the float64 arithmetic of the check a relative 1e-12, and every box end and margin bound is then
rounded outward by one float64 step (np.nextafter), so no end lands on a value the exact checker refuses. Output
margins subtract the same kind of bound. So the boxes hold the float32 states as the model computes them, not only
the real-arithmetic ones, and a model whose logits underflow is not proven however right it is in real arithmetic.
The bound holds only without overflow: a pre-activation or logit whose absolute terms could sum to OVERFLOW (a
partial sum near float32's largest, 2^128) gets an unbounded image (or margin), so it is never proven (in float32 it
could be inf, and inf - inf = NaN spreads to every unit).
TANH_ERR is measured, not assumed: tanh_error.py compares torch's float32 tanh on the CPU with the true tanh
(benchmarks/bench_tanh.py over every float32), and the proof is for the CPU (add.py runs a proven model there). A
certificate records what its boxes were checked under (assumptions(): the allowance, ROUNDING, CONTEXT_RULE,
LAYER_RULE); read_assumptions() refuses a file whose rules are not this module's. The search never widens a box past
the range of the images (_range: derived from the allowance, not a fixed literal).

Long (about 500 lines) on purpose: the search and its soundness argument (every widening above) are one piece;
split, a reader could check one half of the error model without the other.

search() finds the boxes (Kleene iteration from the zero state: join images into their target box, widen a
little when a box grows, never past the activation's range, until nothing grows; then, if the boxes do not prove
the model, narrow them by descending iteration); check() verifies a set of boxes independently of how it was
found (it is what the tests break on purpose). certificate.py stores a model with its boxes and re-checks the file.
A box's images under all 100 pairs cost one product of its state with W_hh (images()): m = 2 (20,000 boxes) takes
seconds per iteration.
"""
import time

import numpy as np
import torch

from proof import recheck  # the second checker, for proof_eval's verdict (it imports nothing of this module)

U32 = 2.0**-24  # float32 unit roundoff
TANH_ERR = 1e-6  # bound on float32 tanh's absolute error (16 ulps of values < 1; measured: tanh_error.py)
OVERFLOW = 2.0**127  # sums of absolute terms from here on might overflow float32 (largest finite ~2^128): unbounded
TINY = 2.0**-126  # smallest normal float32: the most one flushed or underflowing operation loses, absolute
REL64 = 1e-12  # relative slack for this module's own float64 arithmetic
PAIRS = 100  # digit pairs (a, b) -> a * 10 + b
CHUNK = 2000  # boxes per batch of images (x 100 pairs): bounds memory at m = 2 (20,000 boxes)
# The rules a certificate's boxes are checked by, as a certificate file records them (its "assumptions"); the
# second checker (recheck.py) holds its own copy of each text and refuses a file whose texts differ.
ROUNDING = ("IEEE 754 binary32, round to nearest (ties to even); products and sums in any order, fused or not; "
            "with or without flush-to-zero")  # the float32 model of this module
CONTEXT_RULE = ("v1: context = (carry into the oldest of the last m pairs, those pairs oldest first), numbered "
                "c * 100^m + pairs in base 100; the first pair y starts in context y")
LAYER_RULE = ("v1: every layer reads the source box's own layer; layer l > 0 reads layer l - 1 of the target box, "
              "whose own obligation is checked too")


def assumptions(tanh_err=TANH_ERR):
    """The assumptions a certificate's boxes are checked under, as its file records them (JSON-ready)."""
    return {"tanh_abs_error": float(tanh_err), "rounding": ROUNDING, "contexts": CONTEXT_RULE, "layers": LAYER_RULE}


def read_assumptions(a):
    """The tanh allowance of a certificate's assumptions (a dict) that this checker can hold it to, else a one-line
    ValueError: the rules must be this module's, and the allowance a number no smaller than TANH_ERR (measured)."""
    if not isinstance(a, dict) or set(a) != set(assumptions()):
        raise ValueError(f"assumptions must name exactly {', '.join(sorted(assumptions()))}")
    for key, want in (("rounding", ROUNDING), ("contexts", CONTEXT_RULE), ("layers", LAYER_RULE)):
        if a[key] != want:
            raise ValueError(f"assumption {key!r} is {str(a[key])[:60]!r}, not the rule proof.check holds")
    t = a["tanh_abs_error"]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not TANH_ERR <= t < 0.5:
        raise ValueError(f"assumption 'tanh_abs_error' must be a number in [{TANH_ERR:g}, 0.5), got {t!r}")
    return float(t)


def _down(a):
    """a rounded one float64 step towards -inf: box ends computed in float64 are rounded outward."""
    return np.nextafter(a, -np.inf)


def _up(a):
    return np.nextafter(a, np.inf)


def _range(net):
    """(floor, ceiling) below/above every image's end: tanh's lie in +-(1 + allowance + 2^-126 + float64 slack),
    relu's above -(2^-126 + slack); derived from the net's tanh allowance, never a literal."""
    if net["act"] == "tanh":
        top = _up((1 + 2 * REL64) + net["tanh_err"] + 2 * TINY)
        return -top, top
    return -2 * TINY, np.inf


def gamma(n):
    return n * U32 / (1 - n * U32)


def float32_error(n, w_abs, b_abs, mag):
    """Bound on |float32 - exact| of y = W h + b, n terms, over boxes |h| <= mag (N, K): |W| (O, K), |b| (O,).

    Relative part: gamma_n times the sum of the absolute terms (any summation order, FMA or not). Absolute part, for
    underflow: each of the n products and n additions may lose 2^-126 (a result flushed or rounded below the normal
    range) and a subnormal operand read as zero loses 2^-126 times the other; the factor 2 bounds the (1 + u)^n that
    later roundings multiply an early loss by. Returns (N, O).
    """
    rel = (gamma(n) + REL64) * (mag @ w_abs.T + b_abs)
    tiny = 2 * TINY * (2 * n + w_abs.sum(axis=1) + b_abs + mag.sum(axis=1)[:, None])
    return rel + tiny


def tf32_problem(device):
    """Why float32 results on `device` may not be float32 arithmetic (TF32 on CUDA), or None."""
    if torch.device(device).type != "cuda":
        return None
    on = []
    flags = (("torch.backends.cuda.matmul.allow_tf32", lambda: torch.backends.cuda.matmul.allow_tf32),
             ("torch.backends.cudnn.allow_tf32", lambda: torch.backends.cudnn.allow_tf32),
             ("torch.get_float32_matmul_precision()", lambda: torch.get_float32_matmul_precision() != "highest"))
    for name, flag in flags:
        try:
            if flag():
                on.append(name)
        except RuntimeError:  # torch refuses to read a flag the legacy and new TF32 APIs set differently
            on.append(name)
    if not on:
        return None
    return (f"the proof bounds float32 arithmetic, but TF32 is on for CUDA ({', '.join(on)}): turn it off "
            f"(machinery/numerics.apply does) or prove the model on the CPU")


def extract(model, tanh_err=TANH_ERR):
    """The model as float64 arrays: per-pair input term of layer 1, per layer (W_ih, W_hh, b_ih, b_hh), output;
    tanh_err: the absolute error allowed to float32 tanh (at least TANH_ERR; a certificate records its own)."""
    rnn = model.rnn
    if model.cfg.hidden_mode == "carry":  # the proof starts every sum from zeros, as modes none and zero do
        raise ValueError("the proof handles models that start from zeros (hidden_mode none or zero), not carry")
    if not isinstance(rnn, torch.nn.RNN):
        raise ValueError("the proof handles nn.RNN (tanh or relu) only")
    get = lambda name: getattr(rnn, name).detach().double().numpy()  # noqa: E731
    layers = [tuple(get(f"{w}_l{i}") for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
              for i in range(rnn.num_layers)]
    emb = model.embed.weight.detach().double().numpy()
    a, b = np.divmod(np.arange(PAIRS), 10)
    x = np.concatenate([emb[a], emb[b]], axis=1)  # (100, 2E): each pair's input, exact float32 values
    return {"x": x, "layers": layers, "act": rnn.nonlinearity, "V": model.out.weight.detach().double().numpy(),
            "c": model.out.bias.detach().double().numpy(), "tanh_err": float(tanh_err)}


def _act(z, act):
    return np.tanh(z) if act == "tanh" else np.maximum(z, 0)


def _side(w, lo, hi, g):
    """One side (input or state) of a pre-activation over boxes (..., K): (centre term, radius + error term).

    The error term is this side's share of float32_error (linear in |h|): gamma times the absolute terms, and the
    underflow loss 2^-126 times |h| per term; the pre-activation adds the biases' and the per-operation shares.
    """
    mid, rad, mag = (lo + hi) / 2, (hi - lo) / 2, np.maximum(np.abs(lo), np.abs(hi))
    return mid @ w.T, (rad + g * mag) @ np.abs(w).T + 2 * TINY * mag.sum(axis=-1)[..., None]


def _steps(net, lo, hi, y=None, targets=None):
    """Boxes (N, L, H) -> the boxes holding every float32 state of one step: under pairs y (N,), (N, L, H); or,
    y None, under every pair, (N, 100, L, H). The first layer's input terms are computed once per pair and its
    state terms once per box, so a box's 100 images cost one matrix product, not 100.

    Layer l > 0 reads layer l - 1 of the target box (LAYER_RULE; targets: (t_lo, t_hi) shaped as the result), or
    of the image itself where no target is given or the target is unreached (an infinite end: check() refuses a
    step into it anyway). Every end is rounded outward by one float64 step after the slack of this arithmetic."""
    out_lo = np.empty((lo.shape[0], PAIRS) + lo.shape[1:]) if y is None else np.empty_like(lo)
    out_hi = np.empty_like(out_lo)
    below = None
    for li, (w_ih, w_hh, b_ih, b_hh) in enumerate(net["layers"]):
        n = w_ih.shape[1] + w_hh.shape[1] + 2  # the terms of one pre-activation: inputs, state, two biases
        g = gamma(n) + REL64  # float32 error of any summation order + float64 slack of this arithmetic
        b_abs = np.abs(b_ih) + np.abs(b_hh)
        w_sum = np.abs(w_ih).sum(axis=1) + np.abs(w_hh).sum(axis=1)
        const = b_ih + b_hh, g * b_abs + 2 * TINY * (2 * n + w_sum + b_abs) + 1e-300  # float32_error's other terms
        h_mid, h_err = _side(w_hh, lo[:, li], hi[:, li], g)  # (N, H)
        if below is None:  # the first layer's input: the pair's embedding (exact), per pair
            x_mid, x_err = _side(w_ih, net["x"], net["x"], g)  # (100, H)
            x_mid, x_err = (x_mid[y], x_err[y]) if y is not None else (x_mid[None], x_err[None])
        else:
            if targets is not None:  # the target box's layer below, where it is reached
                t_lo, t_hi = targets[0][..., li - 1, :], targets[1][..., li - 1, :]
                ok = np.isfinite(t_lo) & np.isfinite(t_hi)
                below = np.where(ok, t_lo, below[0]), np.where(ok, t_hi, below[1])
            x_mid, x_err = _side(w_ih, below[0], below[1], g)
        if y is None:
            h_mid, h_err = h_mid[:, None], h_err[:, None]
        z, r = x_mid + h_mid + const[0], x_err + h_err + const[1]
        err = (net["tanh_err"] if net["act"] == "tanh" else 0.0) + TINY  # the activation's own error, or its flush
        a, b = _act(z - r, net["act"]), _act(z + r, net["act"])  # monotone: the ends of the interval
        over = r * ((1 + g) / g) >= OVERFLOW  # r >= g * sum of absolute terms: a partial sum could overflow
        out_lo[..., li, :] = np.where(over, -np.inf, _down(a - REL64 * np.abs(a) - err))
        out_hi[..., li, :] = np.where(over, np.inf, _up(b + REL64 * np.abs(b) + err))
        below = out_lo[..., li, :], out_hi[..., li, :]
    return out_lo, out_hi


def image(net, lo, hi, y, targets=None):
    """Boxes (N, L, H) and next pairs y (N,) -> boxes holding every float32 state the step can produce (targets:
    the boxes (N, L, H) the states must land in, whose lower layers feed the upper ones; see _steps)."""
    return _steps(net, lo, hi, np.asarray(y), targets)


def images(net, lo, hi, targets=None):
    """Boxes (N, L, H) -> their images under every next pair (N, 100, L, H), as image() gives them (targets:
    (N, 100, L, H) each, or None)."""
    return _steps(net, lo, hi, targets=targets)


def output_margins(net, lo, hi, digit):
    """Lower bound, over each box (N, L, H), of the true digit's logit minus every other digit's (N,)."""
    V, c = net["V"], net["c"]
    mid, rad = (lo[:, -1] + hi[:, -1]) / 2, (hi[:, -1] - lo[:, -1]) / 2
    mag = np.maximum(np.abs(lo[:, -1]), np.abs(hi[:, -1]))
    err = float32_error(V.shape[1] + 1, np.abs(V), np.abs(c), mag)  # per logit, (N, 10)
    diff = V[digit][:, None, :] - V[None, :, :]  # (N, 10, H): right row minus each row
    low = (diff @ mid[:, :, None])[..., 0] - (np.abs(diff) @ rad[:, :, None])[..., 0] + (c[digit][:, None] - c)
    low = low - err - err[np.arange(len(digit)), digit][:, None]
    low[np.arange(len(digit)), digit] = np.inf
    g = gamma(V.shape[1] + 1)
    over = (err * ((1 + g) / g) >= OVERFLOW).any(axis=1)  # err >= g * sum of absolute terms: could overflow
    return np.where(over, -np.inf, _down(low.min(axis=1)))


class Contexts:
    """Contexts of depth m: (carry into the oldest pair, the last m pairs), numbered c * 100^m + pairs in base 100."""

    def __init__(self, m):
        self.m, self.n = m, 2 * PAIRS**m
        idx = np.arange(self.n)
        self.carry0, rest = np.divmod(idx, PAIRS**m)
        self.pairs = np.stack([(rest // PAIRS ** (m - 1 - i)) % PAIRS for i in range(m)], axis=1)  # oldest first
        carry = self.carry0
        for i in range(m - 1):  # the carry into the newest pair
            carry = (self._sum(self.pairs[:, i]) + carry >= 10).astype(np.int64)
        self.carry_last = carry
        self.digit = (self._sum(self.pairs[:, -1]) + carry) % 10  # the digit this context must show
        self.carry_out = (self._sum(self.pairs[:, -1]) + carry >= 10).astype(np.int64)
        c_next = (self._sum(self.pairs[:, 0]) + self.carry0 >= 10).astype(np.int64) if m > 1 else self.carry_out
        self.shift_base = c_next * PAIRS**m + (rest % PAIRS ** (m - 1)) * PAIRS  # + y: the context after pair y

    @staticmethod
    def _sum(p):
        return p // 10 + p % 10

    def start(self, y):
        """The context of the first step (virtual earlier pairs (0, 0), carry 0) with pair y."""
        return np.asarray(y)

    def next(self, k, y):
        return self.shift_base[k] + y


def _zero_state(net, n):
    layers, h = len(net["layers"]), net["layers"][0][1].shape[0]
    return np.zeros((n, layers, h)), np.zeros((n, layers, h))


def search(net, m=1, max_iter=300, widen=0.02, widen_from=10, limit=1e6, budget_s=60, narrow=True):
    """Kleene iteration for the boxes; returns (lo, hi, iterations, closed, certified steps).

    Without widening, the boxes after iteration i hold every state reachable in <= i + 1 steps; widening only
    enlarges them, so while every reached box still shows its true digit, every sum of that many steps (operand
    digits + the padding step) is proven right: `certified steps`, a bound that holds even if the search never
    closes. closed: no box grew in the last iteration (the boxes are then an invariant; check() verifies it).
    Widening (a box that grew grows by `widen` of its width more) starts at iteration widen_from, or as soon as
    the margins fail (no more steps to certify), and never past the activation's range, which holds every image.
    narrow: when the boxes closed but do not prove the model, shrink them by descending iteration (_narrow) for
    what is left of max_iter and budget_s: it takes back what widening overshot. (Descending from the whole range
    instead is no use: a box that holds every state carries no carry, and the iteration stays near the range.)
    """
    ctx = Contexts(m)
    layers, h = len(net["layers"]), net["layers"][0][1].shape[0]
    lo, hi = np.full((ctx.n, layers, h), np.inf), np.full((ctx.n, layers, h), -np.inf)
    y = np.arange(PAIRS)
    z_lo, z_hi = _zero_state(net, PAIRS)
    i_lo, i_hi = image(net, z_lo, z_hi, y)
    np.minimum.at(lo, ctx.start(y), i_lo)
    np.maximum.at(hi, ctx.start(y), i_hi)
    floor, ceiling = _range(net)  # below / above every image's end
    t0, it, closed = time.perf_counter(), 0, False
    certified = 1 if (_margins_ok(net, ctx, lo, hi)) else 0  # every sum of <= `certified` steps is proven right
    while it < max_iter and time.perf_counter() - t0 < budget_s:
        it += 1
        new_lo, new_hi = lo.copy(), hi.copy()
        _join_images(net, ctx, lo, hi, np.nonzero(np.isfinite(lo[:, 0, 0]))[0], new_lo, new_hi)
        if len(net["layers"]) > 1:  # the first steps again: their upper layers read the grown target boxes
            i_lo, i_hi = image(net, z_lo, z_hi, y, _targets(net, lo, hi, ctx.start(y)))
            np.minimum.at(new_lo, ctx.start(y), i_lo)
            np.maximum.at(new_hi, ctx.start(y), i_hi)
        grew = (new_lo < lo) | (new_hi > hi)
        if not grew.any():
            closed = True
            break
        if it >= widen_from or certified < it:
            width = np.where(np.isfinite(new_hi - new_lo), new_hi - new_lo, 0)
            grow_k = grew.any(axis=(1, 2)) & np.isfinite(lo[:, 0, 0])  # widen boxes that grew (not new ones)
            new_lo[grow_k] = np.maximum(new_lo[grow_k] - widen * width[grow_k] - 1e-9, floor)
            new_hi[grow_k] = np.minimum(new_hi[grow_k] + widen * width[grow_k] + 1e-9, ceiling)
        lo, hi = new_lo, new_hi
        if certified == it and _margins_ok(net, ctx, lo, hi):  # boxes now hold every state of <= it + 1 steps
            certified = it + 1
        if np.nanmax(np.where(np.isfinite(hi - lo), hi - lo, 0)) > limit:
            break
    if narrow and closed and not _margins_ok(net, ctx, lo, hi):
        lo, hi, steps, closed = _narrow(net, ctx, lo, hi, max_iter - it, t0 + budget_s)
        it += steps
    return lo, hi, it, closed, certified


def _post(net, ctx, lo, hi):
    """The boxes' successors: images of every reached box under every pair, joined with the first steps' images."""
    n_lo, n_hi = np.full_like(lo, np.inf), np.full_like(hi, -np.inf)
    y = np.arange(PAIRS)
    z_lo, z_hi = _zero_state(net, PAIRS)
    i_lo, i_hi = image(net, z_lo, z_hi, y, _targets(net, lo, hi, ctx.start(y)))
    np.minimum.at(n_lo, ctx.start(y), i_lo)
    np.maximum.at(n_hi, ctx.start(y), i_hi)
    _join_images(net, ctx, lo, hi, np.nonzero(np.isfinite(lo[:, 0, 0]))[0], n_lo, n_hi)
    return n_lo, n_hi


def _narrow(net, ctx, lo, hi, max_iter, deadline, slack=1e-12):
    """Descending iteration from an invariant (boxes whose successors fit in them): B <- post(B) + slack, within B.

    post is monotone, so post(B) inside B gives post(post(B)) inside post(B): every iterate is again an invariant,
    each at least as tight as the last (the widening's overshoot shrinks back towards a fixed point). Stops when
    the margins hold, nothing shrinks, or time runs out; returns the last boxes whose successors were seen to fit
    (lo, hi, iterations, closed), or the start with closed False if they did not.
    """
    good, it = None, 0
    while it < max_iter and time.perf_counter() < deadline:
        it += 1
        n_lo, n_hi = _post(net, ctx, lo, hi)
        reached = np.isfinite(n_lo[:, 0, 0])
        fits = ((n_lo >= lo) | ~reached[:, None, None]).all() and ((n_hi <= hi) | ~reached[:, None, None]).all()
        if not fits:  # rounding in this module's float64 broke monotonicity by an ulp: keep the last good boxes
            break
        good = np.where(reached[:, None, None], lo, np.inf), np.where(reached[:, None, None], hi, -np.inf)
        if _margins_ok(net, ctx, *good):
            break
        c_lo = np.where(reached[:, None, None], np.maximum(n_lo - slack, lo), np.inf)  # unreached contexts drop out
        c_hi = np.where(reached[:, None, None], np.minimum(n_hi + slack, hi), -np.inf)
        if np.array_equal(c_lo, lo) and np.array_equal(c_hi, hi):
            break
        lo, hi = c_lo, c_hi
    if good is None:
        return lo, hi, it, False
    return good[0], good[1], it, True


def _join_images(net, ctx, lo, hi, ks, new_lo, new_hi):
    """Join into new_lo/new_hi (in place) the image of every box ks under every next pair, CHUNK boxes at a time."""
    for start in range(0, len(ks), CHUNK):
        part = ks[start : start + CHUNK]
        base = ctx.shift_base[part]
        i_lo, i_hi = images(net, lo[part], hi[part], _targets(net, lo, hi, base[:, None] + np.arange(PAIRS)))
        # (n, 100, L, H): box k under pair y goes to shift_base[k] + y
        order = np.argsort(base, kind="stable")  # group the boxes by target row: one reduceat per group
        b = base[order]
        first = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        tgt = b[first][:, None] + np.arange(PAIRS)  # (groups, 100)
        new_lo[tgt] = np.minimum(new_lo[tgt], np.minimum.reduceat(i_lo[order], first, axis=0))
        new_hi[tgt] = np.maximum(new_hi[tgt], np.maximum.reduceat(i_hi[order], first, axis=0))


def _targets(net, lo, hi, tgt):
    """The boxes at indices tgt, whose lower layers feed the upper ones (LAYER_RULE); None for one layer."""
    return (lo[tgt], hi[tgt]) if len(net["layers"]) > 1 else None


def _margins_ok(net, ctx, lo, hi):
    ks = np.nonzero(np.isfinite(lo[:, 0, 0]))[0]
    return bool((output_margins(net, lo[ks], hi[ks], ctx.digit[ks]) > 0).all())


def validate(net, lo, hi, m):
    """A one-line ValueError unless net (extract()'s form) and boxes lo, hi are what check() reasons about: real
    float64 arrays of the shapes the model gives, finite weights, no NaN, lo <= hi in every box with finite ends
    (a box with an infinite end is an unreached context: check() lets no step into it), m an integer >= 1."""
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"context depth m must be an integer >= 1, got {m!r}")
    layers = net.get("layers") if isinstance(net, dict) else None
    if not layers or net.get("act") not in ("tanh", "relu"):
        raise ValueError("net must be extract()'s dict of an nn.RNN (tanh or relu)")
    t = net.get("tanh_err")
    if isinstance(t, bool) or not isinstance(t, float) or not TANH_ERR <= t < 0.5:
        raise ValueError(f"the tanh allowance must be a float in [{TANH_ERR:g}, 0.5), got {t!r}")
    h = layers[0][1].shape[0] if getattr(layers[0][1], "ndim", 0) == 2 else -1
    arrays = [net["x"], net["V"], net["c"]] + [a for layer in layers for a in layer]
    if not all(isinstance(a, np.ndarray) and a.dtype == np.float64 and np.isfinite(a).all() for a in arrays):
        raise ValueError("the model's arrays must be finite float64 (extract() gives them)")
    ins = [net["x"].shape[1]] + [h] * (len(layers) - 1)
    if [tuple(a.shape for a in layer) for layer in layers] != [((h, i), (h, h), (h,), (h,)) for i in ins] or \
            net["x"].shape != (PAIRS, ins[0]) or net["V"].shape != (10, h) or net["c"].shape != (10,):
        raise ValueError("the model's arrays do not fit together (extract() gives them)")
    shape = (2 * PAIRS**m, len(layers), h)
    for name, a in (("lo", lo), ("hi", hi)):
        if not isinstance(a, np.ndarray) or a.dtype != np.float64 or a.shape != shape or np.isnan(a).any():
            raise ValueError(f"boxes {name} must be a float64 array of shape {shape} without NaN, got "
                             f"{getattr(a, 'dtype', type(a).__name__)} {getattr(a, 'shape', '')}")
    finite = np.isfinite(lo) & np.isfinite(hi)
    if (lo[finite] > hi[finite]).any():
        raise ValueError("a box has lo > hi")


def check(net, lo, hi, m=1):
    """Verify boxes (per context) as a certificate; returns a JSON-ready dict with "proven" and what failed.
    Arrays not of the form it reasons about get a one-line ValueError (validate)."""
    validate(net, lo, hi, m)
    ctx = Contexts(m)
    reached = np.isfinite(lo).all(axis=(1, 2)) & np.isfinite(hi).all(axis=(1, 2))  # a box with any inf or nan is
    y = np.arange(PAIRS)  # not reached: a step into it fails
    z_lo, z_hi = _zero_state(net, PAIRS)
    s_tgt = ctx.start(y)
    s_lo, s_hi = image(net, z_lo, z_hi, y, _targets(net, lo, hi, s_tgt))
    init_ok = reached[s_tgt] & (s_lo >= lo[s_tgt]).all(axis=(1, 2)) & (s_hi <= hi[s_tgt]).all(axis=(1, 2))
    ks = np.nonzero(reached)[0]
    step_ok = np.zeros((len(ks), PAIRS), dtype=bool)
    for start in range(0, len(ks), CHUNK):
        part = ks[start : start + CHUNK]
        tgt = ctx.next(part[:, None], y)
        i_lo, i_hi = images(net, lo[part], hi[part], _targets(net, lo, hi, tgt))  # (n, 100, L, H)
        ok = reached[tgt] & (i_lo >= lo[tgt]).all(axis=(2, 3)) & (i_hi <= hi[tgt]).all(axis=(2, 3))
        step_ok[start : start + len(part)] = ok
    margin = output_margins(net, lo[ks], hi[ks], ctx.digit[ks]) if len(ks) else np.array([-np.inf])
    proven = bool(init_ok.all() and step_ok.all() and (margin > 0).all())
    return {"proven": proven, "m": m, "contexts": int(ctx.n), "reached": int(reached.sum()),
            "init_certified": int(init_ok.sum()), "transitions": int(step_ok.size),
            "transitions_certified": int(step_ok.sum()), "outputs_certified": int((margin > 0).sum()),
            "min_margin_bound": float(margin.min()), "max_width": float((hi[ks] - lo[ks]).max()) if len(ks) else None}


def attempt(model, m=1, max_iter=300, budget_s=60):
    """Search boxes for `model` and check them: (net, lo, hi, check()'s result with the search's iterations,
    closed and certified steps). The proof is for float32 arithmetic: a ValueError on CUDA with TF32 on."""
    problem = tf32_problem(next(model.parameters()).device)
    if problem:
        raise ValueError(problem)
    net = extract(model)
    lo, hi, iterations, closed, certified = search(net, m=m, max_iter=max_iter, budget_s=budget_s)
    out = check(net, lo, hi, m=m)
    out.update(iterations=iterations, closed=closed, certified_steps=certified)
    return net, lo, hi, out


def proof_eval(model, m=1, max_iter=300, budget_s=60, quick=False):
    """Search and check a certificate for one trained model; JSON-ready outcome and per-(pair, carry) box summary.
    "proven" needs both checkers: check() and, where it accepts, recheck.check ("recheck" in the outcome).

    The certificate is for float32 arithmetic: the model on the CPU, or on CUDA with TF32 off (a ValueError
    otherwise, see tf32_problem).
    """
    if quick:
        max_iter, budget_s = min(max_iter, 20), min(budget_s, 10)
    t0 = time.perf_counter()
    net, lo, hi, out = attempt(model, m, max_iter, budget_s)
    if out["proven"]:  # proven only if the independent checker accepts the boxes too
        weights = {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}
        out["recheck"] = recheck.check(model.cfg.to_dict(), weights, m, lo, hi)
        out["proven"] = out["recheck"]
    ctx = Contexts(m)
    reached = np.isfinite(lo[:, 0, 0])
    width = np.where(reached, np.where(reached[:, None, None], hi - lo, 0).max(axis=(1, 2)), np.nan)
    margin = np.full(ctx.n, np.nan)
    margin[reached] = output_margins(net, lo[reached], hi[reached], ctx.digit[reached])
    key = ctx.carry_last * PAIRS + ctx.pairs[:, -1]  # (carry into the step, its pair): 200 groups
    agg_w, agg_m = np.full(2 * PAIRS, np.nan), np.full(2 * PAIRS, np.nan)
    for g in range(2 * PAIRS):
        sel = (key == g) & reached
        if sel.any():
            agg_w[g], agg_m[g] = width[sel].max(), margin[sel].min()
    out.update(sec=time.perf_counter() - t0, box_width=[None if np.isnan(v) else float(v) for v in agg_w],
               box_margin=[None if np.isnan(v) else float(v) for v in agg_m])
    return out
