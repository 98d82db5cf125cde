"""Export a training run's chosen checkpoint as a model file (safetensors + JSON model card)."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from ..errors import InputError


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, *, which: str = "best",
               overwrite: bool = False, dtype: str = "float32") -> dict:
    """Write ``out`` (``.safetensors``) and its ``.json`` card from ``run_dir/checkpoints/{which}.pt``.

    ``which`` is 'best' (best validation mean Dice; the last checkpoint when the run had no validation)
    or 'last'; ``dtype`` 'float16' stores half-precision weights (loaded as float32). Returns the card. Raises :class:`InputError` for a missing run folder or checkpoint.
    """
    from ..io import check_writable
    from ..nets import DEFAULT_NORMALISATION, card_path, save_model
    from .checkpoint import load_checkpoint
    from .config import TrainConfig
    from .data import dataset_files

    run_dir = Path(run_dir)
    if which not in ("best", "last"):
        raise InputError(None, f"`which` must be 'best' or 'last', got {which!r}", param="which")
    if not run_dir.is_dir():
        raise InputError(run_dir, "run folder not found")
    out = Path(out)
    if out.suffix != ".safetensors":
        raise InputError(out, "model file name must end in .safetensors")
    check_writable(out, overwrite)
    check_writable(card_path(out), overwrite)
    ckpt = load_checkpoint(run_dir / "checkpoints" / f"{which}.pt")
    cfg = TrainConfig.from_dict(ckpt["extra"]["config"])
    state = ckpt["extra"].get("state", {})
    val = state.get("last_val", {}) if which == "last" else None
    if which == "best" and state.get("best_dice", -1) >= 0:
        val = state.get("last_val", {}) if state.get("best_step") == ckpt["step"] else None
    training_data = []
    for d in cfg.datasets:
        try:
            n = len(dataset_files(d))
        except InputError:
            n = None
        training_data.append({"name": d.name, "paths": d.paths, "labels_key": d.labels_key, "maps": n,
                              "weight": d.weight})
    card = {
        "name": out.stem,
        "resolution_mm": float(cfg.resolution_mm),
        "normalisation": dict(DEFAULT_NORMALISATION),
        "patch_size": list(cfg.patch_size),
        "training_data": training_data,
        "source": cfg.source,
        "steps": int(ckpt["step"]),
        "steps_planned": cfg.steps,
        "checkpoint": which,
        "validation_dice": {
            "mean_1_7": state.get("best_dice") if which == "best" and state.get("best_dice", -1) >= 0 else None,
            "per_label": val,
            "subjects": list(cfg.validation.include or []) or [str(p) for p in cfg.validation.paths],
        },
        "seed": cfg.seed,
        "world_size": ckpt["extra"].get("world_size", 1),
        "bf16": ckpt["extra"].get("bf16"),
        "run": str(run_dir.resolve()),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return save_model(ckpt["model"], card, out, network=cfg.network, overwrite=overwrite, dtype=dtype)
