"""Worst cases: the worst-case suite of the exact_adder study (its "after" hook is in evaluate.py).

The suite (suite_eval) runs in stages of growing length and stops at the first stage with a wrong sum (a model
wrong at 1,000 digits needs no 1,000,000-digit check). The short stages come first, so the shortest failures are
found first and cheaply:

    3 digits       every sum of two operands of <= 3 digits (families.all_sums: 10^6 pair sequences, each distinct
                   prefix run once: all_sums_margins)
    10, 100        the structured checks below at that length (short_lengths), `short_run_sums` sums per 9-run k
    1,000 digits   structured: for every k in CHAIN_KS, `chain_sums` sums whose longest carry chain is exactly k
                   (data.carry_chain_data); 99...9 + 1, 1 + 99...9, 99...9 + 99...9; `gain_sums` sums whose
                   result gains a digit through a carry chain that runs into the top (gain_digit_data); for every
                   k, `run_sums` sums with a run of k pairs summing to 9 and NO carry coming in
                   (families.nine_runs); d...d + (9-d)...(9-d) for d = 0..9 (families.whole_runs, at every run
                   length up to WHOLE_RUN_LENGTHS); each of the 100 digit pairs repeated up to the top with carry
                   in 0 and with carry in 1 (families.pair_runs); the sums earlier checks found wrong
                   (families.KNOWN_FAILURES)
    10,000         99...9 + 1, 1 + 99...9, 99...9 + 99...9 and `random_sums` random test-split sums
    100,000        99...9 + 1, 1 + 99...9, 99...9 + 99...9
    1,000,000      the same three and `long_random` random test-split sums

All sums of a stage go through the model in one pass (chunked over rows and time, the state carried along).
A seed passes the suite when every sum of every stage is exact. Each check records the smallest margin (right
digit's logit minus the best wrong one) over its sums, how close the model came to a wrong digit, and up to
FAILURES_KEPT of its wrong sums in full (sums.failure: both operands cut to the shortest failing prefix, exact);
the suite's "shortest_failure" is the one with the fewest digits, so any failure can be re-checked from the JSON.
"""
import time

import numpy as np
import torch

from data import add_digits, carry_chain_data, check_int, gen_data, measure_rng
from measures.beyond import TIME_CHUNK
from measures.exact import families, sums

SHORT_LENGTHS = [10, 100]  # digits of the short structured stages run before the suite's `lengths`
SHORT_RUN_SUMS = 200  # 9-run sums per k in the short stages (cheap there; rare failures need many)
ALL_DIGITS = 3  # the first stage: every sum of <= this many digits (1..families.MAX_ALL_DIGITS)
WHOLE_RUN_LENGTHS = 100  # whole_runs at every run length up to this (longer stages: their own length only)
FAILURES_KEPT = 5  # wrong sums stored per check (the shortest first)
SUM_CHARS = 25_000  # a stored failing sum longer than this (characters) keeps only its row, step and size
ROW_CHUNK = 20_000  # sums per forward call (larger batches run slower on CPU: cache)


def _rows(digits, length):
    """LSB-first digit lists (each <= length + 1 long) -> int64 (rows, length + 1), zero-padded."""
    out = np.zeros((len(digits), length + 1), dtype=np.int64)
    for r, d in enumerate(digits):
        out[r, : len(d)] = d
    return out


def nines_cases(length):
    """99...9 + 1, 1 + 99...9 and 99...9 + 99...9 (`length` digits) as LSB-first arrays (3, length + 1).

    Built digit by digit (no big-integer conversion, so 1,000,000 digits cost nothing).
    """
    length = check_int("length", length, 1)
    nines, one = np.full(length, 9), np.array([1])
    num1 = _rows([nines, one, nines], length)
    num2 = _rows([one, nines, nines], length)
    top = np.zeros(length + 1, dtype=np.int64)
    top[-1] = 1  # 10^length
    double = np.full(length + 1, 9, dtype=np.int64)
    double[0], double[-1] = 8, 1  # 2 * (10^length - 1) = 1 99...9 8
    return num1, num2, np.stack([top, top, double])


def gain_digit_data(batch_size, length, rng=None):
    """`batch_size` sums of two `length`-digit operands whose result has length + 1 digits by a carry chain.

    A generating pair (digit sum >= 10) at position g, uniform in 0..length-1, then pairs summing to 9 up to the
    top digit, so the carry it makes crosses length - 1 - g digits and lands in the padding step; the digits
    below g are random. Returns int64 num1, num2, result (batch_size, length + 1), like carry_chain_data.
    """
    batch_size, length = check_int("batch_size", batch_size, 1), check_int("length", length, 1)
    rng = np.random.default_rng(rng)
    a = rng.integers(0, 10, size=(batch_size, length))
    b = rng.integers(0, 10, size=(batch_size, length))
    start = rng.integers(0, length, size=batch_size)
    pos = np.arange(length)
    chain = pos > start[:, None]  # the 9-pairs above the generating one
    b = np.where(chain, 9 - a, b)
    rows = np.arange(batch_size)
    a[rows, start], b[rows, start] = families.generating_pairs(rng, batch_size)
    return families.pack(a, b)


@torch.no_grad()
def margins(model, num1, num2, result, time_chunk=TIME_CHUNK):
    """Per step (N, T) float64: the right digit's logit minus the best wrong digit's (> 0: digit right).

    Runs the recurrent layer over time chunks from the model's initial state, passing the state on (one pass
    over the sum).
    """
    model.eval()
    n, steps = num1.shape
    out = np.empty((n, steps), dtype=np.float64)
    h = model.initial_state(n)
    for t in range(0, steps, time_chunk):
        a, b, r = (torch.tensor(v[:, t : t + time_chunk]) for v in (num1, num2, result))  # copies: may be read-only
        y, h = model.run(a, b, h)
        out[:, t : t + time_chunk] = _margin(model.out(y), r)
    return out


def _margin(logits, r):
    """(..., 10) logits, (...) right digits -> float64 right logit minus the best wrong one."""
    right = logits.gather(-1, r.unsqueeze(-1)).squeeze(-1)
    wrong = logits.scatter(-1, r.unsqueeze(-1), float("-inf")).amax(-1)
    return (right - wrong).double().numpy()


def _state_rows(state, idx):
    """Rows `idx` of a recurrent state (layers, B, H), or of each of an LSTM's pair; None (zeros) stays None."""
    if state is None:
        return None
    return tuple(s[:, idx] for s in state) if isinstance(state, tuple) else state[:, idx]


@torch.no_grad()
def all_sums_margins(model, num1, num2, result, row_chunk=ROW_CHUNK):
    """margins() of families.all_sums(n)'s rows, each distinct prefix of pairs run through the model once.

    Row i's first t + 1 pairs are row (i mod 100^(t+1))'s, so step t runs on 100^(t+1) rows from the states of their
    prefixes: 100 + 100^2 + ... + 2 * 100^n row-steps instead of (n + 1) * 100^n (half at n = 3).
    """
    model.eval()
    n, steps = num1.shape
    digits = steps - 1

    def step(rows, t, state):
        a, b, r = (torch.from_numpy(np.ascontiguousarray(v[rows, t : t + 1])) for v in (num1, num2, result))
        y, state = model.run(a, b, state)
        return _margin(model.out(y)[:, 0], r[:, 0]), state

    out = np.empty((n, steps), dtype=np.float64)
    state = model.initial_state(100)
    for t in range(digits - 1):  # every prefix of t + 1 pairs, all at once (<= 100^(digits-1) rows)
        rows = np.arange(100 ** (t + 1))
        m, state = step(rows, t, _state_rows(state, rows % 100**t) if t else state)
        out[:, t] = m[np.arange(n) % 100 ** (t + 1)]
    for lo in range(0, n, row_chunk):  # the last pair and the padding step, by chunks of whole sums
        rows = np.arange(lo, min(lo + row_chunk, n))
        h = _state_rows(state, rows % 100 ** (digits - 1)) if digits > 1 else model.initial_state(len(rows))
        out[rows, digits - 1], h = step(rows, digits - 1, h)
        out[rows, digits], _ = step(rows, digits, h)
    return out


def stage_checks(length, seed, chains, chain_sums, gain_sums, random_sums, first, run_sums=0):
    """(check name, num1, num2, result) of one suite stage at `length` digits.

    first: a stage with the structured checks (chains, gain digit, 9-runs with no carry in, whole runs, pair runs,
    known failures); run_sums: sums per k of the 9-run check (0: none, and no whole, pair or known runs either).
    """
    n1, n2, r = nines_cases(length)
    checks = [("99…9 + 1", n1[:1], n2[:1], r[:1]), ("1 + 99…9", n1[1:2], n2[1:2], r[1:2]),
              ("99…9 + 99…9", n1[2:], n2[2:], r[2:])]
    if first:
        for k in sorted({min(k, length - 1) for k in chains}):
            rng = measure_rng(seed, "exact", length, k)
            checks.append((f"chain k={k}", *carry_chain_data(chain_sums, length, k, rng)))
        checks.append(("gains a digit", *gain_digit_data(gain_sums, length, measure_rng(seed, "exact", length, 1))))
    if first and run_sums:
        for k in sorted({max(1, min(k, length)) for k in chains}):
            rng = measure_rng(seed, "exact", length, 3, k)
            checks.append((f"9-run k={k}, no carry in", *families.nine_runs(run_sums, length, k, rng)))
        runs = range(1, length + 1) if length <= WHOLE_RUN_LENGTHS else [length]
        checks.append(("d…d + (9-d)…(9-d)", *families.whole_runs(length, runs)))
        for carry in (0, 1) if length > 1 else (0,):
            rng = measure_rng(seed, "exact", length, 4, carry)
            checks.append((f"pair runs, carry in {carry}", *families.pair_runs(length, carry, rng)))
        known = families.known(length)
        if len(known[0]):
            checks.append(("known failures", *known))
    if random_sums:
        checks.append(("random", *gen_data(random_sums, length, "test", measure_rng(seed, "exact", length, 2))))
    return checks


def all_sums_check(digits):
    """The first stage's one check: every sum of <= `digits` digits."""
    return [(f"all sums of ≤ {digits} digits", *families.all_sums(digits))]


def run_stage(model, checks, kept=FAILURES_KEPT, m=None):
    """The sums of `checks` (all of one length) through the model: per check, {check, sums, wrong, margin, failures}.

    m: the sums' per-step margins when already computed (all_sums_margins), else margins() here.

    wrong counts the sums with a digit whose margin is <= 0 or NaN; failures: the `kept` wrong sums that go wrong
    earliest, each sums.failure() plus its row in the check (a text longer than SUM_CHARS is left out: None).
    """
    num1, num2, result = (np.concatenate([c[i] for c in checks]) if len(checks) > 1 else checks[0][i]
                          for i in (1, 2, 3))
    if m is None:
        m = np.concatenate([margins(model, num1[i : i + ROW_CHUNK], num2[i : i + ROW_CHUNK], result[i : i + ROW_CHUNK])
                            for i in range(0, len(num1), ROW_CHUNK)])  # (sums, steps)
    out, at = [], 0
    for name, a, b, _ in checks:
        bad = ~(m[at : at + len(a)] > 0)  # a NaN logit is no right digit
        rows = np.flatnonzero(bad.any(axis=1))
        rows = rows[np.argsort(bad[rows].argmax(axis=1), kind="stable")]  # earliest first wrong step first
        length = a.shape[1] - 1
        failures, seen = [], set()
        for row in rows[: 200 * kept]:  # enough to find `kept` distinct ones, bounded for a model wrong everywhere
            if len(failures) == kept:
                break
            f = sums.failure(a[row, :length], b[row, :length], np.flatnonzero(bad[row]), length)
            if f["sum"] in seen:  # the same failing prefix (whole runs of every length share theirs)
                continue
            seen.add(f["sum"])
            failures.append({**f, "sum": f["sum"] if len(f["sum"]) <= SUM_CHARS else None, "row": int(row)})
        out.append({"check": name, "sums": len(a), "wrong": int(bad.any(axis=1).sum()),
                    "margin": float(m[at : at + len(a)].min()), "failures": failures})
        at += len(a)
    return out


def shortest_failure(stages):
    """The stored failure with the fewest digits over all stages (then the earliest wrong step), with its check and
    stage length; None when nothing failed."""
    found = [{**f, "check": c["check"], "stage": st["length"]} for st in stages for c in st["checks"]
             for f in c.get("failures", [])]
    return min(found, key=lambda f: (f["digits"], f["first_wrong"]), default=None)


def suite_eval(model, run, seed, lengths, chains, chain_sums, gain_sums, random_sums, long_random,
               short_lengths=None, all_digits=ALL_DIGITS, run_sums=None, short_run_sums=SHORT_RUN_SUMS, quick=False):
    """The worst-case suite (module docstring) on one trained model; stops after the first failing stage.

    Stages: all sums of <= all_digits digits (0: none); short_lengths (default SHORT_LENGTHS) and the first of
    `lengths` with the structured checks; the second of `lengths` with random_sums random sums, the last with
    long_random. run_sums: 9-run sums per k (default chain_sums), short_run_sums in the short stages.
    Returns {"stages": [{length, passed, checks, sec}], "passed", "n_stages", "lengths": every stage's length,
    "families": the sizes of the new checks, "shortest_failure": shortest_failure()}.
    quick: lengths <= 200, few sums, all sums of <= 2 digits.
    """
    short_lengths = SHORT_LENGTHS if short_lengths is None else short_lengths
    if quick:
        lengths, short_lengths, chain_sums, gain_sums, random_sums, long_random = [60, 200], [10], 4, 4, 4, 2
        all_digits, short_run_sums = min(all_digits, 2), 4
    chain_sums, gain_sums = check_int("chain_sums", chain_sums, 1), check_int("gain_sums", gain_sums, 1)
    run_sums = chain_sums if run_sums is None else check_int("run_sums", run_sums, 0)
    short_run_sums = check_int("short_run_sums", short_run_sums, 0)
    all_digits = check_int("all_digits", all_digits, 0, families.MAX_ALL_DIGITS)
    plan = [(check_int("short_lengths' length", v, 1), 0, True, short_run_sums) for v in short_lengths]
    for i, length in enumerate(lengths):  # (length, random sums, structured checks, 9-run sums per k)
        plan.append((length, random_sums if i == 1 else long_random if i == len(lengths) - 1 else 0, i == 0, run_sums))
    plan = ([(all_digits, None, None, None)] if all_digits else []) + plan
    stages = []
    for length, n_random, structured, n_runs in plan:
        t0 = time.perf_counter()
        if n_random is None:  # every short sum, by shared prefixes
            checks = all_sums_check(length)
            checks = run_stage(model, checks, m=all_sums_margins(model, *checks[0][1:]))
        else:
            checks = run_stage(model, stage_checks(length, seed, chains, chain_sums, gain_sums, n_random, structured,
                                                   n_runs))
        ok = all(c["wrong"] == 0 for c in checks)
        stages.append({"length": length, "passed": ok, "checks": checks, "sec": time.perf_counter() - t0})
        if not ok:
            break
    return {"stages": stages, "passed": len(stages) == len(plan) and all(st["passed"] for st in stages),
            "n_stages": len(plan), "lengths": [p[0] for p in plan], "shortest_failure": shortest_failure(stages),
            "families": {"all_digits": all_digits, "short_lengths": list(short_lengths), "run_sums": run_sums,
                         "short_run_sums": short_run_sums, "whole_run_lengths": WHOLE_RUN_LENGTHS,
                         "known": len(families.KNOWN_FAILURES), "failures_kept": FAILURES_KEPT}}


EXAMPLE_LENGTH = 40  # digits of the example sums drawn in the chart


def example_sums(seed=0):
    """The chart's examples (name, num1, num2, result): a random 40-digit test sum, a 30-long carry chain, 99…9 + 1."""
    rng = measure_rng(seed, "exact", 40)
    n1, n2, _ = nines_cases(EXAMPLE_LENGTH)
    rows = [gen_data(1, EXAMPLE_LENGTH, "test", rng)[:2], carry_chain_data(1, EXAMPLE_LENGTH, 30, rng)[:2],
            (n1[:1], n2[:1])]
    return [(name, a, b, add_digits(a, b)) for name, (a, b) in
            zip(("random 40-digit sum", "carry chain of 30", "99…9 + 1"), rows, strict=True)]


def examples_eval(model):
    """The model's answers on example_sums, as MSB-first digit strings beside the true ones."""
    out = []
    for name, a, b, r in example_sums():
        with torch.no_grad():
            model.eval()
            y, _ = model.run(torch.from_numpy(a), torch.from_numpy(b), model.initial_state(len(a)))
            pred = model.out(y).argmax(-1)[0].tolist()
        out.append({"name": name, "a": _msb(a[0]), "b": _msb(b[0]), "true": _msb(r[0]),
                    "model": "".join(map(str, pred[::-1]))})
    return out


def _msb(row):
    return "".join(map(str, row[::-1]))
