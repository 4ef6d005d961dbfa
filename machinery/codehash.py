"""Code fingerprints found automatically: a function and every project definition it uses, transitively.

closure("train", "learn") walks the syntax tree of train.learn (one run; its loop is train.fit), follows each name it
reads to the project definition behind it (a function, class or constant of its own module, or one imported
from another project module, at the top of the module or inside a function), and so on, and returns
{"module.name": hash of that definition's syntax tree}. Docstrings, comments, formatting, line numbers, import
statements (where a name is imported; what it names counts) and the messages of raised errors and failed asserts do
not count, nor the limits a module lists in GUARDS (a memory guard such as data.MAX_DIGITS only refuses input);
a chart function beside a measurement in the same file does not count unless the measurement calls it. So editing
beyond.py (which the long-sum hooks call) changes their fingerprints, and editing a report sentence changes none.

digest(closure) hashes the definitions' contents only, not their module names, so moving a file to
another folder leaves every fingerprint as it was. The walk over-approximates where it cannot know
(a local variable named like a module-level function pulls that function in), never under-approximates
a name it can resolve. Names reached only through strings or attributes of objects (a method called on
a model) are covered by hashing whole classes.
"""
import ast
import hashlib
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the project root: its modules are the .py files under it (dotted: folders)


def _hash(text):
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _module_path(name):
    path = ROOT.joinpath(*name.split(".")).with_suffix(".py")
    if path.exists():
        return path
    init = ROOT.joinpath(*name.split("."), "__init__.py")
    return init if init.exists() else None


def _strip_docstrings(tree):
    """Docstrings out, and the words of errors: `raise E(message)` reads as `raise E`, `assert c, message` as
    `assert c`. Which exception a check raises is behaviour; what its message says is not, and a reworded message
    must retrain nothing."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            node.exc = node.exc.func
        elif isinstance(node, ast.Assert):
            node.msg = None
    return tree


class _Module:
    """One project module's top-level definitions and the project names it imports (anywhere in it)."""

    def __init__(self, name):
        self.name = name
        tree = _strip_docstrings(ast.parse(_module_path(name).read_text()))
        self.defs = {}  # name -> node
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.defs[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            self.defs[n.id] = node
        self.guards = set()  # GUARDS: limits that only refuse input, left out of every closure
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "GUARDS" for t in node.targets):
                self.guards = {e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant)}
        self.imports = {}  # local name -> (module, attribute or None)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if _module_path(a.name):
                        self.imports[a.asname or a.name.split(".")[0]] = (a.name, None)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    if _module_path(f"{node.module}.{a.name}"):  # from package import module
                        self.imports[a.asname or a.name] = (f"{node.module}.{a.name}", None)
                    elif _module_path(node.module):
                        self.imports[a.asname or a.name] = (node.module, a.name)
        _drop_imports(tree)  # after reading them: where a name is imported is not a definition's content
        self.hashes, self.refs = {}, {}  # name -> hash of its definition / the (module, name) pairs it reads

    def hash(self, name):
        """The hash of a definition's syntax tree (computed once per process: closures share definitions)."""
        if name not in self.hashes:
            self.hashes[name] = _hash(ast.dump(self.defs[name]))
        return self.hashes[name]

    def references(self, name):
        if name not in self.refs:
            self.refs[name] = _references(self.defs[name], self)
        return self.refs[name]


@lru_cache(maxsize=None)
def _module(name):
    return _Module(name)


def _references(node, mod):
    """(module, name) pairs a definition reads: its own module's names, imported names, module.attr."""
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            if n.id in mod.defs:
                out.add((mod.name, n.id))
            elif n.id in mod.imports:
                target, attr = mod.imports[n.id]
                if attr is not None:
                    out.add((target, attr))
        elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in mod.imports:
            target, attr = mod.imports[n.value.id]
            if attr is None:
                out.add((target, n.attr))
    return out


def closure(module, name):
    """{"module.name": hash} of a definition and every project definition it reaches."""
    seen, todo = {}, [(module, name)]
    while todo:
        m, n = todo.pop()
        key = f"{m}.{n}"
        if key in seen:
            continue
        mod = _module(m)
        if n in mod.guards:  # a memory guard: changing it refuses other input, it changes no number
            continue
        if n not in mod.defs:
            if n in mod.imports:  # re-exported name: follow it to its home
                target, attr = mod.imports[n]
                if attr is not None:
                    todo.append((target, attr))
            continue
        seen[key] = mod.hash(n)
        todo.extend(mod.references(n))
    return dict(sorted(seen.items()))


def _drop_imports(tree):
    """Remove the import statements inside a module's definitions (in place): where a name is imported (the top of
    the module or inside a function) is not a definition's content. The names they bind are followed all the same
    (the module's imports are read from anywhere in it first), so moving an import, or moving a file into a folder
    and importing it from there, leaves every fingerprint as it was; an edit to what the name stands for still shows.
    """
    for n in ast.walk(tree):
        if n is tree:
            continue
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(n, field, None)
            if isinstance(stmts, list) and any(isinstance(st, (ast.Import, ast.ImportFrom)) for st in stmts):
                kept = [st for st in stmts if not isinstance(st, (ast.Import, ast.ImportFrom))]
                setattr(n, field, kept or ([ast.Pass()] if field == "body" else []))


def digest(clo):
    """One hash of a closure's contents, independent of where its definitions live."""
    return _hash("|".join(sorted(clo.values())))


def changed(old, new):
    """Definitions added, removed or edited between two closures, as sorted "module.name" strings."""
    old, new = old or {}, new or {}
    moved = {v for v in old.values()} & {v for v in new.values()}  # same content under another module name
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k)
                  and not (old.get(k) in moved or new.get(k) in moved))


def reset():
    """Forget parsed modules (after an edit, in a process that wants to see it)."""
    _module.cache_clear()
