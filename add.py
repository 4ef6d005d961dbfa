"""Try the trained adder on your own numbers.

    python add.py 99999999999999999999 1
    python add.py --file numbers.txt          two non-negative integers, whitespace-separated ('-': stdin)
    python add.py 99999999999 1 --cell lstm   a store model of another cell
    python add.py 99999999999 1 --chain-fraction 0   the length_generalization model (random sums only)

It adds two non-negative integers of up to 1,000,000 digits and prints the model's answer, the true sum (exact
digit arithmetic, data.add_digits) and which digits the model got wrong. Exit code 0: the model's sum is exact;
1: some digit is wrong; 2: bad input or a damaged certificate (a one-line error).

The default model is the study's proven adder: the smallest model exact_adder proved exact at every length, held
with its proof in plots/exact_certificate.npz (proof/certificate.py). Its proof is re-checked from the file
at every call by both checkers (proof.check and the independent recheck, about a second), and the output says
"proven exact at every length" only for the certificate the repository ships (SHIPPED_SHA256, the SHA-256 of the
file's bytes: any other file, however alike, is not it) when both accept and this process rounds float32 to nearest
even, as the proof assumes (probed before the claim: certificate.rounding_problem). Another certificate
(--certificate FILE) is checked the same way and described as one you supplied, with its own hash and without the
attribution its meta claims. A proven model runs on the CPU whatever --device says: the proof covers float32
arithmetic with the CPU's tanh, which is what was measured. Naming a store-model option (--cell, --nonlinearity,
--maxlen, --chain-fraction, --seed) picks a model of the run store instead, trained first if the store lacks it
(seconds); without a certificate the default is that store model, rnn/tanh 2 x 64 with ADDER_CHAIN_FRACTION of each
batch rich in carry chains. Such a model is not proven, and exact_adder's worst-case suite finds sums it gets wrong
(its section in plots/README.md).
"""
from machinery import numerics  # noqa: I001 - first: it sets the numerics before torch loads
import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

import experiments
from measures.beyond import predict_digits
from data import MAX_DIGITS, add_digits
from models import CELLS, NONLINEARITIES
from machinery.entries import model_from_blob, weights_blob
from machinery.plans import run as plan_run
from machinery.store import Store, StoreError
from train import resolve_device, train_run

CERTIFICATE = Path(__file__).resolve().parent / "plots" / "exact_certificate.npz"  # the study's proven adder
SHIPPED_SHA256 = "6cb3dae8fdef2c7790df93ddb3359a0d0b71b53038a202f59617b7e62e570d04"  # SHA-256 of its bytes
SHOW = 60  # digits shown at each end of a long number (--full shows all)
ADDER_CHAIN_FRACTION = 0.1  # share of each training batch drawn rich in carry chains (exact_adder's best recipe)
DIGITS = re.compile(r"[0-9]+")


class InputError(ValueError):
    """Bad user input: reported as one line, exit code 2."""


def parse_number(text, name):
    """A non-negative integer given as decimal digits -> the same string without leading zeros."""
    text = text.strip()
    if not text:
        raise InputError(f"{name} is empty: give a non-negative integer such as 12345")
    if not DIGITS.fullmatch(text):
        bad = next(c for c in text if c not in "0123456789")
        raise InputError(f"{name} {_short(text, 20)!r} is not a non-negative integer: {bad!r} is not a digit 0-9")
    if len(text) > MAX_DIGITS:
        raise InputError(f"{name} has {len(text):,} digits; at most {MAX_DIGITS:,} are allowed")
    return text.lstrip("0") or "0"


def to_digits(text, length):
    """Decimal string -> int64 (1, length) LSB-first digits, zero-padded."""
    out = np.zeros((1, length), dtype=np.int64)
    out[0, : len(text)] = np.frombuffer(text[::-1].encode(), dtype=np.uint8) - ord("0")
    return out


def to_text(digits):
    """LSB-first digit row -> decimal string without leading zeros."""
    return (digits[::-1].astype(np.uint8) + ord("0")).tobytes().decode().lstrip("0") or "0"


def _short(text, show=SHOW):
    return text if len(text) <= 2 * show + 20 else f"{text[:show]}...[{len(text):,} digits]...{text[-show:]}"


def adder_request(cell, nonlinearity, maxlen, seed, device, chain_fraction=ADDER_CHAIN_FRACTION):
    """The store request of the adder: length_generalization's settings for one (cell, seed), with the given
    share of carry-chain-rich sums per batch (0: length_generalization's run itself, which exact_adder calls
    "today"; ADDER_CHAIN_FRACTION: exact_adder's best worst-case recipe, the same run the study stores)."""
    extra = {"chain_fraction": chain_fraction} if chain_fraction else {}
    run = plan_run("add", cell=cell, nonlinearity=nonlinearity, hidden_mode="none", maxlen=maxlen,
                   lr=experiments.LENGTH_LR, steps=experiments.LENGTH_STEPS, **extra)
    return {"model": run["model"], "train": run["train"], "seed": seed, "device": device, "stop": False,
            "after": None}


def load_adder(req, store):
    """(model, how it was obtained): the stored weights, else trained now and stored."""
    blob = store.weights(req)  # a corrupt entry is named, set aside and retrained
    if blob is not None:
        return model_from_blob(req["model"], blob, req["device"])[0], "from the store"  # hidden_mode none: no state
    store.ensure()  # an unusable store is refused before the training, not after it (StoreError)
    with store.lock(req):  # another process training the same adder: wait and read its result
        blob = store.weights(req)
        if blob is not None:
            return model_from_blob(req["model"], blob, req["device"])[0], "from the store"  # hidden_mode none: no state
        t0 = time.perf_counter()
        hist, model, _ = train_run(req["model"], **req["train"], seed=req["seed"], device=req["device"])
        store.save_run(req, hist, weights_blob(model))
    return model, f"trained now in {time.perf_counter() - t0:.1f} s"


def add(a, b, model):
    """(model's digits, true digits), LSB first, each of length max(len(a), len(b)) + 1."""
    length = max(len(a), len(b)) + 1
    num1, num2 = to_digits(a, length), to_digits(b, length)
    return predict_digits(model, num1, num2)[0], add_digits(num1, num2)[0]


STORE_OPTIONS = {"cell": "rnn", "nonlinearity": "tanh", "maxlen": experiments.LENGTH_MAXLEN,
                 "chain_fraction": ADDER_CHAIN_FRACTION, "seed": 0}  # naming any of these picks a store model


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("numbers", nargs="*", help="two non-negative integers")
    p.add_argument("--file", help="read the two numbers from this file ('-': standard input)")
    p.add_argument("--certificate", type=Path, default=None,
                   help="the proven model's certificate (default: the study's, plots/exact_certificate.npz); not "
                        "with the store-model options")
    p.add_argument("--cell", choices=[c for c in CELLS if c != "linear"], help="a store model of this cell (rnn)")
    p.add_argument("--nonlinearity", choices=NONLINEARITIES, help="rnn only (tanh)")
    p.add_argument("--maxlen", type=int, help=f"training length in digits ({experiments.LENGTH_MAXLEN})")
    p.add_argument("--chain-fraction", type=float,
                   help=f"share of each training batch rich in carry chains ({ADDER_CHAIN_FRACTION}; 0: the "
                        "length_generalization model)")
    p.add_argument("--seed", type=int, help="seed of the store model (0)")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"),
                   help="where a store model runs (cpu; auto: cuda when torch sees a GPU); a proven model runs on "
                        "the CPU")
    p.add_argument("--store", type=Path, default=None, help="run store folder (default: $ADDER_STORE or ./store)")
    p.add_argument("--full", action="store_true", help="print every digit of long numbers")
    args = p.parse_args(argv)
    args.store_given = [k for k in STORE_OPTIONS if getattr(args, k) is not None]  # as named on the command line
    args.store_model = bool(args.store_given)
    args.certificate_given = args.certificate is not None
    args.certificate = CERTIFICATE if args.certificate is None else args.certificate
    for k, v in STORE_OPTIONS.items():
        setattr(args, k, v if getattr(args, k) is None else getattr(args, k))
    return args


def check_options(args):
    """Refuse options that contradict each other or name nothing (InputError), before any model is read or
    trained: a certificate with a store-model option, --nonlinearity with a cell that has none, a missing file."""
    flags = [f"--{k.replace('_', '-')}" for k in args.store_given]
    if args.certificate_given and flags:
        raise InputError(f"--certificate picks a proven model, {', '.join(flags)} a store model: give either "
                         f"--certificate or the store-model options ({', '.join(STORE_FLAGS)}), not both")
    if "nonlinearity" in args.store_given and args.cell != "rnn":
        raise InputError(f"--nonlinearity {args.nonlinearity} applies to --cell rnn only, not --cell {args.cell} "
                         f"(rnn takes {' or '.join(NONLINEARITIES)}); drop it or use --cell rnn")
    if args.certificate_given and not args.certificate.is_file():
        what = "is a folder" if args.certificate.is_dir() else "does not exist"
        raise InputError(f"--certificate {args.certificate} {what}: give a certificate file (.npz), or leave "
                         "--certificate out for the study's")


STORE_FLAGS = [f"--{k.replace('_', '-')}" for k in STORE_OPTIONS]


def proven_adder(path):
    """(model, words) of a certificate that both checkers accept, re-checked now; None if there is none at path.

    Only the certificate the repository ships (its content SHA-256 is SHIPPED_SHA256) is called "proven exact at
    every length" and attributed from its meta (which the hash covers); any other is "a certificate you supplied".
    """
    from proof import certificate

    if not Path(path).exists():
        return None
    model, out = certificate.verified_model(path)  # ValueError for a damaged file: a one-line error, exit 2
    if not out["proven"]:
        raise InputError(f"{path}: {certificate.words(out)}, re-checked now: not used")
    checked = (f"both checkers re-checked it now: {out['transitions']:,} transitions, margin bound "
               f"{out['min_margin_bound']:.3g}")
    problem = certificate.rounding_problem()
    if problem:  # the proof is for float32 rounded to nearest even: not claimed for this process
        return model, (f"the model of {path}, whose proof both checkers accept ({checked}), but {problem}: not "
                       "claimed proven in this process")
    if out["certificate_sha256"] == SHIPPED_SHA256:
        meta = out["meta"]
        return model, (f"exact_adder's {meta.get('series', '?')!r}, seed {meta.get('seed', '?')}: proven exact at "
                       f"every length (the certificate this repository ships, {path}; {checked})")
    return model, (f"the model of a certificate you supplied ({path}, SHA-256 {out['certificate_sha256']}; not the "
                   f"one this repository ships, so its meta is not quoted): proven by both checkers ({checked})")


def read_numbers(args):
    if args.file is not None:
        if args.numbers:
            raise InputError("give the numbers either as arguments or with --file, not both")
        try:
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
        except OSError as e:
            raise InputError(f"cannot read {args.file}: {e.strerror}") from None
        parts = text.split()
    else:
        parts = args.numbers
    if len(parts) != 2:
        raise InputError(f"expected two numbers, got {len(parts)}")
    return parse_number(parts[0], "first number"), parse_number(parts[1], "second number")


def main(argv=None):
    sys.set_int_max_str_digits(0)
    try:
        numerics.apply()  # the model runs on the kernels it was trained with
    except numerics.NumericsError as e:  # an unknown ADDER_NUMERICS, or torch loaded with other kernels
        print(f"add.py: {e}", file=sys.stderr)
        return 2
    args = parse_args(argv)
    try:
        check_options(args)
        a, b = read_numbers(args)
        if args.maxlen < 1 or args.seed < 0:
            raise InputError(f"--maxlen must be >= 1 and --seed >= 0, got {args.maxlen} and {args.seed}")
        if not 0 <= args.chain_fraction <= 1:
            raise InputError(f"--chain-fraction must be in [0, 1], got {args.chain_fraction}")
        device = resolve_device(args.device)
    except (InputError, ValueError) as e:
        print(f"add.py: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # one small matrix product per digit: threads only add overhead
    try:
        proven = None if args.store_model else proven_adder(args.certificate)
        model, words = proven if proven is not None else store_adder(args, device)
    except (InputError, ValueError, StoreError, OSError) as e:  # exit 1 would mean "a digit is wrong"
        print(f"add.py: {e}", file=sys.stderr)
        return 2
    if proven is not None and device != "cpu":  # the proof's float32 tanh is the CPU's (measured), not CUDA's
        device, words = "cpu", words + " (run on the CPU, which the proof covers, not on " + device + ")"
    if proven is not None and numerics.mode() == "native":  # the tanh measured is ATen's AVX2 one (portable, pinned)
        words = (words.replace("proven exact at every length", "proven for ATen's AVX2 CPU kernels")
                 + f"; this process runs {numerics.mode()} kernels, whose tanh was not measured: not claimed here")
    pred, truth, sec = timed_add(a, b, model.to(device))
    wrong = report(pred, truth, args.full)
    print(f"{words}; {len(truth):,} digits added in {sec:.2f} s on {device}")
    return 0 if len(wrong) == 0 else 1


def store_adder(args, device):
    """(model, words) of the run store's adder the options name (trained first if the store lacks it)."""
    req = adder_request(args.cell, args.nonlinearity if args.cell == "rnn" else "relu", args.maxlen, args.seed,
                        device, args.chain_fraction)
    model, how = load_adder(req, Store(args.store))
    name = f"{args.cell}/{args.nonlinearity}" if args.cell == "rnn" else args.cell
    chains = f", {args.chain_fraction:g} of each batch rich in carry chains" if args.chain_fraction else ""
    return model, (f"{name} trained on {args.maxlen}-digit sums{chains}, seed {args.seed} ({how}); not proven exact "
                   "(exact_adder in plots/README.md: the worst-case suite and attacks on such models)")


def timed_add(a, b, model):
    t0 = time.perf_counter()
    pred, truth = add(a, b, model)
    return pred, truth, time.perf_counter() - t0


def report(pred, truth, full):
    """Print the model's answer, the true sum and the wrong digits; return their positions (0 = units)."""
    show = (lambda t: t) if full else _short
    wrong = np.flatnonzero(pred != truth)
    print(f"model: {show(to_text(pred))}")
    print(f"true:  {show(to_text(truth))}")
    if len(wrong) == 0:
        print(f"exact: all {len(truth):,} digits right")
    else:
        listed = ", ".join(map(str, wrong[:20])) + (", ..." if len(wrong) > 20 else "")
        print(f"wrong: {len(wrong):,} of {len(truth):,} digits, at positions {listed} (0 = units digit)")
    return wrong


if __name__ == "__main__":
    sys.exit(main())
