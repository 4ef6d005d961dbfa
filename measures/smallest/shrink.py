"""Shrinking chosen units before they are cut: fine-tuning with a group-lasso penalty on their outgoing weights.

A unit whose outgoing weights (its column of W_hh, read by every unit at the next step, and its column of the output
layer V) are zero contributes nothing: cutting it changes no computation. shrink() fine-tunes the model on
hardening's batches (harden.sampler: training-split, carry-chain-rich and 9-run sums, and long training-split sums)
with the loss

    cross-entropy over every digit + saturation * mean(1 - h^2) + weight * ramp * sum_j ||(W_hh[:, j], V[:, j])||_2

over the target units j (the group lasso: each unit's outgoing weights one group, so the penalty drives whole
columns to zero while the other units take over their job; ramp grows linearly to 1 over the first half of the
steps), so that the fold that cuts them (prune.fold) has little left to fold. Adam (fresh moments) from
np.random.default_rng(seed) for the batches, through train.fit: deterministic from the seed.
"""
import numpy as np
import torch
import torch.nn.functional as F

from measures.exact import harden
from train import fit, to_tensors


def outgoing(model, units):
    """The outgoing-weight norms of `units` (the group-lasso groups), a differentiable tensor (len(units),)."""
    w_hh, v = model.rnn.weight_hh_l0, model.out.weight
    idx = torch.as_tensor(units, dtype=torch.long)
    return torch.sqrt((w_hh[:, idx] ** 2).sum(0) + (v[:, idx] ** 2).sum(0) + 1e-12)


def shrink(model, units, seed, maxlen, steps, lr, weight, saturation=0.0):
    """Fine-tune `model` in place with the group penalty on `units` (module docstring); returns a JSON-ready record:
    the steps, the targets' outgoing norms before and after, the last losses."""
    before = outgoing(model, units).detach().numpy().tolist()
    rng, sample = np.random.default_rng(seed), harden.sampler({}, maxlen)

    def penalised(model, num1, num2, result, step):  # cross-entropy + saturation + the ramped group lasso
        states = model.layer_states(num1, num2)  # [(B, T, H)]
        logits = model.out(states[-1])
        ramp = min(1.0, 2 * step / steps)
        return (F.cross_entropy(logits.reshape(-1, 10), result.reshape(-1))
                + saturation * (1 - states[-1] ** 2).mean() + weight * ramp * outgoing(model, units).sum())

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses, _, _ = fit(model, opt, lambda step: to_tensors(sample(rng), "cpu"), steps, loss_fn=penalised)
    model.eval()
    return {"units": list(map(int, units)), "steps": len(losses), "norm_before": before,
            "norm_after": outgoing(model, units).detach().numpy().tolist(),
            "loss": float(np.mean(losses[-20:])) if losses else None}
