"""How far torch's float32 tanh on this CPU is from the true tanh: the measurement behind the checkers' allowance.

Both proof checkers (proof.py, recheck.py) allow the float32 tanh an absolute error (their TANH_ERR). That is an
assumption about a library, so it is measured here, on the CPU the project runs on, for both of torch's CPU code
paths: ATen's vectorised kernel (contiguous tensors, what nn.RNN's cell uses on a (batch, units) tensor) and its
scalar loop (a tensor's tail, or a strided one: the C library's tanhf). The reference is numpy's float64 tanh: its
own error (a few float64 ulps, 2^-29 of a float32 ulp each) moves an error measured in float32 ulps by < 1e-8.

measure(bits) takes float32 bit patterns (uint32) and returns the largest error over them, in float32 ulps of the
true value and absolute; benchmarks/bench_tanh.py sweeps every finite float32 (2^32 patterns, a few minutes),
tests/test_recheck.py a strided sample of all of them (seconds). The proof is for the CPU: add.py runs a proven
model there (CUDA's tanh is another library, not measured).
"""
import numpy as np
import torch

CHUNK = 1 << 22  # float32 values per batch of the sweep


def ulp32(r):
    """The float32 ulp at each real value r (float64 array): 2^(exponent - 23), subnormals 2^-149."""
    e = np.floor(np.log2(np.maximum(np.abs(r), 2.0**-126)))
    return np.exp2(e - 23)


def _kernels(x):
    """torch.tanh of float32 x (n,) by the vectorised kernel (contiguous) and the scalar loop (a strided view)."""
    spread = torch.empty(2 * len(x), dtype=torch.float32)
    spread[::2] = torch.from_numpy(x)
    return {"vector": torch.tanh(torch.from_numpy(x)).numpy(), "scalar": torch.tanh(spread[::2]).numpy()}


def measure(bits):
    """Largest error of torch's CPU tanh over float32 bit patterns `bits` (uint32; NaN/inf patterns skipped).

    Returns {kernel: {"ulps": max error in float32 ulps of the true value, "abs": max absolute error,
    "worst": the x (float) of the largest ulp error}, "n": values measured}.
    """
    bits = np.asarray(bits, dtype=np.uint32)
    bits = bits[(bits & 0x7F800000) != 0x7F800000]  # finite values only
    out = {k: {"ulps": 0.0, "abs": 0.0, "worst": 0.0} for k in ("vector", "scalar")}
    for start in range(0, len(bits), CHUNK):
        x = bits[start : start + CHUNK].view(np.float32)
        ref = np.tanh(x.astype(np.float64))
        unit = ulp32(ref)
        for kernel, t in _kernels(x).items():
            err = np.abs(t.astype(np.float64) - ref)
            ulps = err / unit
            i = int(np.argmax(ulps))
            if ulps[i] > out[kernel]["ulps"]:
                out[kernel].update(ulps=float(ulps[i]), worst=float(x[i]))
            out[kernel]["abs"] = max(out[kernel]["abs"], float(err.max()))
    out["n"] = int(len(bits))
    return out


def sample(stride=997, dense=((0.5, 1.0),)):
    """Bit patterns for a quick measurement: every stride-th float32 of either sign, and every float32 in each
    `dense` range [a, b) of positive values and its negatives (where tanh's absolute error is largest)."""
    parts = [np.arange(0, 1 << 32, stride, dtype=np.uint64).astype(np.uint32)]
    for a, b in dense:
        lo, hi = np.array([a, b], dtype=np.float32).view(np.uint32)
        pos = np.arange(lo, hi, dtype=np.uint32)
        parts += [pos, pos | np.uint32(0x80000000)]
    return np.concatenate(parts)
