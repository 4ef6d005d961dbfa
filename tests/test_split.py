"""The split's shift: the eval_split training setting, the per-position error hook and the maxlen section."""
import pytest
import torch

import experiments
from data import SPLITS, digits_to_ints, gen_data, measure_rng
from measures import split
from models import ModelConfig, build_model, detach
from train import check_settings, evaluate, seed_streams, to_tensors, train_run

KW = dict(maxlen=4, steps=60, lr=0.01, seed=3, loss_every=20, eval_every=20)


def test_eval_split_default_changes_nothing_and_train_changes_only_the_evaluation():
    base, _, _ = train_run({}, **KW)
    same, _, _ = train_run({}, eval_split="test", **KW)
    control, model, state = train_run({}, eval_split="train", **KW)
    assert base["loss"] == same["loss"] and base["digit_accuracy"] == same["digit_accuracy"]
    assert control["loss"] == base["loss"]  # training is identical: same stream, same steps
    assert control["digit_accuracy"] != base["digit_accuracy"]
    _, test_rng = seed_streams(KW["seed"])  # the run's own evaluation generator, drawing train-range sums
    num1, num2, result = gen_data(1000, KW["maxlen"], "train", test_rng)
    assert max(digits_to_ints(num1) + digits_to_ints(num2)) < 5 * 10 ** (KW["maxlen"] - 1)
    assert evaluate(model, *to_tensors((num1, num2, result), "cpu"), state) == (control["accuracy"][-1],
                                                                                control["digit_accuracy"][-1])
    with pytest.raises(ValueError, match="eval_split must be one of train, test, got 'val'"):
        check_settings({"eval_split": "val"})


def test_maxlen_control_reruns_the_maxlen_sweep_on_train_range_sums():
    main, control = experiments.maxlen(), experiments.maxlen_control()
    assert [r["model"] for r in main["runs"]] == [r["model"] for r in control["runs"]]
    for a, b in zip(main["runs"], control["runs"], strict=True):
        assert b["train"] == {**a["train"], "eval_split": experiments.CONTROL_EVAL_SPLIT}
        assert a["after"].func is split.position_errors
    ids = list(experiments.EXPERIMENTS)
    assert ids.index("maxlen_control") == ids.index("maxlen") + 1


@pytest.mark.parametrize("mode", ["none", "carry"])
def test_position_errors_match_decoded_predictions(mode):
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden_mode=mode, hidden_size=16))
    if mode == "carry":
        _, last = model.run(*to_tensors(gen_data(200, 6, "train", 0)[:2], "cpu"), model.init_hidden(200))
        state = detach(last)  # a carried state of 200 sums, as training leaves it (train.fit)
    else:
        state = None
    out = split.position_errors(model, state, {"train": {"maxlen": 6}}, 1, sums=450)
    assert out["sums"] == 450
    for where, top in (("test", 1), ("train", 0)):
        num1, num2, _ = gen_data(450, 6, where, measure_rng(1, "split", SPLITS.index(where)))
        with torch.no_grad():
            pred = model.eval()(*to_tensors((num1, num2), "cpu"), state).argmax(-1).numpy()
        truth = [str(a + b).zfill(7)[::-1] for a, b in zip(digits_to_ints(num1), digits_to_ints(num2), strict=True)]
        assert {t[-1] for t in truth} == {str(top)}  # the top result digit the split fixes
        wrong = [[str(p[i]) != t[i] for i in range(7)] for p, t in zip(pred, truth, strict=True)]
        assert out[f"{where}_errors"] == pytest.approx([sum(w[i] for w in wrong) / 450 for i in range(7)])
        assert out[f"{where}_exact"] == pytest.approx(sum(not any(w) for w in wrong) / 450)


def fake_maxlen(test_exact, train_exact):
    """A stored maxlen result with per-seed position errors (errors only at the top digit)."""
    series = []
    for m, te, tr in zip((5, 10), test_exact, train_exact, strict=True):
        extra = [{"sums": 100, "test_exact": te, "train_exact": tr, "test_errors": [0.0] * m + [1 - te],
                  "train_errors": [0.0] * m + [1 - tr]}] * 2
        series.append({"label": f"maxlen={m}", "settings": {"maxlen": m, "milestones": []}, "seeds": [0, 1],
                       "steps": [50], "loss_steps": [50], "loss": [[1.0]] * 2, "accuracy": [[te]] * 2,
                       "first_exact": [None, None], "diverged": [False] * 2, "sec_per_step": [1e-3] * 2,
                       "extra": extra})
    return {"id": "maxlen", "title": "t", "series": series, "config": {"seeds": [0, 1]}, "device": "cpu",
            "wall_seconds": 1.0, "torch": "x"}


def test_maxlen_section_reads_the_stored_split_numbers():
    text = "\n".join(split.maxlen_section(fake_maxlen([0.4, 0.9], [0.8, 0.9])))
    assert "| maxlen=5 | 0.400 | 0.800 | 1.00 | 1.00 |" in text
    assert "Largest gap between the ranges: maxlen=5, exact match -0.400" in text
    text = "\n".join(split.maxlen_section(fake_maxlen([0.9, 0.3], [0.9, 0.9])))
    assert "Largest gap between the ranges: maxlen=10, exact match -0.600" in text
    old = fake_maxlen([0.4, 0.9], [0.8, 0.9])
    for s in old["series"]:
        del s["extra"]
    assert "split's shift" not in "\n".join(split.maxlen_section(old))  # stored before the hook: no table
