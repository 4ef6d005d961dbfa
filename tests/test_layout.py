"""The layout: the import graph of every project module (no cycle, no other module's _private names) and the
README's layout table against the tree."""
import ast
import re
from pathlib import Path

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


def test_no_module_uses_another_modules_private_names():
    used = {m: p for m, (_, p) in graph().items() if p}
    assert used == {}


def layout_table():
    """The paths the README's layout table names (backticked, in its first column)."""
    text = (ROOT / "README.md").read_text()
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
    assert missing == [], f"the README's layout table does not name {missing}"
    gone = sorted(n for n in named if not (ROOT / n).exists())
    assert gone == [], f"the README's layout table names {gone}, which do not exist"


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


CORE = {"data", "models", "train", "experiments", "plot"}  # the design card's modules below the three folders
ENVIRONMENT = {"machinery.numerics"}  # imported first by everything that loads torch; it imports nothing


def test_imports_flow_one_way():
    """data <- models <- train <- experiments <- {machinery, measures, report} <- source: the core never imports the
    folders (only the numerics every torch user sets first), and no module imports an entry point."""
    g = {m: e for m, (e, _) in graph().items()}
    up = {m: sorted(e - CORE - ENVIRONMENT) for m, e in g.items() if m in CORE and e - CORE - ENVIRONMENT}
    assert up == {}
    assert g["machinery.numerics"] == set()
    entry = {m: sorted(e & {"source", "add"}) for m, e in g.items() if e & {"source", "add"}}
    assert entry == {}


def test_a_result_made_before_a_move_stays_current():
    """A fingerprint whose definitions only moved (module names differ, contents equal) is the same code; an edited
    definition, another environment or another set of hooks is not."""
    from machinery.store import same_code

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


FOLDERS = ["judge", "measures", "machinery", "report"]  # bottom to top: a folder imports only folders below it


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
    """judge <- measures <- machinery <- report: no folder imports a folder above it, and every folder is placed."""
    edges = folder_edges({m: e for m, (e, _) in graph().items()})
    assert set(edges) <= set(FOLDERS), f"folders the order does not place: {sorted(set(edges) - set(FOLDERS))}"
    assert upward(edges) == []
