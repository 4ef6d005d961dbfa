"""The float32 arithmetic a proof certificate holds for, and the assumptions a certificate records.

The boxes of the interval-box proof (proof.py) are for float32 arithmetic: the model on the CPU, or on CUDA with TF32
off (machinery/numerics.py turns it off; proof_eval refuses a CUDA model while TF32 is on, see tf32_problem). Every
image box is widened by a bound on the float32 error of one step in any summation order: gamma_n = n u / (1 - n u),
u = 2^-24, times the sum of the absolute terms (relative error), plus an absolute term for underflow: an operation
whose result is below 2^-126 (subnormal, or flushed to zero under flush-to-zero, torch.set_flush_denormal) loses up
to 2^-126, and a subnormal operand read as zero up to 2^-126 times the other, so a dot product of n terms may lose 2
* 2^-126 * (2n + sum|w| + sum|h|) whatever its scale (float32_error); tanh adds its allowance (net["tanh_err"], at
least TANH_ERR; relu 2^-126) and the float64 arithmetic of the check a relative REL64 = 1e-12, and every box end and
margin bound is then rounded outward by one float64 step (proof.py applies each of these: _side, _steps,
output_margins). So the boxes hold the float32 states as the model computes them, not only the real-arithmetic
ones, and a model whose logits underflow is not proven however right it is in real arithmetic. The bound holds only
without overflow: a pre-activation or logit whose absolute terms could sum to OVERFLOW (a partial sum near float32's
largest, 2^128) gets an unbounded image (or margin), so it is never proven (in float32 it could be inf, and inf - inf
= NaN spreads to every unit).

TANH_ERR is measured, not assumed: tanh_error.py compares torch's float32 tanh on the CPU with the true tanh
(benchmarks/bench_tanh.py over every float32), and the proof is for the CPU (add.py runs a proven model there). A
certificate records what its boxes were checked under (assumptions(): the allowance, ROUNDING, CONTEXT_RULE,
LAYER_RULE); read_assumptions() refuses a file whose rules are not these.
"""
import torch

U32 = 2.0**-24  # float32 unit roundoff
TANH_ERR = 1e-6  # bound on float32 tanh's absolute error (16 ulps of values < 1; measured: tanh_error.py)
OVERFLOW = 2.0**127  # sums of absolute terms from here on might overflow float32 (largest finite ~2^128): unbounded
TINY = 2.0**-126  # smallest normal float32: the most one flushed or underflowing operation loses, absolute
REL64 = 1e-12  # relative slack for the proof's own float64 arithmetic (proof.py's images and margins)
# The rules a certificate's boxes are checked by, as a certificate file records them (its "assumptions"); the
# second checker (recheck.py) holds its own copy of each text and refuses a file whose texts differ.
ROUNDING = ("IEEE 754 binary32, round to nearest (ties to even); products and sums in any order, fused or not; "
            "with or without flush-to-zero")  # the float32 model of this module
CONTEXT_RULE = ("v1: context = (carry into the oldest of the last m pairs, those pairs oldest first), numbered "
                "c * 100^m + pairs in base 100; the first pair y starts in context y")
LAYER_RULE = ("v1: every layer reads the source box's own layer; layer l > 0 reads layer l - 1 of the target box, "
              "whose own obligation is checked too")


def assumptions(tanh_err=TANH_ERR):
    """The assumptions a certificate's boxes are checked under, as its file records them (JSON-ready)."""
    return {"tanh_abs_error": float(tanh_err), "rounding": ROUNDING, "contexts": CONTEXT_RULE, "layers": LAYER_RULE}


def read_assumptions(a):
    """The tanh allowance of a certificate's assumptions (a dict) that this checker can hold it to, else a one-line
    ValueError: the rules must be this module's, and the allowance a number no smaller than TANH_ERR (measured)."""
    if not isinstance(a, dict) or set(a) != set(assumptions()):
        raise ValueError(f"assumptions must name exactly {', '.join(sorted(assumptions()))}")
    for key, want in (("rounding", ROUNDING), ("contexts", CONTEXT_RULE), ("layers", LAYER_RULE)):
        if a[key] != want:
            raise ValueError(f"assumption {key!r} is {str(a[key])[:60]!r}, not the rule proof.check holds")
    t = a["tanh_abs_error"]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not TANH_ERR <= t < 0.5:
        raise ValueError(f"assumption 'tanh_abs_error' must be a number in [{TANH_ERR:g}, 0.5), got {t!r}")
    return float(t)


def gamma(n):
    return n * U32 / (1 - n * U32)


def float32_error(n, w_abs, b_abs, mag):
    """Bound on |float32 - exact| of y = W h + b, n terms, over boxes |h| <= mag (N, K): |W| (O, K), |b| (O,).

    Relative part: gamma_n times the sum of the absolute terms (any summation order, FMA or not). Absolute part, for
    underflow: each of the n products and n additions may lose 2^-126 (a result flushed or rounded below the normal
    range) and a subnormal operand read as zero loses 2^-126 times the other; the factor 2 bounds the (1 + u)^n that
    later roundings multiply an early loss by. Returns (N, O).
    """
    rel = (gamma(n) + REL64) * (mag @ w_abs.T + b_abs)
    tiny = 2 * TINY * (2 * n + w_abs.sum(axis=1) + b_abs + mag.sum(axis=1)[:, None])
    return rel + tiny


def tf32_problem(device):
    """Why float32 results on `device` may not be float32 arithmetic (TF32 on CUDA), or None."""
    if torch.device(device).type != "cuda":
        return None
    on = []
    flags = (("torch.backends.cuda.matmul.allow_tf32", lambda: torch.backends.cuda.matmul.allow_tf32),
             ("torch.backends.cudnn.allow_tf32", lambda: torch.backends.cudnn.allow_tf32),
             ("torch.get_float32_matmul_precision()", lambda: torch.get_float32_matmul_precision() != "highest"))
    for name, flag in flags:
        try:
            if flag():
                on.append(name)
        except RuntimeError:  # torch refuses to read a flag the legacy and new TF32 APIs set differently
            on.append(name)
    if not on:
        return None
    return (f"the proof bounds float32 arithmetic, but TF32 is on for CUDA ({', '.join(on)}): turn it off "
            f"(machinery/numerics.apply does) or prove the model on the CPU")
