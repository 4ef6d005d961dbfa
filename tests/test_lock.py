"""The lock: requirements.txt (and requirements-dev.txt) pin, with ==, every distribution that installing them
installs. The closure is walked from each file's pins through the installed distributions' Requires-Dist
(importlib.metadata), keeping a requirement when its environment marker holds on this platform and Python (and
its extra was asked for), so a package a pin pulls in (python-dateutil's tzdata) cannot go unpinned."""
import importlib.metadata as metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def pins(path):
    """{canonical name: (Requirement, file name)} of a requirements file and the files it includes with -r."""
    out = {}
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            out.update(pins(path.parent / line.split(None, 1)[1]))
            continue
        assert not line.startswith("-"), f"{path.name}: option {line!r} is not understood by this test"
        req = Requirement(line)
        out[canonicalize_name(req.name)] = (req, path.name)
    return out


def pinned_version(req):
    """The version an exact pin names, or None if the requirement is not one `==` pin without a wildcard."""
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and not specs[0].version.endswith("*"):
        return specs[0].version
    return None


def closure(top):
    """{canonical name: who pulls it in} of the distributions reachable from `top` ({name: extras asked for})
    through the installed ones' Requires-Dist; and the names reached that are not installed (cannot be walked)."""
    reached, missing = {name: "pinned" for name in top}, []
    todo = [(name, set(extras)) for name, extras in top.items()]
    while todo:
        name, extras = todo.pop()
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        for text in requires:
            req = Requirement(text)
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
                continue  # another platform, Python or an extra nobody asked for
            dep = canonicalize_name(req.name)
            if dep not in reached:
                reached[dep] = name
                todo.append((dep, set(req.extras)))
    return reached, missing


def test_pins_parse_as_the_walk_reads_them(tmp_path):
    """The parser follows -r, drops comments and canonicalizes names (Jinja2 == jinja2, typing_extensions)."""
    (tmp_path / "a.txt").write_text("# note\nFoo_Bar==1.0  # why\n")
    (tmp_path / "b.txt").write_text("-r a.txt\nbaz>=2\n")
    got = pins(tmp_path / "b.txt")
    assert sorted(got) == ["baz", "foo-bar"] and got["foo-bar"][1] == "a.txt"
    assert pinned_version(got["foo-bar"][0]) == "1.0" and pinned_version(got["baz"][0]) is None


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_every_distribution_installing_a_requirements_file_installs_is_pinned_there(name):
    pinned = pins(ROOT / name)
    loose = [f"{req} ({where})" for req, where in pinned.values() if pinned_version(req) is None]
    assert not loose, f"not pinned with ==: {', '.join(loose)}"
    reached, missing = closure({n: req.extras for n, (req, _) in pinned.items()})
    if missing:
        pytest.skip(f"{', '.join(sorted(missing))} not installed here, so what {name} installs cannot be walked "
                    f"(install it: pip install -r {name})")
    unpinned = sorted(f"{dep} (required by {by})" for dep, by in reached.items() if dep not in pinned)
    assert not unpinned, f"{name} does not pin what it installs: {', '.join(unpinned)}"
    # the lock is what is installed: a pin that disagrees with the environment the tests run in is stale
    stale = [f"{n}=={pinned_version(req)} but {metadata.version(n)} installed" for n, (req, _) in pinned.items()
             if n in reached and metadata.version(n).split("+")[0] != pinned_version(req)]
    assert not stale, f"{name}: {', '.join(stale)}"
