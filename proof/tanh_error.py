"""How far torch's float32 tanh on this CPU is from the true tanh: the measurement behind the checkers' allowance.

Both proof checkers (proof.py, recheck.py) allow the float32 tanh an absolute error (a certificate records its
allowance, at least their TANH_ERR: rounding.py's and recheck.py's). That is an assumption about a library, so it
is measured here, on the CPU the project runs on, through the ways torch computes a tanh (PATHS):

    contiguous   torch.tanh of one long contiguous tensor (whole vectors of ATen's vectorised kernel)
    tail         torch.tanh of tensors of TAIL values, shorter than one vector (a 2-unit model at batch 1: the
                 tail loop, which may call the C library's scalar tanhf instead of the vectorised kernel)
    strided      torch.tanh of a strided view (every other element of a larger tensor)
    rnn          nn.RNN(1, 1) at batch 1, h_t = tanh(x_t): what add.py runs, one state per step

and it names the kernels it measured: paths whose results agree bit for bit ran one kernel, named by the CPU
capability ATen dispatched to (torch.backends.cpu.get_cpu_capability()) or, where a path matches the C library's
tanhf bit for bit (called through ctypes on a sample), by that. The reference is numpy's float64 tanh: its own error
(a few float64 ulps, 2^-29 of a float32 ulp each) moves an error measured in float32 ulps by < 1e-8.

measure(bits) takes float32 bit patterns (uint32) and returns, per path, the largest error over them, in float32 ulps
of the true value and absolute, and the kernels; benchmarks/bench_tanh.py sweeps every finite float32 (2^32
patterns), tests/test_recheck.py a strided sample of all of them (seconds). The proof is for the CPU: add.py runs a
proven model there (CUDA's tanh is another library, not measured).
"""
import ctypes
import ctypes.util

import numpy as np
import torch

CHUNK = 1 << 22  # float32 values per batch of the sweep
TAIL = 3  # values per call of the "tail" path: fewer than any vector of floats (4 with SSE, 8 AVX2, 16 AVX-512)
EVERY = 16  # the tail and rnn paths take every EVERY-th value (a call or a step per few values: slow)
PROBE = np.linspace(-9, 9, 4099, dtype=np.float32)  # values on which kernels() tells the kernels apart
PATHS = ("contiguous", "tail", "strided", "rnn")  # the ways torch computes tanh measured here (module docstring)


def ulp32(r):
    """The float32 ulp at each real value r (float64 array): 2^(exponent - 23), subnormals 2^-149."""
    e = np.floor(np.log2(np.maximum(np.abs(r), 2.0**-126)))
    return np.exp2(e - 23)


def _rnn(x):
    rnn = torch.nn.RNN(1, 1, batch_first=True)  # h_t = tanh(1 * x_t + 0 * h + 0 + 0): tanh of x exactly
    with torch.no_grad():
        rnn.weight_ih_l0.fill_(1)
        rnn.weight_hh_l0.zero_()
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
        return rnn(torch.from_numpy(x).reshape(1, -1, 1))[0].flatten().numpy()


def paths(x):
    """torch's tanh of float32 x (n,) along each of PATHS: {path: (the indices of x it computed, float32 results)}."""
    t = torch.from_numpy(x)
    spread = torch.empty(2 * len(x), dtype=torch.float32)
    spread[::2] = t
    every = np.arange(0, len(x), EVERY)
    part = torch.from_numpy(np.ascontiguousarray(x[every]))
    return {"contiguous": (slice(None), torch.tanh(t).numpy()),
            "tail": (every, torch.cat([torch.tanh(p) for p in torch.split(part, TAIL)]).numpy()),
            "strided": (slice(None), torch.tanh(spread[::2]).numpy()),
            "rnn": (every, _rnn(part.numpy()))}


def libc_tanhf():
    """The C library's tanhf as a numpy function of float32 arrays (ctypes, element by element), or None."""
    name = ctypes.util.find_library("m")
    if not name:
        return None
    f = ctypes.CDLL(name).tanhf
    f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
    return lambda x: np.array([f(float(v)) for v in x], dtype=np.float32)


def kernels(x=PROBE):
    """Which kernels torch's paths ran on float32 x: [{"paths": [...], "kernel": name}], one entry per group of paths
    whose results agree bit for bit (on the values all of them computed), named "the C library's scalar tanhf" where
    they match it bit for bit, else by the CPU capability ATen's vectorised kernel was dispatched for."""
    got = paths(x)
    every = got["rnn"][0]
    common = {p: r if p in ("rnn", "tail") else r[every] for p, (_, r) in got.items()}
    groups = []
    for p in PATHS:
        for g in groups:
            if np.array_equal(common[g["paths"][0]].view(np.uint32), common[p].view(np.uint32)):
                g["paths"].append(p)
                break
        else:
            groups.append({"paths": [p]})
    libc = libc_tanhf()
    ref = libc(x[every]) if libc else None
    for g in groups:
        if ref is not None and np.array_equal(common[g["paths"][0]].view(np.uint32), ref.view(np.uint32)):
            g["kernel"] = "the C library's scalar tanhf"
        else:
            g["kernel"] = f"ATen's vectorised tanh ({torch.backends.cpu.get_cpu_capability()})"
    return groups


def measure(bits):
    """Largest error of torch's CPU tanh over float32 bit patterns `bits` (uint32; NaN/inf patterns skipped).

    Returns {path: {"ulps": max error in float32 ulps of the true value, "abs": max absolute error, "worst": the x
    (float) of the largest ulp error} for each of PATHS (tail and rnn on every EVERY-th value), "n": values
    measured, "kernels": kernels() (which kernels those paths ran)}.
    """
    bits = np.asarray(bits, dtype=np.uint32)
    bits = bits[(bits & 0x7F800000) != 0x7F800000]  # finite values only
    out = {k: {"ulps": 0.0, "abs": 0.0, "worst": 0.0} for k in PATHS}
    out["kernels"] = kernels()
    for start in range(0, len(bits), CHUNK):
        x = bits[start : start + CHUNK].view(np.float32)
        for path, (where, t) in paths(x).items():
            ref = np.tanh(x[where].astype(np.float64))
            err = np.abs(t.astype(np.float64) - ref)
            ulps = err / ulp32(ref)
            i = int(np.argmax(ulps))
            if ulps[i] > out[path]["ulps"]:
                out[path].update(ulps=float(ulps[i]), worst=float(x[where][i]))
            out[path]["abs"] = max(out[path]["abs"], float(err.max()))
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
