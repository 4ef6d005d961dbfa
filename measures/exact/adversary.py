"""An adversarial search for sums a trained rnn adds wrong (attack_eval, an "after" hook of exact_adder), and the
windows of its failures that adversarial fine-tuning trains on (windows).

Fitness of a sum = its smallest margin over all steps (the right digit's logit minus the best wrong one; <= 0 is a
wrong digit). One search keeps a population of `batch` sums of `length` digits, seeded with carry chains
and 9-runs with no carry in (k spread over 1..length-1, seed_population) and 99...9 + 1; each round it keeps the
`elite` worst and makes the next `batch` candidates from them by mutation near their worst step:
    rewrite the w pairs before the worst step at random            (what the state has just seen)
    turn a window before the worst step into a carry chain          (pairs summing to 9 after a generating pair)
    paste the 40 pairs before one elite's worst step into another   (crossover of bad contexts)
    change single pairs anywhere
Candidates are scored with a batched float32 re-implementation of the model's forward (FastRNN: the same weights,
the pair's input projection looked up); the worst sums found are then re-scored with the model itself
(exact.margins) and those numbers are the ones reported.

attack_eval runs one search per (length, search seed), each from its own generator
measure_rng(seed, "attack", length, search seed), and stores every failing sum it confirmed (up to FAILURES_KEPT
per search, distinct shortest failing prefixes, sums.failure) and the worst sum of each search in full
(sums.encode), so any failure can be re-checked from the result JSON. Each stored failure also gets the shortest
failing sum shrink() cuts from it: its low digits dropped at a point where no carry comes in, re-scored.

Adversarial fine-tuning trains on windows(a, b, where, width, rng): pieces of `width` pairs around the steps
where sums fail, each an exact sum on its own. The sums come from search() (its elite and their worst steps) or
from a result JSON (sums.decode(f["sum"], f["digits"]) and f["first_wrong"] of each stored failure).
"""
import numbers
import time

import numpy as np
import torch

from data import add_digits, carry_chain_data, check_int, measure_rng
from measures.exact import exact, families, sums

WINDOW = 40  # pairs before the worst step that mutations touch
FAILURES_KEPT = 10  # failing sums stored per search (the shortest failing prefixes first)
SHRINK_SPAN = 100  # shrink() tries cutting a failing sum's low digits at carry-free points up to this far back
TIME_CHUNK = 50  # steps per FastRNN buffer (memory: TIME_CHUNK x batch x hidden floats per layer)
QUICK = {"candidates": 400, "lengths": [60], "search_seeds": [0], "batch": 100, "elite": 10}  # quick=True


class FastRNN:
    """The trained nn.RNN's forward in float32 torch over a batch of sums, from a zero state.

    Layer by layer over time chunks of TIME_CHUNK steps, as nn.RNN does: the first layer's input term is looked up
    per pair (100 rows), a higher layer's is one matmul over the chunk; the recurrence writes each step's state in
    place into one preallocated buffer (addmm_, then the activation in place); the logits and margins of the whole
    chunk are one matmul and three reductions over the 10 digits laid out as rows.
    """

    def __init__(self, model):
        if model.cfg.hidden_mode == "carry":  # it starts from zeros, as the model does in modes none and zero
            raise ValueError("FastRNN copies models that start from zeros (hidden_mode none or zero), not carry")
        rnn = model.rnn
        p = {n: t.detach() for n, t in rnn.named_parameters()}
        emb = model.embed.weight.detach()
        a, b = torch.arange(100) // 10, torch.arange(100) % 10
        x = torch.cat([emb[a], emb[b]], dim=1)
        self.in1 = x @ p["weight_ih_l0"].T + p["bias_ih_l0"] + p["bias_hh_l0"]  # (100, H): layer 1's input term
        self.layers = [(p[f"weight_ih_l{i}"].T.contiguous(), p[f"weight_hh_l{i}"].T.contiguous(),
                        p[f"bias_ih_l{i}"] + p[f"bias_hh_l{i}"]) for i in range(rnn.num_layers)]
        self.act = torch.tanh_ if rnn.nonlinearity == "tanh" else torch.relu_
        self.V, self.c = model.out.weight.detach().contiguous(), model.out.bias.detach()[:, None]  # (10, H), (10, 1)

    @torch.no_grad()
    def min_margins(self, num1, num2, result):
        """Per sum (N,): smallest margin over its steps, and the (first) step where it occurs."""
        pairs = torch.from_numpy(np.ascontiguousarray((num1 * 10 + num2).T))  # (T, N): one step's pairs contiguous
        res = torch.from_numpy(np.ascontiguousarray(result.T))
        steps, n = pairs.shape
        chunk = min(TIME_CHUNK, steps)
        hs = [torch.zeros(n, w_hh.shape[0]) for _, w_hh, _ in self.layers]
        bufs = [torch.empty(chunk, n, w_hh.shape[0]) for _, w_hh, _ in self.layers]
        best, where = torch.full((n,), float("inf")), torch.zeros(n, dtype=torch.long)
        for t0 in range(0, steps, chunk):
            c = min(chunk, steps - t0)
            below = None
            for i, (w_ih, w_hh, b) in enumerate(self.layers):
                buf = bufs[i][:c]
                if i == 0:
                    torch.index_select(self.in1, 0, pairs[t0 : t0 + c].reshape(-1), out=buf.view(c * n, -1))
                else:
                    torch.addmm(b, below.reshape(c * n, -1), w_ih, out=buf.view(c * n, -1))
                h = hs[i]
                for s in range(c):
                    buf[s].addmm_(h, w_hh)
                    h = self.act(buf[s])
                hs[i].copy_(h)  # the buffer is overwritten by the next chunk
                below = buf
            logits = torch.addmm(self.c, self.V, below.reshape(c * n, -1).T)  # (10, c * n)
            r = res[t0 : t0 + c].reshape(1, -1)
            right = logits.gather(0, r)[0]
            wrong = logits.scatter_(0, r, float("-inf")).amax(0)
            m, at = (right - wrong).view(c, n).min(0)  # first minimum within the chunk
            lower = m < best  # strict: an earlier chunk's equal minimum stays
            best, where = torch.where(lower, m, best), torch.where(lower, at + t0, where)
        return best.numpy().astype(np.float64), where.numpy()


def seed_population(n, length, rng):
    """Starting sums of the two carry rules' worst cases, k spread log-uniformly over 1..length-1: half carry-chain
    sums (k 9-pairs after a generating pair: they must carry) and half 9-runs with no carry in (families.nine_runs:
    k 9-pairs after a pair summing <= 8, which must not), and 99...9 + 1."""
    ks = np.unique(np.geomspace(1, length - 1, 12).astype(int))
    per = -(-n // (2 * len(ks)))
    parts = [f(per, length, int(k), rng)[:2] for k in ks for f in (carry_chain_data, families.nine_runs)]
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


def search(fast, candidates, length, batch, elite, rng):
    """One search of `candidates` sums of `length` digits (module docstring) with FastRNN `fast`.

    Returns the final elite (a, b, fast margin, worst step), worst first: LSB-first (elite, length + 1) operand
    arrays with the padding column, and the curve [[candidates tried, best fast margin so far], ...] per batch.
    """
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
    return pool_a, pool_b, pool_m, pool_w, curve


def shrink(model, a, b, first_wrong):
    """A shorter failing sum inside a failing one: its pairs p..first_wrong as a sum of their own, for the
    carry-free points p (the full sum's carry into p is 0, so the true digits from p on are the full sum's) at most
    SHRINK_SPAN back. The model starts the cut sum from a zero state, so each cut is re-scored with the model itself
    (exact.margins); returns the shortest one it gets wrong (a sums.failure dict with its "margin"), or None.

    a, b: one LSB-first operand row each (the padding column included or not).
    """
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    t = int(first_wrong)
    full_a, full_b = (np.pad(v, (0, max(0, t + 1 - len(v)))) for v in (a, b))  # the top carry: a zero pair
    cin = (add_digits(full_a, full_b) - full_a - full_b) % 10
    starts = [p for p in range(t, max(-1, t - SHRINK_SPAN - 1), -1) if cin[p] == 0 and p > 0]  # p = 0: the sum
    if not starts:
        return None
    span = t + 1 - min(starts)
    num1, num2 = np.zeros((len(starts), span + 1), np.int64), np.zeros((len(starts), span + 1), np.int64)
    for i, p in enumerate(starts):
        num1[i, : t + 1 - p], num2[i, : t + 1 - p] = full_a[p : t + 1], full_b[p : t + 1]
    m = exact.margins(model, num1, num2, add_digits(num1, num2))
    best = None
    for i in np.flatnonzero(m.min(axis=1) <= 0):
        f = sums.failure(num1[i, :-1], num2[i, :-1], np.flatnonzero(m[i] <= 0), span)
        if best is None or f["digits"] < best["digits"]:
            best = {**f, "margin": float(m[i].min())}
    return best


def confirm_failures(model, a, b):
    """Re-score sums (LSB-first, with the padding column) with the model itself (exact.margins).

    Returns (smallest margin per sum, its step, the failing sums as sums.failure dicts: distinct shortest failing
    prefixes, shortest first, at most FAILURES_KEPT, each with its sum's smallest "margin" and "shrunk": the
    shortest failing sum shrink() cuts from it, or None; how many distinct prefixes there were).
    """
    length = a.shape[1] - 1
    m = exact.margins(model, a, b, add_digits(a, b))
    low, at = m.min(axis=1), m.argmin(axis=1)
    found = {}
    for i in np.flatnonzero(low <= 0):
        f = sums.failure(a[i, :-1], b[i, :-1], np.flatnonzero(m[i] <= 0), length)
        if f["sum"] not in found:
            found[f["sum"]] = {**f, "margin": float(low[i]), "row": i}
    kept = sorted(found.values(), key=lambda f: (f["digits"], f["margin"]))[:FAILURES_KEPT]
    for f in kept:
        i = f.pop("row")
        g = shrink(model, a[i], b[i], f["first_wrong"])
        f["shrunk"] = g if g is not None and g["digits"] < f["digits"] else None
    return low, at, kept, len(found)


def attack_eval(model, run, seed, candidates, lengths, batch, elite, search_seeds=(0,), confirm=20, quick=False):
    """One search (module docstring) of `candidates` sums per (length in `lengths`, search seed in `search_seeds`);
    the `confirm` worst of each are re-scored with the model itself.

    Returns the JSON-ready outcome: "runs", one per search ({length, search_seed, candidates, curve, sec,
    min_margin, fast_min_margin, worst_step, worst_sum (sums.encode, in full), failures (confirmed failing sums),
    distinct_failures (their distinct shortest failing prefixes), failing (up to FAILURES_KEPT of those, sums.failure
    dicts, each with the shorter failing sum shrink() cut from it, or None)}); over all runs: "candidates" (sum),
    "min_margin", "failures", "distinct_failures", "shortest_failure" (the failure dict with the fewest digits among
    the stored and shrunk ones, with its run's length and search seed; None if none), and the worst
    run's "length", "worst_sum", "worst_step", "curve" and "confirmed".
    """
    if quick:
        candidates, lengths, search_seeds, batch, elite = (QUICK[k] for k in
                                                           ("candidates", "lengths", "search_seeds", "batch", "elite"))
    lengths = [lengths] if isinstance(lengths, numbers.Integral) and not isinstance(lengths, bool) else lengths
    if not isinstance(lengths, (list, tuple)) or not lengths:
        raise ValueError(f"lengths must be a digit count >= 2 or a non-empty list of them, got {lengths!r}")
    if not isinstance(search_seeds, (list, tuple)) or not search_seeds:
        raise ValueError(f"search_seeds must be a non-empty list of integers >= 0, got {search_seeds!r}")
    lengths = [check_int("length", n, 2) for n in lengths]
    search_seeds = [check_int("search seed", s, 0) for s in search_seeds]
    candidates, confirm = check_int("candidates", candidates, 1), check_int("confirm", confirm, 1)
    batch, elite = check_int("batch", batch, 2), check_int("elite", elite, 1)
    fast, runs = FastRNN(model), []
    for length in lengths:
        for s in search_seeds:
            t0 = time.perf_counter()
            a, b, fast_m, where, curve = search(fast, candidates, length, batch, elite,
                                                measure_rng(seed, "attack", length, s))
            top = slice(0, min(confirm, len(a)))
            low, at, failing, distinct = confirm_failures(model, a[top], b[top])
            i = int(np.argmin(low))
            runs.append({"length": length, "search_seed": s, "candidates": curve[-1][0], "batch": batch,
                         "curve": curve, "sec": time.perf_counter() - t0, "min_margin": float(low[i]),
                         "fast_min_margin": float(fast_m[0]), "worst_step": int(at[i]),
                         "worst_sum": sums.encode(a[i, :-1], b[i, :-1]), "confirmed": int(len(low)),
                         "failures": int((low <= 0).sum()), "distinct_failures": distinct, "failing": failing})
    worst = min(runs, key=lambda r: r["min_margin"])
    found = [{**g, "length": r["length"], "search_seed": r["search_seed"]} for r in runs for f in r["failing"]
             for g in (f, f["shrunk"]) if g is not None and "sum" in g]
    found = [{k: v for k, v in f.items() if k != "shrunk"} for f in found]
    return {"runs": runs, "lengths": lengths, "search_seeds": search_seeds,
            "candidates": sum(r["candidates"] for r in runs), "sec": sum(r["sec"] for r in runs),
            "min_margin": worst["min_margin"], "failures": sum(r["failures"] for r in runs),
            "distinct_failures": sum(r["distinct_failures"] for r in runs),
            "shortest_failure": min(found, key=lambda f: (f["digits"], f["margin"]), default=None),
            **{k: worst[k] for k in ("length", "worst_sum", "worst_step", "curve", "confirmed", "fast_min_margin")}}


def window_starts(a, b, where, width, rng):
    """Where windows() cuts each sum, and whether it folds a carry into the window's first pair.

    a, b: LSB-first (N, T); where: (N,) steps in 0..T (T: the carry out of the top pair). The step where[i] lands
    at a random offset in the later half of the window (the steps before it: the context the model failed in);
    the start then moves to the nearest point in range where the true carry into it is 0, so the window, added
    from a zero carry, has the very digits of the full sum. If a carry chain covers the whole range there is none:
    the start stays, and windows() adds the carry to the first pair instead.
    Returns (starts, carried): int64 (N,) and bool (N,).
    """
    a, b = (np.pad(np.asarray(v, np.int64), ((0, 0), (0, 1))) for v in (a, b))  # a zero pair past the end
    cin = (add_digits(a, b) - a - b) % 10  # the true carry into each position
    n, steps = a.shape
    starts, carried = np.zeros(n, np.int64), np.zeros(n, bool)
    for i in range(n):
        w = min(int(where[i]), steps - 1)
        lo = max(0, w - width + 1)
        p0 = max(lo, w - int(rng.integers(width // 2, width)))
        ok = np.flatnonzero(cin[i, lo : w + 1] == 0) + lo  # position 0 has no carry in: never empty when lo == 0
        if len(ok):
            starts[i] = ok[np.argmin(np.abs(ok - p0))]  # nearest; argmin's first: the lower of two as near
        else:
            starts[i], carried[i] = p0, True
    return starts, carried


def windows(a, b, where, width, rng):
    """Training windows of `width` pairs (16-60 in the issue's fine-tuning) around the worst steps of sums, for
    adversarial fine-tuning.

    a, b: LSB-first operand arrays (N, T) (the padding column included or not); where: (N,) the step of each sum
    to cover (its first wrong or worst step, 0..T; T, the carry out of the top pair, or more: the top). Each window
    is the pairs a[p : p + width], b[p : p + width] (zeros past the sum's end) and one padding step; the model
    starts every sum from a zero carry, so p is chosen where the full sum's carry in is 0 (window_starts), or,
    inside a carry chain longer than the window, the carry is added to the first pair (one of its digits goes up
    by one: a 9-pair that passed the carry becomes a pair of sum 10 that makes it). Either way the window's result
    digits are the full sum's at every one of its `width` pairs, but for a first pair 9 + 9 that had a carry in
    (no digit can take it: that pair's own digit is 8, not 9; the carry out is the same).
    Returns (num1, num2, result), int64 (N, width + 1), exact sums (data.add_digits).
    """
    width = check_int("width", width, 1)
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    starts, carried = window_starts(a, b, where, width, rng)
    n, steps = a.shape
    num1, num2 = np.zeros((n, width + 1), np.int64), np.zeros((n, width + 1), np.int64)
    for i in range(n):
        p = int(starts[i])
        q = min(steps, p + width)
        num1[i, : q - p], num2[i, : q - p] = a[i, p:q], b[i, p:q]
        if carried[i]:
            if num2[i, 0] < 9:
                num2[i, 0] += 1
            elif num1[i, 0] < 9:
                num1[i, 0] += 1
    return num1, num2, add_digits(num1, num2)
