"""Measurements beyond the study (EXPERIMENTS.md "Beyond the report"), run on trained models.

Each `*_eval` / `bptt_cost` function is an "after" hook (source.make_config): called in the worker as
fn(model, run, seed, **args) once the model is trained, it returns a JSON-ready dict stored per seed.

    length_eval   exact-match / per-digit accuracy on test sums of 10 ... 100,000 digits, evaluated
                  in chunks of sums and of time steps (the hidden state is carried from one time
                  chunk to the next, so the result equals one pass over the whole sum)
    chain_eval    accuracy on sums whose longest carry chain is exactly k (data.carry_chain_data),
                  and on the worst cases 99...9 + 1 and 1 + 99...9
    bptt_cost     what the source code's carry mode cost: one step back-propagating through the
                  last d batches (its state was never detached), for growing d

Below them, the summaries the report and charts read from stored results (seeds exact per test length,
first failing chain length, minimal hidden size, cost to exact). The charts and report sections of these
experiments are in beyond_report.py.
"""
import statistics
import time

import numpy as np
import torch

import experiments
from data import LEADING_DIGITS, carry_chain_data, check_int, gen_data, ints_to_digits
from models import embed_pair
from train import BATCH_SIZE

GOAL_LENGTH, GOAL_FRACTION = 10000, 0.8  # the goal: exact at 10,000 digits for >= 8/10 seeds
TIME_CHUNK = 2000  # time steps per forward call in long evaluations (bounds memory at any length)
SUM_CHUNK = 250  # sums per forward call


def _initial_state(model, n):
    """The state an evaluation of n sums starts from: zeros (None) unless the model carries one."""
    if model.cfg.hidden_mode != "carry" or model.h is None:
        return None
    if n > model._state_batch():
        raise ValueError(f"carry-mode evaluation chunks must be <= {model._state_batch()} sums, got {n}")
    return model._state_slice(n)


@torch.no_grad()
def predict_digits(model, num1, num2, time_chunk=TIME_CHUNK):
    """The model's sum digits, int64 (N, T), for LSB-first operand digit arrays (N, T) of any length.

    Runs the recurrent layer over time chunks, passing its state along, so any length fits memory.
    """
    model.eval()
    device = next(model.parameters()).device
    n, steps = num1.shape
    out = np.empty((n, steps), dtype=np.int64)
    h = _initial_state(model, n)
    for t in range(0, steps, time_chunk):
        a, b = (torch.from_numpy(np.ascontiguousarray(v[:, t : t + time_chunk])).to(device) for v in (num1, num2))
        y, h = model.rnn(embed_pair(model.embed, a, b), h)  # (N, chunk, H)
        out[:, t : t + time_chunk] = model.out(y).argmax(-1).cpu().numpy()
    return out


def predict_correct(model, num1, num2, result, time_chunk=TIME_CHUNK):
    """Per-sum (all digits right: bool (N,)) and number of right digits, for int64 arrays (N, T)."""
    correct = predict_digits(model, num1, num2, time_chunk) == result
    return correct.all(axis=1), int(correct.sum())


def evaluate_sums(model, make_batch, n_sums, sum_chunk=SUM_CHUNK):
    """(exact-match accuracy, per-digit accuracy, seconds) over n_sums drawn by make_batch(n) in chunks."""
    t0 = time.perf_counter()
    exact, right, digits = 0, 0, 0
    for start in range(0, n_sums, sum_chunk):
        num1, num2, result = make_batch(min(sum_chunk, n_sums - start))
        ok, r = predict_correct(model, num1, num2, result)
        exact, right, digits = exact + int(ok.sum()), right + r, digits + result.size
    return exact / n_sums, right / digits, time.perf_counter() - t0


def _rng(seed, *tags):
    """A test generator per (seed, tags), independent of the training streams (train.seed_streams)."""
    return np.random.default_rng(np.random.SeedSequence([seed, 7919, *tags]))


def length_eval(model, run, seed, lengths, sums, fallback_sums, quick=False):
    """Accuracy at each test length (sums[i] random test-split sums of lengths[i] digits).

    A length is evaluated on fallback_sums only (and marked reduced) once the model failed to be exact
    at a shorter length: a model wrong on 1,000-digit sums is not exact on longer ones, and the long
    evaluations are the expensive part. quick: only lengths <= 100, at most 50 sums.
    """
    if quick:
        keep = [i for i, length in enumerate(lengths) if length <= 100]
        lengths, sums = [lengths[i] for i in keep], [min(50, sums[i]) for i in keep]
        fallback_sums = min(fallback_sums, 10)
    out = {k: [] for k in ("lengths", "accuracy", "digit_accuracy", "n_sums", "reduced", "eval_sec")}
    exact_so_far = True
    for length, n in zip(lengths, sums, strict=False):
        length, n = check_int("length", length, 1), check_int("sums", n, 1)
        n_used = n if exact_so_far else min(n, fallback_sums)
        rng = _rng(seed, length)
        acc, digit, sec = evaluate_sums(model, lambda k, length=length, rng=rng: gen_data(k, length, "test", rng),
                                        n_used)
        exact_so_far = exact_so_far and acc == 1.0
        for k, v in zip(out, (length, acc, digit, n_used, n_used < n, sec), strict=False):
            out[k].append(v)
    return out


def worst_cases(length):
    """The two sums with the longest possible carry chain: 99...9 + 1 and 1 + 99...9 (length digits)."""
    nines = 10**length - 1
    num1 = ints_to_digits([nines, 1], length + 1)
    num2 = ints_to_digits([1, nines], length + 1)
    result = ints_to_digits([nines + 1, nines + 1], length + 1)
    return num1, num2, result


def chain_eval(model, run, seed, length, chains, sums, quick=False):
    """Exact-match accuracy on `sums` sums of `length` digits per longest-carry-chain length k in chains.

    Also whether 99...9 + 1 and 1 + 99...9 of `length` digits come out right. quick: length 20.
    """
    if quick:
        length, sums = min(length, 20), min(sums, 20)
    length = check_int("length", length, 1)
    chains = sorted({min(check_int("chain", k, 0), length - 1) for k in chains})
    out = {"length": length, "chains": chains, "accuracy": [], "digit_accuracy": [], "n_sums": sums}
    for k in chains:
        rng = _rng(seed, length, k)
        acc, digit, _ = evaluate_sums(model, lambda n, k=k, rng=rng: carry_chain_data(n, length, k, rng), sums)
        out["accuracy"].append(acc)
        out["digit_accuracy"].append(digit)
    ok, _ = predict_correct(model, *worst_cases(length))
    out["nines_plus_one"], out["one_plus_nines"] = bool(ok[0]), bool(ok[1])
    return out


def bptt_cost(model, run, seed, depths, repeats=3, quick=False):
    """Seconds per training step when the loss back-propagates through the last d batches' graph.

    The source code's carry mode passed the previous batch's final state on without detaching it, so
    step n back-propagated through all n batches so far (cost growing with n; current PyTorch refuses
    the second backward). Here that graph is rebuilt to depth d from fresh batches of the run's size.
    """
    import torch.nn.functional as F

    depths = [check_int("depth", d, 1) for d in depths][: 2 if quick else None]
    t, rng = run["train"], _rng(seed, 1)
    device = next(model.parameters()).device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)  # GPU work is asynchronous
    model.train()
    out = {"depths": depths, "sec_per_step": []}
    for d in depths:
        size = t.get("batch_size", BATCH_SIZE)
        batches = [[torch.from_numpy(v).to(device) for v in gen_data(size, t["maxlen"], "train", rng)]
                   for _ in range(d)]
        best = float("inf")
        for _ in range(repeats):
            model.zero_grad(set_to_none=True)
            h = None
            for i, (a, b, r) in enumerate(batches):  # noqa: B007 (r: the last batch's target, used below)
                if i == d - 1:  # the step itself: this batch's forward, then backward through all d batches
                    sync()
                    t0 = time.perf_counter()
                y, h = model.rnn(embed_pair(model.embed, a, b), h)
            loss = F.cross_entropy(model.out(y).reshape(-1, 10), r.reshape(-1))  # the last batch's loss only
            loss.backward()
            sync()
            best = min(best, time.perf_counter() - t0)
        out["sec_per_step"].append(best)
    model.zero_grad(set_to_none=True)
    return out


# --- summaries of stored results (JSON dicts; used by beyond_report.py) ---


def longest_chain_possible(maxlen, split="train"):
    """Longest carry chain (9-sums a carry crosses) a maxlen-digit sum of `split` can hold.

    The carry must be generated at some position and then cross digit sums of 9 above it; the top position
    can pass it on only if two leading digits of the split can sum to 9 (train 0-4: at most 8; test 5-9: 10+).
    """
    low, high = LEADING_DIGITS[split]
    top_passes = 2 * low <= 9 <= 2 * (high - 1)
    return max(0, maxlen - (1 if top_passes else 2))


def seed_exact(extra, i):
    """Whether one seed's length_eval was exact at the i-th length on all the sums asked for."""
    return extra["accuracy"][i] == 1.0 and not extra["reduced"][i]


def exact_fraction(series, i):
    """Fraction of seeds exact at the i-th test length."""
    return statistics.mean(seed_exact(e, i) for e in series["extra"])


def longest_exact(series, fraction=GOAL_FRACTION):
    """Longest test length up to which (at every length) >= fraction of seeds are exact; None if not even the first."""
    best = None
    for i, length in enumerate(series["extra"][0]["lengths"]):
        if exact_fraction(series, i) < fraction:
            break
        best = length
    return best


def first_fail(series):
    """Smallest chain length k at which the mean exact-match accuracy over seeds drops below 1 (None: never)."""
    chains = series["extra"][0]["chains"]
    for i, k in enumerate(chains):
        if statistics.mean(e["accuracy"][i] for e in series["extra"]) < 1.0:
            return k
    return None


def seed_first_fails(series):
    """Per seed, the smallest chain length k at which not every sum came out right (None: never)."""
    return [next((k for k, a in zip(e["chains"], e["accuracy"], strict=False) if a < 1.0), None)
            for e in series["extra"]]


def median_first_fail(series):
    """Median over seeds of seed_first_fails (a seed that never fails ranks above every k); None: most never fail."""
    fails = seed_first_fails(series)
    never = max(series["extra"][0]["chains"]) + 1
    med = statistics.median_low([never if f is None else f for f in fails])
    return None if med == never else med


def size_table(result):
    """cell label -> {hidden_size: (successes, seeds, median first exact or None)}."""
    table = {}
    for s in result["series"]:
        cell = s["label"].split(", hidden_size=")[0]
        hit = [f for f in s["first_exact"] if f is not None]
        table.setdefault(cell, {})[s["settings"]["hidden_size"]] = (
            len(hit), len(s["first_exact"]), statistics.median(hit) if hit else None)
    return table


def minimal_size(row, success=None):
    """Smallest hidden size whose fraction of successful seeds is >= success (default SIZE_SUCCESS)."""
    success = experiments.SIZE_SUCCESS if success is None else success
    return next((h for h in sorted(row) if row[h][0] / row[h][1] >= success), None)


def _median_or_none(values):
    hit = [v for v in values if v is not None]
    return (statistics.median(hit) if hit else None), len(hit)


def cost_rows(result):
    """Per series: (label, median steps, examples, seconds to the first exact evaluation, seeds reaching, ms/step)."""
    rows = []
    for s in result["series"]:
        steps, hit = _median_or_none(s["first_exact"])
        secs, _ = _median_or_none(s["first_exact_sec"])
        batch = s["settings"].get("batch_size", BATCH_SIZE)
        rows.append((s["label"], steps, None if steps is None else steps * batch, secs, hit,
                     1e3 * statistics.mean(s["sec_per_step"])))
    return rows
