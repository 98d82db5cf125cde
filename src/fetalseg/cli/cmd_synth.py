"""``fetalseg synth``: synthetic image/label pairs from label maps; ``synth weights``: the shape sampler;
``synth config``: every generator setting."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperGroup

from .common import OVERWRITE

ORDER = 40

HELP = """Generate random synthetic T2w-like images with matching FeTA labels from label maps.

\b
fetalseg synth MAPS_OR_DIR... -o DIR [-n 8] [--seed 0] [--config synth.yaml]
  (the same as fetalseg synth generate ...) writes DIR/synth-NNNN_T2w.nii.gz
  and _dseg.nii.gz pairs, synth-params.json (every drawn parameter) and
  synth-mosaic.png (labels outlined); --weights weights.json draws the label
  maps by shape-sampler weights.
fetalseg synth weights DIR_OR_FILES... -o weights.json [--shares 1,1]
  computes the shape-sampler weights (each folder is one dataset).
fetalseg synth config -o synth.yaml [--config base.yaml]
  writes every generator setting with its default (or base) value.

\b
Label maps: FeTA (0-7), generation (0-12) or sb-atlas desc-withcc maps
(--convention auto reads *desc-withcc* files as withcc). --subclasses
(default) splits each label into 1-6 intensity sub-classes by k-means on
the matching *_T2w image when there is one, else by smooth partitions.
"""

DEFAULT = "generate"


class DefaultCommandGroup(TyperGroup):
    """A group whose default command runs when the first argument names no command
    (``fetalseg synth MAPS -o DIR`` is ``fetalseg synth generate MAPS -o DIR``)."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [DEFAULT, *args]
        return super().parse_args(ctx, args)


synth_app = typer.Typer(cls=DefaultCommandGroup, help=HELP, no_args_is_help=True,
                        context_settings={"help_option_names": ["-h", "--help"]})


def register(app: typer.Typer) -> None:
    app.add_typer(synth_app, name="synth")


CONVENTION = typer.Option("auto", "--convention", help="Label convention: auto, feta, withcc, generation.")
SEED = typer.Option(0, "--seed", help="Random seed: same seed, same samples.")


@synth_app.command(DEFAULT)
def generate(
    inputs: Optional[List[Path]] = typer.Argument(None, metavar="LABELMAPS_OR_DIR...",
                                                  help="Label-map files, FeTA/BIDS folders or flat folders."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder."),
    n: int = typer.Option(8, "-n", "--n", help="Number of samples to generate."),
    seed: int = SEED,
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file with SynthConfig fields."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Sampler weights JSON to draw label maps by."),
    convention: str = CONVENTION,
    subclasses: bool = typer.Option(True, "--subclasses/--no-subclasses", help="Split labels into sub-classes."),
    columns: int = typer.Option(4, "--columns", help="Columns of the PNG mosaic."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Synthetic image/label pairs, their parameters and a preview mosaic (the default command)."""
    from ..synth.pairs import write_pairs
    from .common import StepBar, console

    if weights is not None and inputs:
        console(stderr=True).print("note: --weights given, drawing label maps from its file list")
    with StepBar("synth", info=False) as bar:
        plan = write_pairs(list(inputs or []), output, n=n, seed=seed, config=config, weights=weights,
                           convention=convention, subclasses=subclasses, columns=columns, overwrite=overwrite,
                           progress=lambda done, total: bar(done, total))
    console().print(f"{output}: {n} synthetic image/label pairs, parameters in {plan.names[-2].name}, "
                    f"preview {plan.names[-1].name}")


@synth_app.command("weights")
def weights_command(
    inputs: Optional[List[Path]] = typer.Argument(None, metavar="DIR_OR_FILES...",
                                                  help="Label-map folders (one dataset each) or files."),
    output: Path = typer.Option(..., "-o", "--output", help="Weights JSON file."),
    seed: int = SEED,
    convention: str = CONVENTION,
    shares: Optional[str] = typer.Option(None, "--shares", help="Comma-separated share per dataset."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Shape-sampler weights (PCA + Gaussian mixture on 21 shape features) of label maps."""
    from ..errors import InputError
    from ..synth.weights_file import write_sampler_weights
    from .common import StepBar, console

    share_list = None
    if shares is not None:
        try:
            share_list = [float(x) for x in shares.split(",")]
        except ValueError:
            raise InputError(None, f"--shares must be comma-separated numbers, got {shares!r}") from None
    with StepBar("shape features", info=False) as bar:
        result = write_sampler_weights(list(inputs or []), output, shares=share_list, seed=seed,
                                       convention=convention, overwrite=overwrite,
                                       progress=lambda done, total: bar(done, total))
    n_clusters = len({(d, c) for d, c in zip(result["dataset"], result["cluster"])})
    w = result["weights"]
    console().print(f"{output}: {len(w)} label maps in {len(result['shares'])} dataset(s), {n_clusters} shape "
                    f"clusters, weights {min(w):.4g}-{max(w):.4g} (uniform {1 / len(w):.4g})")


@synth_app.command("config")
def config_command(
    output: Path = typer.Option(..., "-o", "--output", help="YAML file to write."),
    config: Optional[Path] = typer.Option(None, "--config", help="Base YAML file (default: the defaults)."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Every generator setting with its default (or base) value, as an editable YAML file."""
    from ..synth.weights_file import write_config
    from .common import console

    cfg = write_config(output, config, overwrite)
    console().print(f"{output}: {len(cfg.to_dict())} synth settings (edit and pass with --config)")
