"""Candidate sums per second of the adversarial search's scorer (adversary.FastRNN.min_margins), before and after.

    python -m benchmarks.bench_attack                          fresh 1 x 32 and 2 x 64 rnn/tanh models
    python -m benchmarks.bench_attack --store /path/to/store   seed 0 of exact_adder's "1 x 32" and chain-rich runs

One batch of BATCH random sums of LENGTH digits (the attack's batch and length), one thread, median of REPEATS
(the sides alternate within each repeat):
  before  the scorer as it was: one Python step per digit, each looking up the pair's input term (gather),
          every layer's matmul and the output layer, then the margin by gather + scatter + max over 10 logits
  after   adversary.FastRNN: layer by layer over time chunks into one preallocated buffer (addmm_ and the
          activation in place per step), the output layer and the margins once per chunk, digits as rows
Both must give the same smallest margins (atol 1e-4) and steps; the speed does not depend on the weights' values,
so fresh models measure the same as trained ones of the same size.
"""
from machinery import numerics  # noqa: F401, I001 - first: it sets the numerics before torch loads
import argparse
import statistics

import numpy as np
import torch

from benchmarks.flops import median_seconds
from data import add_digits
from measures.exact.adversary import FastRNN
from models import ModelConfig, build_model

BATCH, LENGTH = 1000, 1000  # sums per batch, digits per sum (experiments.EXACT_ATTACK)
SIZES = [(1, 32), (2, 64)]  # (layers, hidden) measured
REPEATS = 3  # timed batches per side (median)


class Stepwise:
    """The scorer before: per step, a gather of the input term, the layers, the logits, gather/scatter margins."""

    def __init__(self, model):
        rnn = model.rnn
        p = {n: t.detach() for n, t in rnn.named_parameters()}
        emb = model.embed.weight.detach()
        a, b = torch.arange(100) // 10, torch.arange(100) % 10
        self.in1 = torch.cat([emb[a], emb[b]], dim=1) @ p["weight_ih_l0"].T + p["bias_ih_l0"] + p["bias_hh_l0"]
        self.layers = [(p[f"weight_ih_l{i}"], p[f"weight_hh_l{i}"], p[f"bias_ih_l{i}"] + p[f"bias_hh_l{i}"])
                       for i in range(rnn.num_layers)]
        self.act = torch.tanh if rnn.nonlinearity == "tanh" else torch.relu
        self.V, self.c = model.out.weight.detach(), model.out.bias.detach()

    @torch.no_grad()
    def min_margins(self, num1, num2, result):
        pairs, res = torch.from_numpy(num1 * 10 + num2), torch.from_numpy(result)
        n, steps = pairs.shape
        hs = [torch.zeros(n, w_hh.shape[0]) for _, w_hh, _ in self.layers]
        best, where = torch.full((n,), float("inf")), torch.zeros(n, dtype=torch.long)
        for t in range(steps):
            inp = None
            for i, (w_ih, w_hh, b) in enumerate(self.layers):
                z = self.in1[pairs[:, t]] + hs[i] @ w_hh.T if i == 0 else inp @ w_ih.T + b + hs[i] @ w_hh.T
                hs[i] = inp = self.act(z)
            logits = inp @ self.V.T + self.c
            right = logits.gather(1, res[:, t : t + 1]).squeeze(1)
            wrong = logits.scatter(1, res[:, t : t + 1], float("-inf")).amax(1)
            m = right - wrong
            lower = m < best
            best, where = torch.where(lower, m, best), torch.where(lower, t, where)
        return best.numpy().astype(np.float64), where.numpy()


def stored_models(store):
    """Seed 0 of exact_adder's 1 x 32 run and of its chain-rich 2 x 64 recipe, from the run store."""
    import experiments
    from machinery.entries import model_from_blob
    from machinery.fingerprint import fingerprint
    from machinery.runner import request
    from machinery.store import Store
    from measures.exact import evaluate

    st, out = Store(store, fingerprint([evaluate.exact_eval])), {}
    for r in experiments.exact_adder()["runs"]:
        size = (r["model"]["num_layers"], r["model"]["hidden_size"])
        if size in SIZES and size not in out and (size != (2, 64) or r["train"].get("chain_fraction")):
            req = request(r, 0, "cpu", False)
            blob = st.weights(req)
            if blob is not None:
                out[size] = (r["label"], model_from_blob(req["model"], blob, "cpu")[0].eval())
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", default=None, help="run store holding exact_adder's runs (default: fresh models)")
    p.add_argument("--repeats", type=int, default=REPEATS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.store:
        models = stored_models(args.store)
    else:
        torch.manual_seed(0)
        models = {(nl, h): (f"fresh {nl} x {h}", build_model(ModelConfig(
            cell="rnn", nonlinearity="tanh", hidden_mode="none", num_layers=nl, hidden_size=h)).eval())
            for nl, h in SIZES}
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 10, (2, BATCH, LENGTH + 1))
    a[:, -1] = b[:, -1] = 0
    r = add_digits(a, b)
    print(f"{BATCH} sums of {LENGTH} digits, one thread; candidate sums per second (median of {args.repeats})")
    for (layers, hidden), (label, model) in sorted(models.items()):
        old, new = Stepwise(model), FastRNN(model)
        m0, w0 = old.min_margins(a, b, r)
        m1, w1 = new.min_margins(a, b, r)
        assert np.allclose(m0, m1, atol=1e-4) and (w0 == w1).mean() > 0.99, "before and after disagree"
        times = [[median_seconds(lambda f=f: f.min_margins(a, b, r), repeats=1, warmup=0) for f in (old, new)]
                 for _ in range(args.repeats)]  # alternating, so a busy machine slows both sides alike
        t0, t1 = (statistics.median(t[i] for t in times) for i in (0, 1))
        print(f"{layers} x {hidden:<3} ({label}): before {BATCH / t0:7.0f}/s   after {BATCH / t1:7.0f}/s   "
              f"x{t0 / t1:.2f}")


if __name__ == "__main__":
    main()
