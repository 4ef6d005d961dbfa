"""The layout: the import graph of every project module (no cycle, no other module's _private names) and the
layout table (docs/layout.md) against the tree."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = {"tests", "plots", "store", "benchmarks"}  # folders that hold no project module (benchmarks: by hand)


def project_modules(root=ROOT):
    """{"dotted.name": path} of every .py file of the project (a package's __init__.py is the package)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in OUTSIDE or any(p.startswith(".") for p in rel.parts):
            continue
        parts = rel.with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(path, modules):
    """(project modules a file imports, anywhere in it; "module._name" uses of other modules' private names)."""
    tree = ast.parse(path.read_text())
    edges, private, aliases = set(), [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in modules:
                    edges.add(a.name)
                    aliases[a.asname or a.name] = a.name
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (codehash does not follow them)"
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if full in modules:  # from package import module
                    edges.add(full)
                    aliases[a.asname or a.name] = full
                elif node.module in modules:
                    edges.add(node.module)
                    if a.name.startswith("_"):
                        private.append(f"{node.module}.{a.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            private.append(f"{aliases[node.value.id]}.{node.attr}")
    return edges, private


def graph(root=ROOT):
    modules = project_modules(root)
    return {m: imports(p, modules) for m, p in modules.items()}


def cycle(edges):
    """One import cycle of a {module: set of modules} graph as a list, or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(edges.get(m, ())):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = "done"
        stack.pop()
        return None

    for m in sorted(edges):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_cycle_finder_finds_a_planted_cycle_and_passes_a_chain():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_walker_sees_lazy_package_and_private_imports(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("def f():\n    from pkg import b\n    return b._hidden\n")
    (tmp_path / "pkg" / "b.py").write_text("from pkg.a import _x\nimport top\n")
    (tmp_path / "top.py").write_text("")
    g = graph(tmp_path)
    assert g["pkg.a"] == ({"pkg.b"}, ["pkg.b._hidden"])
    assert g["pkg.b"] == ({"pkg.a", "top"}, ["pkg.a._x"])
    assert cycle({m: e for m, (e, _) in g.items()}) == ["pkg.a", "pkg.b", "pkg.a"]


def test_no_import_cycle():
    found = cycle({m: e for m, (e, _) in graph().items()})
    assert found is None, " -> ".join(found)


MAX_MODULE_LINES, MAX_FOLDER_MODULES = 400, 12  # the house's room sizes: a module one reads whole, a folder one scans


def test_every_module_and_folder_stays_readable():
    modules = project_modules()
    long = {m: n for m, p in modules.items() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"
    per_folder = {}
    for path in modules.values():
        if path.parent != ROOT:
            per_folder.setdefault(path.parent.relative_to(ROOT), set()).add(path)
    crowded = {str(f): len(ps) for f, ps in per_folder.items() if len(ps) > MAX_FOLDER_MODULES}
    assert not crowded, f"folders over {MAX_FOLDER_MODULES} modules: {crowded}"


def test_no_module_uses_another_modules_private_names():
    used = {m: p for m, (_, p) in graph().items() if p}
    assert used == {}


LAYOUT_PAGE = ROOT / "docs" / "layout.md"  # the layout table, linked from the README


def layout_table():
    """The paths the layout table (docs/layout.md) names (backticked, in its first column)."""
    text = LAYOUT_PAGE.read_text()
    section = text.split("## Layout\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([^`]+)`", line.split(" | ")[0]))
    return names


def test_readme_layout_table_matches_the_tree():
    named = layout_table()
    folders = {f"{p.parent.relative_to(ROOT).as_posix()}/" for p in ROOT.rglob("__init__.py")
               if p.parent.relative_to(ROOT).parts[0] not in OUTSIDE}
    files = {m.replace(".", "/") + ".py" for m, p in project_modules().items() if p.name != "__init__.py"}
    missing = sorted((folders | files | {"plots/", "tests/", "benchmarks/"}) - named)
    assert missing == [], f"the layout table does not name {missing}"
    gone = sorted(n for n in named if not (ROOT / n).exists())
    assert gone == [], f"the layout table names {gone}, which do not exist"


def test_readme_links_every_docs_page():
    """The README's first screen leads to every reference page in docs/ (a page no link reaches is lost)."""
    readme = (ROOT / "README.md").read_text()
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert pages and [p for p in pages if f"(docs/{p})" not in readme] == []


def fingerprint_of(root, monkeypatch, module, name):
    from machinery import codehash

    monkeypatch.setattr(codehash, "ROOT", root)
    codehash.reset()
    try:
        return codehash.digest(codehash.closure(module, name))
    finally:
        codehash.reset()


def test_moving_a_module_into_a_package_keeps_fingerprints(tmp_path, monkeypatch):
    """A hook importing a helper lazily keeps its fingerprint when the helper moves into a folder (and the import
    says so); an edit to the helper's body still changes it."""
    flat, moved, edited = tmp_path / "flat", tmp_path / "moved", tmp_path / "edited"
    helper = "K = 3\n\n\ndef g(x):\n    return x * K\n"
    flat.mkdir()
    (flat / "helper.py").write_text(helper)
    (flat / "hook.py").write_text("from helper import K\n\n\ndef f(x):\n    import helper as h\n\n"
                                  "    return h.g(x) + K\n")
    for root, body in ((moved, helper), (edited, helper.replace("x * K", "x * K + 1"))):
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "__init__.py").write_text("")
        (root / "pkg" / "helper.py").write_text(body)
        (root / "hook.py").write_text('"""moved"""\nfrom pkg.helper import K\n\n\ndef f(x):\n'
                                      '    from pkg import helper as h\n\n    return h.g(x) + K\n')
    before = fingerprint_of(flat, monkeypatch, "hook", "f")
    assert fingerprint_of(moved, monkeypatch, "hook", "f") == before
    assert fingerprint_of(edited, monkeypatch, "hook", "f") != before


def test_moving_an_import_between_a_function_and_the_top_changes_no_fingerprint(tmp_path, monkeypatch):
    """Where a name is imported is not content: an import moved into a function body (or out of it) keeps the
    fingerprint; what the name stands for still counts."""
    roots = {k: tmp_path / k for k in ("top", "inside", "edited")}
    for key, root in roots.items():
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "__init__.py").write_text("")
        factor = "4" if key == "edited" else "3"
        (root / "pkg" / "helper.py").write_text(f"def g(x):\n    return x * {factor}\n")
        (root / "util.py").write_text("import numpy as np\n\nK = 2\n")
    top = ("import math\n\nfrom pkg import helper\nfrom util import K\n\n\ndef f(x):\n"
           "    return helper.g(x) + K + math.pi\n")
    inside = ("def f(x):\n    import math\n\n    from pkg import helper\n    from util import K\n\n"
              "    return helper.g(x) + K + math.pi\n")
    for key, text in (("top", top), ("inside", inside), ("edited", inside)):
        (roots[key] / "hook.py").write_text(text)
    before = fingerprint_of(roots["top"], monkeypatch, "hook", "f")
    assert fingerprint_of(roots["inside"], monkeypatch, "hook", "f") == before
    assert fingerprint_of(roots["edited"], monkeypatch, "hook", "f") != before  # pkg.helper.g followed either way


def test_a_guard_is_no_part_of_any_fingerprint(tmp_path, monkeypatch):
    """A limit a module lists in GUARDS (it only refuses input) can change without changing an id; the real guards
    (data.MAX_DIGITS, models.MAX_UNITS) are in no run's closure."""
    from machinery import fingerprint

    code = fingerprint.fingerprint()["code"]  # the real code's, before ROOT points elsewhere
    assert "data.gen_data" in code and "models.ModelConfig" in code
    assert "data.MAX_DIGITS" not in code and "models.MAX_UNITS" not in code
    ids = []
    for limit in (10, 20):
        root = tmp_path / str(limit)
        root.mkdir()
        (root / "m.py").write_text(f'GUARDS = ("LIMIT",)\nLIMIT = {limit}\nSCALE = 3\n\n\ndef f(x):\n'
                                   '    if x > LIMIT:\n        raise ValueError("too big")\n    return x * SCALE\n')
        ids.append(fingerprint_of(root, monkeypatch, "m", "f"))
    assert ids[0] == ids[1]


CORE = {"data", "models", "train", "plot"}  # the design card's modules below the three folders
ENVIRONMENT = {"machinery.numerics"}  # imported first by everything that loads torch; it imports nothing


def test_imports_flow_one_way():
    """data <- models <- train <- measures <- experiments <- machinery <- source: the core never imports the folders
    (only the numerics every torch user sets first), the plans import the measures they plan and the plan vocabulary
    (machinery/plans.py, which imports no other machinery and no plan) but nothing of the machinery that runs them,
    and no module imports an entry point."""
    g = {m: e for m, (e, _) in graph().items()}
    up = {m: sorted(e - CORE - ENVIRONMENT) for m, e in g.items() if m in CORE and e - CORE - ENVIRONMENT}
    assert up == {}
    assert sorted(m for m in g["experiments"] - ENVIRONMENT if m.startswith("machinery")) == ["machinery.plans"]
    assert sorted(m for m in g["machinery.plans"] if m.startswith("machinery") or m == "experiments") == []
    assert sorted(m for m, e in g.items() if m.startswith("measures") and "experiments" in e) == []
    assert g["machinery.numerics"] == set()
    entry = {m: sorted(e & {"source", "add"}) for m, e in g.items() if e & {"source", "add"}}
    assert entry == {}


def test_a_result_made_before_a_move_stays_current():
    """A fingerprint whose definitions only moved (module names differ, contents equal) is the same code; an edited
    definition, another environment or another set of hooks is not."""
    from machinery.fingerprint import same_code

    new = {"code": {"train.train_run": "a1", "data.gen_data": "b2"}, "torch": "2", "numpy": "1", "numerics": "pinned",
           "hooks": {"length_eval": {"measures.length.length_eval": "c3", "measures.beyond.SUM_CHUNK": "d4"}}}
    moved = {**new, "hooks": {"length_eval": {"length.length_eval": "c3", "beyond.SUM_CHUNK": "d4"}}}
    assert same_code(moved, new)
    assert not same_code({**moved, "hooks": {"length_eval": {"length.length_eval": "c3", "beyond.SUM_CHUNK": "e5"}}},
                         new)
    assert not same_code({**moved, "code": {"train.train_run": "a1", "data.gen_data": "f6"}}, new)
    assert not same_code({**moved, "numerics": "native-AVX512"}, new)
    assert not same_code({**moved, "hooks": {}}, new)
    assert not same_code(None, new)


EXTERNAL = {"pt.py"}  # files of the source code the study reproduces (../shared/seed/), named in report/fidelity.py


def test_files_and_constants_the_code_cites_exist():
    """A path a module, the README or a docs/ page names (tests/test_numerics.py, machinery/runner.py, store.py) is a
    file of the project, and a module.CONSTANT it cites (runner.RUN_THREADS) is defined in that module or imported
    at its top (proof.TANH_ERR, rounding.py's): no stale citation."""
    modules = project_modules()
    files = {p.name for p in ROOT.rglob("*.py") if not any(q.startswith(".") for q in p.relative_to(ROOT).parts)}
    defined = {}
    for m, path in modules.items():
        names = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                names |= {n.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                          for n in ast.walk(t) if isinstance(n, ast.Name)}
            elif isinstance(node, ast.ImportFrom):  # module.NAME reaches an imported name too
                names |= {a.asname or a.name for a in node.names}
        defined.setdefault(m.rpartition(".")[2], set()).update(names)
    stale = []
    docs = [p for p in sorted((ROOT / "docs").glob("*.md")) if p.name != "EXPERIMENTS.md"]  # the spec cites the source
    for path in [*modules.values(), ROOT / "README.md", *docs]:
        text = path.read_text()
        for cited in re.findall(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.py)\b", text):
            if not ((ROOT / cited).exists() if "/" in cited else cited in files | EXTERNAL):
                stale.append(f"{path.name}: {cited}")
        for module, name in re.findall(r"\b([a-z_]+)\.([A-Z][A-Z0-9_]+)\b", text):
            if module in defined and name not in defined[module]:
                stale.append(f"{path.name}: {module}.{name}")
    assert stale == []


def test_readme_gives_about_the_number_of_tests(request):
    """The README's "about N tests" is within 10% of the tests collected, when the whole suite is (not -k, not one
    file): a count left behind by many new tests fails, a merge adding a few does not."""
    items, config = request.session.items, request.config
    every = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    if {Path(str(i.path)).name for i in items} != every or config.option.keyword or config.option.markexpr:
        pytest.skip("only part of the suite was collected")
    said = int(re.search(r"about ([\d,]+) tests", (ROOT / "README.md").read_text()).group(1).replace(",", ""))
    assert abs(said - len(items)) <= 0.1 * len(items), f"the README says about {said} tests; there are {len(items)}"


FOLDERS = ["proof", "judge", "measures", "machinery", "report"]  # bottom to top: a folder imports only folders below


def folder_edges(g):
    """{folder: folders its modules import} of a module graph (top-level modules are not folders)."""
    def folder(m):
        return m.split(".")[0] if "." in m or m in FOLDERS else None

    out = {}
    for m, edges in g.items():
        f = folder(m)
        if f is not None:
            out.setdefault(f, set()).update(t for e in edges if (t := folder(e)) not in (None, f))
    return out


def upward(edges, order=FOLDERS):
    """Folder imports that point up the order (or to a folder the order does not place): "a -> b"."""
    rank = {f: i for i, f in enumerate(order)}
    return sorted(f"{a} -> {b}" for a, bs in edges.items() for b in bs
                  if a not in rank or b not in rank or rank[b] >= rank[a])


def test_folder_check_finds_a_planted_upward_import(tmp_path):
    for folder, body in (("low", "from high import b\n"), ("high", "from low import a\n")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
        (tmp_path / folder / ("a.py" if folder == "low" else "b.py")).write_text(body)
    edges = folder_edges({m: e for m, (e, _) in graph(tmp_path).items()})
    assert edges == {"low": {"high"}, "high": {"low"}}
    assert upward(edges, ["low", "high"]) == ["low -> high"]
    assert upward({"high": {"low"}}, ["low", "high"]) == []


def test_folders_import_one_way():
    """proof, judge <- measures <- machinery <- report: no folder imports a folder above it, every folder is placed,
    and the proof add.py ships imports nothing but the core and itself."""
    g = {m: e for m, (e, _) in graph().items()}
    edges = folder_edges(g)
    assert set(edges) <= set(FOLDERS), f"folders the order does not place: {sorted(set(edges) - set(FOLDERS))}"
    assert upward(edges) == []
    assert sorted(e for m, es in g.items() if m.startswith("proof") for e in es
                  if e not in CORE and not e.startswith("proof")) == []
