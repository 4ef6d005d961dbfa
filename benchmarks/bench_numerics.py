"""What each numerics mode costs: ms per training step, native / pinned / portable, per cell and maxlen, side by side.

    python -m benchmarks.bench_numerics                  cells rnn/relu, rnn/tanh, lstm, gru at maxlen 5 and 50
    python -m benchmarks.bench_numerics --repeats 5 --steps 30

Each measurement is a fresh Python process (the kernels are chosen when torch loads), training one model of
the study's default size (2 x 64, batch 200, one thread) for --steps steps after a warm-up. The modes alternate
(native, pinned, portable, each knob alone, ...) within each repeat, so a busy machine slows all sides alike; the
table gives the median ms per step of each and the ratio to native. Knobs alone (numerics.py says why each
matters): ATen AVX2 kernels, MKL_CBWR=AVX2 (Intel's branch), MKL_CBWR=COMPATIBLE (every vendor's), oneDNN off.
Also prints, per mode, a hash of the trained weights: modes that change the numbers on this CPU have different
hashes, and portable's hash is the one every x86-64 CPU with AVX2 gives.
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from machinery import numerics
from models import cell_label

ROOT = Path(__file__).resolve().parents[1]
CELLS = [("rnn", "relu"), ("rnn", "tanh"), ("lstm", "relu"), ("gru", "relu")]  # (cell, nonlinearity)
MAXLENS = [5, 50]  # digits per operand
MODES = {  # name -> (ADDER_NUMERICS, extra environment, oneDNN enabled)
    "native": ("native", {}, True),
    "pinned": ("pinned", {}, False),
    "portable": ("portable", {}, False),
    "aten avx2 only": ("native", {"ATEN_CPU_CAPABILITY": "avx2"}, True),
    "mkl avx2 only": ("native", {"MKL_CBWR": "AVX2"}, True),
    "mkl compatible only": ("native", {"MKL_CBWR": "COMPATIBLE"}, True),
    "onednn off only": ("native", {}, False),
}
DEFAULT_MODES = ["native", "pinned", "portable"]  # the table the README quotes
CHILD = """
import hashlib, json, sys, time
from machinery import numerics
import torch
torch.set_num_threads(1)
numerics.apply()
torch.backends.mkldnn.enabled = {onednn}
from models import ModelConfig
from train import train_run
cfg = ModelConfig(cell={cell!r}, nonlinearity={nl!r})
kw = dict(maxlen={maxlen}, lr=0.005, seed=0, device="cpu")
train_run(cfg, steps=3, eval_every=3, loss_every=3, **kw)  # warm-up
t0 = time.perf_counter()
hist, model, _ = train_run(cfg, steps={steps}, eval_every={steps}, loss_every={steps}, eval_size=200, **kw)
ms = 1e3 * (time.perf_counter() - t0) / {steps}
digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()[:10]
print(json.dumps({{"ms": ms, "hash": digest, "aten": torch.backends.cpu.get_cpu_capability()}}))
"""


def measure(mode, cell, nl, maxlen, steps):
    value, extra, onednn = MODES[mode]
    env = {**numerics.clean_env(value), **extra}
    code = CHILD.format(onednn=onednn, cell=cell, nl=nl, maxlen=maxlen, steps=steps)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3, help="alternating rounds per (cell, maxlen)")
    p.add_argument("--steps", type=int, default=20, help="timed training steps per measurement")
    p.add_argument("--modes", nargs="*", default=DEFAULT_MODES, choices=list(MODES))
    p.add_argument("--cells", nargs="*", default=[c for c, _ in CELLS], choices=sorted({c for c, _ in CELLS}))
    p.add_argument("--maxlens", nargs="*", type=int, default=MAXLENS)
    args = p.parse_args(argv)
    print(f"| cell | maxlen | {' | '.join(f'{m} ms' for m in args.modes)} | "
          f"{' | '.join(f'{m} / native' for m in args.modes if m != 'native')} |")
    print("|---" * (2 + 2 * len(args.modes) - 1) + "|")
    hashes = {}
    for cell, nl in [c for c in CELLS if c[0] in args.cells]:
        for maxlen in args.maxlens:
            ms = {m: [] for m in args.modes}
            for _ in range(args.repeats):
                for m in args.modes:
                    r = measure(m, cell, nl, maxlen, args.steps)
                    ms[m].append(r["ms"])
                    hashes.setdefault((cell, nl, maxlen), {})[m] = r["hash"]
            med = {m: statistics.median(v) for m, v in ms.items()}
            label = cell_label(cell, nl)
            ratios = [f"{med[m] / med['native']:.2f}x" for m in args.modes if m != "native" and "native" in med]
            print(f"| {label} | {maxlen} | {' | '.join(f'{med[m]:.2f}' for m in args.modes)} | {' | '.join(ratios)} |",
                  flush=True)
    print("\nweights after the timed run (same hash = same numbers on this CPU):")
    for (cell, nl, maxlen), h in hashes.items():
        print(f"  {cell}/{nl} maxlen {maxlen}: " + ", ".join(f"{m} {v}" for m, v in h.items()))


if __name__ == "__main__":
    main()
