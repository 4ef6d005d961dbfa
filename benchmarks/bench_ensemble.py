"""Would a batched ensemble pay? N seeds' recurrent cores as N separate nn.RNN calls vs one bmm ensemble.

    python -m benchmarks.bench_ensemble                maxlen 5, 10, 50, 70; 5 seeds

The lever the performance issue lists: train the seeds of one configuration as one model whose weights
carry a leading seed axis, so every matmul is one torch.bmm over seeds instead of N small torch.mm.
Measured here on the recurrent core alone (2-layer ReLU RNN, hidden 64, input 64, batch 200; forward +
backward of a fixed input), both sides in this process:
  separate  N x (nn.RNN forward + backward), as the study trains today (one run per seed)
  ensemble  the same N RNNs stacked (weights (N, out, in)); input projection one bmm over all steps,
            then a Python loop over time steps of baddbmm + relu; forward + backward once
The ensemble's outputs and weight gradients are checked against the separate ones (allclose) first.
"""
from machinery import numerics  # noqa: F401, I001 - first: it sets the numerics before torch loads
import argparse

import torch
import torch.nn as nn

from benchmarks.flops import median_seconds, peak_matmul_gflops, rnn_forward_flops

MAXLENS = [5, 10, 50, 70]  # digits per operand
SEEDS = 5  # ensemble width (the study's seeds per curve)
BATCH, IN, HIDDEN, LAYERS = 200, 64, 64, 2  # the study's ModelConfig() core
REPEATS = 5  # timed repeats (median)


def ensemble_forward(x, h0, weights):
    """x (N, B, T, IN), h0 (L, N, B, H), weights per layer (w_ih (N,H,I), w_hh (N,H,H), b_ih, b_hh (N,H))."""
    n, b, t, _ = x.shape
    out = x
    for layer, (w_ih, w_hh, b_ih, b_hh) in enumerate(weights):
        pre = torch.baddbmm((b_ih + b_hh)[:, None, :], out.reshape(n, b * t, -1), w_ih.transpose(1, 2))
        pre = pre.view(n, b, t, -1).permute(2, 0, 1, 3).contiguous()  # (T, N, B, H): contiguous per step
        h, hs = h0[layer], []
        w_hh_t = w_hh.transpose(1, 2)
        for step in range(t):
            h = torch.relu(torch.baddbmm(pre[step], h, w_hh_t))  # (N, B, H)
            hs.append(h)
        out = torch.stack(hs, dim=2)  # (N, B, T, H)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--maxlens", type=int, nargs="+", default=MAXLENS)
    p.add_argument("--seeds", type=int, default=SEEDS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    n = args.seeds
    torch.manual_seed(0)
    rnns = [nn.RNN(IN, HIDDEN, LAYERS, nonlinearity="relu", batch_first=True) for _ in range(n)]
    weights = [[torch.stack([getattr(r, f"{name}_l{li}").detach() for r in rnns]).requires_grad_()
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")] for li in range(LAYERS)]
    peak = peak_matmul_gflops()
    print(f"torch {torch.__version__}, 1 thread; {n} seeds; mm peak {peak:.1f} GFLOP/s\n")
    print(f"{'maxlen':>6} | {'separate ms':>11} | {'ensemble ms':>11} | {'ratio':>6} | {'ens. of peak':>12}")
    print("-" * 60)
    for maxlen in args.maxlens:
        t = maxlen + 1
        x = torch.randn(n, BATCH, t, IN)
        h0 = torch.randn(LAYERS, n, BATCH, HIDDEN)
        gy = torch.randn(n, BATCH, t, HIDDEN)

        def separate(x=x, h0=h0, gy=gy):
            for k, r in enumerate(rnns):
                r.zero_grad(set_to_none=True)
                y, _ = r(x[k], h0[:, k].contiguous())
                y.backward(gy[k])

        def ensemble(x=x, h0=h0, gy=gy):
            for w in weights:
                for p_ in w:
                    p_.grad = None
            ensemble_forward(x, h0, weights).backward(gy)

        separate()
        ensemble()
        for li in range(LAYERS):  # same math: every weight gradient agrees with the separate runs'
            for j, name in enumerate(("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
                ref = torch.stack([getattr(r, f"{name}_l{li}").grad for r in rnns])
                assert torch.allclose(weights[li][j].grad, ref, rtol=1e-3, atol=1e-3), f"{name}_l{li} differs"
        sep, ens = median_seconds(separate, repeats=REPEATS), median_seconds(ensemble, repeats=REPEATS)
        flop = n * 3 * rnn_forward_flops({"cell": "rnn", "num_layers": LAYERS, "hidden_size": HIDDEN,
                                          "embed_size": IN // 2}, maxlen, BATCH)
        print(f"{maxlen:>6} | {sep * 1e3:>11.2f} | {ens * 1e3:>11.2f} | {sep / ens:>5.2f}x | "
              f"{flop / ens / 1e9 / peak:>11.1%}", flush=True)


if __name__ == "__main__":
    main()
