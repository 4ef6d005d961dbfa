"""The source report's claims C1-C10 (EXPERIMENTS.md): each with its rule in plain words, the experiments it needs
and its evaluator (report/rules_task.py: C1-C5, report/rules_training.py: C6-C10), judged one by one
(judge_claim) and as a family (settled: report/robust.py adjusts the family of tests by Holm, re-judges every part
on runs cut to half their length and with each seed left out), and the claims' part of the page (claims_table,
unseen_lines). A claim whose premise an edit removed is "not judged" with the reason, never a traceback."""
import statistics

from report import answers, fidelity, robust
from report.rules import NotJudged
from report.rules_task import ABOUT, C1_STEPS, CARRY_SLOWDOWN, c1, c2, c3, c4, c5
from report.rules_training import C9_EARLY, c6, c7, c8, c9, c10

PILOT_SEEDS = 10  # seeds 0..9 were seen while ANALYSIS_PLAN.md was written (its pilot)

CLAIMS = [  # (id, claim, rule in plain words, experiments needed, evaluator)
    ("C1", "the RNN reaches accuracy 1.0 within 200 steps at maxlen 10 (§2.2)",
     f"most seeds exact by step {C1_STEPS} (binomial test of 1/2), on the fixed evaluation batch and on fresh sums "
     "at each evaluation (the source's metric)", ["pt_main"], c1),
    ("C2", "at maxlen 5 `none` learns faster than `carry`; at maxlen 50 they are alike; `carry` is ~4x slower "
           "per step (§2.3.1)",
     "learning speed: none above carry at maxlen 5 (paired t), alike at maxlen 50 (TOST); the source code's "
     "undetached step over a one-batch step (`cost_to_exact`): above 1x (slower) and within "
     f"[{ABOUT[0]:.2f}x, {ABOUT[1]:.2f}x] (about {CARRY_SLOWDOWN:g}x); the wall-clock ratio is shown, not judged",
     ["hidden_mode_len5", "hidden_mode_len50"], c2),
    ("C3", "without the RNN (embedding + linear) the task is not learned (§2.3.2)",
     "no-RNN final exact-match accuracy 0 on every seed (by construction where the test split forces the top "
     "digit); per-digit accuracy below the top digit below the RNN's (paired t)", ["no_rnn"], c3),
    ("C4", "with 1 layer the three hidden modes are alike (§2.3.2)",
     "learning speed of every pair of modes alike (TOST)", ["hidden_mode_1layer"], c4),
    ("C5", "short numbers learn slower; gains saturate around maxlen 50-70 (§3.1)",
     "learning speed: the shortest maxlen below the longest, on the report's split and on held-out sums from the "
     "training range (`maxlen_control`); the two longest alike (TOST)", ["maxlen"], c5),
    ("C6", "lr > 0.01 oscillates, 0.1 and 0.5 diverge to NaN; the step schedule reaches 1.0 first (§3.2)",
     "lr >= 0.1: most seeds diverge (binomial test of 1/2); each lr in (0.01, 0.1): summed accuracy drops above "
     "the largest lr <= 0.01's (paired t); the schedule's first exact step before every constant lr's (sign tests)",
     ["lr"], c6),
    ("C7", "more layers learn slower (§3.3)", "learning speed drops with each added layer (each consecutive pair)",
     ["layers"], c7),
    ("C8", "a zero initial hidden state learns best (§3.4)", "learning speed of zero above each other h0_init",
     ["h0_init"], c8),
    ("C9", "rnn/tanh and GRU are best; LSTM is slower (§3.5)",
     "rnn/tanh converges first (first exact step before each other cell's, sign test, never censored); GRU rises "
     f"fastest early (learning speed over the first {C9_EARLY:.0%} of steps, above each other cell); LSTM slower "
     "than GRU (learning speed)", ["cells"], c9),
    ("C10", "the hidden-state mode does not interact with depth (§3.3.3)",
     "per seed, the slope over depth of the zero-minus-carry gap in learning speed alike with 0 (TOST, a 25-step "
     "delay per added layer)", ["layers", "layers_zero"], c10),
]
PLAIN = {  # each claim in a few plain words, for the report's first section
    "C1": "reaches exact sums within 200 steps (maxlen 10)",
    "C2": "no state beats carried state at 5 digits, ties at 50; carry ~4x slower per step",
    "C3": "without recurrence the task is not learned",
    "C4": "with one layer the state modes are alike",
    "C5": "short numbers learn slower; gains level off at 50-70 digits",
    "C6": "lr above 0.01 oscillates, 0.1/0.5 blow up; the step schedule is first",
    "C7": "more layers learn slower",
    "C8": "a zero initial state learns best",
    "C9": "tanh RNN and GRU are best, LSTM slower",
    "C10": "state mode and depth do not interact",
}


ALSO_READS = {"C2": ["cost_to_exact"], "C5": ["maxlen_control"], "C7": ["heat_layers_mode"]}  # results a rule reads
# when they are there (a part or a note), beside the ones it needs: a stale one marks the claim's answer too

PREMISE_ERRORS = (KeyError, IndexError, ValueError, TypeError, StopIteration, ZeroDivisionError,
                  statistics.StatisticsError)  # what a rule raises when its result lacks what it reads


def judge_claim(results, claim):
    """(parts, notes, fixed verdict or None) of one claim, before the family is adjusted (report/robust.py);
    a missing experiment or premise gives no parts, one note and "-" or "not judged"."""
    cid, _, _, needs, fn = claim
    missing = [n for n in needs if n not in results]
    if missing:
        return [], [f"not run yet ({', '.join(missing)})"], "-"
    try:
        return fn(results)
    except NotJudged as e:
        return [], [f"{cid} not judged: {e}"], "not judged"
    except PREMISE_ERRORS as e:  # a premise no NotJudged check foresaw: still one line, never a traceback
        return [], [f"{cid} not judged: its results lack what the rule reads ({type(e).__name__}: {e})"], "not judged"


def settled(results):
    """{claim id: (parts, notes, verdict)} after the family adjustment, half-length and leave-one-out checks."""
    return robust.settle(results, CLAIMS, judge_claim)


def seed_ns(results, claims=CLAIMS):
    """The sorted seed counts of the series of the experiments these claims need."""
    return sorted({len(s.get("seeds") or []) for c in claims for e in c[3] if e in results
                   for s in results[e].get("series", [])})


def seed_counts(results):
    """'n = 10 seeds' (or 'n = 10-30 seeds') over the claims' experiments."""
    ns = seed_ns(results)
    return "no results" if not ns else f"n = {ns[0]} seeds" if len(ns) == 1 else f"n = {ns[0]}-{ns[-1]} seeds"


def _words(results):
    """{claim id: verdict word} judged on `results` (Holm within each claim; no run-length or leave-one-out check)."""
    there, _ = robust.judged(results, CLAIMS, judge_claim)
    return {cid: fixed or robust.claim_verdict(parts) for cid, (parts, _, fixed) in there.items()}


def rounds(results):
    """{claim id: verdict word} on the pilot's seeds 0..PILOT_SEEDS-1 alone and on the later seeds alone (judged
    once, for unseen_lines and pilot_table); None when no claim's results hold seeds beyond the pilot."""
    later = robust.unseen(results, PILOT_SEEDS)
    if later == results:
        return None
    return _words(robust.unseen(results, PILOT_SEEDS, later=False)), _words(later)


def unseen_lines(verdicts, judged_rounds):
    """Where the claims' results hold seeds beyond the pilot's (ANALYSIS_PLAN.md: seeds 0..PILOT_SEEDS-1 were seen
    while it was written): each verdict on the unseen seeds alone beside the one on all seeds; [] otherwise.
    judged_rounds: rounds(results)."""
    if judged_rounds is None:
        return []
    words = judged_rounds[1]
    moved = [f"{cid} {verdicts[cid][2]} -> {words[cid]}" for cid in words
             if words[cid].split(" (")[0] != verdicts[cid][2].split(" (")[0]]
    return [f"Seeds 0-{PILOT_SEEDS - 1} were the pilot the plan was written after; on the later seeds alone "
            + ("every verdict is the same." if not moved else "these verdicts differ: " + "; ".join(moved) + "."), ""]


def pilot_table(results, verdicts, judged_rounds):
    """Each claim's verdict on the pilot's seeds alone, on the later seeds alone and on all (the before and after of
    the thirty-seed round, under one plan); [] when no claim's results hold seeds beyond the pilot.
    judged_rounds: rounds(results)."""
    if judged_rounds is None:
        return []
    pilot, fresh = judged_rounds
    ns = {c[0]: seed_ns(results, [c]) for c in CLAIMS}
    rows = [f"| {cid} | {'/'.join(map(str, ns[cid])) or '-'} | {pilot[cid]} | "
            f"{fresh[cid] if any(n > PILOT_SEEDS for n in ns[cid]) else '(no later seeds)'} | {verdicts[cid][2]} |"
            for cid in verdicts]
    return ["### The pilot and the later seeds", "",
            f"Each claim judged by the same plan on seeds 0-{PILOT_SEEDS - 1} alone (the pilot it was written after), "
            "on the later seeds alone and on all (the verdict above, with its run-length and leave-one-out checks):",
            "", f"| claim | seeds | seeds 0-{PILOT_SEEDS - 1} | later seeds alone | all seeds |",
            "|---|---|---|---|---|", *rows, ""]


def claims_table(results, judged=None, stale=()):
    """The claims' sections: (one line per claim, then the rules, the table of parts and the notes), as
    report/answers.py writes them; judged: settled(results), if made; stale: the ids of results made by other code
    (a claim that reads one says so on its line)."""
    verdicts, sizes = judged or settled(results)
    try:
        notes = fidelity.claim_notes(results)  # where the source's own figure reads differently
    except PREMISE_ERRORS:  # an edit removed what a note compares: the claims stand without the notes
        notes = {}
    reads = {c[0]: [e for e in [*c[3], *ALSO_READS.get(c[0], ())] if e in stale] for c in CLAIMS}
    return answers.lines(CLAIMS, PLAIN, verdicts, sizes, notes, reads)
