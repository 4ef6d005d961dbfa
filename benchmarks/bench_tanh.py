"""torch's float32 tanh on this CPU against the true tanh, over every finite float32: the measurement behind the
proof checkers' tanh allowance (proof/tanh_error.py says how).

    python -m benchmarks.bench_tanh              all 2^32 bit patterns (a few minutes on one core)
    python -m benchmarks.bench_tanh --stride 97  every 97th pattern (seconds)

Prints, per way torch computes tanh (tanh_error.PATHS: a contiguous tensor, a short tail, a strided view, nn.RNN at
batch 1) and the kernels those ran (named by tanh_error.kernels), the largest error in float32 ulps of the true
value, the largest absolute error and where, beside the allowance each checker uses.
"""
from machinery import numerics  # noqa: I001 - first: the CPU kernels the project runs with
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from proof import recheck, rounding, tanh_error

STEP = 1 << 24  # bit patterns per batch (the memory of a few arrays of this length)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stride", type=int, default=1, help="measure every stride-th bit pattern (1: all)")
    args = p.parse_args(argv)
    numerics.apply()
    torch.set_num_threads(1)
    t0, worst = time.perf_counter(), None
    for start in range(0, 1 << 32, STEP * args.stride):
        bits = np.arange(start, min(start + STEP * args.stride, 1 << 32), args.stride, dtype=np.uint64)
        part = tanh_error.measure(bits.astype(np.uint32))
        if worst is None:
            worst = part
        else:
            worst["n"] += part["n"]
            for k in tanh_error.PATHS:
                if part[k]["ulps"] > worst[k]["ulps"]:
                    worst[k].update(ulps=part[k]["ulps"], worst=part[k]["worst"])
                worst[k]["abs"] = max(worst[k]["abs"], part[k]["abs"])
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?") if Path("/proc/cpuinfo").exists() else "?"
    print(f"torch {torch.__version__}, ATen {torch.backends.cpu.get_cpu_capability()}, {cpu}"
          f" ({numerics.mode()} numerics): {worst['n']:,} finite float32 values in {time.perf_counter() - t0:.0f} s")
    for g in worst["kernels"]:
        print(f"  kernel {g['kernel']}: ran the paths {', '.join(g['paths'])}")
    for k in tanh_error.PATHS:
        w = worst[k]
        print(f"  {k:10s} path: max {w['ulps']:.4f} ulp (at x = {w['worst']!r}), max absolute error {w['abs']:.3g}")
    print(f"  allowance: rounding.TANH_ERR {rounding.TANH_ERR:g}, recheck.TANH_ERR {recheck.TANH_ERR:g} (absolute)")


if __name__ == "__main__":
    main()
