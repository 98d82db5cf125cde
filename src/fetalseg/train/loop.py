"""The trainer behind ``fetalseg train``: one function, :func:`train`.

Run folder (``run_dir``):

* ``config.yaml``: the resolved configuration (absolute paths);
* ``log.csv``: one row per step: ``step`` (completed steps), ``loss``, ``lr``, ``time_s`` (wall time of
  the step), ``elapsed_s`` (training time so far), and on validation steps ``val_mean`` (mean Dice
  over FeTA labels 1-7) and ``val_1`` .. ``val_7``;
* ``curve.png``: the learning curve (:mod:`fetalseg.train.curves`);
* ``checkpoints/last.pt`` (every ``checkpoint_every`` steps and at the end) and ``checkpoints/best.pt``
  (the best validation mean Dice so far; the last one when there is no validation set);
* ``summary.json`` at the end.

Only rank 0 writes and validates; other ranks wait at a barrier.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import InputError
from ..masks import dice_per_label
from . import checkpoint as ck
from . import ddp
from .config import TrainConfig

FG = tuple(range(1, 8))
LOG_COLUMNS = ["step", "loss", "lr", "time_s", "elapsed_s", "val_mean"] + [f"val_{v}" for v in FG]
IGNORED_ON_RESUME = {"device", "threads"}


class PolyDecay:
    """Learning-rate factor ``(1 - step / steps) ** power``, times ``(step + 1) / warmup`` during the first
    ``warmup`` steps (a class so the scheduler state is plain data)."""

    def __init__(self, steps: int, power: float, warmup: int = 0):
        self.steps, self.power, self.warmup = int(steps), float(power), int(warmup)

    def __call__(self, step: int) -> float:
        ramp = min(1.0, (step + 1) / self.warmup) if self.warmup > 0 else 1.0
        return ramp * max(0.0, 1.0 - min(step, self.steps) / self.steps) ** self.power


def load_initial_weights(net, path, network: dict) -> None:
    """Copy the weights of model file ``path`` into ``net``; InputError when its network differs."""
    from ..nets import NetConfig, load_model

    src, card = load_model(path)
    if NetConfig.from_dict(card.get("network")).to_dict() != NetConfig.from_dict(network).to_dict():
        raise InputError(path, f"init_from network {card.get('network')} differs from the config's {network}")
    net.load_state_dict(src.state_dict())


def make_optimiser(params, spec):
    """AdamW, or SGD with Nesterov momentum, from an :class:`~fetalseg.train.config.OptimSpec`."""
    if spec.name == "sgd":
        return torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum, nesterov=spec.momentum > 0,
                               weight_decay=spec.weight_decay)
    return torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay)


def cpu_has_bf16() -> bool:
    """True when the CPU has native bf16 instructions (AVX512-BF16 or AMX), where oneDNN's bf16 kernels
    roughly halve the step time; without them bf16 is emulated and slower (Linux; else assumes AVX512 suffices)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            flags = f.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def use_bf16(setting: str, device: torch.device) -> bool:
    """'true'/'false' as given; 'auto': on for GPUs that support bf16 and CPUs with native bf16 instructions."""
    if setting != "auto":
        return setting == "true"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_bf16()


@torch.no_grad()
def evaluate(model, cases, device, bf16: bool = False) -> dict[int, float]:
    """Mean Dice per FeTA label 1-7 over the validation cases (whole-volume inference, arg-max)."""
    module = getattr(model, "module", model)
    was_training = module.training
    module.eval()
    per = {v: [] for v in FG}
    try:
        for case in cases:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = module(case.image.to(device))
            pred = logits.float().argmax(1)[0].cpu().numpy().astype(np.uint8)
            for v, d in dice_per_label(pred, case.target, FG, empty="nan").items():
                if not math.isnan(d):
                    per[v].append(d)
    finally:
        module.train(was_training)
    return {v: (float(np.mean(x)) if x else math.nan) for v, x in per.items()}


def _mean_dice(d: dict[int, float]) -> float:
    vals = [x for x in d.values() if not math.isnan(x)]
    return float(np.mean(vals)) if vals else math.nan


def _fmt(x) -> str:
    if isinstance(x, float):
        return "" if math.isnan(x) else f"{x:.6g}"
    return str(x)


def _prepare_run_dir(cfg: TrainConfig, run_dir: Path, resume: bool) -> Path | None:
    """Check the run folder; returns the checkpoint to resume from (or None). Raises InputError."""
    last = run_dir / "checkpoints" / "last.pt"
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(run_dir, "run folder path is a file")
    if not resume:
        if last.exists() or (run_dir / "log.csv").exists():
            raise InputError(run_dir, "already holds a training run (use `resume=True` to continue it, or choose "
                                      "another `run_dir`)", param="run_dir")
        return None
    if not last.exists():
        return None
    saved = run_dir / "config.yaml"
    if saved.exists():
        old = TrainConfig.from_yaml(saved).to_dict()
        new = cfg.to_dict()
        diff = sorted(k for k in set(old) | set(new) if k not in IGNORED_ON_RESUME and old.get(k) != new.get(k))
        if diff:
            raise InputError(saved, f"the run was started with a different config ({', '.join(diff)} differ)")
    return last


def _truncate_log(log: Path, step: int) -> None:
    """Keep the header and rows with ``step <= step`` (rows written after the checkpoint are redone)."""
    from ..io import atomic_path

    if not log.exists():
        return
    with open(log, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    keep = rows[:1] + [r for r in rows[1:] if r and int(float(r[0])) <= step]
    with atomic_path(log, overwrite=True) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(keep)


def train(cfg: TrainConfig, run_dir, *, resume: bool = False, device: str | None = None,
          progress: Callable[[int, int, str], None] | None = None) -> dict:
    """Train the network of ``cfg``, writing the run folder ``run_dir``; returns the summary dict.

    ``device`` overrides ``cfg.device`` ('auto', 'cpu', 'cuda', 'cuda:N'). Under ``torchrun`` every
    rank runs this function; rank 0 writes the run folder. ``resume`` continues from
    ``checkpoints/last.pt`` (a fresh start when there is none yet). ``progress(done, total, info)``
    is called on rank 0 when training starts and after every step (``info``: smoothed loss and best
    validation Dice).
    """
    from ..io import write_text
    from ..nets import build_network
    from .curves import plot_curves
    from .data import load_validation, make_source
    from .loss import DeepSupervisionLoss

    run_dir = Path(run_dir).resolve()
    info = ddp.init_distributed(device or cfg.device)
    try:
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        torch.backends.mkldnn.deterministic = True  # oneDNN: same inputs, same bits (no measurable cost here)
        resume_from = _prepare_run_dir(cfg, run_dir, resume)
        ddp.barrier(info)
        dev = info.device
        bf16 = use_bf16(cfg.bf16, dev)
        torch.manual_seed(cfg.seed)
        net = build_network(cfg.network)
        if cfg.init_from and resume_from is None:
            load_initial_weights(net, cfg.init_from, cfg.network)
        net = net.to(dev)
        model = ddp.wrap(net, info)
        opt = make_optimiser(model.parameters(), cfg.optim)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, PolyDecay(cfg.steps, cfg.optim.poly_power,
                                                                    cfg.optim.warmup_steps))
        criterion = DeepSupervisionLoss(net.n_outputs)
        source = make_source(cfg, info.rank, dev)
        has_val = cfg.validation.every > 0 and bool(cfg.validation.paths)  # same on every rank
        cases = load_validation(cfg.validation, cfg.resolution_mm) if info.main and has_val else []

        ckdir, log, png = run_dir / "checkpoints", run_dir / "log.csv", run_dir / "curve.png"
        state = {"best_dice": -1.0, "best_step": 0, "elapsed_s": 0.0, "last_val": {}}
        start = 0
        if resume_from is not None:
            ckpt = ck.load_checkpoint(resume_from, map_location="cpu")  # RNG states must stay on the CPU
            start = ck.restore(ckpt, model=net, optimizer=opt, scheduler=sched)
            state.update(ckpt["extra"].get("state", {}))
        if info.main:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_text(run_dir / "config.yaml", cfg.to_yaml(), overwrite=True)
            if start > 0:
                _truncate_log(log, start)
            else:
                with open(log, "w", newline="", encoding="utf-8") as f:
                    csv.writer(f).writerow(LOG_COLUMNS)
        ddp.barrier(info)

        def checkpoint(path: Path, step: int, with_optim: bool = True) -> None:
            ck.save_checkpoint(path, model=net, optimizer=opt if with_optim else None,
                               scheduler=sched if with_optim else None, step=step,
                               extra={"state": state, "config": cfg.to_dict(), "bf16": bf16,
                                      "world_size": info.world})

        prog = progress if info.main else None
        if prog is not None:
            prog(start, cfg.steps, "")
        model.train()
        loss_ema = math.nan
        if True:
            for step in range(start, cfg.steps):
                t0 = time.perf_counter()
                image, target = source.next_batch(step)
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                    outputs = model(image)
                loss = criterion(outputs, target)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.optim.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                lr = opt.param_groups[0]["lr"]
                opt.step()
                sched.step()
                done = step + 1
                loss_v = float(loss.detach())
                if not math.isfinite(loss_v):
                    raise RuntimeError(f"loss is {loss_v} at step {done}; lower optim.lr or check the data")
                dt = time.perf_counter() - t0
                state["elapsed_s"] += dt
                loss_ema = loss_v if math.isnan(loss_ema) else 0.95 * loss_ema + 0.05 * loss_v
                validate = has_val and (done % cfg.validation.every == 0 or done == cfg.steps)
                val: dict[int, float] = {}
                if info.main:
                    if validate and cases:
                        val = evaluate(net, cases, dev, bf16)
                        mean = _mean_dice(val)
                        state["last_val"] = {str(k): v for k, v in val.items()}
                        if mean > state["best_dice"]:
                            state["best_dice"], state["best_step"] = mean, done
                            checkpoint(ckdir / "best.pt", done, with_optim=False)
                    row = [done, loss_v, lr, dt, state["elapsed_s"], _mean_dice(val) if val else math.nan]
                    row += [val.get(v, math.nan) for v in FG]
                    with open(log, "a", newline="", encoding="utf-8") as f:
                        csv.writer(f).writerow([_fmt(x) for x in row])
                    if done % cfg.checkpoint_every == 0 or done == cfg.steps:
                        if not has_val:  # no validation: the newest weights are the best we know
                            state["best_step"] = done
                            checkpoint(ckdir / "best.pt", done, with_optim=False)
                        checkpoint(ckdir / "last.pt", done)
                    if validate or done == cfg.steps:
                        plot_curves(log, png, title=cfg.name)
                    if prog is not None:
                        d = f" dice {state['best_dice']:.3f}" if state["best_dice"] >= 0 else ""
                        prog(done, cfg.steps, f"loss {loss_ema:.4f}{d}")
                if validate:
                    ddp.barrier(info)
        summary = {"run_dir": str(run_dir), "steps": cfg.steps, "world_size": info.world, "bf16": bf16,
                   "device": str(dev), "best_step": state["best_step"],
                   "best_dice": None if state["best_dice"] < 0 else state["best_dice"],
                   "last_validation": state["last_val"], "elapsed_s": state["elapsed_s"]}
        if info.main:
            write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n", overwrite=True)
        ddp.barrier(info)
        return summary
    finally:
        ddp.shutdown(info)
