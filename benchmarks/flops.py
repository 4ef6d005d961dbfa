"""FLOP counts of one training step, and the machine's dense-matmul peak to compare them with.

    python -m benchmarks.flops             prints the single-thread torch.mm peak and a few step counts

Counting (multiply-add = 2 FLOPs, matmuls only; elementwise ops, embeddings and the optimizer ignored):
    recurrence, per layer per time step, forward:  2 * B * (I*H + H*H) * gates
        gates = 1 (rnn), 3 (gru), 4 (lstm); I = 2 * embed_size for layer 0, else hidden_size
    output layer, per time step, forward:          2 * B * H * 10     (no-RNN baseline: I = 2 * embed_size)
    T = maxlen + 1 time steps; one training step = forward + backward ~= 3 x forward.
"""
import statistics
import time

import torch

GATES = {"rnn": 1, "gru": 3, "lstm": 4, "linear": 0}  # weight blocks per recurrent layer (linear: none)
N_CLASSES = 10  # output digits
BATCH_SIZE = 200  # sums per training step (train.BATCH_SIZE)
MM_SIZE = 1024  # n of the n x n float32 matmul that measures the peak
MM_REPEATS = 5  # timed repeats of the peak measurement (median taken)


def median_seconds(fn, number=1, repeats=5, warmup=1):
    """Median over `repeats` of the mean wall time (seconds) of `number` calls of fn(), after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def _model(cfg):
    m = {"cell": "rnn", "num_layers": 2, "hidden_size": 64, "embed_size": 32, **cfg}
    return m["cell"], m["num_layers"], m["hidden_size"], m["embed_size"]


def rnn_forward_flops(model_cfg_dict, maxlen, batch_size=BATCH_SIZE):
    """Forward FLOPs of the recurrent layers alone over one batch of maxlen + 1 steps."""
    cell, layers, H, E = _model(model_cfg_dict)
    per_step = sum(2 * batch_size * ((2 * E if li == 0 else H) * H + H * H) * GATES[cell] for li in range(layers))
    return per_step * (maxlen + 1)


def output_forward_flops(model_cfg_dict, maxlen, batch_size=BATCH_SIZE):
    """Forward FLOPs of the output Linear over one batch (its input is 2E wide for the no-RNN baseline)."""
    cell, _, H, E = _model(model_cfg_dict)
    width = 2 * E if cell == "linear" else H
    return 2 * batch_size * width * N_CLASSES * (maxlen + 1)


def train_step_flops(model_cfg_dict, maxlen, batch_size=BATCH_SIZE):
    """FLOPs of one training step (forward + backward = 3 x forward) of the recurrence plus output layer."""
    args = (model_cfg_dict, maxlen, batch_size)
    return 3 * (rnn_forward_flops(*args) + output_forward_flops(*args))


def peak_matmul_gflops(n=MM_SIZE, repeats=MM_REPEATS):
    """Measured GFLOP/s of torch.mm on n x n float32 with the current thread count (callers set 1)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    sec = median_seconds(lambda: torch.mm(a, b, out=out), number=3, repeats=repeats, warmup=2)
    return 2 * n**3 / sec / 1e9


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, torch.set_num_threads(1) (the study trains every run single-threaded)")
    print(f"peak: torch.mm {MM_SIZE}x{MM_SIZE} float32 = {peak_matmul_gflops():.1f} GFLOP/s (median of {MM_REPEATS})")
    print(f"\n{'cell':>5} {'layers':>6} {'maxlen':>6} | {'MFLOP/step':>10}")
    for cell, layers, maxlen in [("rnn", 2, 5), ("rnn", 2, 50), ("rnn", 3, 70), ("lstm", 2, 5), ("linear", 2, 5)]:
        f = train_step_flops({"cell": cell, "num_layers": layers}, maxlen)
        print(f"{cell:>5} {layers:>6} {maxlen:>6} | {f / 1e6:>10.1f}")
