"""Every experiment of the study: its constants at the top, then one plain function each, and their list (EXPERIMENTS).

An experiment function trains nothing: it returns a plan (the runs to train, a label and settings each; the words of
plans: machinery/plans.py) that source.py runs for every seed, caches as plots/<id>.json and draws as plots/<id>.png.
Edit a constant and rerun `python source.py`: only the experiments whose plan changed are retrained. A constant no run
can use raises ConstantError, one line naming it, its value and what is allowed, before anything trains
(machinery/checks.py). Runs a constant singles out (LENGTH_GOAL, EXACT_ATTACK_RUNS, EXACT_PROOF_RUN) are named by
their settings, never by label text. The pilots behind the constants' values: docs/study.md.
"""
from functools import partial
from itertools import product

from machinery.plans import cell_settings, heatmap, run, selects
from measures import chains, cost, length, probe, sizes, split
from measures.exact import evaluate, exact_report, verdicts
from measures.smallest import frontier, frontier_report, small, small_report
from models import cell_label

SEEDS = 10  # runs per curve, seeds 0..SEEDS-1 (--seeds N overrides); at 5, one seed flips verdicts
CLAIM_SEEDS = 30  # seeds of the claim experiments (power calculation: ANALYSIS_PLAN.md §7); the others: SEEDS

# --- pt_main: report §2.2, the basic model ---
PT_MAIN_MAXLEN = 10  # digits per operand
PT_MAIN_LAYERS = 3  # the source code's pt_main builds myPTRNNModel(num_layers=3); pt_adv_main keeps the default 2
PT_MAIN_LR = 0.005  # Adam learning rate
PT_MAIN_STEPS = 500  # training steps of 200 sums
PT_MAIN_FRESH_SUMS = 200  # C1 under the source's evaluation: fresh held-out sums drawn at every evaluation
# --- pt_adv_main: report §3.2, the same with a step schedule ---
PT_ADV_LR = 0.025  # initial learning rate
PT_ADV_MILESTONES = [150, 300]  # steps at which MultiStepLR multiplies lr by PT_ADV_GAMMA
PT_ADV_GAMMA = 0.2
PT_ADV_STEPS = 500
# --- hidden_mode_len5 / _len50 / _1layer / no_rnn: report figs. 1-4 ---
HIDDEN_MODES = ["carry", "none", "zero"]  # report: True / False / Zero
HIDDEN_MODE_LR = 0.01
HIDDEN_MODE_STEPS = 300
HIDDEN_MODE_SHORT = 5  # maxlen of fig. 1, fig. 3 and fig. 4
HIDDEN_MODE_LONG = 50  # maxlen of fig. 2
# --- maxlen: report fig. 5 ---
MAXLEN_VALUES = [5, 10, 25, 50, 70]  # digits per operand
MAXLEN_LR = 0.001
MAXLEN_STEPS = 500
SPLIT_SUMS = 1000  # held-out sums per range (test, train) in each maxlen model's per-position error count
# --- maxlen_control: the maxlen sweep evaluated on held-out sums from the training range (the split's shift) ---
CONTROL_EVAL_SPLIT = "train"  # train.py's eval_split; training is identical to maxlen's
# --- lr: report fig. 6 ---
LR_VALUES = [0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5]  # constant learning rates
LR_SCHEDULE = {"lr": 0.01, "milestones": [100], "gamma": 0.5}  # the MultiStepLR curve
LR_MAXLEN = 5
LR_STEPS = 1000
# --- heat_lr_maxlen: report §3.2.3 ---
HEAT_LR_VALUES = [0.001, 0.002, 0.005, 0.01, 0.05]  # rows
HEAT_LR_MAXLENS = [5, 10, 25, 50, 70]  # columns
HEAT_LR_LAYERS = 3
HEAT_LR_CAP = 500  # step cap: a cell that never reaches accuracy 1.0 shows this
# --- layers / layers_zero: report fig. 7 and §3.3.2 ---
LAYERS_VALUES = [1, 2, 3, 4]  # stacked recurrent layers
LAYERS_MAXLEN = 5
LAYERS_LR = 0.001
LAYERS_STEPS = 1000
# --- heat_layers_mode: report §3.3.3 ---
HEAT_MODE_MODES = ["carry", "none", "zero"]  # rows
HEAT_MODE_LAYERS = [1, 2, 3, 4, 5]  # columns
HEAT_MODE_MAXLEN = 10
HEAT_MODE_LR = 0.001
HEAT_MODE_CAP = 700
# --- h0_init: report fig. 8 ---
H0_INITS = ["randn", "randn10", "zero", "xavier", "xavier_he"]  # first carried state
H0_MAXLEN = 5
H0_LR = 0.001
H0_STEPS = 1000
# --- cells: report fig. 9 ---
CELLS = [("rnn", "relu"), ("rnn", "tanh"), ("lstm", None), ("gru", None)]  # (cell, nonlinearity)
CELLS_MAXLEN = 5
CELLS_LR = 0.001
CELLS_STEPS = 1000
# --- length_generalization: beyond the report, train at maxlen 10, test to 100,000 digits (pilots: docs/study.md) ---
LENGTH_SEEDS = 10
LENGTH_CELLS = [("rnn", "relu"), ("rnn", "tanh"), ("lstm", None), ("gru", None)]  # (cell, nonlinearity)
LENGTH_MAXLEN = 10  # train length of the cell comparison
LENGTH_LR = 0.005
LENGTH_STEPS = 600  # a 2-layer ReLU RNN at lr 0.005 is first exact at maxlen 10 after 150-250 steps
LENGTH_TEST = [10, 100, 1000, 10000, 100000]  # test lengths (digits per operand)
LENGTH_SUMS = [1000, 1000, 1000, 1000, 20]  # test sums per length for the goal series
LENGTH_SUMS_OTHERS = [1000, 1000, 1000, 100, 10]  # for every other series (evaluation time)
LENGTH_FALLBACK_SUMS = 5  # sums at a length after the model already failed a shorter one
LENGTH_SHORT_LONG_CELL = ("rnn", "tanh")  # the cell also trained at other lengths and with the variants
LENGTH_OTHER_MAXLENS = [5, 20]
LENGTH_VARIANTS = {  # label -> extra settings: what might help generalization (on LENGTH_SHORT_LONG_CELL)
    "mixed lengths 1..10": {"mixed_lengths": True},
    "lr x0.1 at 400, clip 1": {"milestones": [400], "gamma": 0.1, "clip_grad": 1.0},
}
LENGTH_GOAL = ("rnn", "tanh")  # (cell, nonlinearity) of the LENGTH_CELLS series checked on LENGTH_SUMS; absent: none
# --- carry_chains: accuracy vs the longest carry chain, models trained at maxlen 10 ---
CHAIN_SEEDS = 5  # same settings as length_generalization, so these are its seeds 0-4 again
CHAIN_LENGTH = 1000  # digits of every test sum
CHAIN_KS = [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 20, 30, 50, 100, 200, 500, 999]  # longest chain k
CHAIN_SUMS = 50  # sums per k (few, for time: 19 k x 50 sums x 1,000 digits per model)
# --- hidden_probe: linear probe / PCA of hidden states, norm along 10,000 steps ---
PROBE_SEEDS = 2
PROBE_SUMS = 200  # held-out sums the probe is fitted (first half) and scored (second half) on
PROBE_LENGTH = 20  # digits per probe sum (twice the training length)
PROBE_NORM_LENGTH = 10000  # steps of the hidden-norm trace
PROBE_NORM_SUMS = 4
PROBE_NORM_POINTS = 120  # log-spaced steps stored
# --- hidden_size_min: smallest hidden size that still learns maxlen 10 ---
SIZE_VALUES = [1, 2, 4, 8, 16, 32, 64]  # hidden_size per layer
SIZE_SEEDS = 5
SIZE_CAP = 500  # step budget (LENGTH_LR); a run stops at its first exact evaluation
SIZE_SUCCESS = 0.5  # a size "learns" when at least this fraction of seeds reaches accuracy 1.0
# --- cost_to_exact: steps, examples and seconds to the first exact evaluation ---
COST_CAP = 2000  # step budget; each run stops at its first exact evaluation
COST_EVERY = 10  # steps between evaluations (the resolution of "steps to exact")
COST_CARRY_CELL = ("rnn", "relu")  # also trained in carry mode: what passing the state in changes
COST_BPTT_DEPTHS = [1, 10, 25, 50]  # batches back-propagated through, as the source's undetached carry (docs/study.md)
COST_BPTT_MAXLEN = 5  # digits of the timed batches: claim C2's maxlen (HIDDEN_MODE_SHORT)
# --- exact_adder: worst cases made exact: recipes, smallest exact adder, attack, proof (pilots: docs/study.md) ---
EXACT_SEEDS = 10
EXACT_MAXLEN = 10  # training length of every run
EXACT_CELL = {"cell": "rnn", "nonlinearity": "tanh", "hidden_mode": "none"}
EXACT_TODAY = {"lr": 0.005, "steps": 600}  # today's recipe: length_generalization's rnn/tanh (2 x 64)
EXACT_RECIPES = {  # label -> settings on top of EXACT_TODAY, 2 layers x 64 units
    "today": {},
    "chain-rich (half of each batch: carry chains k in 0..9)": {"chain_fraction": 0.5},
    "chain fraction 0.1": {"chain_fraction": 0.1},
}
EXACT_SMALL = {"lr": 0.01, "steps": 2000, "milestones": [1500], "gamma": 0.1, "chain_fraction": 0.5}  # small nets
EXACT_SIZES = [(1, 16), (1, 32), (2, 16)]  # (layers, hidden) of the frontier sweep, trained with EXACT_SMALL
EXACT_GOAL = 0.8  # a size "passes" when at least this fraction of its seeds pass the whole suite
EXACT_SUITE = {"lengths": [1000, 10000, 100000, 1000000], "chains": CHAIN_KS, "chain_sums": 20, "gain_sums": 20,
               "random_sums": 20, "long_random": 1}  # exact.suite_eval: stages, sums per check
EXACT_ATTACK = {"lengths": [1000], "batch": 1000, "elite": 50}  # adversary.attack_eval, on seed 0 of each run below
EXACT_ATTACK_RUNS = [  # (settings, candidate sums): every planned run whose settings include these (first match)
    ({"num_layers": 1, "hidden_size": 32}, 100000),  # the 1 x 32 size
    ({"num_layers": 2, "hidden_size": 64, "chain_fraction": 0.5}, 20000),  # the chain-rich recipe
]
EXACT_PROOF = {"m": 1, "max_iter": 300, "budget_s": 600}  # proof.proof_eval, on seed 0 of EXACT_PROOF_RUN; max_iter
# decides (m = 1: ~0.05 s an iteration), budget_s is a safety valve (a search it stops depends on the machine)
EXACT_HARDEN = {"rounds": 10, "steps": 300, "lr": 0.001, "candidates": 20000, "length": 100, "batch": 1000,
                "elite": 50}  # harden.harden: rounds of (attack -> windows around its worst sums -> fine-tune)
EXACT_HARDENED = {  # label -> (layers, hidden, settings on top of EXACT_HARDEN): sizes trained with EXACT_SMALL, then
    # hardened; "saturation" adds the term that drives every unit to +-1 and ends the rounds only once proven
    "1 x 32 hardened": (1, 32, {}),
    "1 x 32 hardened + saturated": (1, 32, {"saturation": 3.0, "rounds": 20}),
    "2 x 16 hardened": (2, 16, {}),
    "1 x 16 hardened + saturated": (1, 16, {"saturation": 3.0}),
}
EXACT_HARDENED_ATTACK = {"candidates": 100000, "lengths": [100, 1000], "search_seeds": [0, 1], "batch": 1000,
                         "elite": 50}  # adversary.attack_eval on every hardened seed that passes the suite
EXACT_PROOF_RUN = {"num_layers": 1, "hidden_size": 32}  # settings of the run(s) the proof is tried on; None: none
# --- exact_frontier: the proven seeds of a saturated EXACT_HARDENED series pruned (measures/smallest/frontier.py) ---
FRONTIER_SERIES = "1 x 32 hardened + saturated"  # the EXACT_HARDENED series whose proven seeds are pruned
FRONTIER_SEEDS = [0, 4, 5, 9]  # seeds pruned (others: trained, skipped); their pilot: docs/study.md
FRONTIER = {"first_step": 4, "floor": 5, "m2": {"max_iter": 100, "budget_s": 600}}  # frontier.series: units cut per
# step at first (halved on a failure), fewest units tried, the m = 2 proof of a near miss (None: none; max_iter decides,
# budget_s is a safety valve); "shrink": {"steps", "lr", "weight"} would shrink the units before each cut
FRONTIER_HARDEN = {"rounds": 10, "saturate_steps": 500}  # each step's hardening, on top of the series' own settings
# --- small_adder: one-layer tanh adders of a few units trained by routes, readouts fitted by LP, then proven ---
SMALL_SEEDS = 10
SMALL_UNITS = [2, 3, 4, 8]  # hidden units of the one tanh layer (>= the most auxiliary targets of a route)
SMALL_CELL = {"cell": "rnn", "nonlinearity": "tanh", "num_layers": 1, "embed_size": 1, "hidden_mode": "none"}
SMALL_FIT = {"maxlen": 3, "steps": 200, "lr": 0.01, "chain_fraction": 0.5}  # train.fit: what every route starts from
SMALL_TUNE = {"steps": 1500, "lrs": [0.03, 0.01, 0.003, 0.001], "length": 10}  # each route's training after fit:
# steps at each learning rate (fresh Adam moments), batches of the 200 transitions + chain-rich sums of `length`
SMALL_ROUTES = {  # label -> small.route_train's loss: "targets" (small.TARGETS, on units 0, 1, ...), "weight" (their
    # penalty's), "ce" (cross-entropy's weight), "carry_sat" / "rest_sat" (saturation of unit 0 / of the units no target
    # names); "restarts" (fresh weights while the states LP finds no margin, at most); "units" (default: SMALL_UNITS)
    "sums alone": {"targets": [], "ce": 1.0},
    "sums alone, carry unit saturated": {"targets": [], "ce": 1.0, "carry_sat": 1.0, "units": [2]},
    "carry-out target": {"targets": ["carry"], "weight": 1.0, "ce": 1.0, "units": [2]},
    "carry-out + column-sum targets": {"targets": ["carry", "sum"], "weight": 1.0, "ce": 0.0},
    "carry-out + column-sum targets, other units saturated": {"targets": ["carry", "sum"], "weight": 1.0, "ce": 0.0,
                                                              "rest_sat": 1.0, "units": [4]},
}  # the routes' pilots: docs/study.md
SMALL_PROOF = {"m": 1, "max_iter": 300, "budget_s": 60, "rounds": 3}  # small.box_readout: proof.attempt + LP refits
SMALL_SUITE = EXACT_SUITE  # exact.suite_eval on every seed
# --- --quick: every plan shrunk to these caps (planned), end to end in minutes ---
QUICK = {"seeds": 2, "steps": 100, "every": 20, "maxlen_div": 5}  # --quick: seeds, step cap, interval, maxlen / 5
QUICK_EVAL_SIZE = 100  # --quick: held-out sums per evaluation (the full study's: train.EVAL_SIZE)


def pt_main():
    common = dict(maxlen=PT_MAIN_MAXLEN, lr=PT_MAIN_LR, num_layers=PT_MAIN_LAYERS, steps=PT_MAIN_STEPS)
    return {"title": "pt_main: {num_layers}-layer ReLU RNN, maxlen {maxlen} (report §2.2)",
            "runs": [run(f"maxlen={PT_MAIN_MAXLEN}, lr={PT_MAIN_LR}", **common),
                     run(f"the same, scored on {PT_MAIN_FRESH_SUMS} fresh sums per evaluation (the source's way)",
                         **common, eval_fresh=True, eval_size=PT_MAIN_FRESH_SUMS)], "seeds": CLAIM_SEEDS}


def pt_adv_main():
    return {"title": "pt_adv_main: MultiStepLR schedule, maxlen {maxlen} (report §3.2)",
            "runs": [run(f"lr={PT_ADV_LR}, x{PT_ADV_GAMMA} at {PT_ADV_MILESTONES}", maxlen=PT_MAIN_MAXLEN,
                         lr=PT_ADV_LR, milestones=PT_ADV_MILESTONES, gamma=PT_ADV_GAMMA, steps=PT_ADV_STEPS)]}


def _modes(title, maxlen, num_layers):
    return {"title": title, "runs": [run(f"hidden_mode={m}", hidden_mode=m, maxlen=maxlen, num_layers=num_layers,
                                         lr=HIDDEN_MODE_LR, steps=HIDDEN_MODE_STEPS)
                                     for m in HIDDEN_MODES], "seeds": CLAIM_SEEDS}


def hidden_mode_len5():
    return _modes("hidden_mode at maxlen {maxlen}, {num_layers} layers (report fig. 1)", HIDDEN_MODE_SHORT, 2)


def hidden_mode_len50():
    return _modes("hidden_mode at maxlen {maxlen}, {num_layers} layers (report fig. 2)", HIDDEN_MODE_LONG, 2)


def no_rnn():
    common = dict(maxlen=HIDDEN_MODE_SHORT, lr=HIDDEN_MODE_LR, steps=HIDDEN_MODE_STEPS)
    return {"title": "no RNN (embedding + linear) vs the RNN, maxlen {maxlen} (report fig. 3)",
            "runs": [run("no RNN", cell="linear", **common), run("2-layer RNN", **common)]}


def hidden_mode_1layer():
    return _modes("hidden_mode at maxlen {maxlen}, {num_layers} layer (report fig. 4)", HIDDEN_MODE_SHORT, 1)


def maxlen():
    after = partial(split.position_errors, sums=SPLIT_SUMS)
    return {"title": "number length, lr {lr} (report fig. 5)",
            "runs": [{**run(f"maxlen={m}", maxlen=m, lr=MAXLEN_LR, steps=MAXLEN_STEPS), "after": after}
                     for m in MAXLEN_VALUES],
            "chart": split.maxlen_chart, "section": split.maxlen_section}


def maxlen_control():
    return {"title": f"number length, evaluated on held-out sums from the {CONTROL_EVAL_SPLIT} range (control "
                     f"for the split's shift, claim C5)",
            "runs": [run(f"maxlen={m}", maxlen=m, lr=MAXLEN_LR, steps=MAXLEN_STEPS, eval_split=CONTROL_EVAL_SPLIT)
                     for m in MAXLEN_VALUES]}


def lr():
    runs = [run(f"lr={v}", lr=v, maxlen=LR_MAXLEN, steps=LR_STEPS) for v in LR_VALUES]
    s = LR_SCHEDULE
    runs.append(run(f"lr={s['lr']}, x{s['gamma']} at {s['milestones']}", maxlen=LR_MAXLEN, steps=LR_STEPS, **s))
    return {"title": "learning rate, maxlen {maxlen} (report fig. 6)", "runs": runs, "seeds": CLAIM_SEEDS}


def heat_lr_maxlen():
    return heatmap("first step at accuracy 1.0, {num_layers} layers (report §3.2.3)", HEAT_LR_VALUES, HEAT_LR_MAXLENS,
                   "lr", "maxlen", HEAT_LR_CAP, lambda r, c: dict(lr=r, maxlen=c, num_layers=HEAT_LR_LAYERS))


def _layers(title, mode):
    return {"title": title, "runs": [run(f"num_layers={n}", num_layers=n, hidden_mode=mode, maxlen=LAYERS_MAXLEN,
                                         lr=LAYERS_LR, steps=LAYERS_STEPS)
                                     for n in LAYERS_VALUES], "seeds": CLAIM_SEEDS}


def layers():
    return _layers("number of layers, carry, maxlen {maxlen} (report fig. 7)", "carry")


def layers_zero():
    return _layers("number of layers, zero state, maxlen {maxlen} (report §3.3.2)", "zero")


def heat_layers_mode():
    return heatmap("first step at accuracy 1.0, maxlen {maxlen} (report §3.3.3)", HEAT_MODE_MODES, HEAT_MODE_LAYERS,
                   "hidden_mode", "num_layers", HEAT_MODE_CAP,
                   lambda r, c: dict(hidden_mode=r, num_layers=c, maxlen=HEAT_MODE_MAXLEN, lr=HEAT_MODE_LR))


def h0_init():
    return {"title": "initial hidden state, carry, maxlen {maxlen} (report fig. 8)",
            "runs": [run(f"h0_init={h}", h0_init=h, maxlen=H0_MAXLEN, lr=H0_LR, steps=H0_STEPS) for h in H0_INITS]}


def cells():
    return {"title": "cell type, maxlen {maxlen} (report fig. 9)",
            "runs": [run(cell_label(c, nl), cell=c, nonlinearity=nl or "relu", maxlen=CELLS_MAXLEN,
                         lr=CELLS_LR, steps=CELLS_STEPS) for c, nl in CELLS], "seeds": CLAIM_SEEDS}


def _length_run(label, cell, nl, after=None, **extra):
    """A run of (cell, nl) trained as length_generalization's (hidden_mode none, LENGTH_*; `extra` on top)."""
    r = run(label, hidden_mode="none", **cell_settings(cell, nl),
            **{"maxlen": LENGTH_MAXLEN, "lr": LENGTH_LR, "steps": LENGTH_STEPS, **extra})
    return {**r, "after": after} if after else r


def length_generalization():
    def one(label, cell, nl, sums=LENGTH_SUMS_OTHERS, **extra):
        after = partial(length.length_eval, lengths=LENGTH_TEST, sums=sums, fallback_sums=LENGTH_FALLBACK_SUMS)
        return _length_run(label, cell, nl, after, **extra)

    # the goal: the cell comparison's run of LENGTH_GOAL's cell (not its other train lengths or variants)
    goal = cell_settings(*LENGTH_GOAL)
    runs = [one(cell_label(c, nl), c, nl, LENGTH_SUMS if cell_settings(c, nl) == goal else LENGTH_SUMS_OTHERS)
            for c, nl in LENGTH_CELLS]
    c, nl = LENGTH_SHORT_LONG_CELL
    runs += [one(f"{cell_label(c, nl)}, train maxlen {m}", c, nl, maxlen=m) for m in LENGTH_OTHER_MAXLENS]
    runs += [one(f"{cell_label(c, nl)}, {name}", c, nl, **extra) for name, extra in LENGTH_VARIANTS.items()]
    return {"title": "length generalization: trained on {maxlen} digits, tested up to "
                     f"{max(LENGTH_TEST):,} (hidden_mode none)", "runs": runs, "seeds": LENGTH_SEEDS,
            "chart": length.length_chart, "section": length.length_section}


def carry_chains():
    after = partial(chains.chain_eval, length=CHAIN_LENGTH, chains=CHAIN_KS, sums=CHAIN_SUMS)
    runs = [_length_run(cell_label(c, nl), c, nl, after) for c, nl in LENGTH_CELLS]
    return {"title": f"carry chains: exact match vs the longest carry chain in {CHAIN_LENGTH:,}-digit sums "
                     "(trained on {maxlen})", "runs": runs, "seeds": CHAIN_SEEDS,
            "chart": chains.chain_chart, "section": chains.chain_section}


def hidden_probe():
    after = partial(probe.probe_eval, sums=PROBE_SUMS, length=PROBE_LENGTH, norm_length=PROBE_NORM_LENGTH,
                    norm_sums=PROBE_NORM_SUMS, norm_points=PROBE_NORM_POINTS)
    return {"title": "where the carry lives: linear probe, PCA and hidden-state norm (trained on {maxlen})",
            "runs": [_length_run(cell_label(c, nl), c, nl, after) for c, nl in LENGTH_CELLS], "seeds": PROBE_SEEDS,
            "chart": probe.probe_chart, "section": probe.probe_section}


def hidden_size_min():
    runs = [_length_run(f"{cell_label(c, nl)}, hidden_size={h}", c, nl, hidden_size=h, steps=SIZE_CAP)
            for c, nl in LENGTH_CELLS for h in SIZE_VALUES]
    return {"title": "smallest hidden size that learns maxlen {maxlen} within {steps} steps",
            "runs": runs, "seeds": SIZE_SEEDS, "stop_at_exact": True,
            "chart": sizes.size_chart, "section": partial(sizes.size_section, success=SIZE_SUCCESS)}


def cost_to_exact():
    common = dict(steps=COST_CAP, eval_every=COST_EVERY, loss_every=COST_EVERY)
    runs = [_length_run(cell_label(c, nl), c, nl, **common) for c, nl in LENGTH_CELLS]
    c, nl = COST_CARRY_CELL
    bptt = partial(cost.bptt_cost, depths=list(COST_BPTT_DEPTHS), maxlen=COST_BPTT_MAXLEN)
    runs.append({**run(f"{cell_label(c, nl)}, hidden_mode carry", hidden_mode="carry", **cell_settings(c, nl),
                       maxlen=LENGTH_MAXLEN, lr=LENGTH_LR, **common), "after": bptt})
    return {"title": "cost to the first exact evaluation at maxlen {maxlen}", "runs": runs,
            "stop_at_exact": True, "chart": cost.cost_chart, "section": cost.cost_section}


def exact_adder():
    """Worst cases made exact: recipes, the size frontier, an attack and a proof attempt (the EXACT_* constants); each
    EXACT_HARDENED series hardens a copy of the size sweep's trained runs (measures/exact/harden.py) first."""
    def one(label, layers, hidden, settings):  # a selector that picks no run plans no attack or proof
        r = run(label, **EXACT_CELL, num_layers=layers, hidden_size=hidden, maxlen=EXACT_MAXLEN, **settings)
        args = {"suite": EXACT_SUITE}
        candidates = next((n for sel, n in EXACT_ATTACK_RUNS if selects(sel, r)), None)
        if candidates is not None:
            args.update(attack={**EXACT_ATTACK, "candidates": candidates}, attack_seeds=[0])
        if EXACT_PROOF_RUN is not None and selects(EXACT_PROOF_RUN, r):
            args.update(proof=EXACT_PROOF, proof_seeds=[0])
        return {**r, "after": partial(evaluate.exact_eval, **args)}

    runs = [one(label, 2, 64, {**EXACT_TODAY, **extra}) for label, extra in EXACT_RECIPES.items()]
    runs += [one(f"{layers} x {hidden}", layers, hidden, EXACT_SMALL) for layers, hidden in EXACT_SIZES]
    seeds = list(range(EXACT_SEEDS))
    for label, (layers, hidden, extra) in EXACT_HARDENED.items():
        harden = {**EXACT_HARDEN, **extra}
        if harden.get("saturation"):  # saturated: rounds end only once proven, and every seed's proof is tried
            harden["prove"] = EXACT_PROOF
        args = {"suite": EXACT_SUITE, "harden": harden, "attack": EXACT_HARDENED_ATTACK, "attack_seeds": seeds,
                "proof": EXACT_PROOF, "proof_seeds": seeds if "prove" in harden else [0]}
        runs.append({**one(label, layers, hidden, EXACT_SMALL), "after": partial(evaluate.exact_eval, **args)})
    return {"title": "worst-case suite, smallest network passing it, an adversarial search and a proof attempt "
                     "(rnn/tanh trained on {maxlen} digits)", "runs": runs, "seeds": EXACT_SEEDS,
            "chart": partial(exact_report.exact_chart, goal=EXACT_GOAL), "keep": verdicts.keep_certificates,
            "section": partial(exact_report.exact_section, goal=EXACT_GOAL)}


def exact_frontier():
    """FRONTIER_SERIES' seeds hardened and proven as in exact_adder, then pruned and re-proven step by step."""
    layers, hidden, extra = EXACT_HARDENED[FRONTIER_SERIES]
    harden = {**EXACT_HARDEN, **extra, "prove": EXACT_PROOF}
    r = run(f"{FRONTIER_SERIES}, pruned", **EXACT_CELL, num_layers=layers, hidden_size=hidden,
            maxlen=EXACT_MAXLEN, **EXACT_SMALL)
    step = {**harden, **FRONTIER_HARDEN}
    after = partial(frontier.frontier_eval, harden=harden,
                    frontier={**FRONTIER, "harden": step, "prove": EXACT_PROOF}, seeds=list(FRONTIER_SEEDS))
    return {"title": f"the smallest proven adder: {FRONTIER_SERIES} pruned (rnn/tanh trained on {{maxlen}} digits)",
            "runs": [{**r, "after": after}], "seeds": max(FRONTIER_SEEDS) + 1,
            "chart": frontier_report.frontier_chart, "section": frontier_report.frontier_section,
            "keep": frontier_report.keep_certificates}


def small_adder():
    """SMALL_UNITS x SMALL_ROUTES: train.fit (SMALL_FIT), then the route; readouts fitted by LP, proven (small.py)."""
    runs = []
    for k, (label, route) in product(SMALL_UNITS, SMALL_ROUTES.items()):
        if k in route.get("units", SMALL_UNITS):
            loss = {key: v for key, v in route.items() if key not in ("restarts", "units")}  # route_train's keywords
            after = partial(small.small_eval, route=loss, tune=SMALL_TUNE, prove=SMALL_PROOF, suite=SMALL_SUITE,
                            restarts=route.get("restarts", 0))
            runs.append({**run(f"{k} units, {label}", **SMALL_CELL, hidden_size=k, **SMALL_FIT), "after": after})
    return {"title": "small trained adders: units x route, readouts fitted by LP, proven by both checkers",
            "runs": runs, "seeds": SMALL_SEEDS, "chart": small_report.small_chart,
            "section": small_report.small_section, "keep": small_report.keep_certificates}


# id -> plan function, in the order `python source.py` runs them
EXPERIMENTS = {f.__name__: f for f in (
    pt_main, pt_adv_main, hidden_mode_len5, hidden_mode_len50, no_rnn, hidden_mode_1layer, maxlen, maxlen_control, lr,
    heat_lr_maxlen, layers, layers_zero, heat_layers_mode, h0_init, cells, length_generalization, carry_chains,
    hidden_probe, hidden_size_min, cost_to_exact, exact_adder, exact_frontier, small_adder)}
