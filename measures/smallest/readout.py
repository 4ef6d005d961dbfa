"""The exact readout of a recurrent adder: the output layer that maximises the smallest margin over given states.

readout_lp(S, D) maximises t subject to (V_d - V_j) . s + c_d - c_j >= t for every point s of S (N, H) with its
digit d and every other digit j, with |V|, |c| <= BOUND (the margin scales with them): a linear program (scipy's
HiGHS), solved by cutting planes: a few thousand points at a time, the most violated added until none is below
t - LP_TOL. On the states a model reaches, t > 0 means a readout puts every one on its digit; on the corners of
boxes (corners()), t > 0 means the readout's smallest margin over every box is positive (a linear function's
minimum over a box is at a corner): the output condition of the proof (proof/proof.py).
"""
import numpy as np
import torch
from scipy.optimize import linprog

BOUND = 1000.0  # |V|, |c| <= BOUND in the readout LPs (the margin scales with them)
LP_START = 2000  # random points in the first LP of the cutting-plane loop (plus each digit's extremes per unit)
LP_ADD = 2000  # most violated points added per round
LP_ROUNDS = 50  # cutting-plane rounds at most
LP_TOL = 1e-7  # a point is violated when its margin is below t - LP_TOL
MIN_T = 1e-6  # a states LP margin up to this is no margin (the LP's own rounding): the states are not separable
LP_METHODS = ("highs", "highs-ds", "highs-ipm")  # scipy linprog methods, tried in turn until one solves the LP


class LPError(RuntimeError):
    """No method of LP_METHODS solved a readout LP (HiGHS' numerical trouble): recorded, never a crash."""


def margins(V, c, S, D):
    """Right digit's logit minus the best other, per point: V (10, H), c (10,), S (N, H), D (N,) -> (N,)."""
    logits = S @ V.T + c
    right = logits[np.arange(len(D)), D]
    logits[np.arange(len(D)), D] = -np.inf
    return right - logits.max(axis=1)


def solve(S, D):
    """max t s.t. (V_d - V_j) . s + c_d - c_j >= t for every point (s, d), j != d, and |V|, |c| <= BOUND: (V, c, t).
    Variables x = (V row by row, c, t); each constraint is written as -(V_d - V_j) . s - (c_d - c_j) + t <= 0."""
    H = S.shape[1]
    nv = 10 * H + 11
    blocks = []
    for j in range(10):
        s, d = S[D != j], D[D != j]
        A = np.zeros((len(s), nv))
        r = np.arange(len(s))
        for u in range(H):
            A[r, d * H + u] = -s[:, u]
            A[r, j * H + u] = s[:, u]
        A[r, 10 * H + d], A[r, 10 * H + j], A[:, -1] = -1.0, 1.0, 1.0
        blocks.append(A)
    A = np.concatenate(blocks)
    cost = np.zeros(nv)
    cost[-1] = -1.0
    for method in LP_METHODS:  # HiGHS' choice first; its simplex and interior point when that ends unsolved
        res = linprog(cost, A_ub=A, b_ub=np.zeros(len(A)), bounds=[(-BOUND, BOUND)] * (nv - 1) + [(None, BOUND)],
                      method=method)
        if res.status == 0:
            break
    else:
        raise LPError(f"the readout LP failed: {res.message}")
    return res.x[: 10 * H].reshape(10, H), res.x[10 * H : 10 * H + 10], float(res.x[-1])


def readout_lp(S, D, seed=0):
    """The readout maximising the smallest margin over points S (N, H) with digits D, by cutting planes (solve() on
    a working set, adding the LP_ADD worst points below t - LP_TOL, until none is): (V, c, t, rounds). With the loop
    ended, margins(V, c, S, D).min() >= t - LP_TOL; after LP_ROUNDS rounds t is that minimum instead."""
    rng = np.random.default_rng(seed)
    pick = set(rng.choice(len(S), min(LP_START, len(S)), replace=False).tolist())
    for d in np.unique(D):  # each digit's extreme points along every unit
        idx = np.flatnonzero(D == d)
        pick.update(idx[S[idx].argmin(axis=0)].tolist() + idx[S[idx].argmax(axis=0)].tolist())
    active = np.array(sorted(pick))
    for r in range(1, LP_ROUNDS + 1):
        V, c, t = solve(S[active], D[active])
        m = margins(V, c, S, D)
        bad = np.flatnonzero(m < t - LP_TOL)
        if not len(bad):
            return V, c, t, r
        active = np.union1d(active, bad[np.argsort(m[bad], kind="stable")[:LP_ADD]])
    return V, c, float(m.min()), LP_ROUNDS


def corners(lo, hi):
    """Every corner of boxes lo, hi (N, H): (N * 2^H, H), box i's at rows i * 2^H .. (i + 1) * 2^H - 1."""
    H = lo.shape[1]
    bits = ((np.arange(2**H)[:, None] >> np.arange(H)) & 1).astype(bool)  # (2^H, H)
    return np.where(bits[None], hi[:, None], lo[:, None]).reshape(-1, H)


def set_readout(model, V, c):
    """Write the readout (V (10, H), c (10,)) into the model's output layer, as float32."""
    with torch.no_grad():
        model.out.weight.copy_(torch.from_numpy(np.asarray(V, dtype=np.float32)))
        model.out.bias.copy_(torch.from_numpy(np.asarray(c, dtype=np.float32)))
