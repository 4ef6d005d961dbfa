"""plots/README.md, generated from the result JSONs: every number in it is read from them.

Per experiment: its chart, its constants and a table of headline numbers. Then the source
report's claims C1-C10 (EXPERIMENTS.md), each split into parts, each part judged by one rule of
judge/parts.py (tests: judge/stats.py) and shown with its test, margin and statistic; report/robust.py adjusts
the family of tests (Holm), re-judges every part on runs cut to half their length and with each seed left out.
The claims live in report/claims.py, their rules in report/rules_task.py and report/rules_training.py; the
vocabulary, the robustness checks and the findings across experiments beside them.

"Learning speed" below is the area under the accuracy curve: the mean over seeds and over
evaluation points of exact-match test accuracy (a diverged seed counts 0 from its divergence on),
so 1.0 means exact from the first evaluation and 0 means never right.

Settings of one experiment share seeds, so comparisons are paired seed by seed (judge/stats.py says which
test and why); "alike" is equivalence within the plan's margin. A claim whose premise an edit removed (a cell,
a value, an init no longer in the constants) is reported as "not judged" with the reason, never a
traceback. Every sentence that states a finding is computed from the stored numbers, and series are
found by their settings (stats.find_series), never by their label.
"""
import hashlib
import json
import textwrap
from importlib import metadata
from pathlib import Path

import experiments
from judge.parts import (
    PLAN,
)
from machinery import fingerprint, plans, runner
from report import answers, fidelity, findings, margins, other_numerics
from report.claims import PREMISE_ERRORS, claims_table, pilot_table, rounds, seed_counts, settled, unseen_lines


def wrap(lines, width=answers.MAX_LINE - 60):
    """Prose lines longer than answers.MAX_LINE wrapped (a bullet's continuation indented); table rows are kept."""
    out = []
    for line in lines:
        if len(line) <= answers.MAX_LINE or line.startswith("|"):
            out.append(line)
            continue
        indent = "  " if line.lstrip().startswith(("- ", "* ")) else ""
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
    return out


NAMED = 4  # definitions named per stale result beyond the shared ones (the rest counted): the page stays readable


def stale_results(results):
    """{id: the definitions changed since it was made} of every shown result made by other code than the current."""
    hooks = runner.every_hook()
    return {eid: files for eid, r in results.items() if (files := fingerprint.stale_files(r, hooks))}


def stale_lines(results, stale=None):
    """A warning naming every shown result made by other code than the current one (empty when none is)."""
    stale = stale_results(results) if stale is None else stale

    def some(files):
        return ", ".join(files[:NAMED]) + (f" and {len(files) - NAMED} more definitions" if len(files) > NAMED else "")

    def why(files, named=True):  # named: at most NAMED of them (a shared change is named in full, once)
        if files == ["unknown"]:
            return "made before code fingerprints were recorded"
        return f"{some(files) if named else ', '.join(files)} changed"

    if not stale:
        return []
    head = "**Stale results:** made by other code than the current one (rerun `python source.py` to update): "
    first = next(iter(stale.values()))
    common = [f for f in first if f != "unknown" and all(f in files for files in stale.values())]
    if len(stale) < 3 or not common:
        return [head + "; ".join(f"`{eid}` ({why(files)})" for eid, files in stale.items()) + ".", ""]
    extra = {eid: [f for f in files if f not in common] for eid, files in stale.items()}
    besides = "; ".join(f"`{eid}` also {some(rest)}" for eid, rest in extra.items() if rest)
    return [head + f"all {len(stale)} of them ({', '.join(f'`{e}`' for e in stale)}): {why(common, named=False)}"
            + (f". Besides: {besides}" if besides else "") + ".", ""]


def numerics_lines(results):
    """Which numerics family made the numbers shown (machinery/numerics.py), and what that family is."""
    made = {}
    for eid, r in results.items():
        made.setdefault((r.get("fingerprint") or {}).get("numerics", "unrecorded"), []).append(eid)
    if not made:
        return []
    described = next((r["numerics"] for r in results.values() if isinstance(r.get("numerics"), dict)), None)
    what = ("" if described is None else f" ({described.get('vendor')} CPU: ATen {described.get('aten')}, MKL "
            f"{described.get('mkl')}, oneDNN {'on' if described.get('onednn') else 'off'}, probe "
            f"{described.get('probe')})")
    if len(made) == 1:
        family = next(iter(made))
        return [f"Numbers made in numerics family **{family}**{what}. The default family, `portable`, gives the same "
                "bits on every x86-64 CPU with AVX2, Intel or AMD (`machinery/numerics.py`).", ""]
    return ["Numbers made in more than one numerics family (`machinery/numerics.py`): "
            + "; ".join(f"**{f}**: {', '.join(f'`{e}`' for e in eids)}" for f, eids in made.items()) + ".", ""]


def safe_section(result):
    """The experiment's report section; one line instead when its result lacks what the section reads."""
    try:
        return plans.section(experiments.EXPERIMENTS[result["id"]]())(result)
    except PREMISE_ERRORS + (AttributeError, ImportError) as e:
        return [f"## `{result.get('id', '?')}`: {result.get('title', '')}", "",
                f"Section not written: the result lacks what it reads ({type(e).__name__}: {e}).", ""]


ROOT = Path(__file__).resolve().parents[1]  # the project: its modules decide the page (rules, charts, staleness)
RECORD = ".report.json"  # beside the page (gitignored): what it was made of, so an unchanged page is not remade


def made_of(out_dir, quick):
    """A digest of everything the page is made of: the JSONs it reads under out_dir (the results, the other numerics
    families'), every project module (the rules, the charts, the fingerprint that marks a result stale), the versions
    that compute or draw it and the numerics family. Reading them costs milliseconds; judging them, seconds."""
    h = hashlib.sha256(json.dumps([quick, fingerprint.environment(),
                                   [metadata.version(p) for p in ("scipy", "matplotlib")]]).encode())
    code = sorted(ROOT.glob("*.py")) + sorted(p for d in sorted(ROOT.glob("*/__init__.py"))
                                              if d.parent.name not in ("tests", "benchmarks")
                                              for p in d.parent.rglob("*.py"))
    data = sorted(p for p in out_dir.glob("*.json") if p.name != RECORD)
    data += sorted((out_dir / other_numerics.FOLDER).rglob("*.json"))
    for base, files in ((ROOT, code), (out_dir, data)):
        for f in files:
            h.update(f"{f.relative_to(base)}\0".encode() + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _made(out_dir):
    """sha256 of the page and of the margins chart as they are on disk (None: absent)."""
    return {name: hashlib.sha256(p.read_bytes()).hexdigest() if (p := out_dir / name).is_file() else None
            for name in ("README.md", margins.CHART)}


def up_to_date(out_dir, key):
    """Whether out_dir's page was made of `key` and is, with its chart, as it was written (not edited or deleted)."""
    try:
        record = json.loads((out_dir / RECORD).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("inputs") == key and record.get("made") == _made(out_dir) \
        and record["made"]["README.md"] is not None


def write_report(out_dir, quick=False, reuse=False):
    """Judge the results in out_dir and write its README.md (and margins chart). reuse: leave an unchanged page as
    it is (made_of, up_to_date: the same results, code and versions make the same bytes; a no-op rerun)."""
    out_dir = Path(out_dir)
    key = made_of(out_dir, quick)
    if reuse and up_to_date(out_dir, key):
        return None
    results = {}
    for eid in experiments.EXPERIMENTS:  # the study's order, so the report reads like the study
        path = out_dir / f"{eid}.json"
        if path.exists():
            results[eid] = json.loads(path.read_text())
    judged, stale, seen = settled(results), stale_results(results), rounds(results)
    first, detail = claims_table(results, judged, stale)
    lines = ["# Results", "",
             "Generated by `python source.py` from the JSON files beside this page; do not edit by hand."
             + (" **Quick mode: tiny settings, not the study's results.**" if quick else ""), "",
             f"## The source report's claims: answers (plan {PLAN}, {seed_counts(results)})", "",
             *first, "", *unseen_lines(judged[0], seen),
             "Learning speed = mean exact-match test accuracy over all evaluations and seeds (area under the "
             "accuracy curve, 1.0 = exact from the first evaluation). Accuracy = exact match of the whole sum on "
             "a fixed batch of held-out test sums.", "", *numerics_lines(results), *stale_lines(results, stale),
             "## The source report's claims: how they were judged", ""]
    lines += detail + [""] + pilot_table(results, judged[0], seen) + margins.lines(judged[0], judged[1], out_dir)
    try:
        lines += fidelity.section(results)
    except PREMISE_ERRORS as e:
        lines += ["## Source code vs this project", "",
                  f"Not written: the results lack what it compares ({type(e).__name__}: {e}).", ""]
    lines += findings.lines(results)
    lines += other_numerics.lines(out_dir, judged[0], list(experiments.EXPERIMENTS), settled)
    for result in results.values():
        lines += safe_section(result)
    (out_dir / "README.md").write_text("\n".join(wrap(lines)) + "\n")
    (out_dir / RECORD).write_text(json.dumps({"inputs": key, "made": _made(out_dir)}))
    return results
