import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """Train as the study does (source.RUN_THREADS): the thread count changes float sums and so curves."""
    torch.set_num_threads(1)
