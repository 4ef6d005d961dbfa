"""Model family: shapes, the three hidden modes, detached carrying, bad names."""
import itertools

import pytest
import torch
import torch.nn.functional as F

from models import CELLS, H0_INITS, HIDDEN_MODES, ModelConfig, NoRNNModel, build_model, detach, myPTRNNModel

RECURRENT = [("rnn", "relu"), ("rnn", "tanh"), ("lstm", "relu"), ("gru", "relu")]


def batch(b=6, t=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 10, (b, t), generator=g), torch.randint(0, 10, (b, t), generator=g)


def train_pass(model, a, b):
    """One training batch as train.fit runs it: from init_hidden; (logits, the state a carry-mode model keeps)."""
    y, last = model.run(a, b, model.init_hidden(a.shape[0]))
    return model.out(y), detach(last) if model.cfg.hidden_mode == "carry" else None


@pytest.mark.parametrize("cell_nl, mode, h0", list(itertools.product(RECURRENT, HIDDEN_MODES, H0_INITS)))
def test_output_shape_every_cell_mode_init(cell_nl, mode, h0):
    cell, nl = cell_nl
    model = build_model(ModelConfig(cell=cell, nonlinearity=nl, hidden_mode=mode, h0_init=h0, num_layers=2,
                                    hidden_size=8, embed_size=4))
    a, b = batch()
    logits, h = train_pass(model, a, b)
    assert logits.shape == (6, 5, 10)
    model.eval()
    assert model(a, b, h).shape == (6, 5, 10)
    assert model(*batch(b=3), h).shape == (3, 5, 10)  # eval on fewer sums than the carried batch
    assert model(*batch(b=13), h).shape == (13, 5, 10)  # and on more: carry mode evaluates in chunks of its rows


def test_baseline_shape_and_no_recurrence():
    model = build_model(ModelConfig(cell="linear"))
    assert isinstance(model, NoRNNModel)
    a, b = batch()
    out = model(a, b)
    assert out.shape == (6, 5, 10)
    a2 = a.clone()
    a2[:, 0] = (a2[:, 0] + 1) % 10  # change the units digit only
    assert torch.equal(model(a2, b)[:, 1:], out[:, 1:])  # later steps cannot see it


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_carry_really_carries_and_trains_without_inplace_error(cell):
    """The loop of train.fit: the state is passed from batch to batch explicitly, detached (truncated BPTT)."""
    torch.manual_seed(0)
    model = myPTRNNModel(ModelConfig(cell=cell, hidden_mode="carry", hidden_size=16, embed_size=4))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    a, b = batch(seed=1)
    hidden = model.init_hidden(a.shape[0])  # drawn by h0_init
    states = []
    for _ in range(3):  # the source code's bug (no detach) fails at the second backward with an in-place error
        y, last = model.run(a, b, hidden)
        loss = F.cross_entropy(model.out(y).reshape(-1, 10), a.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        hidden = detach(last)
        states.append(hidden)
    flat = [s for h in states for s in (h if isinstance(h, tuple) else (h,))]
    assert all(not s.requires_grad for s in flat)  # detached: no path into an earlier batch's graph
    with torch.no_grad():  # the next batch's output depends on the state the last one left: same input, new state
        y1 = model.out(model.run(a, b, states[0])[0])
        y2 = model.out(model.run(a, b, model.init_hidden(a.shape[0]))[0])
    assert not torch.allclose(y1, y2)


def test_eval_uses_carried_state_and_does_not_advance_it():
    torch.manual_seed(0)
    model = myPTRNNModel(ModelConfig(hidden_mode="carry", hidden_size=8, embed_size=4))
    a, b = batch(b=4)
    _, carried = train_pass(model, a, b)  # one training batch of 4 leaves the carried state
    h = carried.clone()
    model.eval()
    a10, b10 = batch(b=10, seed=3)
    out = model(a10, b10, carried)  # chunks of 4, 4, 2 each start from the carried state
    assert torch.equal(carried, h)
    with torch.no_grad():
        ref = torch.cat([model.out(model.rnn(torch.cat([model.embed(a10[i:i + 4]), model.embed(b10[i:i + 4])], -1),
                                             h[:, :len(a10[i:i + 4])])[0]) for i in (0, 4, 8)])
    assert torch.allclose(out, ref)
    with pytest.raises(ValueError, match="pass it"):
        myPTRNNModel(ModelConfig(hidden_mode="carry"))(a, b)  # no carried state yet: one line, not a guess


def test_none_and_zero_identical():
    torch.manual_seed(3)
    m_none = myPTRNNModel(ModelConfig(hidden_mode="none", cell="lstm"))
    m_zero = myPTRNNModel(ModelConfig(hidden_mode="zero", cell="lstm"))
    m_zero.load_state_dict(m_none.state_dict())
    a, b = batch()
    assert torch.equal(m_none(a, b), m_zero(a, b))


def test_h0_init_scales():
    torch.manual_seed(0)
    big = {}
    for how in H0_INITS:
        m = myPTRNNModel(ModelConfig(h0_init=how, hidden_size=64))
        big[how] = m.init_hidden(200).std().item()
    assert big["zero"] == 0
    assert abs(big["randn"] - 1) < 0.05 and abs(big["randn10"] - 10) < 0.5


@pytest.mark.parametrize("kwargs, match", [
    ({"cell": "transformer"}, "rnn, lstm, gru, linear"),
    ({"nonlinearity": "sigmoid"}, "relu, tanh"),
    ({"hidden_mode": "True"}, "carry, none, zero"),
    ({"h0_init": "ones"}, "randn, randn10"),
    ({"num_layers": 0}, "num_layers"),
    ({"hidden_size": 2.5}, "hidden_size"),
])
def test_bad_names_raise_listing_valid(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kwargs)


def test_every_listed_cell_builds_its_own_layer():
    kinds = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
    for cell in CELLS:
        model = build_model(ModelConfig(cell=cell, num_layers=2, hidden_size=8))
        if cell == "linear":
            assert isinstance(model, NoRNNModel) and not any(isinstance(m, torch.nn.RNNBase) for m in model.modules())
        else:
            assert type(model.rnn) is kinds[cell] and model.rnn.num_layers == 2 and model.rnn.hidden_size == 8


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("mode", ["carry", "none", "zero"])
def test_run_chained_over_time_chunks_equals_forward_and_probe_layers(cell, mode):
    """One forward-pass implementation: forward, model.run over chunks (beyond.py) and the probe's per-layer
    copies (probe.py) give the same outputs from the same initial state, in every hidden mode."""
    from measures import probe

    torch.manual_seed(0)
    model = myPTRNNModel(ModelConfig(cell=cell, hidden_mode=mode, hidden_size=8, embed_size=4, num_layers=2))
    a, b = batch(b=6)
    _, carried = train_pass(model, a, b)  # a training batch: the state it leaves in carry mode
    model.eval()
    a4, b4 = batch(b=4, seed=5)
    with torch.no_grad():
        whole = model(a4, b4, carried)
        h = model.initial_state(4, carried)
        y1, h = model.run(a4[:, :3], b4[:, :3], h)
        y2, _ = model.run(a4[:, 3:], b4[:, 3:], h)
        chunked = model.out(torch.cat([y1, y2], dim=1))
    assert torch.allclose(whole, chunked, atol=1e-6)
    last = probe.layer_states(model, a4.numpy(), b4.numpy(), carried)[-1]
    assert torch.allclose(model.out(last), whole, atol=1e-5)
    if mode == "carry":
        with pytest.raises(ValueError, match="at most 6 sums"):
            model.initial_state(7, carried)  # evaluation chunks hold at most the carried state's rows
    else:
        assert (model.initial_state(3) is None) == (mode == "none")
