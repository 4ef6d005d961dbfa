"""Small trained adders (a few tanh units): the training routes, an exact readout by linear programming, the proof.

small_eval, the "after" hook of the small_adder experiment, takes a one-layer tanh adder that train.fit trained on
short sums and goes on training it by one route (route_train: Adam in stages of falling learning rate on batches of
every (carry in, digit pair) transition plus carry-chain-rich sums, the loss

    ce * cross-entropy over every digit + weight * aux_penalty (auxiliary targets) + carry_sat * mean(1 - h_0^2)
       + rest_sat * mean(1 - h_j^2) over the units j no target names

where the auxiliary targets are functions of the operands, like the digits: "carry" puts the carry out of each step
on unit 0 (-1 / +1), "sum" the column sum s = a + b + c_in on unit 1 (tanh(SUM_SCALE (s - 9.5)), from the second
step on: the first starts from zeros, not from a carry state). aux_penalty(states, num1, num2) has the form of a
penalty a training loop adds to its loss.

Then the readout is refitted exactly, never by hand: readout.readout_lp maximises the smallest margin t (right
digit's logit minus any other) over every state the model reaches on the sums of operands below 10^3 (all_states),
by cutting planes (measures/smallest/readout.py).
A positive t means every such sum and every carry chain they hold is right. The proof's boxes can hold corners no
real state reaches, so box_readout fits the same LP on the 2^k corners of the proof's own boxes (a linear readout's
smallest margin over a box is at a corner, so positive margins there are the proof's output condition), searches
the boxes again and repeats. A model whose boxes both checkers accept (certificate.both) is proven; its weights are
kept, and small_report writes its certificate file.
"""
import copy
import time

import numpy as np
import torch
import torch.nn.functional as F

from data import add_digits
from measures.exact.evaluate import certificate_text
from measures.smallest.readout import MIN_T, LPError, corners, margins, readout_lp, set_readout
from train import chain_batch, fit, to_tensors

GRID = 1e-3  # shared(): states closer than this on every unit count as one state
STATE_DIGITS = 3  # the states LP: every sum of two operands below 10^STATE_DIGITS
QUICK_STATE_DIGITS = 2  # the same under --quick (10^4 sums instead of 10^6)
SUM_SCALE = 0.15  # the column-sum target tanh(SUM_SCALE * (s - 9.5)): a code one tanh unit can hold
TARGETS = ("carry", "sum")  # auxiliary targets, on units 0, 1, ... in the order a route lists them
CHAIN_SUMS = 100  # carry-chain-rich sums per batch, beside the 200 transitions
RESTART_SEED = 1000  # a restart r of seed s draws its weights from torch seed RESTART_SEED * (s + 1) + r


def carries(num1, num2):
    """Column sums a + b + c_in of LSB-first digit arrays (B, T), by Python-int-free carrying: int64 (B, T)."""
    s = np.zeros(num1.shape, dtype=np.int64)
    cin = np.zeros(num1.shape[0], dtype=np.int64)
    for t in range(num1.shape[1]):
        s[:, t] = num1[:, t] + num2[:, t] + cin
        cin = (s[:, t] >= 10).astype(np.int64)
    return s


def aux_targets(num1, num2, names):
    """The auxiliary targets `names` (of TARGETS) of sums (B, T): float32 tensor (B, T, len(names)), NaN where a
    target has none (the column sum at the first step)."""
    s = carries(np.asarray(num1), np.asarray(num2))
    out = []
    for name in names:
        if name == "carry":
            out.append(np.where(s >= 10, 1.0, -1.0))
        elif name == "sum":
            v = np.tanh(SUM_SCALE * (s - 9.5))
            v[:, 0] = np.nan
            out.append(v)
        else:
            raise ValueError(f"unknown auxiliary target {name!r}; valid: {', '.join(TARGETS)}")
    return torch.from_numpy(np.stack(out, axis=-1).astype(np.float32))


def aux_penalty(targets, weight):
    """penalty(states (B, T, H), num1, num2) -> weight * mean squared distance of units 0.. to their targets."""
    def penalty(states, num1, num2):
        tgt = aux_targets(num1.numpy(), num2.numpy(), targets)  # (B, T, K)
        known = ~torch.isnan(tgt)
        return weight * ((states[..., : tgt.shape[-1]] - torch.nan_to_num(tgt)) ** 2)[known].mean()
    return penalty


def transition_batch(rng):
    """Every (carry in, digit pair) transition once: 200 two-digit sums whose low pair makes the carry (drawn among
    the pairs summing to >= 10 for carry 1, <= 9 for 0) and whose high pair is the transition's; arrays (200, 3)."""
    pairs = np.arange(100)
    carry = np.repeat([0, 1], 100)
    a_lo = rng.integers(carry, 10)  # 1..9 for carry 1, 0..9 for 0
    low, high = np.where(carry == 1, 10 - a_lo, 0), np.where(carry == 1, 10, 10 - a_lo)  # b: a + b >= 10, or <= 9
    b_lo = low + (rng.random(200) * (high - low)).astype(np.int64)
    num1 = np.stack([a_lo, np.tile(pairs // 10, 2), np.zeros(200, np.int64)], axis=1)
    num2 = np.stack([b_lo, np.tile(pairs % 10, 2), np.zeros(200, np.int64)], axis=1)
    return num1, num2, add_digits(num1, num2)


def sampler(length):
    """sample(rng): the 200 transitions (zero-padded) and CHAIN_SUMS carry-chain-rich sums of `length` digits."""
    def sample(rng):
        t, c = transition_batch(rng), chain_batch(CHAIN_SUMS, length, rng)
        pad = ((0, 0), (0, c[0].shape[1] - 3))
        return tuple(np.concatenate([np.pad(a, pad), b]) for a, b in zip(t, c, strict=True))
    return sample


def route_train(model, seed, steps, lrs, length, targets=(), weight=1.0, ce=1.0, carry_sat=0.0, rest_sat=0.0):
    """Train `model` in place by one route (module docstring) through train.fit with the route's loss: `steps` Adam
    steps (fresh moments) at each of `lrs`, batches from np.random.default_rng([seed, stage]). Returns the mean loss
    of each stage's last 50 steps (None for a stage whose loss went non-finite, which ends the route)."""
    penalty = aux_penalty(tuple(targets), weight) if targets else None

    def loss_fn(model, num1, num2, result, step):
        h, _ = model.run(num1, num2)  # (B, T, H), zero start
        loss = ce * F.cross_entropy(model.out(h).reshape(-1, 10), result.reshape(-1))
        if penalty is not None:
            loss = loss + penalty(h, num1, num2)
        if carry_sat:
            loss = loss + carry_sat * (1 - h[..., 0] ** 2).mean()
        if rest_sat and h.shape[-1] > len(targets):  # the units no target names
            loss = loss + rest_sat * (1 - h[..., len(targets) :] ** 2).mean()
        return loss

    sample, out = sampler(length), []
    for stage, lr in enumerate(lrs):
        rng = np.random.default_rng([seed, stage])
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        losses, _, _ = fit(model, opt, lambda step, rng=rng: to_tensors(sample(rng), "cpu"), steps, loss_fn=loss_fn)
        if not np.isfinite(losses[-1]):
            model.eval()
            return out + [None]
        out.append(float(np.mean(losses[-50:])))
    model.eval()
    return out


@torch.no_grad()
def all_states(model, digits=STATE_DIGITS):
    """Every state the model reaches on the sums of two operands below 10^digits, with the digit each must show:
    (S (N, H) float64, D (N,) int64); each distinct prefix of pairs run once (100 + ... + 2 * 100^digits states:
    the prefixes of 1..digits pairs, then the padding step after each full one)."""
    model.eval()
    a, b = np.divmod(np.arange(100), 10)
    S, D = [], []
    pa = pb = np.zeros((1, 0), np.int64)
    h = None  # (1, rows, H): the state after each prefix so far
    for t in range(digits + 1):
        if t < digits:  # every prefix extended by every pair
            na = np.concatenate([np.repeat(pa, 100, axis=0), np.tile(a, len(pa))[:, None]], axis=1)
            nb = np.concatenate([np.repeat(pb, 100, axis=0), np.tile(b, len(pb))[:, None]], axis=1)
            start = None if h is None else h.repeat_interleave(100, dim=1)
        else:  # the padding step (pair 0, 0), whose digit is the final carry
            na, nb = (np.pad(v, ((0, 0), (0, 1))) for v in (pa, pb))
            start = h
        y, last = model.run(torch.from_numpy(na[:, -1:]), torch.from_numpy(nb[:, -1:]), start)
        S.append(y[:, 0].double().numpy())
        D.append(add_digits(na, nb)[:, -1])
        pa, pb, h = na, nb, last
    return np.concatenate(S), np.concatenate(D)


def shared(S, D, grid=GRID):
    """The fraction of states S (N, H) whose cell of the grid (side `grid`) also holds a state of another digit D:
    the collapse (two digits on one state) that no readout can undo; NaN for non-finite states."""
    if not np.isfinite(S).all():
        return float("nan")
    cell, top = np.zeros(len(S), np.int64), 1  # (N,) the rows of grid cells as mixed-radix ids below `top`: one
    for col in np.floor(S / grid).astype(np.int64).T:  # 1-D sort at the end, not np.unique(axis=0)'s row sort
        col, width = col - col.min(), int(col.max() - col.min()) + 1
        if top * width >= 2**62:  # the next digit would overflow int64: renumber the ids so far (and the column)
            cell = np.unique(cell, return_inverse=True)[1].ravel()
            top = int(cell.max()) + 1
            if top * width >= 2**62:
                col = np.unique(col, return_inverse=True)[1].ravel()
                width = int(col.max()) + 1
        cell, top = cell * width + col, top * width
    cell = np.unique(cell, return_inverse=True)[1].ravel()
    base = D.max() + 1
    pairs = np.sort(cell * base + D)
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]  # each (cell, digit) once (np.unique's hash path is slower)
    digits = np.bincount(pairs // base, minlength=cell.max() + 1)  # distinct digits per cell
    return float((digits[cell] > 1).mean())


def box_readout(model, m=1, max_iter=300, budget_s=60, rounds=3):
    """Prove `model` (proof.attempt); while proof.check refuses, fit the readout on the corners of its boxes and
    search again, at most `rounds` fits. Returns (net, lo, hi, the last attempt's result, the corner LPs' t)."""
    from proof import proof

    fits = []
    net, lo, hi, out = proof.attempt(model, m=m, max_iter=max_iter, budget_s=budget_s)
    while not out["proven"] and len(fits) < rounds:
        reached = np.isfinite(lo[:, 0, 0])
        P = corners(lo[reached, -1], hi[reached, -1])
        try:
            V, c, t, _ = readout_lp(P, np.repeat(proof.Contexts(m).digit[reached], 2 ** lo.shape[-1]))
        except LPError:
            t = float("nan")
        fits.append(t)
        if not t > MIN_T:  # no readout separates the boxes (or no LP solved): the recurrent part is what fails
            break
        set_readout(model, V, c)
        net, lo, hi, out = proof.attempt(model, m=m, max_iter=max_iter, budget_s=budget_s)
    return net, lo, hi, out, fits


def restart(model, seed, r):
    """A fresh model like `model` (restart r of seed `seed`): its weights drawn from RESTART_SEED * (seed + 1) + r."""
    from models import build_model

    torch.manual_seed(RESTART_SEED * (seed + 1) + r)
    return build_model(model.cfg).eval()


def small_eval(model, state, run, seed, route, tune, prove, suite, restarts=0, quick=False):
    """The small_adder hook (module docstring): train a copy of `model` by `route` (route_train's keywords: targets,
    weight, ce, carry_sat) with `tune` ({"steps", "lrs", "length"}), fit the readout on the states (readout_lp) and,
    if it separates them, on the proof's boxes (box_readout, `prove`: {"m", "max_iter", "budget_s", "rounds"});
    both checkers; the worst-case suite (exact.suite_eval with `suite`). restarts: while the states LP finds no
    positive margin, start again from fresh weights (restart()) and train by the route alone, at most this often;
    every try's cost is recorded. Returns a JSON-ready record; a proven model's weights under "weights" and its
    certificate under "certificate" (evaluate.certificate_text: written and accepted by both checkers reading the
    file; "proven" only then). state: the trained model's (none: these models start every sum from zero)."""
    from measures.exact import exact
    from proof import certificate

    if quick:
        tune = {**tune, "steps": min(tune["steps"], 20)}
        prove = {**prove, "max_iter": min(prove.get("max_iter", 300), 20),
                 "budget_s": min(prove.get("budget_s", 60), 10)}
    tries, model = [], copy.deepcopy(model)
    for r in range(restarts + 1):
        if r:
            model = restart(model, seed, r)
        t0 = time.process_time()
        losses = route_train(model, seed if not r else RESTART_SEED * (seed + 1) + r, **tune, **route)
        t1 = time.process_time()
        S, D = all_states(model, QUICK_STATE_DIGITS if quick else STATE_DIGITS)
        wrong = int((margins(*(p.detach().double().numpy() for p in (model.out.weight, model.out.bias)), S, D) <= 0)
                    .sum())
        try:
            if not np.isfinite(S).all():  # a diverged run: recorded, no LP
                raise LPError("non-finite states (the training diverged)")
            V, c, t, rounds = readout_lp(S, D, seed)
        except LPError as e:  # recorded as no margin found
            V, c, t, rounds = None, None, float("nan"), str(e).splitlines()[0]
        tries.append({"losses": losses, "wrong_states_trained": wrong, "states": len(S), "states_t": t,
                      "shared": shared(S, D), "lp_rounds": rounds, "train_sec": t1 - t0,
                      "lp_sec": time.process_time() - t1})
        if t > MIN_T:  # NaN (no LP solved) is no margin
            break
    rec = {"tries": tries, "restarts": len(tries) - 1, "states_t": t, "separable": t > MIN_T,
           "shared": tries[-1]["shared"], "proof_check": False, "recheck": False, "proven": False,
           "sec": sum(x["train_sec"] + x["lp_sec"] for x in tries)}
    if rec["separable"]:
        set_readout(model, V, c)
        t0 = time.process_time()
        net, lo, hi, out, fits = box_readout(model, **prove)
        rec.update(corner_t=fits, m=out["m"], min_margin_bound=out["min_margin_bound"],
                   outputs_certified=out["outputs_certified"], reached=out["reached"], proof_check=out["proven"])
        if out["proven"]:
            weights = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
            both = certificate.both(net, model.cfg.to_dict(), weights, lo, hi, out["m"])
            rec.update(recheck=both["recheck"], proven=both["proven"])
        rec["proof_sec"] = time.process_time() - t0
        rec["sec"] += rec["proof_sec"]
    t0 = time.process_time()
    s = exact.suite_eval(model, run, seed, **suite, quick=quick)
    rec.update(suite_passed=s["passed"], suite_stages=[{"length": st["length"], "passed": st["passed"]}
                                                       for st in s["stages"]],
               shortest_failure=s["shortest_failure"], suite_sec=time.process_time() - t0)
    if rec["proven"]:
        rec["weights"] = certificate.weights_text(model)
        meta = {"series": run.get("label"), "seed": seed, "units": model.cfg.hidden_size}
        rec["certificate"] = certificate_text(model, {k: v for k, v in prove.items() if k != "rounds"}, meta, quick,
                                              origin="trained", targets=list(route.get("targets", ())))
        rec["proven"] = rec["certificate"] is not None  # the one standard: both checkers accepted a kept file
    return rec
