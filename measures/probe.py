"""Where the carry lives: a linear probe on hidden states, their PCA, and the hidden-norm drift.

probe_eval is an "after" hook (plan format: machinery/plans.py) of the hidden_probe experiment. For a trained model
it runs each recurrent layer separately (a one-layer copy with that layer's weights, from a zero
state) on held-out sums and, per layer,
    - fits a logistic regression (torch, full batch) from the state h_t after step t to two bits:
      the carry coming into step t, and the carry it passes on to step t + 1 (the one it must
      remember), and scores it on other sums;
    - projects the last layer's states on their first two principal components (a sample of points,
      with their carry-out bit and sum digit, for the scatter);
and records the mean norm of each layer's state along one pass over 10,000-digit sums from zeros
(a ReLU state is unbounded; tanh, LSTM and GRU outputs lie in [-1, 1]).
"""
import numpy as np
import torch
import torch.nn as nn

from data import check_int, gen_data, measure_rng
from models import embed_pair
from plot import footer, header, plt, save

PCA_POINTS = 400  # points kept for the PCA scatter
READABLE = 0.99  # probe accuracy at or above which the report calls the carry linearly readable


def single_layers(rnn):
    """One-layer copies of each layer of a stacked nn.RNN / LSTM / GRU (same weights)."""
    kwargs = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
    layers = []
    for li in range(rnn.num_layers):
        size_in = rnn.input_size if li == 0 else rnn.hidden_size
        one = type(rnn)(size_in, rnn.hidden_size, 1, batch_first=True, **kwargs)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(one, f"{name}_l0").copy_(getattr(rnn, f"{name}_l{li}"))
        layers.append(one.to(rnn.weight_ih_l0.device))  # on the trained model's device
    return layers


@torch.no_grad()
def layer_states(model, num1, num2, carried=None):
    """Per layer, the state after every step (N, T, H) from the model's initial state, for digit arrays (N, T).

    Layer by layer through one-layer copies (nn.RNN returns only the last layer's outputs); the last layer's
    equals model.run's (tests/test_models.py). On the CPU.
    """
    device = model.embed.weight.device
    model.eval()
    h0 = model.initial_state(len(num1), carried)  # None, (L, N, H) or LSTM's pair (models.py: hidden_mode)
    x = embed_pair(model.embed, torch.from_numpy(num1).to(device), torch.from_numpy(num2).to(device))  # (N, T, 2E)
    states = []
    for li, layer in enumerate(single_layers(model.rnn)):
        h = None if h0 is None else tuple(s[li : li + 1] for s in h0) if isinstance(h0, tuple) else h0[li : li + 1]
        x, _ = layer(x, h)
        states.append(x.cpu())  # probes, PCA and norms run on the CPU in float64 / numpy
    return states


def carry_bits(num1, num2, result):
    """(carry into step t, carry out of step t) as 0/1 arrays (N, T), from the exact digits."""
    carry_in = (result - num1 - num2) % 10  # result = (a + b + carry_in) mod 10
    carry_out = (num1 + num2 + carry_in >= 10).astype(np.int64)
    return carry_in, carry_out


def linear_probe(x_train, y_train, x_test, y_test, iters=200, l2=1e-6):
    """Test accuracy of a logistic regression fitted on (x_train, y_train); y are 0/1 labels.

    Standardized features, full-batch L-BFGS on the mean cross-entropy plus a small L2 penalty.
    """
    x_train, x_test = (torch.as_tensor(v, dtype=torch.float64) for v in (x_train, x_test))
    y_train, y_test = (torch.as_tensor(v, dtype=torch.float64) for v in (y_train, y_test))
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6  # standardize: dead units stay 0
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    w = torch.zeros(x_train.shape[1] + 1, dtype=torch.float64, requires_grad=True)  # weights and bias
    opt = torch.optim.LBFGS([w], max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(x_train @ w[:-1] + w[-1], y_train)
        loss = loss + l2 * (w[:-1] ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((x_test @ w[:-1] + w[-1] > 0).double() == y_test).double().mean())


def pca_2d(x):
    """Coordinates of the rows of x on their first two principal components, and the variance share."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    share = (s[:2] ** 2).sum() / max((s**2).sum(), 1e-12)
    return x @ vt[:2].T, float(share)


def probe_eval(model, state, run, seed, sums, length, norm_length, norm_sums, norm_points, quick=False):
    """The probe, PCA sample and norm drift of one trained model (see the module docstring)."""
    if quick:
        sums, length, norm_length, norm_sums = min(sums, 40), min(length, 10), min(norm_length, 200), 2
    sums, length = check_int("sums", sums, 2), check_int("length", length, 1)
    model.eval()
    rng = measure_rng(seed, "probe", 0)
    num1, num2, result = gen_data(sums, length, "test", rng)
    carry_in, carry_out = carry_bits(num1, num2, result)
    half = sums // 2  # probe trained on the first half of the sums, scored on the other half
    out = {"layers": [], "probe_carry_in": [], "probe_carry_out": []}
    states = layer_states(model, num1, num2, state)
    for li, h in enumerate(states):
        h = h.numpy()
        feats_tr, feats_te = h[:half].reshape(-1, h.shape[-1]), h[half:].reshape(-1, h.shape[-1])
        out["layers"].append(li + 1)
        for key, bits in (("probe_carry_in", carry_in), ("probe_carry_out", carry_out)):
            out[key].append(linear_probe(feats_tr, bits[:half].ravel(), feats_te, bits[half:].ravel()))
    last = states[-1].numpy().reshape(-1, states[-1].shape[-1])
    coords, share = pca_2d(last)
    pick = rng.choice(len(last), size=min(PCA_POINTS, len(last)), replace=False)
    out["pca"] = {"x": np.round(coords[pick, 0], 4).tolist(), "y": np.round(coords[pick, 1], 4).tolist(),
                  "carry_out": carry_out.ravel()[pick].tolist(), "digit": result.ravel()[pick].tolist(),
                  "variance_share": share}
    n1, n2, _ = gen_data(norm_sums, norm_length, "test", measure_rng(seed, "probe", 1))
    norms = [h.norm(dim=-1).mean(0).numpy() for h in layer_states(model, n1, n2, state)]  # (T,) per layer
    at = np.unique(np.geomspace(1, norm_length + 1, norm_points).astype(int)) - 1  # log-spaced steps
    out["norm"] = {"steps": (at + 1).tolist(),  # an overflowed norm (inf / nan) is stored as None
                   "per_layer": [[float(v) if np.isfinite(v) else None for v in np.round(n[at], 5)] for n in norms]}
    return out


def probe_chart(result, path):
    """PCA scatters per cell (by carry, by sum digit), probe accuracy per layer, norm along the sum."""
    import matplotlib.ticker
    from matplotlib.gridspec import GridSpec

    series, n = result["series"], len(result["series"])
    fig = plt.figure(figsize=(4.2 * n, 11.5))
    grid = GridSpec(3, 2 * n, figure=fig)
    carry_colors = {0: "#3b4cc0", 1: "#b40426"}  # the carry bit: two colours, a legend (not a colour scale)
    for k, s in enumerate(series):
        pca = s["extra"][0]["pca"]
        for row, key in ((0, "carry_out"), (1, "digit")):
            ax = fig.add_subplot(grid[row, 2 * k : 2 * k + 2])
            if key == "carry_out":
                for bit, color in carry_colors.items():
                    pick = [i for i, v in enumerate(pca[key]) if v == bit]
                    ax.scatter([pca["x"][i] for i in pick], [pca["y"][i] for i in pick], color=color, s=8,
                               label=f"carry {bit}")
                ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False,
                          title="carry\npassed on", title_fontsize=8, handletextpad=0.2)
            else:
                sc = ax.scatter(pca["x"], pca["y"], c=pca[key], cmap="tab10", s=8, vmin=-0.5, vmax=9.5)
                fig.colorbar(sc, ax=ax, ticks=range(10), label="sum digit written")
            ax.set_title(f"{s['label']} (seed {s['seeds'][0]}), last layer: "
                         f"{'carry passed on' if row == 0 else 'sum digit'}", fontsize=9)
            ax.set(xlabel="PC 1", ylabel="PC 2")
    ax = fig.add_subplot(grid[2, :n])
    layers = series[0]["extra"][0]["layers"]
    width = 0.8 / n
    for k, s in enumerate(series):
        acc = [np.mean([e["probe_carry_out"][i] for e in s["extra"]]) for i in range(len(layers))]
        bars = ax.bar(np.arange(len(layers)) + k * width, acc, width, label=s["label"], color=f"C{k}")
        ax.bar_label(bars, labels=[f"{a:.3f}" for a in acc], fontsize=7, padding=2)
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="chance (the majority bit, about 0.5)")
    ax.set(xticks=np.arange(len(layers)) + 0.4 - width / 2, xticklabels=[f"layer {li}" for li in layers],
           ylim=(0, 1.12), ylabel="probe accuracy, held-out sums", title="linear probe: the carry passed on")
    ax.legend(fontsize=8, ncol=n + 1, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    ax2 = fig.add_subplot(grid[2, n:])
    for k, s in enumerate(series):
        norm = s["extra"][0]["norm"]
        for li, values in enumerate(norm["per_layer"]):
            values = [np.nan if v is None else v for v in values]
            ax2.plot(norm["steps"], values, color=f"C{k}", linestyle="-" if li else ":",
                     label=f"{s['label']}, layer {li + 1}")
    length = series[0]["extra"][0]["norm"]["steps"][-1] - 1  # digits per operand; the last step is the padding
    ax2.set(xscale="log", yscale="log", xlabel=f"step (digit position along sums of {length:,} digits)",
            ylabel="mean hidden-state norm", title="hidden-state norm along one sum, from zeros")
    ax2.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax2.yaxis.set_minor_formatter(matplotlib.ticker.ScalarFormatter())
    ax2.legend(fontsize=7, ncol=n, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    for a in (ax, ax2):
        a.grid(alpha=0.3)
    save(fig, path, result["title"], result)


def probe_section(result):
    layers = result["series"][0]["extra"][0]["layers"]
    lines = header(result) + [
        "Linear probe (logistic regression on one layer's state after step t, fitted on half of the held-out sums, "
        "scored on the other half), mean over seeds: the carry coming into step t / the carry step t passes on "
        "(chance is the share of the majority bit, about 0.5). Norm: mean state norm of the last layer along one "
        "sum from a zero state.", "",
        "| cell | " + " | ".join(f"layer {li}: in / out" for li in layers) + " | PCA 2-D variance share | "
        "norm at step 10 | norm at last step |", "|---" + "|---" * len(layers) + "|---|---|---|"]
    for s in result["series"]:
        ex = s["extra"]
        probes = [f"{np.mean([e['probe_carry_in'][i] for e in ex]):.4f} / "
                  f"{np.mean([e['probe_carry_out'][i] for e in ex]):.4f}" for i in range(len(layers))]
        steps = ex[0]["norm"]["steps"]
        at10 = min(range(len(steps)), key=lambda i: abs(steps[i] - 10))
        n10, nlast = (np.mean([np.inf if e["norm"]["per_layer"][-1][i] is None else e["norm"]["per_layer"][-1][i]
                               for e in ex]) for i in (at10, -1))  # None: overflowed
        share = np.mean([e["pca"]["variance_share"] for e in ex])
        lines.append(f"| {s['label']} | " + " | ".join(probes) + f" | {share:.2f} | {n10:.3g} | {nlast:.3g} "
                     f"(step {steps[-1]:,}) |")
    ratios = []
    for s in result["series"]:
        first = [e["norm"]["per_layer"][-1][0] for e in s["extra"]]
        last = [e["norm"]["per_layer"][-1][-1] for e in s["extra"]]
        ok = [b / a for a, b in zip(first, last, strict=False) if a and b is not None]
        ratios.append(f"{s['label']} {np.mean(ok):.2f}" if len(ok) == len(first) else f"{s['label']} overflowed")
    steps = result["series"][0]["extra"][0]["norm"]["steps"]
    lines += ["", f"Last-layer norm at step {steps[-1]:,} over its norm at step {steps[0]} (drift along the sum): "
              + ", ".join(ratios) + "."]
    best = {s["label"]: max(np.mean([e["probe_carry_out"][i] for e in s["extra"]]) for i in range(len(layers)))
            for s in result["series"]}
    readable = [k for k, v in best.items() if v >= READABLE]
    others = [k for k in best if k not in readable]
    lines += ["", "Best layer's probe accuracy for the carry passed on: "
              + ", ".join(f"{k} {v:.4f}" for k, v in best.items()) + ". "
              + (f"In {', '.join(readable)} the carry is linearly readable (>= {READABLE}) from a state the layer "
                 f"computes itself from a zero start: the recurrence inside one sum is where it lives, not the state "
                 f"passed in before the units digit." if readable else
                 f"In no cell does a linear probe read the carry at {READABLE} or better.")
              + (f" In {', '.join(others)} it is not linearly readable at that level." if readable and others else "")]
    return lines + footer(result)
