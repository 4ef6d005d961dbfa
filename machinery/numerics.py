"""CPU numerics that do not depend on the CPU: the switches every run is trained under, set before torch loads.

Torch picks its CPU kernels per machine, and training is chaotic enough that the last bit of one matmul
changes which step a seed first adds exactly. Measured on one AVX-512 CPU (100 steps, pt_main's model,
seed 0), each of these changes the trained weights: ATen's vectorised kernels (AVX-512 vs AVX2 code:
another summation order in reductions, Adam, the loss), MKL's sgemm (it dispatches per CPU model), and
for LSTM oneDNN's fused RNN. So the default mode, "pinned", fixes all three:

    ATEN_CPU_CAPABILITY=avx2   ATen runs its AVX2 kernels on every CPU that has AVX2 (AVX-512 ones too)
    MKL_CBWR=AVX2              MKL's conditional numerical reproducibility: its AVX2 code branch, the
                               same bits on every Intel CPU with AVX2 at a fixed thread count (each run
                               uses one thread). On non-Intel CPUs MKL documents that it may fall back to
                               its AUTO branch: tests/test_numerics.py retrains a committed run and
                               compares it bitwise, so such a machine is told, not trusted.
    oneDNN off                 torch.backends.mkldnn.enabled = False: LSTM runs ATen's own cell (MKL
                               sgemm + ATen pointwise, both pinned above) instead of oneDNN's JIT kernels,
                               whose blocking depends on the machine.

"native" (ADDER_NUMERICS=native, or `python source.py --numerics native`) leaves torch's choices alone:
faster on some machines, reproducible only on the same kind of CPU. The mode is part of every run's
code fingerprint and of every result, so runs of one mode are never served as the other's. On CUDA,
TF32 is switched off in both modes (it would change float32 matmuls and RNNs).

Importing this module sets the environment (configure()), so every entry point (source.py, add.py,
machinery/store.py, tests/conftest.py, benchmarks) imports it before torch; worker processes inherit the
environment and Ray tasks are given it (cluster.py). train_run calls apply(), which refuses to train when torch was
loaded first with other kernels, rather than give numbers of another machine.
"""
import os
import sys

ENV = "ADDER_NUMERICS"  # environment variable holding the mode
MODES = ("pinned", "native")  # allowed modes; pinned is the default
PINNED_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}  # set before torch loads
PINNED_CAPABILITY = "AVX2"  # what torch.backends.cpu.get_cpu_capability() must then report


class NumericsError(RuntimeError):
    """The numerics asked for cannot be had in this process (torch loaded too early, an unknown mode)."""


def mode():
    """The mode in force: ADDER_NUMERICS, default "pinned"."""
    value = os.environ.get(ENV, "pinned")
    if value not in MODES:
        raise NumericsError(f"{ENV}={value!r} is not a numerics mode; valid: {', '.join(MODES)}")
    return value


def configure(value=None):
    """Set the mode (None: keep ADDER_NUMERICS or the default) and its environment, before torch is imported.

    Children (worker processes, a local Ray instance) inherit the environment. Once torch is loaded its
    kernel choice is fixed, so asking for another mode then raises NumericsError.
    """
    if value is not None:
        if value not in MODES:
            raise NumericsError(f"numerics mode {value!r} unknown; valid: {', '.join(MODES)}")
        os.environ[ENV] = value
    if mode() == "pinned":
        if "torch" in sys.modules and any(os.environ.get(k) != v for k, v in PINNED_ENV.items()):
            raise NumericsError("torch was imported before numerics.configure(): import machinery.numerics first")
        os.environ.update(PINNED_ENV)
    return mode()


def apply():
    """After torch is imported: the in-process switches of the mode, and a check that its kernels are in force."""
    import torch

    m = mode()
    if m == "pinned":
        torch.backends.mkldnn.enabled = False
        got = torch.backends.cpu.get_cpu_capability()
        if got != PINNED_CAPABILITY and _has_avx2():
            raise NumericsError(f"ATen runs {got} kernels, not {PINNED_CAPABILITY}: torch was loaded before "
                                f"numerics.configure() set ATEN_CPU_CAPABILITY")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return m


def env():
    """The environment a remote worker (a Ray task on another machine) needs for this process's mode."""
    return {ENV: mode(), **(PINNED_ENV if mode() == "pinned" else {})}


def describe():
    """What a result records about its numerics: the mode and what this process really runs."""
    import torch

    return {"mode": mode(), "aten": torch.backends.cpu.get_cpu_capability(),
            "mkl_cbwr": os.environ.get("MKL_CBWR"), "mkldnn": torch.backends.mkldnn.enabled}


def _set_env():
    """configure() at import: set the environment when torch is not loaded yet; apply() checks the rest."""
    if os.environ.get(ENV, "pinned") == "pinned" and "torch" not in sys.modules:
        os.environ.update(PINNED_ENV)


def _has_avx2():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx2" in f.read()
    except OSError:  # not Linux: trust the environment variable
        return True


_set_env()
