"""``fetalseg train-dae`` and ``fetalseg export-dae``: the probability denoising autoencoder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

ORDER = 51


def register(app: typer.Typer) -> None:
    app.command("train-dae")(train_dae)
    app.command("export-dae")(export_dae)


def train_dae(
    config: Path = typer.Argument(..., help="DAE training config (YAML); see configs/dae-default.yaml."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Run folder (default: runs/NAME)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in the run folder from its last checkpoint."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override the config's number of steps."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Train the DAE on corrupted label maps (atlas maps and phantoms; run folder as for train)."""
    from ..errors import InputError
    from ..train.dae_data import DaeTrainConfig
    from ..train.dae_loop import train_dae as run
    from .common import StepBar, console

    cfg = DaeTrainConfig.from_yaml(config)
    if steps is not None:
        if steps < 1:
            raise InputError(None, "--steps must be >= 1")
        cfg.steps = steps
    if threads is not None:
        if threads < 1:
            raise InputError(None, "--threads must be >= 1")
        import torch

        torch.set_num_threads(threads)
    with StepBar("train-dae", enabled=not no_progress) as bar:
        summary = run(cfg, output or Path("runs") / cfg.name, resume=resume, progress=bar)
    val = summary["last_val"] or {}
    console().print(f"{summary['run_dir']}: {summary['steps']} steps, best validation mean Dice "
                    f"{summary['best_dice']:.4f} at step {summary['best_step']}, ED {val.get('ed', float('nan')):.2f} "
                    f"(corrupted input {val.get('ed_input', float('nan')):.2f})", soft_wrap=True)


def export_dae(
    run: Path = typer.Argument(..., help="Run folder written by fetalseg train-dae."),
    output: Path = typer.Option(..., "-o", "--output", help="DAE file (.safetensors); the card goes to .json."),
    checkpoint: str = typer.Option("best", "--checkpoint", help="best (by validation Dice) or last."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
) -> None:
    """Export a DAE run's checkpoint as safetensors weights plus a JSON model card."""
    from ..train.dae_loop import export_dae as export
    from .common import console

    card = export(run, output, which=checkpoint, overwrite=overwrite)
    console().print(f"{output}: step {card['steps']}, {card['parameters']} parameters, sha256 {card['sha256'][:16]}",
                    soft_wrap=True)
