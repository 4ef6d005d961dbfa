"""Verdicts under another numerics family: does a verdict survive a last-bit change of every matmul?

Training is chaotic: the same seed under another numerics family (machinery/numerics.py: `pinned`, `native`) gives
other weights and other curves. So the claim experiments can be trained again in another family,

    python source.py --numerics pinned --out plots/families/pinned-intel pt_main hidden_mode_len5 ...

and the report then judges every claim on those results too and says, claim by claim, whether its verdict moved.
A verdict that moves rests on the last bits of the arithmetic, not on the learning it describes.
"""
import json
import statistics
from pathlib import Path

FOLDER = "families"  # under the result folder: one subfolder of result JSONs per other numerics family
DIFFER_R = 0.9  # a series "really differs" when its per-seed learning speeds correlate below this across families


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


def _speeds(series):
    return [statistics.fmean(a if a is not None else 0.0 for a in c) if c else 0.0 for c in series["accuracy"]]


def _r(xs, ys):
    """Pearson r of two equal-length lists; None when either does not vary."""
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return statistics.correlation(xs, ys)


def sameness(here, there):
    """How far another family's curves are from these: {experiment: (bitwise-equal seed curves, seed curves,
    [(series label, r of per-seed learning speeds)])}, series matched by settings and seeds by id."""
    out = {}
    for eid, other in there.items():
        mine = here.get(eid)
        if not mine or not isinstance(other.get("series"), list):
            continue
        equal = total = 0
        rs = []
        for s in other["series"]:
            t = next((x for x in mine.get("series", []) if x.get("settings") == s.get("settings")), None)
            if t is None:
                continue
            ids = [x for x in s["seeds"] if x in t["seeds"]]
            a = [s["accuracy"][s["seeds"].index(x)] for x in ids]
            b = [t["accuracy"][t["seeds"].index(x)] for x in ids]
            equal, total = equal + sum(x == y for x, y in zip(a, b, strict=True)), total + len(ids)
            if any(x != y for x, y in zip(a, b, strict=True)):
                rs.append((s["label"], _r(_speeds({"accuracy": a}), _speeds({"accuracy": b}))))
            elif ids:
                rs.append((s["label"], "identical"))
        out[eid] = (equal, total, rs)
    return out


def sameness_line(same):
    """One line: how many curves are bitwise portable's, and which experiments really differ."""
    equal, total = sum(v[0] for v in same.values()), sum(v[1] for v in same.values())
    differ = {e: [(lab, r) for lab, r in rs if isinstance(r, float) and r < DIFFER_R] for e, (_, _, rs) in
              same.items()}
    differ = {e: v for e, v in differ.items() if v}
    whole = {e: [lab for lab, r in rs if r == "identical"] for e, (_, _, rs) in same.items()}
    whole = "; ".join(f"`{e}` {', '.join(v)}" for e, v in whole.items() if v)
    return (f"{equal} of {total} seed curves are bitwise the same as portable's"
            + (f" (every seed of: {whole})" if whole else "")
            + "; the experiments that really differ (per-seed learning speeds correlate below "
            f"r = {DIFFER_R:g} in some series): "
            + ("; ".join(f"`{e}` (" + ", ".join(f"{lab} r = {r:.3f}" for lab, r in v) + ")" for e, v in differ.items())
               or "none") + ". Elsewhere the other family retraces portable's runs, so an unchanged verdict there is "
            "not an independent replication.")


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
    mine, _ = load(out_dir, ids)
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
                + (f" (damaged, not read: {', '.join(damaged)})" if damaged else "") + ".", "",
                sameness_line(sameness(mine, other)), ""]
    return out
