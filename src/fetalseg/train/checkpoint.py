"""Training checkpoints: atomic, complete (model, optimiser, scheduler, step, every RNG state).

A checkpoint is a ``torch.save`` dict of tensors, numbers, strings, lists and dicts only, so it loads
with ``torch.load(weights_only=True)`` (no arbitrary pickle). It is written to a temporary file in the
same folder, flushed to disk and renamed over the target, so a run killed at any moment leaves either
the previous checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

FORMAT = 1


def rng_state() -> dict:
    """Every global RNG state (Python, NumPy legacy, torch CPU, torch CUDA) as plain tensors/lists."""
    py = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the states saved by :func:`rng_state`."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, *, model, optimizer=None, scheduler=None, step: int,
                    extra: dict | None = None) -> Path:
    """Atomically write a checkpoint with the state after ``step`` completed steps.

    ``model`` may be wrapped in DistributedDataParallel (its ``module`` is saved). ``extra`` holds
    JSON-like run data (best Dice so far, config...).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = getattr(model, "module", model)
    payload = {
        "format": FORMAT,
        "step": int(step),
        "model": module.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "rng": rng_state(),
        "extra": extra or {},
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give checkpoints ordinary file permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only``: no arbitrary pickle)."""
    from ..errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise InputError(path, f"not a readable checkpoint ({str(exc).splitlines()[0] if str(exc) else exc!r})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputError(path, "not a fetalseg training checkpoint")
    return ckpt


def restore(ckpt: dict, *, model, optimizer=None, scheduler=None, restore_rng: bool = True) -> int:
    """Load a checkpoint's states into the given objects; returns the number of completed steps."""
    module = getattr(model, "module", model)
    module.load_state_dict(ckpt["model"])
    if optimizer is not None and ckpt.get("optimizer") is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and ckpt.get("scheduler") is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    if restore_rng:
        set_rng_state(ckpt["rng"])
    return int(ckpt["step"])
