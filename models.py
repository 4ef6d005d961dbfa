"""The recurrent adder (RNN / LSTM / GRU picked by name) and the no-RNN baseline.

myPTRNNModel keeps the source report's class name for its readers:
    digit embeddings of both operands (B, T, 2E) -> nn.RNN|LSTM|GRU (B, T, H) -> Linear -> (B, T, 10)

hidden_mode says what initial state each training batch starts from (EXPERIMENTS.md):
    carry  the previous training batch's final state, detached (truncated BPTT); the first one
           is drawn by h0_init. The report's "True", minus its bug of back-propagating through
           every earlier batch. The training loop passes the state explicitly (train.fit) and returns
           the state it ends with; the caller keeps it and passes it to evaluation, which starts from it.
    none   no state passed (PyTorch then uses zeros): the report's "False".
    zero   an explicit zero state every batch: the report's "Zero". Same computation as none.
Either way the recurrence between the digits of one sum happens inside the layer: the passed
state is only the state before the units digit.
"""
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from data import check_int

CELLS = ("rnn", "lstm", "gru", "linear")  # "linear": the no-RNN baseline (report fig. 3)
NONLINEARITIES = ("relu", "tanh")  # rnn only
HIDDEN_MODES = ("carry", "none", "zero")
H0_INITS = ("randn", "randn10", "zero", "xavier", "xavier_he")
MAX_UNITS = 4096  # largest num_layers, hidden_size, embed_size accepted (memory guard)
GUARDS = ("MAX_UNITS",)  # limits that only refuse input: no run's identity (machinery/codehash.py)


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(allowed)}")


@dataclass
class ModelConfig:
    cell: str = "rnn"  # rnn | lstm | gru | linear
    nonlinearity: str = "relu"  # relu | tanh (rnn only)
    num_layers: int = 2  # stacked recurrent layers, >= 1
    hidden_size: int = 64  # units per layer, >= 1
    embed_size: int = 32  # embedding size per operand digit, >= 1
    hidden_mode: str = "carry"  # carry | none | zero
    h0_init: str = "randn"  # first carried state: randn | randn10 | zero | xavier | xavier_he

    def __post_init__(self):
        _choice("cell", self.cell, CELLS)
        _choice("nonlinearity", self.nonlinearity, NONLINEARITIES)
        _choice("hidden_mode", self.hidden_mode, HIDDEN_MODES)
        _choice("h0_init", self.h0_init, H0_INITS)
        for name in ("num_layers", "hidden_size", "embed_size"):
            setattr(self, name, check_int(name, getattr(self, name), 1, MAX_UNITS))

    def to_dict(self):
        return asdict(self)


MODEL_KEYS = frozenset(ModelConfig.__dataclass_fields__)  # the settings that build a model (the rest train it)


def cell_label(cell, nonlinearity=None):
    """How a cell is named to readers: 'rnn/tanh' (an rnn with its nonlinearity), 'lstm', 'gru', 'linear'."""
    return f"{cell}/{nonlinearity}" if cell == "rnn" and nonlinearity else cell


def init_state(how, shape, device=None):
    """A fresh initial hidden state of `shape` (L, B, H) drawn as `how` (one of H0_INITS)."""
    _choice("h0_init", how, H0_INITS)
    h = torch.empty(shape, device=device)
    if how == "randn":
        return h.normal_()
    if how == "randn10":
        return h.normal_().mul_(10)
    if how == "zero":
        return h.zero_()
    if how == "xavier":
        return nn.init.xavier_uniform_(h, gain=1.0)
    return nn.init.kaiming_uniform_(h, nonlinearity="relu")  # xavier_he


def embed_pair(embed, num1, num2, lookups=1):
    """The recurrence's input: each step's two digit embeddings side by side, (B, T) x 2 -> (B, T, 2E).

    lookups=2: one lookup per operand, concatenated: the same values, but the embedding's gradient is summed in
    another order, so fine-tuning through model.layer_states, which was made with it, keeps it and its numbers.
    """
    if lookups == 2:
        return torch.cat([embed(num1), embed(num2)], dim=-1)
    return embed(torch.stack([num1, num2], dim=-1)).flatten(-2)  # one lookup: [emb(a_t), emb(b_t)]


class myPTRNNModel(nn.Module):
    def __init__(self, cfg=None):
        super().__init__()
        self.cfg = cfg = cfg or ModelConfig()
        if cfg.cell == "linear":
            raise ValueError("cell 'linear' is the baseline: build it with build_model() or NoRNNModel")
        self.embed = nn.Embedding(10, cfg.embed_size)
        kwargs = {"nonlinearity": cfg.nonlinearity} if cfg.cell == "rnn" else {}
        rnn_cls = getattr(nn, cfg.cell.upper())  # nn.RNN / nn.LSTM / nn.GRU
        self.rnn = rnn_cls(2 * cfg.embed_size, cfg.hidden_size, cfg.num_layers, batch_first=True, **kwargs)
        self.out = nn.Linear(cfg.hidden_size, 10)

    def init_hidden(self, batch_size):
        """The state the first training batch starts from: drawn by h0_init (carry), zeros (zero) or None (none).

        Shapes (L, B, H), or a pair of them for LSTM (h and c both drawn by h0_init). The training loop passes
        the state from batch to batch itself (train.fit), as word_language_model passes `hidden`.
        """
        mode = self.cfg.hidden_mode
        if mode == "none":
            return None
        p = next(self.parameters())
        shape = (self.cfg.num_layers, batch_size, self.cfg.hidden_size)
        if mode == "zero":
            z = p.new_zeros(shape)
            return (z, z.clone()) if self.cfg.cell == "lstm" else z
        h = init_state(self.cfg.h0_init, shape, p.device)
        return (h, init_state(self.cfg.h0_init, shape, p.device)) if self.cfg.cell == "lstm" else h

    def initial_state(self, batch_size, carried=None):
        """The state a sum starts from outside training: every hidden_mode rule for evaluation lives here.

        "none": None (nn.RNN's own zeros); "zero": explicit zeros (the same numbers); "carry": the first batch_size
        rows of `carried`, the state training ended with (train.fit returns it; the caller keeps it), so evaluation
        chunks hold at most that many sums. Shapes (L, B, H), or a pair of them for LSTM.
        """
        if self.cfg.hidden_mode != "carry":
            return self.init_hidden(batch_size)
        if carried is None:
            raise ValueError("a carry-mode model evaluates from the state its training ended with: pass it")
        n = carried_rows(carried)
        if batch_size > n:
            raise ValueError(f"carry-mode evaluation chunks hold at most {n} sums, got {batch_size}")
        return tuple(s[:, :batch_size] for s in carried) if isinstance(carried, tuple) else carried[:, :batch_size]

    def run(self, num1, num2, state=None):
        """One pass of the recurrence over digits (B, T) from `state`: (outputs (B, T, H), final state).

        Training passes its state on from batch to batch; measurements chain it over time chunks of a long sum;
        model.out(outputs) gives the logits. Every forward pass of the model goes through here.
        """
        return self.rnn(embed_pair(self.embed, num1, num2), state)

    def forward(self, num1, num2, carried=None):
        """num1, num2: LongTensor (B, T) of digits -> logits (B, T, 10), each sum from initial_state(carried)."""
        B = num1.shape[0]
        n = (self.cfg.hidden_mode == "carry" and carried_rows(carried)) or B  # carry: chunks of its rows
        y = torch.cat([self.run(num1[i : i + n], num2[i : i + n], self.initial_state(len(num1[i : i + n]), carried))[0]
                       for i in range(0, B, n)])
        return self.out(y)  # (B, T, 10)

    def layer_states(self, num1, num2):
        """Every layer's states [(B, T, H)] of a zero-started rnn (nn.RNN returns the last layer's only), by the step
        h_t = act(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) written out: differentiable, the model's own weights."""
        rnn = self.rnn
        act = torch.tanh if rnn.nonlinearity == "tanh" else torch.relu
        below = embed_pair(self.embed, num1, num2, lookups=2)  # (B, T, 2E)
        states = []
        for i in range(rnn.num_layers):
            w_ih, w_hh = getattr(rnn, f"weight_ih_l{i}"), getattr(rnn, f"weight_hh_l{i}")
            x = below @ w_ih.T + getattr(rnn, f"bias_ih_l{i}") + getattr(rnn, f"bias_hh_l{i}")  # (B, T, H)
            h, out = torch.zeros_like(x[:, 0]), []
            for t in range(x.shape[1]):
                h = act(x[:, t] + h @ w_hh.T)
                out.append(h)
            below = torch.stack(out, dim=1)
            states.append(below)
        return states


def carried_rows(state):
    """How many sums a carried state (L, B, H) or LSTM pair holds; 0 for None."""
    if state is None:
        return 0
    return (state[0] if isinstance(state, tuple) else state).shape[1]


def detach(state):
    """The state without its graph (truncated BPTT): the next batch starts where this one ended."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class NoRNNModel(nn.Module):
    """Report fig. 3: the same embeddings and output layer with nothing recurrent in between."""

    def __init__(self, cfg=None):
        super().__init__()
        self.cfg = cfg = cfg or ModelConfig(cell="linear")
        self.embed = nn.Embedding(10, cfg.embed_size)
        self.out = nn.Linear(2 * cfg.embed_size, 10)

    def init_hidden(self, batch_size):
        return None  # nothing recurrent: no state

    def run(self, num1, num2, state=None):
        """The features each step's output reads, (B, T, 2E), and no state: the interface of myPTRNNModel.run."""
        return embed_pair(self.embed, num1, num2), None

    def forward(self, num1, num2, carried=None):
        return self.out(self.run(num1, num2)[0])  # (B, T, 10); nothing recurrent, so no state


def build_model(cfg):
    """The model a ModelConfig describes."""
    return NoRNNModel(cfg) if cfg.cell == "linear" else myPTRNNModel(cfg)
