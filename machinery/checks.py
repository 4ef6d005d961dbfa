"""What each constant of experiments.py must hold, checked once before anything trains (check, which source.py
calls): a constant no run can use stops the study with one line (plans.ConstantError) naming it, its value and what
is allowed, instead of a traceback after the training. A setting a run is given (a maxlen, an lr, a cell) is checked
by plans.run as the plan is made; check_constants checks the rest, one plain call per constant, reading each from the
module as the plans do (so an edited or monkeypatched constant is the one checked); check then plans each experiment
and checks that its hooks accept their arguments and hand on what the functions they call accept (HANDED_ON).
"""
import inspect

import experiments
from data import check_int
from machinery.plans import ConstantError, cell_settings
from measures.exact import adversary, evaluate, exact, harden
from measures.smallest import frontier, small
from models import MODEL_KEYS, ModelConfig
from proof import proof
from train import SETTINGS


def integer(name, v, low):
    """An integer >= low."""
    try:
        check_int(name, v, low)
    except ValueError as e:
        raise ConstantError(str(e)) from None


def fraction(name, v):
    """A number in (0, 1]."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
        raise ConstantError(f"{name} must be a number in (0, 1], got {v!r}")


def values(name, v, what, empty=False):
    """A list of `what` (non-empty unless `empty`), no value twice (each value is one curve)."""
    if not isinstance(v, (list, tuple)) or not (v or empty):
        raise ConstantError(f"{name} must be a {'' if empty else 'non-empty '}list of {what}, got {v!r}")
    twice = [x for i, x in enumerate(v) if x in v[:i]]
    if twice:
        raise ConstantError(f"{name} holds {twice[0]!r} twice: {v!r} (each value is one curve)")


def ints(name, v, low, empty=False):
    """A list of distinct integers >= low (non-empty unless `empty`)."""
    values(name, v, f"integers >= {low}", empty)
    for x in v:
        integer(f"each value of {name}", x, low)


def table(name, v, required=()):
    """A dict (of settings, or of a hook's arguments) with the keys `required`."""
    if not isinstance(v, dict):
        raise ConstantError(f"{name} must be a dict, got {v!r}")
    missing = [k for k in required if k not in v]
    if missing:
        raise ConstantError(f"{name} lacks {', '.join(missing)}: {v!r} (needs {', '.join(required)})")


def labelled(name, v):
    """A dict of label -> dict of settings (may be empty)."""
    table(name, v)
    for label, extra in v.items():
        table(f"{name}[{label!r}]", extra)


def cell_pair(name, p):
    """A (cell, nonlinearity) pair: a models.CELLS cell and, for rnn, relu or tanh (None: relu)."""
    if not isinstance(p, (list, tuple)) or len(p) != 2:
        raise ConstantError(f"{name}: {p!r} is not a (cell, nonlinearity) pair such as ('rnn', 'tanh') or "
                            f"('gru', None)")
    try:
        ModelConfig(**cell_settings(*p))
    except ValueError as e:
        raise ConstantError(f"{name}: {e}") from None


def cell_pairs(name, v):
    values(name, v, "(cell, nonlinearity) pairs such as ('rnn', 'tanh')")
    for p in v:
        cell_pair(name, p)


def selector(name, sel, optional=False):
    """A dict of run settings (ModelConfig fields, train.SETTINGS names) that picks the runs having all of them."""
    if optional and sel is None:
        return
    known = MODEL_KEYS | set(SETTINGS)
    if not isinstance(sel, dict) or not sel:
        raise ConstantError(f"{name} must be a non-empty dict of run settings such as "
                            f"{{'num_layers': 1, 'hidden_size': 32}}, got {sel!r}")
    unknown = sorted(set(sel) - known)
    if unknown:
        raise ConstantError(f"{name}: unknown setting(s) {unknown} in {sel!r}; settings: {', '.join(sorted(known))}")


def sums_per_length(name, v):
    """One number of sums (>= 1) per LENGTH_TEST length."""
    LENGTH_TEST = experiments.LENGTH_TEST  # read as checked: the value the plans read
    if not isinstance(v, (list, tuple)) or len(v) != len(LENGTH_TEST):
        raise ConstantError(f"{name} must hold one number of sums per LENGTH_TEST length ({len(LENGTH_TEST)}), "
                            f"got {v!r}")
    for n in v:
        integer(f"each value of {name}", n, 1)


def sizes_list(name, v):
    """(layers, hidden) pairs; with EXACT_RECIPES, not both empty."""
    EXACT_RECIPES = experiments.EXACT_RECIPES  # read as checked: the value the plans read
    if not isinstance(v, (list, tuple)) or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in v):
        raise ConstantError(f"{name} must be a list of (layers, hidden) pairs such as (1, 32), got {v!r}")
    if not v and not EXACT_RECIPES:
        raise ConstantError(f"EXACT_RECIPES and {name} are both empty: exact_adder would plan no run")


def attack_runs(name, v):
    """(settings selector, candidate sums) pairs."""
    if not isinstance(v, (list, tuple)) or not all(isinstance(a, (list, tuple)) and len(a) == 2 for a in v):
        raise ConstantError(f"{name} must be a list of (settings, candidate sums) pairs such as "
                            f"({{'num_layers': 1, 'hidden_size': 32}}, 100000), got {v!r}")
    for sel, n in v:
        selector(name, sel)
        integer(f"{name}' candidate sums", n, 1)


def frontier_series(name, v):
    """The label of a saturated EXACT_HARDENED series (its proven seeds are pruned)."""
    EXACT_HARDENED = experiments.EXACT_HARDENED  # read as checked: the value the plans read
    spec = EXACT_HARDENED.get(v) if isinstance(v, str) and isinstance(EXACT_HARDENED, dict) else None
    if not (isinstance(spec, (list, tuple)) and len(spec) == 3 and isinstance(spec[2], dict)
            and spec[2].get("saturation")):
        raise ConstantError(f"{name} must name a saturated EXACT_HARDENED series "
                            f"({', '.join(map(repr, EXACT_HARDENED)) if isinstance(EXACT_HARDENED, dict) else ''}), "
                            f"got {v!r}")


def hardened_sizes(name, v):
    """label -> (layers, hidden, settings on top of EXACT_HARDEN)."""
    table(name, v)
    for label, spec in v.items():
        if not (isinstance(spec, (list, tuple)) and len(spec) == 3 and isinstance(spec[2], dict)):
            raise ConstantError(f"{name}[{label!r}] must be (layers, hidden, settings) such as "
                                f"(1, 32, {{'saturation': 1.0}}), got {spec!r}")


ROUTE_KEYS = {"targets", "weight", "ce", "carry_sat", "rest_sat", "restarts", "units"}  # a SMALL_ROUTES entry's


def small_routes(name, v):
    """label -> route settings (ROUTE_KEYS): known targets (small.TARGETS), no more than the fewest SMALL_UNITS,
    non-negative weights, restarts an integer >= 0."""
    SMALL_UNITS = experiments.SMALL_UNITS  # read as checked: the value the plans read
    labelled(name, v)
    if not v:
        raise ConstantError(f"{name} must name at least one route, got {v!r}")
    for label, route in v.items():
        unknown = sorted(set(route) - ROUTE_KEYS)
        if unknown:
            raise ConstantError(f"{name}[{label!r}]: unknown setting(s) {unknown}; settings: "
                                f"{', '.join(sorted(ROUTE_KEYS))}")
        t = route.get("targets", [])
        if not isinstance(t, (list, tuple)) or any(x not in small.TARGETS for x in t) or len(set(t)) != len(t):
            raise ConstantError(f"{name}[{label!r}]: targets must be a list of distinct names of {small.TARGETS}, "
                                f"got {t!r}")
        at = route.get("units", SMALL_UNITS)
        if not isinstance(at, list) or not at or any(u not in SMALL_UNITS for u in at):
            raise ConstantError(f"{name}[{label!r}]: units must be a non-empty list of SMALL_UNITS values "
                                f"({SMALL_UNITS!r}), got {at!r}")
        units = [u for u in at if isinstance(u, int) and u < len(t)]
        if units:
            raise ConstantError(f"{name}[{label!r}]: {len(t)} targets need {len(t)} units, SMALL_UNITS has {units[0]}")
        for key in ("weight", "ce", "carry_sat", "rest_sat"):
            w = route.get(key, 0.0)
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w < float("inf"):
                raise ConstantError(f"{name}[{label!r}]: {key} must be a number >= 0, got {w!r}")
        integer(f"{name}[{label!r}]'s restarts", route.get("restarts", 0), 0)


def small_tune(name, v):
    """{"steps": int >= 1, "lrs": non-empty list of positive numbers, "length": int >= 2}."""
    table(name, v, ("steps", "lrs", "length"))
    integer(f"{name}'s steps", v["steps"], 1)
    integer(f"{name}'s length", v["length"], 2)
    lrs = v["lrs"]
    if not isinstance(lrs, (list, tuple)) or not lrs or not all(
            not isinstance(x, bool) and isinstance(x, (int, float)) and 0 < x < float("inf") for x in lrs):
        raise ConstantError(f"{name}'s lrs must be a non-empty list of positive learning rates, got {lrs!r}")


def check_constants():
    """Every constant a plan reads holds what its check allows, or ConstantError names it (one line)."""
    e = experiments
    integer("SEEDS", e.SEEDS, 1)
    integer("CLAIM_SEEDS", e.CLAIM_SEEDS, 1)
    fraction("SIZE_SUCCESS", e.SIZE_SUCCESS)
    fraction("EXACT_GOAL", e.EXACT_GOAL)
    values("HIDDEN_MODES", e.HIDDEN_MODES, "hidden modes")
    values("MAXLEN_VALUES", e.MAXLEN_VALUES, "operand lengths")
    values("LR_VALUES", e.LR_VALUES, "learning rates")
    table("LR_SCHEDULE", e.LR_SCHEDULE, ("lr", "milestones", "gamma"))
    values("HEAT_LR_VALUES", e.HEAT_LR_VALUES, "lr values")
    values("HEAT_LR_MAXLENS", e.HEAT_LR_MAXLENS, "maxlen values")
    values("LAYERS_VALUES", e.LAYERS_VALUES, "layer counts")
    values("HEAT_MODE_MODES", e.HEAT_MODE_MODES, "hidden_mode values")
    values("HEAT_MODE_LAYERS", e.HEAT_MODE_LAYERS, "num_layers values")
    values("H0_INITS", e.H0_INITS, "initial states")
    cell_pairs("CELLS", e.CELLS)
    cell_pairs("LENGTH_CELLS", e.LENGTH_CELLS)
    cell_pair("LENGTH_GOAL", e.LENGTH_GOAL)
    cell_pair("LENGTH_SHORT_LONG_CELL", e.LENGTH_SHORT_LONG_CELL)
    cell_pair("COST_CARRY_CELL", e.COST_CARRY_CELL)
    ints("LENGTH_TEST", e.LENGTH_TEST, 1)
    sums_per_length("LENGTH_SUMS", e.LENGTH_SUMS)
    sums_per_length("LENGTH_SUMS_OTHERS", e.LENGTH_SUMS_OTHERS)
    ints("LENGTH_OTHER_MAXLENS", e.LENGTH_OTHER_MAXLENS, 1, True)
    labelled("LENGTH_VARIANTS", e.LENGTH_VARIANTS)
    ints("CHAIN_KS", e.CHAIN_KS, 0)
    ints("SIZE_VALUES", e.SIZE_VALUES, 1)
    ints("COST_BPTT_DEPTHS", e.COST_BPTT_DEPTHS, 1)
    labelled("EXACT_RECIPES", e.EXACT_RECIPES)
    table("EXACT_TODAY", e.EXACT_TODAY)
    table("EXACT_SMALL", e.EXACT_SMALL)
    table("EXACT_CELL", e.EXACT_CELL)
    sizes_list("EXACT_SIZES", e.EXACT_SIZES)
    attack_runs("EXACT_ATTACK_RUNS", e.EXACT_ATTACK_RUNS)
    selector("EXACT_PROOF_RUN", e.EXACT_PROOF_RUN, True)
    hardened_sizes("EXACT_HARDENED", e.EXACT_HARDENED)
    table("EXACT_SUITE", e.EXACT_SUITE)
    table("EXACT_ATTACK", e.EXACT_ATTACK)
    table("EXACT_PROOF", e.EXACT_PROOF)
    table("EXACT_HARDEN", e.EXACT_HARDEN)
    table("EXACT_HARDENED_ATTACK", e.EXACT_HARDENED_ATTACK)
    frontier_series("FRONTIER_SERIES", e.FRONTIER_SERIES)
    ints("FRONTIER_SEEDS", e.FRONTIER_SEEDS, 0)
    table("FRONTIER", e.FRONTIER)
    table("FRONTIER_HARDEN", e.FRONTIER_HARDEN)
    integer("SMALL_SEEDS", e.SMALL_SEEDS, 1)
    ints("SMALL_UNITS", e.SMALL_UNITS, 1)
    table("SMALL_CELL", e.SMALL_CELL)
    table("SMALL_FIT", e.SMALL_FIT)
    small_tune("SMALL_TUNE", e.SMALL_TUNE)
    small_routes("SMALL_ROUTES", e.SMALL_ROUTES)
    table("SMALL_PROOF", e.SMALL_PROOF, ("m",))
    table("SMALL_SUITE", e.SMALL_SUITE)


HANDED_ON = {  # hook -> {its argument: (the function it hands that dict to, positional arguments before it)}
    evaluate.exact_eval: {"suite": (exact.suite_eval, 3), "attack": (adversary.attack_eval, 3),
                          "proof": (proof.proof_eval, 1), "harden": (harden.harden, 3)},
    frontier.frontier_eval: {"harden": (harden.harden, 3)},
    small.small_eval: {"suite": (exact.suite_eval, 3), "prove": (small.box_readout, 1)},
}


def check(ids=None):
    """Plan every experiment of `ids` (default: all) and check what its runs and measurements will be handed.

    Each run's "after" hook must accept its arguments, and each argument that a hook hands on whole must suit the
    function it goes to (HANDED_ON).

    Run before anything trains, so a constant that no run can use stops the study with one line (ConstantError)
    instead of a traceback after the training.
    """
    check_constants()
    for eid in ids or experiments.EXPERIMENTS:
        try:
            plan = experiments.EXPERIMENTS[eid]()
        except (TypeError, KeyError, AttributeError) as e:  # a constant of a shape the checks above do not name
            raise ConstantError(f"{eid}: a constant of its plan has the wrong type or shape "
                                f"({type(e).__name__}: {e})") from None
        if not plan["runs"]:
            raise ConstantError(f"{eid}: its constants plan no run")
        integer(f"{eid}'s number of seeds", plan.get("seeds", experiments.SEEDS), 1)
        for r in plan["runs"]:
            if r.get("after"):  # the hook must accept its arguments, or it would fail later
                fn, args = getattr(r["after"], "func", r["after"]), getattr(r["after"], "keywords", {})
                try:
                    inspect.signature(fn).bind(None, None, r, 0, **args)
                except TypeError as e:
                    raise ConstantError(f"{eid}: {fn.__name__} cannot take {args!r} ({e})") from None
                for arg, (to, head) in HANDED_ON.get(fn, {}).items():
                    if arg in args:
                        try:
                            inspect.signature(to).bind(*[None] * head, **args[arg])
                        except TypeError as e:
                            raise ConstantError(f"{eid}: {fn.__name__}'s {arg} {args[arg]!r}: {to.__module__}."
                                                f"{to.__name__} cannot take it ({e})") from None
