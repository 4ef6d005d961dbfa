"""What the run store and a result keep of a run: its history (whose shorter runs it holds as prefixes), its weights
as bytes, and what makes a run entry, a weights file or a result JSON whole (each *_problem says why not, or None).
"""
import io

import torch

from models import ModelConfig, build_model

HISTORY_FIELDS = ("loss", "accuracy", "digit_accuracy", "diverged", "diverged_at", "first_exact", "first_exact_sec",
                  "steps_run", "sec_per_step")  # per-seed fields a result's series keeps of each run
SERIES_FIELDS = ("label", "settings", "seeds", "steps", "loss_steps", *HISTORY_FIELDS)  # a result's series holds



def entry_problem(entry):
    """Why a run entry's JSON content is not a run entry (None: it is one)."""
    if not isinstance(entry, dict):
        return f"a JSON {type(entry).__name__}, not an entry"
    hist = entry.get("history")
    if not isinstance(hist, dict):
        return 'no "history"'
    missing = [k for k in (*HISTORY_FIELDS, "loss_steps", "eval_steps") if k not in hist]
    return f"its history lacks {', '.join(missing)}" if missing else None


def blob_problem(blob):
    """Why bytes are not weights that weights_blob wrote (None: they load)."""
    try:
        saved = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception:  # torch raises many kinds here (unpickling, zip, EOF): all mean unreadable
        return "its weights do not load (truncated or not a weights file)"
    return None if isinstance(saved, dict) and "state" in saved else "its weights file holds no model state"


def result_problem(result):
    """Why a result JSON's content is not a whole result of source.py (None: it is one)."""
    if not isinstance(result, dict):
        return "not a JSON object" if result is not None else "not valid JSON"
    config, series = result.get("config"), result.get("series")
    if not isinstance(config, dict) or not isinstance(config.get("runs"), list):
        return 'no "config" with its runs'
    if not isinstance(series, list) or len(series) != len(config["runs"]):
        return f'its "series" do not match its {len(config["runs"])} runs'
    for s in series:
        missing = [k for k in SERIES_FIELDS if k not in s] if isinstance(s, dict) else ["all"]
        if missing:
            return f"a series lacks {', '.join(missing)}"
        if not isinstance(s["seeds"], list) or any(not isinstance(s[k], list) or len(s[k]) != len(s["seeds"])
                                                   for k in HISTORY_FIELDS):
            return "a series' per-seed fields do not match its seeds"
    return None if "device" in result else 'no "device"'


def weights_blob(model, h=None):
    """torch.save bytes of a trained model's weights and h, the state a carry-mode training ended with (train_run
    returns it; evaluation starts from it), or None."""
    buf = io.BytesIO()
    torch.save({"state": model.state_dict(), "h": list(h) if isinstance(h, tuple) else h}, buf)
    return buf.getvalue()


def model_from_blob(model_cfg, blob, device):
    """(model, state): the trained model that weights_blob saved and the state it was saved with, on `device`."""
    saved = torch.load(io.BytesIO(blob), map_location=device, weights_only=True)
    model = build_model(ModelConfig(**model_cfg)).to(device)
    model.load_state_dict(saved["state"])
    h = saved.get("h")
    return model, tuple(h) if isinstance(h, list) else h  # a list after torch.save for LSTM's (h, c) pair



def covers(hist, steps, stop):
    """Whether a stored history holds the whole trajectory of a run of `steps` steps (stop: ends at exact)."""
    first = hist["first_exact"]
    if stop and first is not None and first <= steps:
        return True
    if hist["diverged"] and hist["diverged_at"] <= steps:
        return True
    return steps <= hist["steps_run"]


def truncate(hist, steps, stop, loss_every, eval_every):
    """The history a run of `steps` steps (stop: ending at its first exact evaluation) would have had."""
    first = hist["first_exact"] if hist["first_exact"] is not None and hist["first_exact"] <= steps else None
    end = first if stop and first is not None else steps
    div = hist["diverged_at"] if hist["diverged"] and hist["diverged_at"] <= end else None
    end = div or end

    def regrid(old_steps, values, every):
        old = dict(zip(old_steps, values, strict=True))
        grid = list(range(every, steps + 1, every))
        return grid, [old.get(s) if s <= end else None for s in grid]

    loss_steps, loss = regrid(hist["loss_steps"], hist["loss"], loss_every)
    eval_steps, acc = regrid(hist["eval_steps"], hist["accuracy"], eval_every)
    _, digit = regrid(hist["eval_steps"], hist["digit_accuracy"], eval_every)
    return {**hist, "loss_steps": loss_steps, "eval_steps": eval_steps, "loss": loss, "accuracy": acc,
            "digit_accuracy": digit, "diverged": div is not None, "diverged_at": div, "first_exact": first,
            "first_exact_sec": hist["first_exact_sec"] if first is not None else None, "steps_run": end}
