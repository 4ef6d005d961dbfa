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
of history separates (a tighter region than one box per (pair, carry)).

Rounding: the model runs in float32. Every image box is widened by a bound on the float32 error of one step in
any summation order (gamma_n = n u / (1 - n u), u = 2^-24, times the sum of the absolute terms, plus 1e-6 for
tanh), and the float64 arithmetic of the check by a relative 1e-12; output margins subtract the same kind of
bound. So the boxes hold the float32 states as the model computes them, not only the real-arithmetic ones.

search() finds the boxes (Kleene iteration from the zero state: join images into their target box, widen a
little when a box grows, until nothing grows); check() verifies a set of boxes independently of how it was
found (it is what the tests break on purpose).
"""
import time

import numpy as np
import torch

U32 = 2.0**-24  # float32 unit roundoff
TANH_ERR = 1e-6  # bound on float32 tanh's absolute error (a few ulps of values <= 1)
REL64 = 1e-12  # relative slack for this module's own float64 arithmetic
PAIRS = 100  # digit pairs (a, b) -> a * 10 + b


def gamma(n):
    return n * U32 / (1 - n * U32)


def extract(model):
    """The model as float64 arrays: per-pair input term of layer 1, per layer (W_ih, W_hh, b_ih, b_hh), output."""
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
            "c": model.out.bias.detach().double().numpy()}


def _act(z, act):
    return np.tanh(z) if act == "tanh" else np.maximum(z, 0)


def image(net, lo, hi, y):
    """Boxes (N, L, H) and next pairs y (N,) -> boxes holding every float32 state the step can produce."""
    out_lo, out_hi = np.empty_like(lo), np.empty_like(hi)
    below_lo, below_hi = net["x"][y], net["x"][y]  # the layer's input box: the pair's embedding (exact)
    for li, (w_ih, w_hh, b_ih, b_hh) in enumerate(net["layers"]):
        mid_in, rad_in = (below_lo + below_hi) / 2, (below_hi - below_lo) / 2
        mid_h, rad_h = (lo[:, li] + hi[:, li]) / 2, (hi[:, li] - lo[:, li]) / 2
        z = mid_in @ w_ih.T + mid_h @ w_hh.T + b_ih + b_hh
        r = rad_in @ np.abs(w_ih).T + rad_h @ np.abs(w_hh).T
        mag_in, mag_h = np.maximum(np.abs(below_lo), np.abs(below_hi)), np.maximum(np.abs(lo[:, li]), np.abs(hi[:, li]))
        total = mag_in @ np.abs(w_ih).T + mag_h @ np.abs(w_hh).T + np.abs(b_ih) + np.abs(b_hh)
        n = w_ih.shape[1] + w_hh.shape[1] + 2
        r = r + (gamma(n) + REL64) * total + 1e-300  # float32 step error (any order) + float64 slack
        err = TANH_ERR if net["act"] == "tanh" else 0.0
        a, b = _act(z - r, net["act"]), _act(z + r, net["act"])  # monotone: the ends of the interval
        out_lo[:, li] = a - REL64 * np.abs(a) - err - 1e-300
        out_hi[:, li] = b + REL64 * np.abs(b) + err + 1e-300
        below_lo, below_hi = out_lo[:, li], out_hi[:, li]
    return out_lo, out_hi


def output_margins(net, lo, hi, digit):
    """Lower bound, over each box (N, L, H), of the true digit's logit minus every other digit's (N,)."""
    V, c = net["V"], net["c"]
    mid, rad = (lo[:, -1] + hi[:, -1]) / 2, (hi[:, -1] - lo[:, -1]) / 2
    mag = np.maximum(np.abs(lo[:, -1]), np.abs(hi[:, -1]))
    err = (gamma(V.shape[1] + 1) + REL64) * (mag @ np.abs(V).T + np.abs(c))  # per logit, (N, 10)
    diff = V[digit][:, None, :] - V[None, :, :]  # (N, 10, H): right row minus each row
    low = (diff @ mid[:, :, None])[..., 0] - (np.abs(diff) @ rad[:, :, None])[..., 0] + (c[digit][:, None] - c)
    low = low - err - err[np.arange(len(digit)), digit][:, None]
    low[np.arange(len(digit)), digit] = np.inf
    return low.min(axis=1)


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


def search(net, m=1, max_iter=300, widen=0.02, limit=1e6, budget_s=60):
    """Kleene iteration for the boxes; returns (lo, hi, iterations, closed, certified steps).

    Without widening, the boxes after iteration i hold every state reachable in <= i + 1 steps; widening only
    enlarges them, so while every reached box still shows its true digit, every sum of that many steps (operand
    digits + the padding step) is proven right: `certified steps`, a bound that holds even if the search never
    closes. closed: no box grew in the last iteration (the boxes are then an invariant; check() verifies it).
    """
    ctx = Contexts(m)
    layers, h = len(net["layers"]), net["layers"][0][1].shape[0]
    lo, hi = np.full((ctx.n, layers, h), np.inf), np.full((ctx.n, layers, h), -np.inf)
    y = np.arange(PAIRS)
    z_lo, z_hi = _zero_state(net, PAIRS)
    i_lo, i_hi = image(net, z_lo, z_hi, y)
    np.minimum.at(lo, ctx.start(y), i_lo)
    np.maximum.at(hi, ctx.start(y), i_hi)
    t0, it, closed = time.perf_counter(), 0, False
    certified = 1 if (_margins_ok(net, ctx, lo, hi)) else 0  # every sum of <= `certified` steps is proven right
    while it < max_iter and time.perf_counter() - t0 < budget_s:
        it += 1
        ks = np.nonzero(np.isfinite(lo[:, 0, 0]))[0]
        kk, yy = np.repeat(ks, PAIRS), np.tile(y, len(ks))
        i_lo, i_hi = image(net, lo[kk], hi[kk], yy)
        tgt = ctx.next(kk, yy)
        new_lo, new_hi = lo.copy(), hi.copy()
        np.minimum.at(new_lo, tgt, i_lo)
        np.maximum.at(new_hi, tgt, i_hi)
        grew = (new_lo < lo) | (new_hi > hi)
        if not grew.any():
            closed = True
            break
        width = np.where(np.isfinite(new_hi - new_lo), new_hi - new_lo, 0)
        grow_k = grew.any(axis=(1, 2)) & np.isfinite(lo[:, 0, 0])  # widen boxes that grew (not new ones)
        new_lo[grow_k] -= widen * width[grow_k] + 1e-9
        new_hi[grow_k] += widen * width[grow_k] + 1e-9
        lo, hi = new_lo, new_hi
        if certified == it and _margins_ok(net, ctx, lo, hi):  # boxes now hold every state of <= it + 1 steps
            certified = it + 1
        if np.nanmax(np.where(np.isfinite(hi - lo), hi - lo, 0)) > limit:
            break
    return lo, hi, it, closed, certified


def _margins_ok(net, ctx, lo, hi):
    ks = np.nonzero(np.isfinite(lo[:, 0, 0]))[0]
    return bool((output_margins(net, lo[ks], hi[ks], ctx.digit[ks]) > 0).all())


def check(net, lo, hi, m=1):
    """Verify boxes (per context) as a certificate; returns a JSON-ready dict with "proven" and what failed."""
    ctx = Contexts(m)
    reached = np.isfinite(lo[:, 0, 0]) & np.isfinite(hi[:, 0, 0])
    y = np.arange(PAIRS)
    z_lo, z_hi = _zero_state(net, PAIRS)
    s_lo, s_hi = image(net, z_lo, z_hi, y)
    s_tgt = ctx.start(y)
    init_ok = reached[s_tgt] & (s_lo >= lo[s_tgt]).all(axis=(1, 2)) & (s_hi <= hi[s_tgt]).all(axis=(1, 2))
    ks = np.nonzero(reached)[0]
    step_ok = np.zeros((len(ks), PAIRS), dtype=bool)
    for start in range(0, len(ks), 2000):
        part = ks[start : start + 2000]
        kk, yy = np.repeat(part, PAIRS), np.tile(y, len(part))
        i_lo, i_hi = image(net, lo[kk], hi[kk], yy)
        tgt = ctx.next(kk, yy)
        ok = reached[tgt] & (i_lo >= lo[tgt]).all(axis=(1, 2)) & (i_hi <= hi[tgt]).all(axis=(1, 2))
        step_ok[start : start + len(part)] = ok.reshape(len(part), PAIRS)
    margin = output_margins(net, lo[ks], hi[ks], ctx.digit[ks]) if len(ks) else np.array([-np.inf])
    proven = bool(init_ok.all() and step_ok.all() and (margin > 0).all())
    return {"proven": proven, "m": m, "contexts": int(ctx.n), "reached": int(reached.sum()),
            "init_certified": int(init_ok.sum()), "transitions": int(step_ok.size),
            "transitions_certified": int(step_ok.sum()), "outputs_certified": int((margin > 0).sum()),
            "min_margin_bound": float(margin.min()), "max_width": float((hi[ks] - lo[ks]).max()) if len(ks) else None}


def proof_eval(model, m=1, max_iter=300, budget_s=60, quick=False):
    """Search and check a certificate for one trained model; JSON-ready outcome and per-(pair, carry) box summary."""
    if quick:
        max_iter, budget_s = min(max_iter, 20), min(budget_s, 10)
    t0 = time.perf_counter()
    net = extract(model)
    lo, hi, iterations, closed, certified = search(net, m=m, max_iter=max_iter, budget_s=budget_s)
    out = check(net, lo, hi, m=m)
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
    out.update(iterations=iterations, closed=closed, certified_steps=certified, sec=time.perf_counter() - t0,
               box_width=[None if np.isnan(v) else float(v) for v in agg_w],
               box_margin=[None if np.isnan(v) else float(v) for v in agg_m])
    return out
