"""What the interval-box proof (proof.py) reasons about: the trained model as float64 arrays, and the contexts.

extract() reads an nn.RNN (tanh or relu, started from zeros) into float64 arrays: each digit pair's input to the
first layer, per layer (W_ih, W_hh, b_ih, b_hh), the output layer, and the tanh allowance (rounding.py); validate()
refuses, in one line, arrays and boxes that are not of the form check() reasons about. A context (Contexts) is the
last m digit pairs and the carry into the oldest of them, numbered as CONTEXT_RULE says: one box per context.
"""
import numpy as np
import torch

from proof.rounding import TANH_ERR

PAIRS = 100  # digit pairs (a, b) -> a * 10 + b


def extract(model, tanh_err=TANH_ERR):
    """The model as float64 arrays: per-pair input term of layer 1, per layer (W_ih, W_hh, b_ih, b_hh), output;
    tanh_err: the absolute error allowed to float32 tanh (at least TANH_ERR; a certificate records its own)."""
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
            "c": model.out.bias.detach().double().numpy(), "tanh_err": float(tanh_err)}


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


def validate(net, lo, hi, m):
    """A one-line ValueError unless net (extract()'s form) and boxes lo, hi are what check() reasons about: real
    float64 arrays of the shapes the model gives, finite weights, no NaN, lo <= hi in every box with finite ends
    (a box with an infinite end is an unreached context: check() lets no step into it), m an integer >= 1."""
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"context depth m must be an integer >= 1, got {m!r}")
    layers = net.get("layers") if isinstance(net, dict) else None
    if not layers or net.get("act") not in ("tanh", "relu"):
        raise ValueError("net must be extract()'s dict of an nn.RNN (tanh or relu)")
    t = net.get("tanh_err")
    if isinstance(t, bool) or not isinstance(t, float) or not TANH_ERR <= t < 0.5:
        raise ValueError(f"the tanh allowance must be a float in [{TANH_ERR:g}, 0.5), got {t!r}")
    h = layers[0][1].shape[0] if getattr(layers[0][1], "ndim", 0) == 2 else -1
    arrays = [net["x"], net["V"], net["c"]] + [a for layer in layers for a in layer]
    if not all(isinstance(a, np.ndarray) and a.dtype == np.float64 and np.isfinite(a).all() for a in arrays):
        raise ValueError("the model's arrays must be finite float64 (extract() gives them)")
    ins = [net["x"].shape[1]] + [h] * (len(layers) - 1)
    if [tuple(a.shape for a in layer) for layer in layers] != [((h, i), (h, h), (h,), (h,)) for i in ins] or \
            net["x"].shape != (PAIRS, ins[0]) or net["V"].shape != (10, h) or net["c"].shape != (10,):
        raise ValueError("the model's arrays do not fit together (extract() gives them)")
    shape = (2 * PAIRS**m, len(layers), h)
    for name, a in (("lo", lo), ("hi", hi)):
        if not isinstance(a, np.ndarray) or a.dtype != np.float64 or a.shape != shape or np.isnan(a).any():
            raise ValueError(f"boxes {name} must be a float64 array of shape {shape} without NaN, got "
                             f"{getattr(a, 'dtype', type(a).__name__)} {getattr(a, 'shape', '')}")
    finite = np.isfinite(lo) & np.isfinite(hi)
    if (lo[finite] > hi[finite]).any():
        raise ValueError("a box has lo > hi")
