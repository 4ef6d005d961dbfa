"""Pruning by least-squares folding (measures/smallest/prune.py) and the frontier series (frontier.py, its report)."""
import numpy as np
import pytest
import torch

from data import gen_data
from measures.exact import harden
from measures.smallest import frontier, frontier_report, prune, shrink
from models import ModelConfig, myPTRNNModel
from train import to_tensors

CFG = {"cell": "rnn", "nonlinearity": "tanh", "num_layers": 1, "embed_size": 3, "hidden_mode": "none"}


def tiny(hidden, seed=0):
    torch.manual_seed(seed)
    return myPTRNNModel(ModelConfig(**CFG, hidden_size=hidden)).eval()


def consumers(model, S):
    """What every consumer of the states reads, from the weights as torch holds them: the recurrent part of the next
    pre-activations (N, H) and the logits (N, 10), in float64."""
    w = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    return S @ w["rnn.weight_hh_l0"].T + w["rnn.bias_hh_l0"], S @ w["out.weight"].T + w["out.bias"]


@pytest.mark.parametrize("exact", [True, False])
def test_folding_a_unit_keeps_what_its_consumers_read_on_the_fitted_states(exact):
    model, j = tiny(6), 2
    rng = np.random.default_rng(1)
    S = np.tanh(rng.normal(size=(400, 6)))
    if exact:  # unit j an affine function of the others: folding it changes nothing on S
        S[:, j] = 0.3 + np.delete(S, j, axis=1) @ rng.normal(size=5) * 0.2
    rest = np.delete(S, j, axis=1)
    A = np.c_[np.ones(len(S)), rest]
    coef = np.linalg.pinv(A) @ S[:, j]  # the least-squares fit by the pseudo-inverse, not lstsq
    fitted = S.copy()
    fitted[:, j] = A @ coef
    want_h, want_logits = consumers(model, fitted)
    small = prune.fold(model, j, S)
    assert small.cfg.hidden_size == 5
    got_h, got_logits = consumers(small, rest)
    keep = np.delete(np.arange(6), j)
    np.testing.assert_allclose(got_h, want_h[:, keep], atol=2e-5)
    np.testing.assert_allclose(got_logits, want_logits, atol=2e-5)
    if exact:
        np.testing.assert_allclose(got_logits, consumers(model, S)[1], atol=2e-5)
    w = prune.weights(model)  # the kept units' inputs are untouched
    assert np.array_equal(small.rnn.weight_ih_l0.detach().numpy(), w["W_ih"][keep].astype(np.float32))


def test_pruning_a_copied_unit_keeps_every_output():
    model = tiny(4)
    with torch.no_grad():  # unit 3 a copy of unit 0: same inputs, same recurrence, so the same state at every step
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(model.rnn, name)[3] = getattr(model.rnn, name)[0]
    small, removed = prune.prune(model, 1, seed=0, maxlen=3)
    assert removed in ([0], [3]) and small.cfg.hidden_size == 3
    num1, num2, _ = to_tensors(gen_data(2000, 4, "train", 5), "cpu")
    with torch.no_grad():
        old, new = model(num1, num2), small(num1, num2)
    assert torch.equal(old.argmax(-1), new.argmax(-1))
    assert (old - new).abs().max() < 1e-4


def test_a_multi_layer_model_is_refused_in_one_line():
    model = myPTRNNModel(ModelConfig(**{**CFG, "num_layers": 2}, hidden_size=4))
    with pytest.raises(ValueError, match="one-layer rnn adders"):
        prune.prune(model, 1, seed=0, maxlen=3)


def test_the_series_records_what_it_ran_and_keeps_the_last_proven_model():
    seen = []

    def try_model(m, step_seed):  # proven down to 6 units
        seen.append((m.cfg.hidden_size, step_seed, m))
        return {"proven": m.cfg.hidden_size >= 6, "m": 1, "min_margin_bound": float(m.cfg.hidden_size)}

    best, record = frontier.series(tiny(10), seed=3, maxlen=3, harden=None, prove=None, first_step=4, floor=3,
                                   try_model=try_model)
    # 10 -> 6 proven; 6 -> 3 (the floor) fails; the step halves to 1: 6 -> 5 fails, and a one-unit failure ends it
    assert [(r["from"], r["units"], r["cut"], r["proven"]) for r in record] == [(10, 6, 4, True), (6, 3, 3, False),
                                                                                (6, 5, 1, False)]
    assert [(u, s) for u, s, _ in seen] == [(r["units"], frontier.STEP_SEED * 3 + r["units"]) for r in record]
    assert all(len(r["removed"]) == r["cut"] for r in record)
    assert best is seen[0][2] and best.cfg.hidden_size == 6


def test_fine_tune_steps_counts_the_steps_harden_ran(monkeypatch):
    ran = []
    real = harden.fine_tune
    monkeypatch.setattr(harden, "fine_tune", lambda model, sample, steps, *a, **k: ran.append(steps)
                        or real(model, sample, steps, *a, **k))
    model = tiny(6)
    log = harden.harden(model, 0, 3, rounds=2, steps=7, lr=1e-3, candidates=50, length=61, batch=50, elite=5,
                        saturation=1.0, saturate_steps=11, stop_margin=-1e9)  # attack "clean" at once: saturate
    assert ran and frontier.fine_tune_steps(log, 7, 11) == sum(ran)
    assert 11 in ran


def test_the_report_counts_the_seeds_proven_per_size():
    """Proven: both checkers accepted and the weights were kept; a record of proof.check alone is not counted."""
    kept = {"recheck": True, "weights": {"w": [[1], "AAAAAA=="]}}
    start = {"units": 8, "proven": True, "m": 1, "min_margin_bound": 2.0, **kept}
    step = lambda u, p, margin, **k: {"units": u, "proven": p, "m": 1, "min_margin_bound": margin,  # noqa: E731
                                      "fine_tune_steps": 10, "sec": 60.0, "attack_clean": True, **k}
    e0 = {"start": start, "steps": [step(6, True, 1.5, **kept), step(4, False, -3.0)],
          "smallest": {"units": 6, "m": 1, "min_margin_bound": 1.5}}
    e1 = {"start": start, "steps": [step(6, False, -1.0)], "smallest": {"units": 8, "m": 1, "min_margin_bound": 2.0}}
    e2 = {"start": start, "steps": [step(4, True, 0.5)],  # proof.check only (an older record): not proven
          "smallest": {"units": 4, "m": 1, "min_margin_bound": 0.5}}
    result = {"series": [{"seeds": [0, 1, 2, 3], "extra": [e0, {}, e1, e2], "settings": {"embed_size": 32},
                          "label": "x"}]}
    rows = frontier_report.table(result)
    assert rows[0].startswith("| units | parameters | seeds proven") and "seed 0 | seed 2 | seed 3" in rows[0]
    assert [r.split(" | ")[2] for r in rows[2:]] == ["3/3", "1/2", "0/2"]
    assert rows[3].split(" | ")[1] == f"{6 * (64 + 6 + 2) + 70:,}" and rows[3].split(" | ")[3] == "1.5"
    assert "proof.check only" in rows[4]
    assert frontier_report.smallest(result)[:3] == (6, -1.5, 0)  # seed 3's 4 units are not proven


def test_shrinking_drives_the_targets_outgoing_weights_down_and_not_the_others():
    model = tiny(6)
    others = [0, 2, 3, 5]
    rest_before = shrink.outgoing(model, others).detach().numpy()
    rec = shrink.shrink(model, [1, 4], seed=0, maxlen=3, steps=20, lr=0.04, weight=1.0)
    assert rec["units"] == [1, 4] and rec["steps"] == 20
    after = np.array(rec["norm_after"])
    assert (after < 0.3 * np.array(rec["norm_before"])).all()
    assert np.allclose(after, shrink.outgoing(model, [1, 4]).detach().numpy())
    rest_after = shrink.outgoing(model, others).detach().numpy()
    assert (after / np.array(rec["norm_before"])).max() < (rest_after / rest_before).min()


def test_the_hook_runs_on_its_seeds_only_and_prunes_only_a_proven_start():
    import experiments

    args = experiments.exact_frontier()["runs"][0]["after"].keywords
    run = {"train": {"maxlen": 3}}
    assert frontier.frontier_eval(tiny(6), None, run, 1, args["harden"], args["frontier"], seeds=[0], quick=True) == {}
    model = tiny(6)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = frontier.frontier_eval(model, None, run, 0, args["harden"], args["frontier"], seeds=[0], quick=True)
    assert out["start"]["units"] == 6 and not out["start"]["proven"] and out["steps"] == [] and "smallest" not in out
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the stored run is not changed


def test_every_proven_step_keeps_weights_and_a_certificate_both_checkers_accept(tmp_path, capsys):
    """prove_model holds a model to both checkers and keeps its weights; write_certificates writes one file per
    proven attempt (origin trained for the start, pruned after a cut) that the certificate command accepts."""
    from test_exact import hand_adder

    from proof import certificate

    good, broken = hand_adder(), hand_adder()
    with torch.no_grad():  # digits 3 and 4 swap their output rows
        broken.out.weight[[3, 4]] = broken.out.weight[[4, 3]].clone()
        broken.out.bias[[3, 4]] = broken.out.bias[[4, 3]].clone()
    prove = {"m": 1, "max_iter": 50, "budget_s": 20}
    rec = frontier.proof_summary(frontier.prove_model(good, **prove))
    assert rec["proven"] and rec["proof_check"] and rec["recheck"] and rec["weights"]
    bad = frontier.proof_summary(frontier.prove_model(broken, **prove))
    assert not bad["proven"] and not bad["recheck"] and "weights" not in bad
    settings = {**good.cfg.to_dict(), "maxlen": 3}
    e = {"start": {"units": 19, **rec}, "steps": [{"units": 19 - 1, **bad}]}
    result = {"series": [{"seeds": [7], "extra": [e], "settings": settings, "label": "hand"}],
              "config": {"runs": [{"after": {"args": {"frontier": {"prove": prove, "m2": {}}}}}]}}
    written = frontier_report.write_certificates(result, tmp_path)
    path = tmp_path / frontier_report.FOLDER / frontier_report.certificate_name(7, 19)
    assert written == {(7, 19): path} and certificate.main([str(path)]) == 0
    assert "origin trained" in capsys.readouterr().out
    assert certificate.verify(path)["meta"] == {"series": "hand", "seed": 7, "units": 19, "iterations":
                                                certificate.verify(path)["meta"]["iterations"],
                                                "origin": "trained", "targets": []}


def test_a_proven_step_whose_certificate_cannot_be_written_again_is_named(tmp_path, monkeypatch, capsys):
    """The keep step searches each proven step's boxes again; one it cannot prove again (a search budget_s stopped
    on a busy machine) leaves no file, and the keep step says which, in one line."""
    monkeypatch.setattr(frontier_report, "write_certificate", lambda result, out_dir: None)
    monkeypatch.setattr(frontier_report.constructed, "write_certificate", lambda out_dir, recheck_kept: None)
    monkeypatch.setattr(frontier_report, "pruned", lambda result: [(5, {})])
    monkeypatch.setattr(frontier_report, "write_certificates",
                        lambda result, out_dir: {(5, 24): tmp_path / "a.npz", (5, 20): None})
    frontier_report.keep_certificates({}, tmp_path)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].endswith(": seed 5, 20 units") and "24" not in lines[0]
    monkeypatch.setattr(frontier_report, "write_certificates", lambda result, out_dir: {(5, 24): tmp_path / "a.npz"})
    frontier_report.keep_certificates({}, tmp_path)
    assert capsys.readouterr().out == ""  # every proven step kept: nothing to say
