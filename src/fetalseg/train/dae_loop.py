"""Training and export of the probability DAE (:mod:`fetalseg.nets.dae`).

Same run-folder conventions as :func:`fetalseg.train.train` (:class:`~fetalseg.train.runfolder.RunFolder`:
``config.yaml``, ``log.csv`` with validation Dice per label, ``curve.png``, ``checkpoints/last.pt``
and ``best.pt``, ``summary.json``; atomic checkpoints with every RNG state; ``resume`` continues
from ``last.pt`` with the same config). Each step draws its patches from a generator seeded by
``(seed, step)``, so a resumed run repeats exactly the batches of an uninterrupted one.

Loss: cross-entropy of the DAE logits against the clean labels. Validation: fixed corrupted
patches (seeded by ``seed``); Dice per label and the Euler characteristic distance to the FeTA
targets (``ed``, mean over labels 1-7) of the refined arg-max, with the corrupted input's as baseline.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import InputError
from .dae_data import DaeTrainConfig, clean_maps, training_pair
from .runfolder import prepare_run_dir
from .data import step_seed
from .runfolder import FG, RunFolder


def topology_ed(labels: np.ndarray, table=None) -> float:
    """Mean over FeTA labels 1-7 of ``|EC - EC_target|`` (6/26 convention; target from the table's Betti numbers)."""
    from ..labels import FETA
    from ..masks.topology import euler_characteristic

    table = table or FETA
    eds = [abs(euler_characteristic(labels == lab.value) - (lab.betti[0] - lab.betti[1] + lab.betti[2]))
           for lab in table.labels if lab.betti is not None]
    return float(np.mean(eds))


def _dice(pred: np.ndarray, ref: np.ndarray) -> dict[int, float]:
    out = {}
    for c in FG:
        a, b = pred == c, ref == c
        n = int(a.sum() + b.sum())
        if n:
            out[c] = 2.0 * float(np.logical_and(a, b).sum()) / n
    return out


def validation_set(maps, cfg: DaeTrainConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """The fixed validation pairs (stream 1 of the config seed)."""
    rng = np.random.default_rng(step_seed(cfg.seed, 0, 0, stream=1))
    return [training_pair(maps, cfg, rng) for _ in range(cfg.val_patches)]


@torch.no_grad()
def validate(net, pairs) -> dict:
    """Mean Dice per label, mean ``ed`` of the refined and of the input arg-max over ``pairs``."""
    net.eval()
    dice: dict[int, list[float]] = {c: [] for c in FG}
    ed, ed_in = [], []
    for probs, clean in pairs:
        pred = net(torch.from_numpy(probs)[None]).argmax(1)[0].numpy().astype(np.uint8)
        for c, v in _dice(pred, clean).items():
            dice[c].append(v)
        ed.append(topology_ed(pred))
        ed_in.append(topology_ed(np.argmax(probs, axis=0).astype(np.uint8)))
    net.train()
    per = {c: float(np.mean(v)) for c, v in dice.items() if v}
    return {"dice": per, "mean": float(np.mean(list(per.values()))) if per else math.nan,
            "ed": float(np.mean(ed)), "ed_input": float(np.mean(ed_in))}


def _step(net, opt, maps, cfg, step: int) -> float:
    rng = np.random.default_rng(step_seed(cfg.seed, 0, step))
    pairs = [training_pair(maps, cfg, rng) for _ in range(cfg.batch)]
    x = torch.from_numpy(np.stack([p for p, _ in pairs]))
    y = torch.from_numpy(np.stack([c for _, c in pairs]))
    loss = torch.nn.functional.cross_entropy(net(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def train_dae(cfg: DaeTrainConfig, run_dir, *, resume: bool = False,
              progress: Callable[[int, int, str], None] | None = None) -> dict:
    """Train the DAE of ``cfg`` into the run folder ``run_dir``; returns the summary dict (also ``summary.json``)."""
    from ..nets.dae import DAE, DaeConfig
    from .checkpoint import load_checkpoint, restore, save_checkpoint

    run_dir = Path(run_dir).resolve()
    resume_from = prepare_run_dir(cfg, run_dir, resume, ignored={"steps"})
    torch.manual_seed(cfg.seed)
    net = DAE(DaeConfig(8, tuple(cfg.widths)))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    state = {"best_dice": -1.0, "best_step": 0, "elapsed_s": 0.0, "last_val": {}}
    start = 0
    if resume_from is not None:
        ckpt = load_checkpoint(resume_from)
        start = restore(ckpt, model=net, optimizer=opt)
        state.update(ckpt["extra"].get("state", {}))
    folder = RunFolder(run_dir, cfg)
    folder.start(start)
    maps = clean_maps(cfg)
    val_pairs = validation_set(maps, cfg)
    net.train()
    for step in range(start, cfg.steps):
        t0 = time.perf_counter()
        loss = _step(net, opt, maps, cfg, step)
        done = step + 1
        dt = time.perf_counter() - t0
        state["elapsed_s"] += dt
        val = validate(net, val_pairs) if done % cfg.val_every == 0 or done == cfg.steps else None
        folder.log_step(done, loss, cfg.lr, dt, state["elapsed_s"], val["mean"] if val else math.nan,
                        val["dice"] if val else {})
        extra = {"config": cfg.to_dict(), "state": state}
        if val is not None:
            state["last_val"] = val
            if val["mean"] > state["best_dice"]:
                state.update(best_dice=val["mean"], best_step=done)
                save_checkpoint(run_dir / "checkpoints" / "best.pt", model=net, step=done, extra=extra)
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            save_checkpoint(run_dir / "checkpoints" / "last.pt", model=net, optimizer=opt, step=done, extra=extra)
        if progress is not None:
            progress(done, cfg.steps, f"loss {loss:.4f}")
    folder.plot()
    summary = {"run_dir": str(run_dir), "steps": cfg.steps, "best_dice": state["best_dice"],
               "best_step": state["best_step"], "elapsed_s": round(state["elapsed_s"], 1),
               "last_val": state["last_val"]}
    folder.write_summary(summary)
    return summary


def export_dae(run_dir, out, *, which: str = "best", overwrite: bool = False) -> dict:
    """Write ``out`` (.safetensors) and its card from ``run_dir/checkpoints/{which}.pt``; returns the card."""
    from ..nets.dae import DAE, DaeConfig, save_dae
    from .checkpoint import load_checkpoint

    if which not in ("best", "last"):
        raise InputError(None, f"`which` must be 'best' or 'last', got {which!r}", param="which")
    ckpt = load_checkpoint(Path(run_dir) / "checkpoints" / f"{which}.pt")
    cfg = DaeTrainConfig.from_dict(ckpt["extra"]["config"])
    net = DAE(DaeConfig(8, tuple(cfg.widths)))
    net.load_state_dict(ckpt["model"])
    state = ckpt["extra"].get("state", {})
    card = {"name": Path(out).stem, "resolution_mm": cfg.resolution_mm, "steps": int(ckpt["step"]),
            "checkpoint": which, "training": {k: v for k, v in cfg.to_dict().items() if k != "name"},
            "validation": state.get("last_val", {}), "run": str(Path(run_dir).resolve())}
    return save_dae(net, card, out, overwrite=overwrite)
