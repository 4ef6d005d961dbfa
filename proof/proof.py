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

Rounding: the certificate is for float32 arithmetic (the model on the CPU, or on CUDA with TF32 off). rounding.py
holds the float32 error bound and why it holds (float32_error, the underflow, overflow and tanh allowances); this
module applies it: every image box and output margin is widened by it (_side, _steps, output_margins) and every box
end and margin bound then rounded outward by one float64 step (_down, _up), so the boxes hold the float32 states as
the model computes them. The search never widens a box past the range of the images (_range: derived from the
allowance, not a fixed literal). The model as arrays (extract, validate) and the contexts (Contexts) are
abstraction.py's. TANH_ERR, assumptions and read_assumptions (rounding.py's) are importable from here too:
certificate.py and certificate_file.py read them as proof.TANH_ERR, proof.assumptions, proof.read_assumptions.

search() finds the boxes (Kleene iteration from the zero state: join images into their target box, widen a
little when a box grows, never past the activation's range, until nothing grows; then, if the boxes do not prove
the model, narrow them by descending iteration); check() verifies a set of boxes independently of how it was
found (it is what the tests break on purpose). certificate.py stores a model with its boxes and re-checks the file.
A box's images under all 100 pairs cost one product of its state with W_hh (images()): m = 2 (20,000 boxes) takes
seconds per iteration.
"""
import time

import numpy as np

from proof import recheck  # the second checker, for proof_eval's verdict (it imports nothing of this module)
from proof.abstraction import PAIRS, Contexts, extract, validate
from proof.rounding import OVERFLOW, REL64, TINY, float32_error, gamma, tf32_problem
from proof.rounding import TANH_ERR as TANH_ERR  # re-exported: certificate.py reads proof.TANH_ERR
from proof.rounding import assumptions as assumptions  # re-exported: certificate.py reads proof.assumptions
from proof.rounding import read_assumptions as read_assumptions  # re-exported: certificate_file.py reads it

CHUNK = 2000  # boxes per batch of images (x 100 pairs): bounds memory at m = 2 (20,000 boxes)


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
