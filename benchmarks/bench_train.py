"""Training steps per second: our loop (train.train_run) vs the course template's naive loop, and the
recurrent core alone against the machine's dense-matmul peak.

    python -m benchmarks.bench_train                  maxlen 5, 10, 50, 70
    python -m benchmarks.bench_train --quick          fewer steps and repeats (about a minute, noisier)

Model for both sides: ModelConfig() = 2-layer ReLU nn.RNN, hidden 64, embed 32, carry mode; batch 200.
  ours   train.train_run(..., steps=STEPS): numpy data (data.gen_data), torch.from_numpy, fused Adam;
         ms/step = history["sec_per_step"] (the step loop only; model build and evaluation excluded).
         One untimed run first, then the median over REPEATS runs.
  naive  the template's loop: string-built data (bench_data.naive_digit_lists), torch.tensor(lists)
         every step, models.myPTRNNModel(ModelConfig()) as-is, plain torch.optim.Adam, cross-entropy,
         backward, step, loss.item(); WARMUP untimed steps, then the median over REPEATS blocks of STEPS.
  core   forward + backward of model.rnn alone on a fixed random (B, T, 64) input with requires_grad;
         GFLOP/s from benchmarks.flops (3 x forward FLOPs of the recurrence, output layer excluded)
         next to torch.mm 1024x1024 float32 measured in the same run.
Issue targets: training step >= 3x naive at maxlen 50; core >= 40% of the mm peak at maxlen 50 and 70.
"""
from machinery import numerics  # noqa: I001 - first: it sets the numerics before torch loads
import argparse

import torch
import torch.nn as nn

from benchmarks.bench_data import naive_digit_lists
from benchmarks.flops import median_seconds, peak_matmul_gflops, rnn_forward_flops
from models import ModelConfig, myPTRNNModel
from train import train_run

torch.set_num_threads(1)  # as every study run: one torch thread per run

BATCH_SIZE = 200  # sums per step (train.BATCH_SIZE)
MAXLENS = [5, 10, 50, 70]  # digits per operand
LR = 0.001  # Adam learning rate (both sides)
STEPS = 60  # timed training steps per repeat
WARMUP = 10  # untimed steps before timing (naive side; ours: one whole untimed run)
REPEATS = 3  # repeats per side (median reported)
CORE_REPEATS = 10  # timed forward+backward passes of the core per repeat
QUICK = {"steps": 20, "repeats": 2, "core_repeats": 3}  # --quick
TARGET_TRAIN = (50, 3.0)  # (maxlen, ratio): ours >= 3x naive
TARGET_CORE = ((50, 70), 0.40)  # (maxlens, fraction of mm peak)


def ours_sec_per_step(maxlen, steps, repeats):
    """Median sec_per_step of train_run; evaluation pushed past the last step (eval_size 1, never run)."""
    def run():
        hist, _, _ = train_run(ModelConfig(), maxlen=maxlen, steps=steps, lr=LR, seed=0, batch_size=BATCH_SIZE,
                            eval_size=1, eval_every=steps + 1, loss_every=steps)
        return hist["sec_per_step"]

    run()  # warm-up
    return sorted(run() for _ in range(repeats))[repeats // 2]


def naive_sec_per_step(maxlen, steps, repeats):
    torch.manual_seed(0)
    model = myPTRNNModel(ModelConfig())
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    criterion = nn.CrossEntropyLoss()

    def step():
        num1, num2, result = naive_digit_lists(BATCH_SIZE, maxlen)
        num1, num2, result = torch.tensor(num1), torch.tensor(num2), torch.tensor(result)
        logits = model(num1, num2)
        loss = criterion(logits.view(-1, 10), result.view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(WARMUP):
        step()
    return median_seconds(step, number=steps, repeats=repeats, warmup=0)


def core_sec(maxlen, repeats):
    """Median seconds of one forward + backward of the 2-layer nn.RNN on a fixed batch."""
    torch.manual_seed(0)
    cfg = ModelConfig()
    rnn = myPTRNNModel(cfg).rnn
    x = torch.randn(BATCH_SIZE, maxlen + 1, 2 * cfg.embed_size, requires_grad=True)
    h0 = torch.randn(cfg.num_layers, BATCH_SIZE, cfg.hidden_size)  # carry mode passes a state
    grad_y = torch.randn(BATCH_SIZE, maxlen + 1, cfg.hidden_size)

    def fwd_bwd():
        rnn.zero_grad(set_to_none=True)
        x.grad = None
        y, _ = rnn(x, h0)
        y.backward(grad_y)

    return median_seconds(fwd_bwd, number=repeats, repeats=REPEATS, warmup=2)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=f"steps/repeats {QUICK}")
    p.add_argument("--maxlens", type=int, nargs="+", default=MAXLENS, help=f"default {MAXLENS}")
    args = p.parse_args(argv)
    numerics.apply()  # the entry point applies the numerics (train.py leaves it to it)
    steps, repeats, core_repeats = (QUICK["steps"], QUICK["repeats"], QUICK["core_repeats"]) if args.quick \
        else (STEPS, REPEATS, CORE_REPEATS)

    print(f"torch {torch.__version__}, torch.set_num_threads(1) (the study trains every run single-threaded)")
    print(f"model: ModelConfig() = 2-layer relu RNN, hidden 64, carry mode; batch {BATCH_SIZE}")
    print(f"training step: median of {repeats} repeats of {steps} steps (after warm-up)\n")
    print(f"{'maxlen':>6} | {'ours ms/step':>12} | {'naive ms/step':>13} | {'ratio':>6}")
    print("-" * 48)
    ratios = {}
    for maxlen in args.maxlens:
        ours = ours_sec_per_step(maxlen, steps, repeats)
        naive = naive_sec_per_step(maxlen, steps, repeats)
        ratios[maxlen] = naive / ours
        print(f"{maxlen:>6} | {ours * 1e3:>12.2f} | {naive * 1e3:>13.2f} | {ratios[maxlen]:>5.2f}x", flush=True)

    peak = peak_matmul_gflops()
    print(f"\nrecurrent core alone (model.rnn forward + backward; 3 x forward FLOPs of the recurrence), "
          f"median of {REPEATS} x {core_repeats}")
    print(f"peak: torch.mm 1024x1024 float32, 1 thread = {peak:.1f} GFLOP/s (this run)\n")
    print(f"{'maxlen':>6} | {'core ms':>8} | {'GFLOP':>6} | {'GFLOP/s':>8} | {'mm peak':>8} | {'of peak':>7}")
    print("-" * 58)
    fractions = {}
    for maxlen in args.maxlens:
        flop = 3 * rnn_forward_flops(ModelConfig().to_dict(), maxlen, BATCH_SIZE)
        sec = core_sec(maxlen, core_repeats)
        fractions[maxlen] = flop / sec / 1e9 / peak
        print(f"{maxlen:>6} | {sec * 1e3:>8.2f} | {flop / 1e9:>6.3f} | {flop / sec / 1e9:>8.1f} | {peak:>8.1f} | "
              f"{fractions[maxlen]:>6.1%}", flush=True)

    print()
    m, want = TARGET_TRAIN
    if m in ratios:
        print(f"target training step >= {want:g}x naive at maxlen {m}: {ratios[m]:.2f}x, "
              f"{'met' if ratios[m] >= want else 'NOT met'}")
    ms, want = TARGET_CORE
    for m in (m for m in ms if m in fractions):
        print(f"target core >= {want:.0%} of mm peak at maxlen {m}: {fractions[m]:.1%}, "
              f"{'met' if fractions[m] >= want else 'NOT met'}")


if __name__ == "__main__":
    main()
