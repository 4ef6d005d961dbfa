"""The floor of the size frontier: a 2-unit tanh adder built by a rule, and why 1 unit cannot add.

The model is the project's own shape (models.myPTRNNModel: cell rnn, tanh, one layer, zero start) with embedding
size E = 1, e(d) = d. With s = a + b + c_in the column sum and c_in = (h_C(previous step) + 1) / 2:

    unit S ("sum", graded):      h_S = tanh(ALPHA s + BETA): a strictly monotone code of the 20 column sums;
    unit C ("carry", saturated): h_C = tanh(LAMBDA (s - THRESHOLD)): about -1 without a carry out, +1 with one;

so W_ih = [[ALPHA, ALPHA], [LAMBDA, LAMBDA]], W_hh = [[0, ALPHA / 2], [0, LAMBDA / 2]] (S is never fed back),
b_ih = [ALPHA / 2 + BETA, LAMBDA / 2 - THRESHOLD LAMBDA], b_hh = 0. The readout is
logit_d = K d h_S + B_d h_C + c_d, with B_0 = c_0 = 0 and

    B_{d+1} = B_d + K (h_S(d + OFFSET) - h_S(10 + d + OFFSET)) / 2,
    c_{d+1} = c_d - K (h_S(d + OFFSET) + h_S(10 + d + OFFSET)) / 2,

so logit_{d+1} - logit_d = K (h_S - h_S(d + OFFSET)) for h_C = -1 and K (h_S - h_S(10 + d + OFFSET)) for h_C = +1:
without a carry out (s <= 9) the winning line is digit s, with one (s >= 10) digit s - 10, consecutive lines crossing
at s = d + OFFSET. The zero start reads as c_in = 1/2, which THRESHOLD = 9.75 and OFFSET = 0.75 absorb. 52
parameters; build() computes them in float64 and rounds each once to float32; certificate.py proves the result.

Why 1 unit cannot add (for any weights, embedding size or monotone activation). With one scalar state h, the digit
shown is argmax_d (v_d h + c_d): each digit's region is an interval of the line and the regions are disjoint.
Every digit is shown with carry out 0 and with carry out 1 (pair (0, d) without carry in; pair (9, d + 1) with one:
9 + d + 1 = 10 + d). Call a state's class the carry out of the step that reached it. (i) The two classes must be
separated on the line: otherwise there are reachable states p < r < q with r's class unlike p's and q's; the next
step, pair (0, 9), is one monotone map f(h) = act(w_x x + w_h h + b), so f(r) lies between f(p) and f(q); if p and
q carry (so must show 0 after it) and r does not (must show 9), then f(p), f(q) lie in digit 0's interval and f(r)
between them, in it too, when it must show 9 (and the same with the classes swapped: 9's interval holds an image
that must show 0). (ii) Once separated, say every carry-0 state below every carry-1 state, digit 0's interval holds
a carry-0 state (0 + 0) and a carry-1 state (9 + 1), and so does digit 1's (0 + 1; 9 + 2); the intervals are
disjoint, so one lies wholly below the other, yet each holds a state of the lower class and one of the upper:
contradiction. (A certified model is exact in real arithmetic too, since its boxes hold the exact trajectory; so
this bound covers proven models of any float format.) So 2 units is the fewest of any exact adder of this shape.
"""
import numpy as np
import torch

from models import ModelConfig, build_model

ALPHA = 0.1  # slope of the sum unit (per unit of column sum): 20 sums spread over tanh's graded part
BETA = -0.95  # its offset: the column sums 0..19 map to pre-activations -0.95..0.95
LAMBDA = 40.0  # slope of the carry unit: |tanh(40 * 0.25)| = tanh(10), saturated
THRESHOLD = 9.75  # the carry unit's switch point on the column sum (9 + 1/2 from the zero start stays below)
OFFSET = 0.75  # consecutive digit lines cross at s = d + OFFSET
K = 100.0  # readout gain on the sum unit
CERTIFICATE = "exact_certificate_constructed.npz"  # beside exact_frontier.png in plots/
UNITS = 2  # the floor: 1 unit cannot add (module docstring)


def sum_code(s):
    """h_S at column sum s (float64), the sum unit's value in real arithmetic."""
    return np.tanh(ALPHA * np.asarray(s, dtype=np.float64) + BETA)


def readout():
    """(V (10, 2), c (10,)) of the readout recurrence, in float64: V[d] = [K d, B_d]."""
    B, c = np.zeros(10), np.zeros(10)
    for d in range(9):
        low, high = sum_code(d + OFFSET), sum_code(10 + d + OFFSET)
        B[d + 1] = B[d] + K * (low - high) / 2
        c[d + 1] = c[d] - K * (low + high) / 2
    return np.stack([K * np.arange(10.0), B], axis=1), c


def build():
    """The constructed 2-unit adder (units: S, C), its float32 weights from the rule of the module docstring."""
    model = build_model(ModelConfig(cell="rnn", nonlinearity="tanh", hidden_mode="none", num_layers=1,
                                    hidden_size=UNITS, embed_size=1))
    V, c = readout()
    arrays = {"embed.weight": np.arange(10.0)[:, None],
              "rnn.weight_ih_l0": np.array([[ALPHA, ALPHA], [LAMBDA, LAMBDA]]),
              "rnn.weight_hh_l0": np.array([[0.0, ALPHA / 2], [0.0, LAMBDA / 2]]),
              "rnn.bias_ih_l0": np.array([ALPHA / 2 + BETA, LAMBDA / 2 - THRESHOLD * LAMBDA]),
              "rnn.bias_hh_l0": np.zeros(2), "out.weight": V, "out.bias": c}
    state = model.state_dict()
    if set(arrays) != set(state):
        raise RuntimeError(f"the model's tensors changed: {sorted(state)}")
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in arrays.items()})
    return model.eval()


def write_certificate(out_dir, m=1, max_iter=300, budget_s=60, recheck_kept=True):
    """Keep out_dir/CERTIFICATE for build()'s model (certificate.write: kept if it is of that model and verifies,
    else searched, checked by both checkers and written). Returns certificate.write's (path or None, result)."""
    from pathlib import Path

    from proof import certificate

    return certificate.write(Path(out_dir) / CERTIFICATE, build(), origin="constructed", targets=[],
                             meta={"series": "constructed 2-unit adder (proof/constructed.py)"},
                             m=m, max_iter=max_iter, budget_s=budget_s, recheck_kept=recheck_kept)


def proof_summary(m=1):
    """Both checkers on build()'s model now (a search of a few milliseconds): proof.check's result with "proven"
    only if recheck accepts the same boxes too."""
    from proof import proof, recheck

    model = build()
    net, lo, hi, out = proof.attempt(model, m=m)
    if out["proven"]:
        weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
        out["proven"] = recheck.check(model.cfg.to_dict(), weights, m, lo, hi, tanh_err=net["tanh_err"])
    return out
