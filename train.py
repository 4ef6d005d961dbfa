"""The one training loop every experiment shares (fit), and the run it makes of one seed (learn, via train_run).

train_run() trains one model from one seed and returns (history, model, state): the mean training loss
of every LOSS_EVERY-step window and, every EVAL_EVERY steps, exact-match and per-digit accuracy
on one fixed batch of held-out sums (drawn once, from the run's own test generator): test-range sums,
or with eval_split="train" held-out sums from the training range, which measures learning without the
split's shift while training stays exactly the same; with eval_fresh, a fresh batch for every evaluation
(as the source report evaluated). state: the hidden state a carry-mode run ended with, which the caller keeps
and passes to evaluation (models.py); None otherwise. fine_tune() and measures/smallest/shrink.py go on training
a trained model through the same loop with a penalised loss.
"""
import inspect
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from data import LEADING_DIGITS, SPLITS, add_digits, carry_chain_data, check_int, gen_data
from models import ModelConfig, build_model, detach

BATCH_SIZE = 200  # training sums per step (report: 200)
EVAL_SIZE = 1000  # held-out test sums in the fixed evaluation batch
LOSS_EVERY = 50  # steps per recorded loss point (mean over the window)
EVAL_EVERY = 50  # steps between evaluations
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device="auto"):
    """'auto' -> cuda when available, else cpu. Asking for cuda without one is an error."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; valid: {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch.cuda.is_available() is False; use cpu or auto")
    return device


def to_tensors(arrays, device):
    return [torch.from_numpy(a).to(device) for a in arrays]


@torch.no_grad()
def evaluate(model, num1, num2, result, carried=None):
    """(exact-match accuracy, per-digit accuracy) of `model` on LongTensors (N, T), each sum started from
    model.initial_state(carried) (carried: the state a carry-mode training ended with)."""
    was_training = model.training
    model.eval()
    correct = model(num1, num2, carried).argmax(-1) == result  # (N, T)
    model.train(was_training)
    n = correct.shape[0]
    return correct.all(dim=1).sum().item() / n, correct.sum().item() / correct.numel()


def seed_streams(seed):
    """Independent numpy generators for the training stream and the fixed test batch."""
    train_ss, test_ss = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(train_ss), np.random.default_rng(test_ss)


def _positive_number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _split(value):
    if value not in SPLITS:
        raise ValueError(f"eval_split must be one of {', '.join(SPLITS)}, got {value!r}")
    return value


def _fraction(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _flag(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


SETTINGS = {  # train_run keyword -> validator; what an experiment's run may set besides ModelConfig
    "maxlen": lambda v: check_int("maxlen", v, 1),
    "steps": lambda v: check_int("steps", v, 1),
    "lr": lambda v: _positive_number("lr", v),
    "seed": lambda v: check_int("seed", v, 0),
    "batch_size": lambda v: check_int("batch_size", v, 1),
    "milestones": lambda v: [check_int("milestone", m, 1) for m in v],
    "gamma": lambda v: _positive_number("gamma", v),
    "eval_size": lambda v: check_int("eval_size", v, 1),
    "loss_every": lambda v: check_int("loss_every", v, 1),
    "eval_every": lambda v: check_int("eval_every", v, 1),
    "mixed_lengths": lambda v: _flag("mixed_lengths", v),
    "clip_grad": lambda v: None if v is None else _positive_number("clip_grad", v),
    "eval_split": _split,
    "chain_fraction": lambda v: _fraction("chain_fraction", v),
    "eval_fresh": lambda v: _flag("eval_fresh", v),
}


def check_settings(settings):
    """Validate training settings (unknown names and bad values raise ValueError); return them."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise ValueError(f"unknown training setting(s) {sorted(unknown)}; valid: {', '.join(SETTINGS)}")
    if not isinstance(settings.get("milestones", []), (list, tuple)):
        raise ValueError(f"milestones must be a list of steps, got {settings['milestones']!r}")
    return {k: SETTINGS[k](v) for k, v in settings.items()}


def chain_batch(n, length, rng):
    """n training-split sums of `length` digits rich in carry chains, as gen_data's arrays (n, length + 1).

    Below a leading digit pair from the training split (digits 0-4, so no operand enters the test range),
    the lower length - 1 digits hold a longest carry chain of k, drawn uniformly from 0..length-2
    (data.carry_chain_data); a carry out of them ends in the leading pair, whose sum is at most 8.
    """
    if length < 2:
        return gen_data(n, length, "train", rng)
    low, high = LEADING_DIGITS["train"]
    num1, num2, _ = carry_chain_data(n, length - 1, int(rng.integers(0, length - 1)), rng)  # (n, length)
    out = np.zeros((3, n, length + 1), dtype=np.int64)
    out[0, :, : length - 1], out[1, :, : length - 1] = num1[:, :-1], num2[:, :-1]
    out[:2, :, length - 1] = rng.integers(low, high, size=(2, n))
    add_digits(out[0], out[1], out=out[2])
    return out[0], out[1], out[2]


def fit(model, opt, batch, steps, *, state=None, carry=False, loss_fn=None, clip_grad=None, sched=None,
        after_step=None):
    """The one training loop: `steps` optimizer steps of `model` on batch(step) -> (num1, num2, result) (B, T).

    Each step: the forward pass from `state` (with carry, the next batch starts where this one ended, detached:
    truncated BPTT), the loss (cross-entropy over every digit, or loss_fn(model, num1, num2, result, step) for
    fine-tuning's and shrinking's penalised losses), backward, gradient clipping (clip_grad: the total norm's
    cap), opt.step, sched.step. A non-finite loss ends it (recorded, the model as that step left it);
    after_step(step, loss, state) returning True ends it too (an evaluation found what it waited for).
    Returns (losses, state, seconds): every step's loss, the state the last step ended with, the seconds spent
    in the steps themselves (batches included, after_step not).
    """
    model.train()
    losses, seconds = [], 0.0
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        num1, num2, result = batch(step)
        if loss_fn is None:
            y, last = model.run(num1, num2, state)  # (B, T, H), the state after the last digit
            if carry and last is not None:
                state = detach(last)  # without its graph: the next batch (and evaluation) starts from it
            loss = F.cross_entropy(model.out(y).reshape(-1, 10), result.reshape(-1))  # logits (B, T, 10)
        else:
            loss = loss_fn(model, num1, num2, result, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
        seconds += time.perf_counter() - t0
        if not math.isfinite(losses[-1]) or (after_step is not None and after_step(step, losses[-1], state)):
            break
    return losses, state, seconds


def learn(cfg, *, maxlen, steps, lr, seed=0, batch_size=BATCH_SIZE, milestones=(), gamma=0.1,
          eval_size=EVAL_SIZE, loss_every=LOSS_EVERY, eval_every=EVAL_EVERY, mixed_lengths=False, clip_grad=None,
          eval_split="test", chain_fraction=0.0, eval_fresh=False, device="cpu", stop_at_exact=False, progress=None):
    """One run from one seed, on settings train_run has checked: what decides a run's numbers, and all it does.

    The model, its data streams, the schedule and the evaluations; fit() is the loop. Its code closure is the runs'
    code fingerprint (machinery/fingerprint.py): checks and their messages live in train_run, outside it, so
    rewording an error message retrains nothing. Returns (history, model, state): state is the one training ended
    with in carry mode (evaluation starts from it), else None.
    """
    n_chain = round(chain_fraction * batch_size)
    torch.manual_seed(seed)
    train_rng, test_rng = seed_streams(seed)
    model = build_model(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)  # one kernel for all parameters
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma) if milestones else None

    def held_out():  # eval_size held-out sums (N, maxlen + 1) from the run's test generator
        return to_tensors(gen_data(eval_size, maxlen, eval_split, test_rng), device)

    test = None if eval_fresh else held_out()  # one fixed batch, or (eval_fresh) a fresh one per evaluation
    carry = cfg.hidden_mode == "carry"
    state = model.init_hidden(batch_size)  # (L, B, H), LSTM's (h, c), or None; passed from batch to batch

    def batch(step):  # the step's training sums: (B, T) x 3
        length = int(train_rng.integers(1, maxlen + 1)) if mixed_lengths else maxlen
        out = gen_data(batch_size - n_chain, length, "train", train_rng) if n_chain < batch_size else None
        if n_chain:  # carry-chain-rich sums; with chain_fraction 0 nothing extra is drawn
            chains = chain_batch(n_chain, length, train_rng)
            out = chains if out is None else [np.concatenate(v) for v in zip(out, chains, strict=True)]
        return to_tensors(out, device)

    loss_steps = list(range(loss_every, steps + 1, loss_every))
    eval_steps = list(range(eval_every, steps + 1, eval_every))
    hist = {"loss": [None] * len(loss_steps), "accuracy": [None] * len(eval_steps),
            "digit_accuracy": [None] * len(eval_steps)}
    first_exact = first_exact_sec = None
    t_start = time.perf_counter()
    window = 0.0

    def after_step(step, value, state):  # the history: loss windows, evaluations (from the state), progress
        nonlocal window, first_exact, first_exact_sec
        window += value
        if step % loss_every == 0:
            hist["loss"][step // loss_every - 1] = window / loss_every
            window = 0.0
        if step % eval_every == 0:
            acc, digit = evaluate(model, *(held_out() if eval_fresh else test), state if carry else None)
            hist["accuracy"][step // eval_every - 1] = acc
            hist["digit_accuracy"][step // eval_every - 1] = digit
            if acc == 1.0 and first_exact is None:
                first_exact, first_exact_sec = step, time.perf_counter() - t_start
                if stop_at_exact:
                    return True
        if progress is not None and step % loss_every == 0:
            progress(loss_every)
        return False

    losses, state, train_sec = fit(model, opt, batch, steps, state=state, carry=carry, clip_grad=clip_grad,
                                   sched=sched, after_step=after_step)
    done = len(losses)
    diverged_at = done if not math.isfinite(losses[-1]) else None
    if progress is not None:  # a run that stopped early still fills its share of the bar
        progress(steps - done // loss_every * loss_every)
    history = {"loss_steps": loss_steps, "eval_steps": eval_steps, **hist, "diverged": diverged_at is not None,
               "diverged_at": diverged_at, "first_exact": first_exact,
               "first_exact_sec": first_exact_sec, "steps_run": done,
               "sec_per_step": train_sec / max(done, 1), "seed": seed}
    return history, model, state if carry else None


def train_run(model_cfg=None, **settings):
    """Train one model from `seed`; return (history, model, state), history a JSON-ready dict. Arguments: learn's.

    The history lives on the grid eval_steps = [eval_every, 2 * eval_every, ..., steps]
    (loss on [loss_every, ...]); points a run never reached (it diverged, or stop_at_exact ended
    it at its first exact evaluation) are None. `progress(n)` is called with steps done.
    mixed_lengths: each step's sums get a length drawn uniformly from 1..maxlen (test sums stay at
    maxlen); clip_grad: clip the gradient's total norm to this value. Their defaults (off) draw
    and compute exactly what a run without them does. eval_split: the range of the fixed evaluation
    batch, "test" (default) or "train" (held-out sums from the training range; training is unchanged).
    eval_fresh: each evaluation draws eval_size fresh held-out sums from the run's test generator instead of
    reusing one fixed batch (off: exactly what a run without it draws and computes). Every setting is checked
    first (ValueError naming it) and the device resolved; then learn() trains. The numerics are the entry
    point's to apply (machinery/numerics.py: source.py, add.py, the workers, tests/conftest.py).
    """
    cfg = model_cfg if isinstance(model_cfg, ModelConfig) else ModelConfig(**(model_cfg or {}))
    try:
        bound = RUN_SIGNATURE.bind(cfg, **settings)
    except TypeError as e:  # an unknown or missing setting
        raise ValueError(f"{e}; valid settings: {', '.join(SETTINGS)}") from None
    bound.apply_defaults()
    kw = dict(bound.arguments)
    kw.update(check_settings({k: kw[k] for k in SETTINGS}))
    kw["device"] = resolve_device(kw["device"])
    return learn(**kw)


RUN_SIGNATURE = inspect.signature(learn)
train_run.__signature__ = RUN_SIGNATURE  # train_run takes learn's arguments (inspect, experiments and store read them)
DEFAULTS = {k: p.default for k, p in RUN_SIGNATURE.parameters.items()
            if p.kind == p.KEYWORD_ONLY and p.default is not inspect.Parameter.empty}  # what a run leaves unset gets


def fine_tune(model, sample, steps, lr, seed=0, device="cpu", saturation=0.0, ramp=True):
    """Go on training a trained model: `steps` Adam steps at `lr` (fresh moments) on batches sample(rng), by fit().

    sample(rng) -> (num1, num2, result) int64 arrays (B, T), drawn from np.random.default_rng(seed); the caller
    keeps them out of the test range. Every sum starts from the zero state (hidden_mode none or zero). The loss is
    train_run's (cross-entropy over every digit), plus, with saturation > 0 (tanh rnn only), saturation *
    mean(1 - h^2) over every layer's states (model.layer_states), its weight ramped up linearly over the first half
    of the steps (ramp=False: full from the first step). That term drives every unit towards +-1, where the step is
    flat and small boxes of states map into small boxes (what proof/proof.py needs). Returns the loss of
    each step; a non-finite loss stops it (the model is then left as that step made it). Used after train_run
    (measures/exact/harden.py), never inside it.
    """
    steps = check_int("steps", steps, 0)
    lr = _positive_number("lr", lr)
    if saturation and not (model.cfg.cell == "rnn" and model.cfg.nonlinearity == "tanh"):
        raise ValueError(f"saturation needs a tanh rnn, not {model.cfg.cell}/{model.cfg.nonlinearity}")
    rng = np.random.default_rng(seed)

    def saturated(model, num1, num2, result, step):  # cross-entropy + the saturation term
        states = model.layer_states(num1, num2)  # per layer (B, T, H)
        logits = model.out(states[-1])  # (B, T, 10)
        weight = saturation * (min(1.0, 2 * step / steps) if ramp else 1.0)
        extra = weight * torch.stack([(1 - h**2).mean() for h in states]).mean()
        return F.cross_entropy(logits.reshape(-1, 10), result.reshape(-1)) + extra

    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)  # as train_run's
    losses, _, _ = fit(model, opt, lambda step: to_tensors(sample(rng), device), steps,
                       loss_fn=saturated if saturation else None)
    model.eval()
    return losses
