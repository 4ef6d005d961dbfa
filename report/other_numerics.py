"""Verdicts under another numerics family: does a verdict survive a last-bit change of every matmul?

Training is chaotic: the same seed under another numerics family (machinery/numerics.py: `pinned`, `native`) gives
other weights and other curves. So the claim experiments can be trained again in another family,

    python source.py --numerics pinned --out plots/families/pinned-intel pt_main hidden_mode_len5 ...

and the report then judges every claim on those results too and says, claim by claim, whether its verdict moved.
A verdict that moves rests on the last bits of the arithmetic, not on the learning it describes.
"""
import json
from pathlib import Path

FOLDER = "families"  # under the result folder: one subfolder of result JSONs per other numerics family


def load(folder, ids):
    """The results of one other family's folder, ({experiment id: result} in the study's order, damaged files)."""
    out, damaged = {}, []
    for eid in ids:
        path = Path(folder) / f"{eid}.json"
        if path.exists():
            try:
                out[eid] = json.loads(path.read_text())
            except (OSError, ValueError):  # a damaged file is named by the section, not a crash
                damaged.append(path.name)
    return out, damaged


def verdict_word(verdict):
    """The verdict without its qualifier: "mixed (fragile: 2 of ...)" -> "mixed"."""
    return verdict.split(" (")[0]


def lines(out_dir, verdicts, ids, settle):
    """The report section: per other family, each claim's verdict here and there; [] when none was trained.

    verdicts: this study's {claim id: (parts, notes, verdict)}, already judged; settle(results) -> (such a dict,
    ...) as report/claims.py's settled(), for the other family's results."""
    folders = sorted(p for p in (Path(out_dir) / FOLDER).glob("*") if p.is_dir())
    if not folders:
        return []
    here = {cid: v[2] for cid, v in verdicts.items()}
    out = ["## Verdicts under another numerics family", "",
           "The claim experiments trained again under another numerics family (other kernels: other last bits of "
           "every matmul, so other weights from the same seeds), judged by the same rules. A verdict that moves "
           "rests on the arithmetic's last bits.", ""]
    for folder in folders:
        other, damaged = load(folder, ids)
        families = sorted({(r.get("fingerprint") or {}).get("numerics", "unrecorded") for r in other.values()})
        there = {cid: v[2] for cid, v in settle(other)[0].items()} if other else {}
        judged = [c for c in here if there.get(c) not in (None, "-")]
        moved = [c for c in judged if verdict_word(there[c]) != verdict_word(here[c])]  # a qualifier alone is no move
        requal = [c for c in judged if c not in moved and there[c] != here[c]]
        out += [f"**{folder.name}** ({', '.join(families) or 'no results'}; {len(other)} experiments): "
                f"{len(judged) - len(moved)} of {len(judged)} verdicts the same"
                + (", moved: " + "; ".join(f"{c} {here[c]} -> {there[c]}" for c in moved) if moved else "")
                + ("; the same verdict with another qualifier: " + "; ".join(f"{c} {here[c]} -> {there[c]}"
                                                                            for c in requal) if requal else "")
                + (f" (damaged, not read: {', '.join(damaged)})" if damaged else "") + ".", ""]
    return out
