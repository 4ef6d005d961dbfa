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
    hist, model, _ = train_run({"cell": cell, "nonlinearity": "tanh"}, maxlen=5, steps=300, lr=0.01,
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


def trained_on_cuda(cell="rnn", mode="none", maxlen=5):
    run = {"train": {"maxlen": maxlen, "steps": 20, "lr": 0.01}}
    _, model, state = train_run({"cell": cell, "hidden_mode": mode, "hidden_size": 16}, **run["train"], seed=0,
                                device="cuda")
    return model, state, run


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_every_after_hook_runs_on_the_models_device(cell):
    """Each hook on a CUDA model gives the numbers it gives on a CPU copy of the same weights."""
    import copy

    from measures import chains, cost, length, probe, split

    model, _, run = trained_on_cuda(cell)
    cpu = copy.deepcopy(model).cpu()
    hooks = [(length.length_eval, dict(lengths=[5, 50], sums=[40, 40], fallback_sums=5)),
             (chains.chain_eval, dict(length=30, chains=[0, 3], sums=20)),
             (probe.probe_eval, dict(sums=40, length=8, norm_length=100, norm_sums=2, norm_points=10)),
             (split.position_errors, dict(sums=300))]
    for fn, args in hooks:
        on_gpu, on_cpu = fn(model, None, run, 0, **args), fn(cpu, None, run, 0, **args)
        assert next(model.parameters()).is_cuda
        for key in on_cpu:
            if key not in ("eval_sec", "pca", "norm"):  # timings; float noise in PCA/norm (checked below)
                assert on_gpu[key] == pytest.approx(on_cpu[key], abs=1e-3), (fn.__name__, key)
        if fn is probe.probe_eval:
            assert on_gpu["norm"]["per_layer"][-1] == pytest.approx(on_cpu["norm"]["per_layer"][-1], rel=1e-3)
    cost = cost.bptt_cost(model, None, run, 0, depths=[1, 4])
    assert cost["depths"] == [1, 4] and all(s > 0 for s in cost["sec_per_step"])


def test_position_errors_on_a_cuda_carry_model():
    from measures import split

    model, state, run = trained_on_cuda("rnn", "carry")
    out = split.position_errors(model, state, run, 0, sums=450)  # more sums than the carried batch: chunked
    assert len(out["test_errors"]) == 6 and 0 <= out["train_exact"] <= 1
