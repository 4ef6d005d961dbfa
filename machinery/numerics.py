"""CPU numerics that do not depend on the CPU: the switches every run is trained under, set before torch loads.

Torch picks its CPU kernels per machine, and training is chaotic enough that the last bit of one matmul
changes which step a seed first adds exactly. Measured (100 steps of pt_main's model, seed 0, one thread), each
of these changes the trained weights: ATen's vectorised kernels (AVX-512 vs AVX2 code: another summation order
in reductions, Adam, the loss), MKL's sgemm (it dispatches per CPU model, and per vendor), oneDNN's fused LSTM,
and for the float64 proof search numpy's own SIMD dispatch and OpenBLAS's kernel choice. The modes:

    portable (default)  the same bits on every x86-64 CPU with AVX2, Intel or AMD:
        ATEN_CPU_CAPABILITY=avx2          ATen runs its AVX2 kernels (AVX-512 CPUs too); they hold no vendor test
        MKL_CBWR=COMPATIBLE               MKL's one code branch documented for every vendor's CPU: non-Intel CPUs
                                          honour only AUTO and COMPATIBLE, so its AVX2 branch is Intel's alone
        oneDNN off                        LSTM runs ATen's cell (MKL sgemm + ATen pointwise) instead of oneDNN's
                                          JIT kernels, whose blocking depends on the machine
        OPENBLAS_CORETYPE=Haswell         numpy's OpenBLAS runs its AVX2 kernels on every CPU (float64 proofs)
        NPY_DISABLE_CPU_FEATURES=...      numpy's AVX-512 loops off (its float64 exp differs from the AVX2 one)
    pinned      as portable but MKL_CBWR=AVX2: 1.5-1.8x faster training, the same bits on Intel CPUs only; on
                another vendor's CPU MKL ignores AVX2 and runs its own code, a family of its own
    native      torch's and numpy's own choices for this CPU: fastest, reproducible on the same kind of CPU only

Measured: 100 steps of pt_main seed 0 under portable give weights 8a3a4d917b99 (sha256 of the parameters) on an
Intel Xeon (AVX-512) here and on an AMD EPYC (AVX-512), where pinned gives b0eb417ad1eb and d4a0bc09088f.

A run's numbers belong to a *family* (family()): "portable", "pinned-<vendor>" or "native-<capability>-<vendor>".
The family, not the mode asked for, is part of every run's code fingerprint (machinery/fingerprint.py) and of every
result (describe(), with probe(): the hash of a fixed computation through MKL, ATen and numpy, the same on every
machine of one family). On CUDA, TF32 is switched off in every mode (it would change float32 matmuls and RNNs).

Importing this module sets the environment of the mode (ADDER_NUMERICS, default portable) when torch and numpy are
not loaded yet, so every entry point (source.py, add.py, machinery/store.py, tests/conftest.py, benchmarks) imports
it first; worker processes inherit the environment and Ray tasks are given it (env(), cluster.py). The runner calls
apply(), which refuses to run when torch or numpy was loaded first with other kernels, rather than give another
family's numbers under this one's name.
"""
import os
import sys

ENV = "ADDER_NUMERICS"  # environment variable holding the mode
MODES = ("portable", "pinned", "native")  # allowed modes; portable is the default
DEFAULT = "portable"
NUMPY_OFF = "X86_V4 AVX512_ICL AVX512_SPR"  # numpy's AVX-512 dispatch targets (all of this numpy's above AVX2)
COMMON_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": NUMPY_OFF}
MODE_ENV = {"portable": {**COMMON_ENV, "MKL_CBWR": "COMPATIBLE"},  # set before torch and numpy load
            "pinned": {**COMMON_ENV, "MKL_CBWR": "AVX2"},
            "native": {}}
ALL_VARS = sorted({k for e in MODE_ENV.values() for k in e})  # what a mode may set (cleared for another mode)
CAPABILITY = "AVX2"  # what torch.backends.cpu.get_cpu_capability() must report outside native mode
VENDORS = {"GenuineIntel": "intel", "AuthenticAMD": "amd", "HygonGenuine": "hygon", "CentaurHauls": "centaur"}


class NumericsError(RuntimeError):
    """The numerics asked for cannot be had in this process (torch loaded too early, an unknown mode)."""


def mode():
    """The mode in force: ADDER_NUMERICS, default "portable"."""
    value = os.environ.get(ENV, DEFAULT)
    if value not in MODES:
        raise NumericsError(f"{ENV}={value!r} is not a numerics mode; valid: {', '.join(MODES)}")
    return value


def apply():
    """After torch is imported: the in-process switches of the mode, and a check that its kernels are in force."""
    import torch

    m = mode()
    if m != "native":
        torch.backends.mkldnn.enabled = False
        wrong = {k: os.environ.get(k) for k, v in MODE_ENV[m].items() if os.environ.get(k) != v}
        got = torch.backends.cpu.get_cpu_capability()
        if got != CAPABILITY and _cpu_flag("avx2"):
            wrong["ATen"] = got
        if wrong:
            raise NumericsError(f"numerics {m}: {wrong} in force, not {MODE_ENV[m]}: torch or numpy was loaded "
                                f"before machinery.numerics set the environment")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return m


def vendor():
    """This CPU's vendor, short: intel, amd, ... ("unknown" where /proc/cpuinfo does not say)."""
    name = _cpuinfo_field("vendor_id")
    return VENDORS.get(name, name.lower() or "unknown")


def family():
    """The family of numbers this process computes: runs of one family give the same bits on any of its CPUs."""
    import torch

    m = mode()
    if m == "portable":
        return "portable"
    if m == "pinned":
        return f"pinned-{vendor()}"
    return f"native-{torch.backends.cpu.get_cpu_capability()}-{vendor()}"


def mkl_branch():
    """The MKL code branch really in force: MKL_CBWR where MKL honours it, else its own per-CPU choice."""
    asked = os.environ.get("MKL_CBWR")
    if not asked or asked == "AUTO":
        return "AUTO (per CPU)"
    if asked.split(",")[0] == "COMPATIBLE" or vendor() == "intel":
        return asked
    return f"AUTO (per CPU: MKL honours MKL_CBWR={asked} on Intel CPUs only)"


def probe():
    """Hash of a fixed float32 / float64 computation through MKL sgemm, ATen's kernels and numpy's dgemm and exp.

    Two machines of one family give the same hash; a differing hash names a machine whose kernels differ.
    """
    import hashlib

    import numpy as np
    import torch

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(200, 256, generator=g), torch.randn(256, 64, generator=g)  # (B, K) x (K, H): an RNN step
    with torch.no_grad():
        y = torch.tanh(a @ b)  # MKL sgemm, ATen tanh
        parts = [y.numpy().tobytes(), y.sum(dim=0).numpy().tobytes(), torch.softmax(y, -1).numpy().tobytes()]
    x = np.random.default_rng(0).standard_normal((100, 300))
    parts += [(x @ x.T).tobytes(), np.exp(x).tobytes(), np.tanh(x).tobytes()]  # OpenBLAS dgemm, numpy SIMD loops
    return hashlib.sha256(b"".join(parts)).hexdigest()[:12]


def describe():
    """What a result records about its numerics: the mode asked for and the family really in force."""
    import torch

    return {"mode": mode(), "family": family(), "vendor": vendor(), "aten": torch.backends.cpu.get_cpu_capability(),
            "mkl": mkl_branch(), "onednn": torch.backends.mkldnn.enabled,
            "openblas": os.environ.get("OPENBLAS_CORETYPE", "per CPU"),
            "numpy_off": os.environ.get("NPY_DISABLE_CPU_FEATURES", ""), "probe": probe()}


def env():
    """The environment a remote worker (a Ray task on another machine) needs for this process's mode."""
    return {ENV: mode(), **MODE_ENV[mode()]}


def clean_env(value, base=None):
    """A copy of `base` (default os.environ) set for mode `value`: the variables of other modes removed."""
    out = {k: v for k, v in (os.environ if base is None else base).items() if k not in ALL_VARS}
    return {**out, ENV: value, **MODE_ENV[value]}


def _cpuinfo_field(name):
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith(name)), "")
    except OSError:  # not Linux
        return ""


def _cpu_flag(flag):
    """Whether the CPU has `flag` (True where /proc/cpuinfo cannot say: then trust the environment variable)."""
    flags = _cpuinfo_field("flags")
    return not flags or flag in flags.split()


def _set_env():
    """At import: set the mode's environment when neither torch nor numpy is loaded yet; apply() checks the rest."""
    value = os.environ.get(ENV, DEFAULT)
    if value in MODE_ENV and "torch" not in sys.modules and "numpy" not in sys.modules:
        os.environ.update(MODE_ENV[value])


_set_env()
