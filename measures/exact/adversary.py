"""An adversarial search for sums a trained rnn adds wrong: attack_eval, an "after" hook of exact_adder.

Fitness of a sum = its smallest margin over all steps (the right digit's logit minus the best wrong one; <= 0 is a
wrong digit). The search keeps a population of `batch` sums of `length` digits, seeded with carry-chain-heavy sums
(data.carry_chain_data with k spread over 1..length-1, 99...9 + 1 and its variants); each round it keeps the
`elite` worst and makes the next `batch` candidates from them by mutation near their worst step:
    rewrite the w pairs before the worst step at random            (what the state has just seen)
    turn a window before the worst step into a carry chain          (pairs summing to 9 after a generating pair)
    paste the 40 pairs before one elite's worst step into another   (crossover of bad contexts)
    change single pairs anywhere
Candidates are scored with a batched float32 re-implementation of the model's step (the same weights, the pair's
input projection looked up), since nn.RNN spends most of its time on embedding every step; the worst sums found
are then re-scored with the model itself (exact.margins) and those numbers are the ones reported.
"""
import time

import numpy as np
import torch

from data import add_digits, carry_chain_data, check_int, measure_rng
from measures.exact import exact

WINDOW = 40  # pairs before the worst step that mutations touch


class FastRNN:
    """The trained nn.RNN's forward in float32 torch, one step at a time over a batch, from a zero state."""

    def __init__(self, model):
        if model.cfg.hidden_mode == "carry":  # it starts from zeros, as the model does in modes none and zero
            raise ValueError("FastRNN copies models that start from zeros (hidden_mode none or zero), not carry")
        rnn = model.rnn
        p = {n: t.detach() for n, t in rnn.named_parameters()}
        emb = model.embed.weight.detach()
        a, b = torch.arange(100) // 10, torch.arange(100) % 10
        x = torch.cat([emb[a], emb[b]], dim=1)
        self.in1 = x @ p["weight_ih_l0"].T + p["bias_ih_l0"] + p["bias_hh_l0"]  # (100, H): layer 1's input term
        self.layers = [(p[f"weight_ih_l{i}"], p[f"weight_hh_l{i}"], p[f"bias_ih_l{i}"] + p[f"bias_hh_l{i}"])
                       for i in range(rnn.num_layers)]
        self.act = torch.tanh if rnn.nonlinearity == "tanh" else torch.relu
        self.V, self.c = model.out.weight.detach(), model.out.bias.detach()

    @torch.no_grad()
    def min_margins(self, num1, num2, result):
        """Per sum (N,): smallest margin over its steps, and the step where it occurs."""
        pairs = torch.from_numpy(num1 * 10 + num2)
        res = torch.from_numpy(result)
        n, steps = pairs.shape
        hs = [torch.zeros(n, w_hh.shape[0]) for _, w_hh, _ in self.layers]
        best, where = torch.full((n,), float("inf")), torch.zeros(n, dtype=torch.long)
        for t in range(steps):
            inp = None
            for i, (w_ih, w_hh, b) in enumerate(self.layers):
                z = self.in1[pairs[:, t]] + hs[i] @ w_hh.T if i == 0 else inp @ w_ih.T + b + hs[i] @ w_hh.T
                hs[i] = inp = self.act(z)
            logits = inp @ self.V.T + self.c
            right = logits.gather(1, res[:, t : t + 1]).squeeze(1)
            wrong = logits.scatter(1, res[:, t : t + 1], float("-inf")).amax(1)
            m = right - wrong
            lower = m < best
            best, where = torch.where(lower, m, best), torch.where(lower, t, where)
        return best.numpy().astype(np.float64), where.numpy()


def seed_population(n, length, rng):
    """Chain-heavy starting sums: carry-chain sums with k spread log-uniformly over 1..length-1, and 99...9 + 1."""
    ks = np.unique(np.geomspace(1, length - 1, 12).astype(int))
    parts = [carry_chain_data(-(-n // len(ks)), length, int(k), rng)[:2] for k in ks]
    a, b = (np.concatenate([p[i] for p in parts])[:n] for i in (0, 1))
    nines = exact.nines_cases(length)
    a[:3], b[:3] = nines[0], nines[1]
    return a, b


def mutate(a, b, where, n, rng):
    """n children of the elite sums (a, b) (LSB-first, with the padding column), each mutated near its worst step."""
    length = a.shape[1] - 1
    parent = rng.integers(0, len(a), n)
    ca, cb = a[parent].copy(), b[parent].copy()
    end = np.clip(where[parent], 1, length)  # mutate the pairs before (and at) the worst step
    kind = rng.integers(0, 4, n)
    for i in range(n):
        lo = max(0, end[i] - rng.integers(1, WINDOW + 1))
        if kind[i] == 0:  # rewrite a window at random
            ca[i, lo : end[i]] = rng.integers(0, 10, end[i] - lo)
            cb[i, lo : end[i]] = rng.integers(0, 10, end[i] - lo)
        elif kind[i] == 1:  # a generating pair, then 9-pairs up to the worst step
            ca[i, lo], cb[i, lo] = 9, rng.integers(1, 10)
            ca[i, lo + 1 : end[i]] = rng.integers(0, 10, end[i] - lo - 1)
            cb[i, lo + 1 : end[i]] = 9 - ca[i, lo + 1 : end[i]]
        elif kind[i] == 2:  # paste another elite's bad context
            j = rng.integers(0, len(a))
            src_end = max(int(where[j]), 1)
            w = min(WINDOW, src_end, end[i])
            ca[i, end[i] - w : end[i]] = a[j, src_end - w : src_end]
            cb[i, end[i] - w : end[i]] = b[j, src_end - w : src_end]
        else:  # point mutations anywhere
            pos = rng.integers(0, length, 3)
            ca[i, pos], cb[i, pos] = rng.integers(0, 10, 3), rng.integers(0, 10, 3)
    ca[:, -1] = cb[:, -1] = 0
    return ca, cb


def short_form(a, b):
    """An LSB-first operand pair as MSB-first text, runs of 4 or more equal digits written [9x998]."""
    def rle(row):
        text = "".join(map(str, row[::-1])).lstrip("0") or "0"
        out, i = [], 0
        while i < len(text):
            j = i
            while j < len(text) and text[j] == text[i]:
                j += 1
            out.append(text[i] * (j - i) if j - i < 4 else f"[{text[i]}x{j - i}]")
            i = j
        return "".join(out)
    return f"{rle(a)} + {rle(b)}"


def attack_eval(model, run, seed, candidates, length, batch, elite, confirm=20, quick=False):
    """Run the search (module docstring) with `candidates` sums in all; returns the JSON-ready outcome."""
    if quick:
        candidates, length, batch, elite = 400, 60, 100, 10
    candidates, length = check_int("candidates", candidates, 1), check_int("length", length, 2)
    batch, elite = check_int("batch", batch, 2), check_int("elite", elite, 1)
    rng, fast, t0 = measure_rng(seed, "attack"), FastRNN(model), time.perf_counter()
    a, b = seed_population(batch, length, rng)
    pool_a, pool_b = np.empty((0, length + 1), np.int64), np.empty((0, length + 1), np.int64)
    pool_m, pool_w = np.empty(0), np.empty(0, np.int64)
    tried, curve = 0, []
    while tried < candidates:
        a, b = a[: candidates - tried], b[: candidates - tried]
        m, w = fast.min_margins(a, b, add_digits(a, b))
        tried += len(a)
        pool_a, pool_b = np.concatenate([pool_a, a]), np.concatenate([pool_b, b])
        pool_m, pool_w = np.concatenate([pool_m, m]), np.concatenate([pool_w, w])
        keep = np.argsort(pool_m, kind="stable")[:elite]
        pool_a, pool_b, pool_m, pool_w = pool_a[keep], pool_b[keep], pool_m[keep], pool_w[keep]
        curve.append([tried, float(pool_m[0])])
        a, b = mutate(pool_a, pool_b, pool_w, batch, rng)
    top = slice(0, min(confirm, len(pool_a)))
    res = add_digits(pool_a[top], pool_b[top])
    real = exact.margins(model, pool_a[top], pool_b[top], res).min(axis=1)  # the model itself
    i = int(np.argmin(real))
    out = {"candidates": tried, "length": length, "batch": batch, "curve": curve, "sec": time.perf_counter() - t0,
           "min_margin": float(real[i]), "fast_min_margin": float(pool_m[0]), "worst_step": int(pool_w[i]),
           "failures": int((real <= 0).sum()), "confirmed": int(len(real))}
    out["worst_sum"] = short_form(pool_a[i, :-1], pool_b[i, :-1])[:300]
    return out
