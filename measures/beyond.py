"""Long-sum evaluation shared by the experiments beyond the report (length.py, chains.py, cost.py, ...).

predict_digits runs a trained model over operands of any length in chunks of time steps, carrying the
hidden state from one chunk to the next (so the result equals one pass over the whole sum);
evaluate_sums draws and scores sums in chunks; worst_cases builds 99...9 + 1 and 1 + 99...9. The sums'
generators come from data.measure_rng.
"""
import time

import numpy as np
import torch

from data import ints_to_digits

TIME_CHUNK = 2000  # time steps per forward call in long evaluations (bounds memory at any length)
SUM_CHUNK = 250  # sums per forward call



@torch.no_grad()
def predict_digits(model, num1, num2, time_chunk=TIME_CHUNK, carried=None):
    """The model's sum digits, int64 (N, T), for LSB-first operand digit arrays (N, T) of any length.

    Runs the recurrent layer over time chunks, passing its state along, so any length fits memory; each sum starts
    from model.initial_state(carried) (carried: the state a carry-mode training ended with).
    """
    model.eval()
    device = next(model.parameters()).device
    n, steps = num1.shape
    out = np.empty((n, steps), dtype=np.int64)
    h = model.initial_state(n, carried)  # as the model's own evaluation starts (models.py: hidden_mode)
    for t in range(0, steps, time_chunk):
        a, b = (torch.from_numpy(np.ascontiguousarray(v[:, t : t + time_chunk])).to(device) for v in (num1, num2))
        y, h = model.run(a, b, h)  # (N, chunk, H)
        out[:, t : t + time_chunk] = model.out(y).argmax(-1).cpu().numpy()
    return out

def predict_correct(model, num1, num2, result, time_chunk=TIME_CHUNK, carried=None):
    """Per-sum (all digits right: bool (N,)) and number of right digits, for int64 arrays (N, T)."""
    correct = predict_digits(model, num1, num2, time_chunk, carried) == result
    return correct.all(axis=1), int(correct.sum())

def evaluate_sums(model, make_batch, n_sums, sum_chunk=SUM_CHUNK, carried=None):
    """(exact-match accuracy, per-digit accuracy, seconds) over n_sums drawn by make_batch(n) in chunks."""
    t0 = time.perf_counter()
    exact, right, digits = 0, 0, 0
    for start in range(0, n_sums, sum_chunk):
        num1, num2, result = make_batch(min(sum_chunk, n_sums - start))
        ok, r = predict_correct(model, num1, num2, result, carried=carried)
        exact, right, digits = exact + int(ok.sum()), right + r, digits + result.size
    return exact / n_sums, right / digits, time.perf_counter() - t0

def worst_cases(length):
    """The two sums with the longest possible carry chain: 99...9 + 1 and 1 + 99...9 (length digits)."""
    nines = 10**length - 1
    num1 = ints_to_digits([nines, 1], length + 1)
    num2 = ints_to_digits([1, nines], length + 1)
    result = ints_to_digits([nines + 1, nines + 1], length + 1)
    return num1, num2, result
