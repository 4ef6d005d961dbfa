"""hidden_size_min: the smallest hidden size that still learns maxlen 10 within the step budget.
Summary, chart and report section (the runs themselves stop at their first exact evaluation).
"""
import json
import statistics

import numpy as np

from models import cell_label
from plot import footer, header, plt


def cell_name(settings):
    """'rnn/tanh', 'lstm': the cell (and for rnn its nonlinearity) of a series' settings."""
    return cell_label(settings["cell"], settings["nonlinearity"])


def size_table(result):
    """cell name -> {hidden_size: (successes, seeds, median first exact or None)}.

    Rows are the series' settings other than hidden_size (read from the settings, not the labels), named by cell.
    """
    rows, table = {}, {}
    for s in result["series"]:
        rest = json.dumps({k: v for k, v in s["settings"].items() if k != "hidden_size"}, sort_keys=True)
        name = rows.setdefault(rest, cell_name(s["settings"]))
        hit = [f for f in s["first_exact"] if f is not None]
        table.setdefault(name, {})[s["settings"]["hidden_size"]] = (
            len(hit), len(s["first_exact"]), statistics.median(hit) if hit else None)
    return table


def all_sizes(table):
    """Every hidden size of any row, ascending (a row lacking one shows '-')."""
    return sorted({h for row in table.values() for h in row})

def minimal_size(row, success):
    """Smallest hidden size whose fraction of successful seeds is >= success (experiments.SIZE_SUCCESS)."""
    return next((h for h in sorted(row) if row[h][0] / row[h][1] >= success), None)


def size_chart(result, path):
    table = size_table(result)
    cells, sizes = list(table), all_sizes(table)
    frac = np.array([[table[c][h][0] / table[c][h][1] if h in table[c] else np.nan for h in sizes] for c in cells])
    fig, ax = plt.subplots(figsize=(1.2 * len(sizes) + 3, 0.8 * len(cells) + 2))
    im = ax.imshow(frac, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for r, c in np.ndindex(frac.shape):
        if sizes[c] not in table[cells[r]]:
            continue
        ok, n, med = table[cells[r]][sizes[c]]
        ax.text(c, r, f"{ok}/{n}" + (f"\n{med:g} steps" if med else ""), ha="center", va="center", fontsize=8,
                color="white" if frac[r, c] < 0.6 else "black")
    ax.set_xticks(range(len(sizes)), [str(h) for h in sizes])
    ax.set_yticks(range(len(cells)), cells)
    ax.set(xlabel="hidden units per layer", title=result["title"])
    fig.colorbar(im, ax=ax, label="fraction of seeds reaching accuracy 1.0\n(cell: seeds, median first exact step)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

def size_section(result, success):
    """hidden_size_min's part of plots/README.md; success: the fraction of seeds a size needs (SIZE_SUCCESS)."""
    table = size_table(result)
    sizes = all_sizes(table)
    cap = result["series"][0]["settings"]["steps"]
    lines = header(result) + [
        f"Seeds reaching exact accuracy within {cap} steps (median first exact step) per hidden size; "
        f"minimal size = smallest with at least {success:.0%} of seeds succeeding.", "",
        "| cell | minimal size | smallest with any seed | " + " | ".join(f"h={h}" for h in sizes) + " |",
        "|---|---|---" + "|---" * len(sizes) + "|"]
    for cell, row in table.items():
        m, any_seed = minimal_size(row, success), minimal_size(row, 1e-9)
        cells = [f"{row[h][0]}/{row[h][1]}" + (f" ({row[h][2]:g})" if row[h][2] else "") if h in row else "-"
                 for h in sizes]
        lines.append(f"| {cell} | {m if m else 'none'} | {any_seed if any_seed else 'none'} | "
                     + " | ".join(cells) + " |")
    return lines + footer(result)
