"""``fetalseg train`` and ``fetalseg export``: train a segmentation network from label maps, export it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

ORDER = 50


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("export")(export)


def train(
    config: Path = typer.Argument(..., help="Training config (YAML); see configs/ and docs/training.md."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Run folder (default: runs/NAME)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in the run folder from its last checkpoint."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override the config's number of steps."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Train on synthetic images generated on the fly from label maps (DDP under torchrun)."""
    from ..errors import InputError
    from ..train import TrainConfig
    from ..train import train as run_training
    from ..train.ddp import env_rank
    from .common import StepBar, console

    cfg = TrainConfig.from_yaml(config)
    if steps is not None:
        if steps < 1:
            raise InputError(None, "--steps must be >= 1")
        cfg.steps = steps
    run_dir = output or Path("runs") / cfg.name
    # bad configuration and bad files are InputError before any work; anything later is a bug (exit 1)
    with StepBar("train", enabled=not no_progress) as bar:
        summary = run_training(cfg, run_dir, resume=resume, device=device, progress=bar)
    if env_rank() == 0:
        best = summary["best_dice"]
        console().print(f"{summary['run_dir']}: {summary['steps']} steps, "
                        + (f"best validation mean Dice {best:.4f} at step {summary['best_step']}"
                           if best is not None else "no validation"), soft_wrap=True)


def export(
    run: Path = typer.Argument(..., help="Run folder written by fetalseg train."),
    output: Path = typer.Option(..., "-o", "--output", help="Model file (.safetensors); the card goes to .json."),
    checkpoint: str = typer.Option("best", "--checkpoint", help="best (by validation Dice) or last."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
    half: bool = typer.Option(False, "--half", help="Store float16 weights (half the file; loaded as float32)."),
) -> None:
    """Export a run's checkpoint as safetensors weights plus a JSON model card."""
    from ..train import export_run
    from .common import console

    card = export_run(run, output, which=checkpoint, overwrite=overwrite, dtype="float16" if half else "float32")
    d = card["validation_dice"]["mean_1_7"]
    console().print(f"{output}: step {card['steps']}, validation mean Dice "
                    f"{'n/a' if d is None else f'{d:.4f}'}, sha256 {card['sha256'][:16]}", soft_wrap=True)
