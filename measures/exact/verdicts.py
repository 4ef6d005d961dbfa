"""Per-seed verdicts of exact_adder (proven / no failure found / failing), their report lines, and the certificate.

A seed's verdict names its test:
    proven             both checkers (proof.check, recheck) accepted boxes for the seed's model: every sum of every
                       length is right (the smallest such model's certificate file is kept: write_certificate)
    no failure found   it passed the worst-case suite and, where attacked, the adversarial searches found no
                       failing sum (the checks and the number of candidate sums are stated beside it)
    failing            the suite or a search found a wrong sum; its smallest failing length is the fewest digits
                       of a stored failing sum (sums.py: each is cut to its shortest failing prefix)

write_certificate() keeps plots/exact_certificate.npz (certificate.py) of the smallest proven model, and
write_certificates() one file per proven seed in plots/FOLDER: each is the certificate its hook made and the result
keeps (evaluate.certificate_text: searched, written and accepted by both checkers reading the file), written out
unchanged by keep_certificate, the one writer of a hook's certificate. The plan's "keep" step calls them
(machinery/runner.py); no chart does.
"""
import base64
import os
import statistics
from pathlib import Path

CERTIFICATE = "exact_certificate.npz"  # next to exact_adder.png in plots/
FOLDER = "exact_adder_certificates"  # in plots/: a certificate of every proven seed, <series>_seed<S>.npz


def digits_word(n):
    """'1 digit', '5 digits', '1,000 digits'."""
    return plural(n, "digit")


def plural(n, word):
    """'1 seed', '2 seeds', '1.5 rounds'."""
    return f"{n:,g} {word}" + ("" if n == 1 else "s")


def params(s):
    """Trainable parameters of the recurrent layers and the output layer (the embedding is the same for all)."""
    st = s["settings"]
    h, e, n = st["hidden_size"], st["embed_size"], st["num_layers"]
    return sum(h * ((2 * e if i == 0 else h) + h + 2) for i in range(n)) + 10 * (h + 1)


def measured(s, key):
    """[(seed, its `key` measurement)] of a series' seeds that have one ("attack", "proof", "harden")."""
    return [(seed, e[key]) for seed, e in zip(s["seeds"], s["extra"], strict=True) if e and e.get(key)]


def verdict(e):
    """'proven', 'no failure found' or 'failing' for one seed's measurement."""
    if (e.get("proof") or {}).get("proven"):
        return "proven"
    if not e["suite"]["passed"] or (e.get("attack") or {}).get("failures", 0):
        return "failing"
    return "no failure found"


def shortest_failure(e):
    """The stored failing sum of a seed with the fewest digits, suite's or attack's, or None."""
    found = [f for f in (e["suite"].get("shortest_failure"), (e.get("attack") or {}).get("shortest_failure")) if f]
    return min(found, key=lambda f: f["digits"]) if found else None


def counts(s):
    """{verdict: seeds} of a series."""
    out = {"proven": 0, "no failure found": 0, "failing": 0}
    for e in s["extra"]:
        out[verdict(e)] += 1
    return out


def smallest_failing(s):
    """Fewest digits of a failing sum over a series' seeds (suite or attack), or None."""
    return min((f["digits"] for f in map(shortest_failure, s["extra"]) if f), default=None)


def attack_words(a):
    """'4 searches x 100,000 sums at 100 and 1,000 digits' for an attack result (one search for older results)."""
    runs = a.get("runs") or [a]
    lengths = sorted({r["length"] for r in runs})
    return (f"{len(runs)} search{'es' if len(runs) > 1 else ''} of {runs[0]['candidates']:,} sums at "
            + " and ".join(f"{v:,}" for v in lengths) + " digits")


def verdict_table(result):
    """Markdown rows: per series, seeds proven / with no failure found (and by what) / failing."""
    lines = ["| series | layers x units | parameters | proven | no failure found | by | failing | smallest failing "
             "length |", "|---|---|---|---|---|---|---|---|"]
    for s in result["series"]:
        c, st = counts(s), s["settings"]
        attacked = [e["attack"] for e in s["extra"] if e.get("attack")]
        by = "suite" + (f" + {attack_words(attacked[0])} ({plural(len(attacked), 'seed')})" if attacked else "")
        small = smallest_failing(s)
        lines.append(f"| {s['label']} | {st['num_layers']} x {st['hidden_size']} | {params(s):,} | {c['proven']} | "
                     f"{c['no failure found']} | {by} | {c['failing']} | "
                     + (digits_word(small) if small is not None else "-") + " |")
    return lines


def harden_lines(result):
    """One line per hardened series: rounds, windows, seconds, accuracy after, and the proofs tried."""
    out = []
    for s in result["series"]:
        hs = [e["harden"] for e in s["extra"] if e.get("harden")]
        if not hs:
            continue
        rounds = [len(h["rounds"]) - 1 for h in hs]
        proofs = [e["proof"] for e in s["extra"] if e.get("proof")]
        certified = [p["certified_steps"] for p in proofs if not p["proven"]]
        out.append(
            f"- **{s['label']}**: {plural(statistics.median(rounds), 'fine-tuning round')} (median; "
            f"{min(rounds)}-{max(rounds)}), {statistics.median(h['sec'] for h in hs):.0f} s per seed (median); "
            f"the attack of the last round found nothing for {sum(h['found_nothing'] for h in hs)}/{len(hs)} seeds; "
            f"exact-match accuracy on 1,000 held-out test sums afterwards {min(h['accuracy'] for h in hs):.3f} "
            f"(lowest seed); {sum(h['dropped_test_range'] for h in hs)} windows fell in the test range and were "
            "dropped. Proof tried on the seeds that passed the suite: "
            + (f"{sum(p['proven'] for p in proofs)}/{len(proofs)} proven" if proofs else "none passed")
            + (f"; the others certified only for sums of at most {', '.join(map(str, sorted(certified)))} steps"
               if certified else "") + ".")
    return out


def proven_models(result):
    """[(parameters, -margin bound, series index, seed, series, its proof)] of every proven seed, best first."""
    out = [(params(s), -p["min_margin_bound"], i, seed, s, p) for i, s in enumerate(result["series"])
           for seed, p in measured(s, "proof") if p["proven"] and p.get("weights")]
    return sorted(out, key=lambda t: t[:4])


def write_certificate(result, out_dir):
    """Keep out_dir/CERTIFICATE for the smallest proven model (fewest parameters, then the widest margin bound): the
    certificate its hook made (keep_certificate). Returns the path or None."""
    best = proven_models(result)
    return keep_certificate(Path(out_dir) / CERTIFICATE, best[0][5] if best else None)


def keep_certificate(path, record):
    """The one certificate writer: `path` holds the certificate a hook made of the proven model `record` describes
    (record["certificate"]: base64 of the file; the hook searched and checked it, so nothing is proven here).

    The same bytes already there are left as they are. With no proven model (record None), or one whose certificate
    did not prove again, a file left from an earlier result is set aside as .stale (never shown as current). A
    record made before hooks kept certificates leaves the file as it is. Returns the path, or None.
    """
    path = Path(path)
    if record is not None and "certificate" not in record:  # a result from before hooks kept certificates
        return path if path.exists() else None
    text = None if record is None else record["certificate"]
    if text is None:
        if path.exists():
            path.replace(path.with_name(path.name + ".stale"))
        return None
    data = base64.b64decode(text)
    if not path.exists() or path.read_bytes() != data:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # temp file + rename: never a torn certificate
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def certificate_name(s, seed):
    """A proven seed's certificate file in FOLDER: the series label in lower-case words joined by '_', and the seed."""
    words = "".join(ch if ch.isalnum() else " " for ch in s["label"].lower()).split()
    return f"{'_'.join(words)}_seed{seed}.npz"


def write_certificates(result, out_dir):
    """Keep out_dir/FOLDER/<certificate_name> of every proven seed: the certificate its hook made (keep_certificate).
    Returns {(series label, seed): path or None}."""
    folder = Path(out_dir) / FOLDER
    out = {}
    for s in result["series"]:
        for seed, p in measured(s, "proof"):
            if p["proven"]:
                folder.mkdir(exist_ok=True)
                out[s["label"], seed] = keep_certificate(folder / certificate_name(s, seed), p)
    return out


def keep_certificates(result, out_dir):
    """The exact_adder plan's keep step: the smallest proven model's certificate and every proven seed's."""
    write_certificate(result, out_dir)
    write_certificates(result, out_dir)


def attack_lines(result):
    """Per attacked series: the searches, the smallest margin found, and the failing sums (the shortest in full)."""
    out = []
    for s in result["series"]:
        attacked = measured(s, "attack")
        if not attacked:
            continue
        failing = [(seed, a) for seed, a in attacked if a["failures"]]
        worst = min(attacked, key=lambda t: t[1]["min_margin"])
        line = (f"- **{s['label']}**, seed{'s' if len(attacked) > 1 else ''} "
                + ", ".join(str(seed) for seed, _ in attacked) + f": {attack_words(attacked[0][1])} each "
                f"({statistics.median(a['sec'] for _, a in attacked):.0f} s per seed, median); smallest margin found "
                f"{worst[1]['min_margin']:.3f} (seed {worst[0]}; the model's own forward on the worst sums). ")
        if failing:
            short = [(seed, a["shortest_failure"]) for seed, a in failing if a.get("shortest_failure")]
            line += f"**Failing sums found for {plural(len(failing), 'seed')}**" + (
                "; shortest: " + "; ".join(f"seed {seed}: `{f['sum'][:80]}` ({digits_word(f['digits'])})"
                                           for seed, f in short[:3]) if short else "") + "."
        else:
            line += "No failing sum found."
        out.append(line)
    return out


def proof_lines(result):
    """Per series with proof attempts: proven seeds, the certified lengths of the rest, and the certificate."""
    out = []
    for s in result["series"]:
        proofs = measured(s, "proof")
        if not proofs:
            continue
        proven = [seed for seed, p in proofs if p["proven"]]
        rest = [p for _, p in proofs if not p["proven"]]
        line = (f"- **{s['label']}**: proof tried on {plural(len(proofs), 'seed')} (those that passed the suite; "
                f"one box per context of the last {plural(proofs[0][1]['m'], 'pair')} and the carry, float32 rounding "
                "bounded): "
                f"{len(proven)} proven for every length"
                + (f" (seeds {', '.join(map(str, proven))})" if proven else ""))
        if rest:
            line += ("; not proven: " + ", ".join(
                f"certified only for sums of ≤ {plural(p['certified_steps'], 'step')} "
                f"({p['outputs_certified']}/{p['reached']} boxes show their digit, widest box side "
                f"{p['max_width']:.3g})" for p in rest[:3])
                + (" …" if len(rest) > 3 else ""))
        out.append(line + ".")
    best = proven_models(result)
    if best:
        _, _, _, seed, s, p = best[0]
        out.append(f"- The certificate of the smallest proven model ({s['label']}, seed {seed}; {params(s):,} "
                   f"parameters; margin bound {p['min_margin_bound']:.3g}, {p['transitions']:,} transitions) is "
                   f"written beside this page as `{CERTIFICATE}`: `python -m proof.certificate "
                   f"plots/{CERTIFICATE}` re-checks it from the file alone with two independent checkers, and "
                   f"`python add.py` adds with its model. Every proven seed's certificate is kept in `{FOLDER}/` "
                   f"(`python -m proof.certificate plots/{FOLDER}/*.npz`).")
    return out
