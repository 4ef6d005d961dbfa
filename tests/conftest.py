import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from machinery import numerics  # noqa: E402 - before torch: the pinned numerics every run uses

# every test trains into a store of its own session, never into the user's ./store
SESSION_STORE = tempfile.mkdtemp(prefix="adder-store-")
os.environ["ADDER_STORE"] = SESSION_STORE
# numpy's BLAS on one thread, as torch's (below): on 2 busy cores a second OpenBLAS thread spins and makes a
# small SVD (probe.pca_2d) take a second instead of milliseconds. Set before numpy loads; children inherit it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    """Remove the session's store, which this file made (workers share it, so not at each process's exit)."""
    import shutil

    shutil.rmtree(SESSION_STORE, ignore_errors=True)


numerics.apply()  # what every entry point does once torch is loaded (train.py leaves it to them)

import experiments  # noqa: E402
from machinery import runner as machinery_runner  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """Train as the study does (machinery/runner.py's RUN_THREADS): the thread count changes float sums."""
    torch.set_num_threads(1)


TINY = {"seeds": 2, "steps": 20, "every": 10, "maxlen_div": 5}  # experiments.QUICK for the tests: two points per curve


def quick_runs(eid):
    """How many runs experiment `eid` trains under --quick with TINY: its curves times TINY's seeds."""
    return len(machinery_runner.planned(eid, True)["runs"]) * TINY["seeds"]


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory):
    """The whole study in quick mode with TINY settings, run once per session: its output folder."""
    import source

    out = tmp_path_factory.mktemp("quick")
    mp = pytest.MonkeyPatch()
    mp.setattr(experiments, "QUICK", TINY)
    try:
        assert source.main(["--quick", "--workers", "2", "--device", "cpu", "--out", str(out)]) == 0  # both cores
    finally:
        mp.undo()
    return out


def assert_drawn(png):
    """A PNG that decodes to a chart: a real image with many colors (lines, bands, text), not an empty canvas."""
    import matplotlib.pyplot as plt
    import numpy as np

    image = plt.imread(png)
    assert image.ndim == 3 and min(image.shape[:2]) > 300
    colors = np.zeros(image.shape[:2], np.uint32)  # one integer per pixel: np.unique on rows is 30x slower
    for channel in np.moveaxis(np.round(image * 255).astype(np.uint32), -1, 0):  # 8-bit RGB(A), as savefig writes
        colors = colors << 8 | channel
    assert len(np.unique(colors)) > 100


def copy_code(dst):
    """The project's code (top-level modules and packages, no data) copied into the new folder dst."""
    import shutil

    root = Path(__file__).resolve().parents[1]
    dst.mkdir()
    for f in root.glob("*.py"):
        shutil.copy(f, dst / f.name)
    for package in sorted(p.parent for p in root.glob("*/__init__.py")):  # every package: a new folder too
        if package.name not in ("tests", "benchmarks"):
            shutil.copytree(package, dst / package.name, ignore=shutil.ignore_patterns("__pycache__"))
