"""The trainer behind ``fetalseg train``: :func:`train` assembles a :class:`Trainer` from parts that can be
read and replaced one at a time:

* set-up (:func:`build`): network, optimiser, scheduler, loss, batch source, validation cases;
* one optimisation step (:meth:`Trainer.step`) and validation (:func:`evaluate`);
* checkpoint policy (:class:`CheckpointPolicy`);
* the run folder: config, CSV log, learning curve, summary (:class:`~fetalseg.train.runfolder.RunFolder`);
* progress: a ``progress(done, total, info)`` callback supplied by the caller.

Only rank 0 writes and validates; other ranks wait at a barrier. Process-wide torch settings (threads,
oneDNN determinism) hold for the run and are restored when it ends.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..errors import InputError
from ..masks import dice_per_label
from ..nets.device import torch_settings
from . import checkpoint as ck
from . import ddp
from .config import TrainConfig
from .runfolder import FG, RunFolder, prepare_run_dir


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


def mean_dice(d: dict[int, float]) -> float:
    """Mean of the Dice values that are not NaN; NaN when there is none."""
    vals = [x for x in d.values() if not math.isnan(x)]
    return float(np.mean(vals)) if vals else math.nan


@dataclass
class Setup:
    """Everything built before the first step (see :func:`build`)."""

    net: torch.nn.Module  # the bare network (saved in checkpoints)
    model: torch.nn.Module  # the network as trained (DDP-wrapped when distributed)
    optimizer: torch.optim.Optimizer
    scheduler: Any
    criterion: Any
    source: Any  # a batch source: next_batch(step) -> (image, target)
    cases: list  # validation cases (rank 0 only)
    has_val: bool
    bf16: bool


def build(cfg: TrainConfig, info: ddp.DistInfo, fresh: bool) -> Setup:
    """Network, optimiser, scheduler, loss, batch source and validation cases, in the order that fixes
    the random stream (seeded by ``cfg.seed``). ``fresh``: a new run (``init_from`` weights are loaded)."""
    from ..nets import build_network
    from .data import load_validation, make_source
    from .loss import DeepSupervisionLoss

    dev = info.device
    bf16 = use_bf16(cfg.bf16, dev)
    torch.manual_seed(cfg.seed)
    net = build_network(cfg.network)
    if cfg.init_from and fresh:
        load_initial_weights(net, cfg.init_from, cfg.network)
    net = net.to(dev)
    model = ddp.wrap(net, info)
    opt = make_optimiser(model.parameters(), cfg.optim)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, PolyDecay(cfg.steps, cfg.optim.poly_power, cfg.optim.warmup_steps))
    criterion = DeepSupervisionLoss(net.n_outputs)
    source = make_source(cfg, info.rank, dev)
    has_val = cfg.validation.every > 0 and bool(cfg.validation.paths)  # same on every rank
    cases = load_validation(cfg.validation, cfg.resolution_mm) if info.main and has_val else []
    return Setup(net, model, opt, sched, criterion, source, cases, has_val, bf16)


class CheckpointPolicy:
    """When checkpoints are written.

    * ``best.pt`` (weights only): at every improvement of the validation mean Dice; without validation,
      the newest weights at every checkpoint step;
    * ``last.pt`` (weights, optimiser, scheduler, every RNG state): every ``checkpoint_every`` steps and
      at the last step.

    ``state`` (best Dice and step, training time, last validation) is saved with every checkpoint.
    """

    def __init__(self, cfg: TrainConfig, setup: Setup, folder: RunFolder, state: dict, world: int):
        self.cfg, self.setup, self.folder, self.state, self.world = cfg, setup, folder, state, world

    def save(self, name: str, step: int, with_optim: bool = True) -> None:
        s = self.setup
        ck.save_checkpoint(self.folder.checkpoints / name, model=s.net, optimizer=s.optimizer if with_optim else None,
                           scheduler=s.scheduler if with_optim else None, step=step,
                           extra={"state": self.state, "config": self.cfg.to_dict(), "bf16": s.bf16,
                                  "world_size": self.world})

    def validated(self, done: int, mean: float) -> None:
        """After validation at step ``done`` with mean Dice ``mean``."""
        if mean > self.state["best_dice"]:
            self.state["best_dice"], self.state["best_step"] = mean, done
            self.save("best.pt", done, with_optim=False)

    def stepped(self, done: int) -> None:
        """After step ``done`` (logged, validated when due)."""
        if done % self.cfg.checkpoint_every == 0 or done == self.cfg.steps:
            if not self.setup.has_val:  # no validation: the newest weights are the best we know
                self.state["best_step"] = done
                self.save("best.pt", done, with_optim=False)
            self.save("last.pt", done)


class Trainer:
    """The training loop over the parts of a :class:`Setup` (module docstring); :meth:`run` trains."""

    def __init__(self, cfg: TrainConfig, setup: Setup, folder: RunFolder, info: ddp.DistInfo,
                 progress: Callable[[int, int, str], None] | None = None):
        self.cfg, self.setup, self.folder, self.info = cfg, setup, folder, info
        self.progress = progress if info.main else None
        self.state = {"best_dice": -1.0, "best_step": 0, "elapsed_s": 0.0, "last_val": {}}
        self.policy = CheckpointPolicy(cfg, setup, folder, self.state, info.world)
        self.start, self.loss_ema = 0, math.nan

    def resume_from(self, path: Path) -> None:
        """Restore weights, optimiser, scheduler, RNG states and run state from checkpoint ``path``."""
        s = self.setup
        ckpt = ck.load_checkpoint(path, map_location="cpu")  # RNG states must stay on the CPU
        self.start = ck.restore(ckpt, model=s.net, optimizer=s.optimizer, scheduler=s.scheduler)
        self.state.update(ckpt["extra"].get("state", {}))

    def step(self, step: int) -> tuple[float, float]:
        """One optimisation step on batch ``step``; returns (loss, learning rate used)."""
        s = self.setup
        image, target = s.source.next_batch(step)
        with torch.autocast(self.info.device.type, dtype=torch.bfloat16, enabled=s.bf16):
            outputs = s.model(image)
        loss = s.criterion(outputs, target)
        s.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(s.model.parameters(), self.cfg.optim.grad_clip)
        lr = s.optimizer.param_groups[0]["lr"]
        s.optimizer.step()
        s.scheduler.step()
        loss_v = float(loss.detach())
        if not math.isfinite(loss_v):
            raise RuntimeError(f"loss is {loss_v} at step {step + 1}; lower optim.lr or check the data")
        return loss_v, lr

    def validate(self, done: int) -> dict[int, float]:
        """Dice per label on the validation cases (rank 0), recorded in the state and the checkpoint policy."""
        val = evaluate(self.setup.net, self.setup.cases, self.info.device, self.setup.bf16)
        self.state["last_val"] = {str(k): v for k, v in val.items()}
        self.policy.validated(done, mean_dice(val))
        return val

    def record(self, done: int, loss_v: float, lr: float, dt: float, due: bool) -> None:
        """Rank 0 after step ``done``: validation when ``due``, log row, checkpoints, curve, progress."""
        val = self.validate(done) if due and self.setup.cases else {}
        self.folder.log_step(done, loss_v, lr, dt, self.state["elapsed_s"], mean_dice(val) if val else math.nan, val)
        self.policy.stepped(done)
        if due or done == self.cfg.steps:
            self.folder.plot()
        if self.progress is not None:
            best = self.state["best_dice"]
            d = f" dice {best:.3f}" if best >= 0 else ""
            self.progress(done, self.cfg.steps, f"loss {self.loss_ema:.4f}{d}")

    def run(self) -> dict:
        """Train from step ``start`` to ``cfg.steps``; returns the summary (also ``summary.json``)."""
        cfg, info = self.cfg, self.info
        if info.main:
            self.folder.start(self.start)
        ddp.barrier(info)
        if self.progress is not None:
            self.progress(self.start, cfg.steps, "")
        self.setup.model.train()
        for step in range(self.start, cfg.steps):
            t0 = time.perf_counter()
            loss_v, lr = self.step(step)
            dt = time.perf_counter() - t0
            self.state["elapsed_s"] += dt
            self.loss_ema = loss_v if math.isnan(self.loss_ema) else 0.95 * self.loss_ema + 0.05 * loss_v
            done = step + 1
            due = self.setup.has_val and (done % cfg.validation.every == 0 or done == cfg.steps)
            if info.main:
                self.record(done, loss_v, lr, dt, due)
            if due:
                ddp.barrier(info)
        return self.finish()

    def finish(self) -> dict:
        st = self.state
        summary = {"run_dir": str(self.folder.root), "steps": self.cfg.steps, "world_size": self.info.world,
                   "bf16": self.setup.bf16, "device": str(self.info.device), "best_step": st["best_step"],
                   "best_dice": None if st["best_dice"] < 0 else st["best_dice"],
                   "last_validation": st["last_val"], "elapsed_s": st["elapsed_s"]}
        if self.info.main:
            self.folder.write_summary(summary)
        ddp.barrier(self.info)
        return summary


def train(cfg: TrainConfig, run_dir, *, resume: bool = False, device: str | None = None,
          progress: Callable[[int, int, str], None] | None = None) -> dict:
    """Train the network of ``cfg``, writing the run folder ``run_dir``; returns the summary dict.

    ``device`` overrides ``cfg.device`` ('auto', 'cpu', 'cuda', 'cuda:N'). Under ``torchrun`` every
    rank runs this function; rank 0 writes the run folder. ``resume`` continues from
    ``checkpoints/last.pt`` (a fresh start when there is none yet). ``progress(done, total, info)``
    is called on rank 0 when training starts and after every step (``info``: smoothed loss and best
    validation Dice). ``torch.set_num_threads`` (``cfg.threads``) and oneDNN's deterministic mode hold
    during the call only.
    """
    run_dir = Path(run_dir).resolve()
    info = ddp.init_distributed(device or cfg.device)
    try:
        # oneDNN deterministic: same inputs, same bits (no measurable cost here)
        with torch_settings(threads=cfg.threads if cfg.threads > 0 else None, deterministic=True):
            resume_from = prepare_run_dir(cfg, run_dir, resume)
            ddp.barrier(info)
            trainer = Trainer(cfg, build(cfg, info, fresh=resume_from is None), RunFolder(run_dir, cfg), info,
                              progress)
            if resume_from is not None:
                trainer.resume_from(resume_from)
            return trainer.run()
    finally:
        ddp.shutdown(info)
