"""Pruning a one-layer rnn adder one unit at a time, the removed unit folded into the others by least squares.

Over the states S (N, H) the model reaches on a fixed set of sums (reached_states), unit j is fitted as an affine
function of the other units, h_j ~ a + S_-j c (numpy's lstsq). Every consumer of h_j (the recurrent matrix W_hh,
one column per unit, and the output layer V) reads W[:, j] h_j; fold() replaces that term by W[:, j] (a + S_-j c):
column i gains W[:, j] c_i and the consumer's bias gains W[:, j] a; then unit j's row (its inputs, recurrence and
biases) and column are deleted. On the fitted states the new model's pre-activations and logits differ from the old
ones by exactly W[:, j] times the fit's residual, so a unit that is an exact affine function of the others (a copy,
a constant) is removed without changing anything the model computes.

choose() removes the unit whose residual costs least: the residual's root mean square times the norm of the unit's
outgoing weights (its W_hh column and its V column), the size of the error it leaves in the next pre-activations
and logits. prune() removes `k` units, one at a time, each on states of the model as it then is.
"""
import numpy as np
import torch

from data import gen_data, measure_rng
from measures.exact.harden import nine_run_batch
from models import ModelConfig, myPTRNNModel
from train import chain_batch, to_tensors

STATE_SUMS = 300  # sums of each kind (training-split, carry-chain-rich, 9-runs with no carry in) per state sample
LONG_SUMS = 100  # training-split sums of LONG_DIGITS digits added to them (states deep into a sum)
LONG_DIGITS = 100  # digits of those sums
PRUNE_TAG = 7  # measure_rng(seed, "exact", 0, PRUNE_TAG, units): no stage of the suite has length 0


def check_model(model):
    """A one-layer tanh/relu nn.RNN adder (what fold() handles), or a ValueError naming what it is."""
    if not isinstance(model, myPTRNNModel) or not isinstance(model.rnn, torch.nn.RNN) or model.cfg.num_layers != 1:
        raise ValueError(f"pruning handles one-layer rnn adders, got {getattr(model, 'cfg', type(model).__name__)}")
    if model.cfg.hidden_size < 2:
        raise ValueError(f"a model of {model.cfg.hidden_size} unit(s) has no unit to fold into another")
    return model


@torch.no_grad()
def states(model, num1, num2):
    """Every state the model reaches on sums (B, T): (B * T, H) float64, zero-started as the model runs them."""
    model.eval()
    h, _ = model.run(num1, num2)  # (B, T, H)
    return h.reshape(-1, h.shape[-1]).double().numpy()


def reached_states(model, seed, maxlen):
    """States of the model on a sample drawn from (seed, its number of units): the kinds of sums it is trained on
    (maxlen digits) and longer ones; (N, H) float64."""
    rng = measure_rng(seed, "exact", 0, PRUNE_TAG, model.cfg.hidden_size)
    kinds = [gen_data(STATE_SUMS, maxlen, "train", rng), chain_batch(STATE_SUMS, maxlen, rng),
             nine_run_batch(STATE_SUMS, maxlen, rng)]
    out = [states(model, *to_tensors(k[:2], "cpu")) for k in kinds]
    out.append(states(model, *to_tensors(gen_data(LONG_SUMS, LONG_DIGITS, "train", rng)[:2], "cpu")))
    return np.concatenate(out)


def fit(S, j):
    """Least-squares affine fit of column j of S (N, H) on the others: (a, c (H - 1,), residual (N,))."""
    rest = np.delete(S, j, axis=1)
    A = np.concatenate([np.ones((len(S), 1)), rest], axis=1)
    coef = np.linalg.lstsq(A, S[:, j], rcond=None)[0]
    return coef[0], coef[1:], S[:, j] - A @ coef


def weights(model):
    """The model's float64 arrays: W_ih (H, 2E), W_hh (H, H), b_ih, b_hh (H,), V (10, H), c (10,)."""
    get = lambda t: t.detach().double().numpy().copy()  # noqa: E731
    r = model.rnn
    return {"W_ih": get(r.weight_ih_l0), "W_hh": get(r.weight_hh_l0), "b_ih": get(r.bias_ih_l0),
            "b_hh": get(r.bias_hh_l0), "V": get(model.out.weight), "c": get(model.out.bias)}


def cost(w, S, j):
    """What removing unit j leaves behind: rms of its fit's residual times the norm of its outgoing weights."""
    out = np.concatenate([w["W_hh"][:, j], w["V"][:, j]])
    return float(np.sqrt(np.mean(fit(S, j)[2] ** 2)) * np.linalg.norm(out))


def choose(model, S):
    """The unit (index) whose removal costs least on states S (cost()); ties go to the lowest index."""
    w = weights(model)
    return int(np.argmin([cost(w, S, j) for j in range(S.shape[1])]))


def fold(model, j, S):
    """A new model without unit j, its contribution folded into the other units by the fit on states S (N, H)."""
    check_model(model)
    a, c, _ = fit(S, j)
    w = weights(model)
    for M, bias in (("W_hh", "b_hh"), ("V", "c")):  # each consumer: W[:, j] h_j -> W[:, j] (a + S_-j c)
        w[bias] += w[M][:, j] * a
        rest = np.delete(np.arange(w[M].shape[1]), j)
        w[M][:, rest] += np.outer(w[M][:, j], c)
    keep = np.delete(np.arange(w["W_hh"].shape[0]), j)
    new = {"W_ih": w["W_ih"][keep], "W_hh": w["W_hh"][np.ix_(keep, keep)], "b_ih": w["b_ih"][keep],
           "b_hh": w["b_hh"][keep], "V": w["V"][:, keep], "c": w["c"]}
    small = myPTRNNModel(ModelConfig(**{**model.cfg.to_dict(), "hidden_size": len(keep)}))
    f32 = lambda x: torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # noqa: E731
    with torch.no_grad():
        small.embed.weight.copy_(model.embed.weight)
        for name, key in (("weight_ih_l0", "W_ih"), ("weight_hh_l0", "W_hh"), ("bias_ih_l0", "b_ih"),
                          ("bias_hh_l0", "b_hh")):
            getattr(small.rnn, name).copy_(f32(new[key]))
        small.out.weight.copy_(f32(new["V"]))
        small.out.bias.copy_(f32(new["c"]))
    return small.eval()


def prune(model, k, seed, maxlen):
    """Remove k units one at a time (choose() on fresh reached_states each time); the new model and the units
    removed, as indices into the model as it was at each removal."""
    removed = []
    for _ in range(k):
        check_model(model)
        S = reached_states(model, seed, maxlen)
        j = choose(model, S)
        model = fold(model, j, S)
        removed.append(j)
    return model, removed
