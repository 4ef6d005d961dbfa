"""The one table of measurement hooks, charts and sections: short name (as plans write it) -> the function.

Plans (experiments.py) name an "after" hook, a chart and a section by these short names; result JSONs and the
store's keys hold the short names too, so moving a function to another file changes no key, only this table.
"""
from measures import chains, cost, length, probe, sizes, split
from measures.exact import adversary, evaluate, exact, exact_report, frontier, frontier_report, harden, proof

HOOKS = {  # "after": fn(model, run, seed, **args) on each trained model -> a JSON-ready measurement
    "position_errors": split.position_errors,
    "length_eval": length.length_eval,
    "chain_eval": chains.chain_eval,
    "probe_eval": probe.probe_eval,
    "bptt_cost": cost.bptt_cost,
    "exact_eval": evaluate.exact_eval,
    "frontier_eval": frontier.frontier_eval,
}
ARGUMENTS = {  # hook -> {its argument: (the function it hands that dict to, positional arguments before it)}
    "exact_eval": {"suite": (exact.suite_eval, 3), "attack": (adversary.attack_eval, 3),
                   "proof": (proof.proof_eval, 1), "harden": (harden.harden, 3)},
    "frontier_eval": {"harden": (harden.harden, 3)},
}
CHARTS = {  # "chart": fn(result, path) draws plots/<id>.png in place of plot.draw's line chart
    "maxlen_chart": split.maxlen_chart,
    "length_chart": length.length_chart,
    "chain_chart": chains.chain_chart,
    "probe_chart": probe.probe_chart,
    "size_chart": sizes.size_chart,
    "cost_chart": cost.cost_chart,
    "exact_chart": exact_report.exact_chart,
    "frontier_chart": frontier_report.frontier_chart,
}
SECTIONS = {  # "section": fn(result) -> the lines of its plots/README.md section in place of the default table
    "maxlen_section": split.maxlen_section,
    "length_section": length.length_section,
    "chain_section": chains.chain_section,
    "probe_section": probe.probe_section,
    "size_section": sizes.size_section,
    "cost_section": cost.cost_section,
    "exact_section": exact_report.exact_section,
    "frontier_section": frontier_report.frontier_section,
}
TABLES = (HOOKS, CHARTS, SECTIONS)
WHERE = {name: f"{fn.__module__}.{fn.__name__}" for table in TABLES for name, fn in table.items()}  # as loaded


def resolve(name):
    """A short name (or, in results made before the short names, "module.function") -> the function."""
    short = name.rpartition(".")[2]
    for table in TABLES:
        if short in table:
            return table[short]
    raise ValueError(f"unknown hook, chart or section {name!r}; valid: {', '.join(WHERE)}")


def qualname(name):
    """A short name -> "module.function" where its code lives (what machinery/codehash.py fingerprints)."""
    resolve(name)
    return WHERE[name.rpartition(".")[2]]
