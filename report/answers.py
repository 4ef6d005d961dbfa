"""The claims on the page: one short line per claim first (its verdict, the one number that decides it, why), then
how a part is decided, the full table, and each claim's notes. Every line is kept under MAX_LINE characters.

It reads the verdicts report/robust.py settled ({claim id: (parts, notes, verdict)}) and the claims' texts; it
judges nothing itself.
"""
from judge import stats
from judge.parts import AGAINST, DELAY, HOLDS, NOT_COUNTED, PLAN
from report.robust import flip_text

MAX_LINE = 300  # characters: no line of the report longer (a table row is shortened, prose wrapped)
HEADER = ("| # | part | test | margin | statistic | p (Holm within the claim) | half run | leave one seed out "
          "| outcome |")


def deciding(parts, verdict):
    """The part whose number decides the verdict: for confirmed the weakest holding part, for refuted or mixed the
    strongest part against, otherwise the undecided part nearest a decision."""
    counted = [p for p in parts if p.outcome not in NOT_COUNTED]
    if not counted:
        return None

    def strength(p):
        return min(p.adjusted) if p.adjusted else 1.0

    held = [p for p in counted if p.outcome.startswith(HOLDS)]
    against = [p for p in counted if p.outcome in AGAINST]
    if verdict.startswith("confirmed"):
        return max(held, key=strength)
    if against:
        return min(against, key=strength)
    undecided = [p for p in counted if p.outcome == "undecided"]
    return min(undecided or counted, key=strength)


def clip(text, limit):
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def short_p(p):
    """'Holm p = 0.006' for the test that decided the part, else for its smallest adjusted p-value."""
    adj = p.adjusted or p.raw()
    i = next((i for i, q in enumerate(adj) if q < stats.ALPHA), min(range(len(adj)), key=adj.__getitem__))
    return f"{p.tests[i][0]}, Holm p " + ("< 0.001" if adj[i] < 1e-3 else f"= {adj[i]:.3f}")


def answer_line(cid, plain, parts, verdict, stale=()):
    """'- **C2** none beats carry ...: **mixed**. carry about 4x slower: contradicted, 15.7x [15.2x, 16.3x] (...)';
    stale: the results it reads that other code made (named first, so no reader takes the verdict as current)."""
    counted = [p for p in parts if p.outcome not in NOT_COUNTED]
    held = sum(p.outcome.startswith(HOLDS) for p in counted)
    old = f" *(from stale results: {', '.join(f'`{e}`' for e in stale)})*" if stale and parts else ""
    head = f"- **{cid}** {plain}: **{verdict}**{old}" + (f", {held} of {len(counted)} parts hold" if counted else "")
    p = deciding(parts, verdict)
    if p is None:
        return clip(head + ".", MAX_LINE)
    why = f"{p.text}: {p.outcome}, {p.headline}" + (f" ({short_p(p)})" if p.tests else "")
    return clip(f"{head}. {why}.", MAX_LINE)


def rule_lines(sizes):
    """How a part and a verdict are decided (ANALYSIS_PLAN.md), as short bullets."""
    a = f"{stats.ALPHA:g}"
    fam = ", ".join(f"{c} {m}" for c, m in sizes.items() if m)
    return [
        f"How a part is decided (ANALYSIS_PLAN.md, **plan {PLAN}**; the numbers below are from every seed of each "
        "experiment, the counts and degrees of freedom saying how many):",
        "",
        "- Settings of one experiment share seeds, so a comparison is paired by seed: a paired t-test on learning "
        "speed (mean exact-match accuracy over the evaluations), Welch's test where no seeds are shared.",
        "- First exact steps: a paired sign test, \"never\" censored at the cap (it is later than any step; both "
        "never is a tie). Rates: exact binomial test of 1/2. Ratios: t on log ratios.",
        f"- Margin: a {DELAY}-step delay (half the 50-step evaluation interval the source's figures are read on), "
        f"i.e. {DELAY}/S in learning speed for runs of S steps. A claimed likeness holds only when TOST shows it.",
        "- A claimed difference holds when the test shows it; shown but within the margin it reads *holds (smaller "
        "than the margin)*; shown within the margin and not different it is *alike* (against the claim).",
        f"- Family: every test of one claim, Holm-adjusted together (level {a} per claim; tests per claim: {fam}). "
        "Across ten claims at most 0.5 verdicts are expected to hold a false decision.",
        "- Verdict: **confirmed** all counted parts hold; **refuted** none holds, some against; **mixed** some hold, "
        "some against; **partly confirmed** some hold, none against; **undecided** none decided.",
        "- Run length: the estimate on runs cut to half; a decided part whose half-run estimate points the other way "
        "or shrinks into the margin is marked; the verdict word stays.",
        "- Leave one seed out, Holm multipliers held fixed: one or two flipping seeds are named with the direction; "
        "more read *borderline* (a p-value near its threshold).",
        "- Seeds needed (undecided parts): for 80% power at the claim's Bonferroni level, if the estimate and spread "
        "were the truth.",
        "",
    ]


def _cell(text, limit):
    return clip(str(text).replace("|", "/"), limit)


def _half(p):
    if p.half is None or p.half.estimate is None:
        return "-"
    mark = "**does not support**" if p.run_length else "supports" if p.outcome not in ("undecided",) else "-"
    return f"{mark} ({p.half.estimate:+.3g})" if mark != "-" else f"({p.half.estimate:+.3g})"


def table_rows(cid, parts):
    rows = []
    for i, p in enumerate(parts):
        loo = "-" if p.flips is None or p.n is None else flip_text(p.flips, p.n)
        cells = [cid if i == 0 else "", _cell(p.text, 90), _cell(p.test, 40), _cell(p.margin, 30), "",
                 _cell(p.p_text(), 60), _half(p), _cell(loo, 60), f"*{p.outcome}*"]
        room = MAX_LINE - len("| " + " | ".join(cells) + " |")
        cells[4] = _cell(p.stat, max(40, room))  # the full statistic is in the claim's notes when cut
        over = len("| " + " | ".join(cells) + " |") - MAX_LINE
        if over > 0:  # the part's text gives way too (the notes hold it whole)
            cells[1] = _cell(p.text, max(30, len(cells[1]) - over))
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def note_line(cid, parts, extra):
    """A claim's notes: extra[0] (the claim and its rule), margins' reasons, what undecided parts need, the full
    statistics a table row cut, then the rule's own notes (extra[1:])."""
    bits = list(extra[:1])  # the claim and its rule first
    bits += [f"{p.text}: margin {p.why}" for p in parts if p.why]
    bits += [f"{p.text}: {p.note()}" for p in parts if p.note()]
    bits += [f"{p.text}: {p.stat}" for p in parts if len(p.stat) > 120 or len(p.text) > 60]
    bits += list(extra[1:])
    return f"- **{cid}.** " + "; ".join(bits) + "." if bits else ""


def lines(claims, plain, verdicts, sizes, source_notes, stale=None):
    """The claims' part of the report: (one line per claim, then the rules, the table and the notes); stale:
    {claim id: the results it reads that other code made}."""
    stale = stale or {}
    first = [answer_line(c[0], plain.get(c[0], c[1]), verdicts[c[0]][0], verdicts[c[0]][2], stale.get(c[0], ()))
             for c in claims]
    out = [*rule_lines(sizes), "### All parts", "", HEADER, "|---" * 9 + "|"]
    notes = []
    for claim in claims:
        cid, text, rule = claim[:3]
        parts, extra, found = verdicts[cid]
        if not parts:
            out.append(f"| {cid} | {_cell('; '.join(extra), 200)} | - | - | - | - | - | - | **{found}** |")
            extra = []
        out += table_rows(cid, parts)
        if source_notes.get(cid):
            extra = [*extra, f"*source's figure:* {source_notes[cid]}"]
        line = note_line(cid, parts, [f"claim: {text}; rule: {rule}; verdict: {found}", *extra])
        if line:
            notes.append(line)
    return first, out + ["", "### Notes per claim", "", *notes]
