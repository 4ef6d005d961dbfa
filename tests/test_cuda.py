"""CUDA paths (skipped without a GPU): training learns, carry mode works, CPU and CUDA agree."""
import pytest
import torch

import source
from data import gen_data
from models import ModelConfig, build_model
from train import evaluate, resolve_device, seed_streams, to_tensors, train_run

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_cuda_run_learns_in_carry_mode(cell):
    hist, model = train_run({"cell": cell, "nonlinearity": "tanh"}, maxlen=5, steps=300, lr=0.01,
                            milestones=[150], gamma=0.2, seed=0, device="cuda")
    assert next(model.parameters()).is_cuda and not hist["diverged"]
    assert hist["accuracy"][-1] >= 0.99


def test_cuda_and_cpu_evaluate_the_same_weights_alike():
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden_mode="none"))
    _, rng = seed_streams(0)
    batch = gen_data(1000, 10, "test", rng)
    cpu = evaluate(model, *to_tensors(batch, "cpu"))
    gpu = evaluate(model.cuda(), *to_tensors(batch, "cuda"))
    assert abs(cpu[1] - gpu[1]) < 1e-3


def test_auto_picks_cuda_and_study_runs_on_it(tmp_path):
    assert resolve_device("auto") == "cuda"
    assert source.main(["--quick", "--device", "cuda", "--workers", "1", "--out", str(tmp_path), "pt_main"]) == 0
    assert (tmp_path / "pt_main.png").exists()
