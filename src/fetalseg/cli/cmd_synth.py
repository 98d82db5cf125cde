"""``fetalseg synth``: synthetic image/label pairs from label maps; ``fetalseg synth weights``: shape sampler."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import OVERWRITE

ORDER = 40

HELP = """Generate random synthetic T2w-like images with matching FeTA labels from label maps.

\b
fetalseg synth MAPS_OR_DIR... -o DIR [-n 8] [--seed 0] [--config synth.yaml]
  writes DIR/synth-NNNN_T2w.nii.gz and _dseg.nii.gz pairs, synth-params.json
  (every drawn parameter) and synth-mosaic.png (labels outlined);
  --weights weights.json draws the label maps by shape-sampler weights.
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


def register(app: typer.Typer) -> None:
    app.command("synth", help=HELP, context_settings={"help_option_names": ["-h", "--help"]})(synth)


def synth(
    inputs: Optional[List[str]] = typer.Argument(None, metavar="[weights|config] LABELMAPS_OR_DIR...",
                                       help="Label-map files or folders ('weights': sampler, 'config': settings)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder (synth) or JSON file (weights)."),
    n: int = typer.Option(8, "-n", "--n", help="Number of samples to generate."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same samples."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file with SynthConfig fields."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Sampler weights JSON to draw label maps by."),
    convention: str = typer.Option("auto", "--convention", help="Label convention: auto, feta, withcc, generation."),
    subclasses: bool = typer.Option(True, "--subclasses/--no-subclasses", help="Split labels into sub-classes."),
    shares: Optional[str] = typer.Option(None, "--shares", help="weights: comma-separated share per dataset."),
    columns: int = typer.Option(4, "--columns", help="Columns of the PNG mosaic."),
    overwrite: bool = OVERWRITE,
) -> None:
    inputs = list(inputs or [])
    if inputs and inputs[0] == "weights":
        _weights(inputs[1:], output, seed, convention, shares, overwrite)
    elif inputs and inputs[0] == "config":
        _config(inputs[1:], output, config, overwrite)
    else:
        _synth(inputs, output, n, seed, config, weights, convention, subclasses, columns, overwrite)


def _label_files(paths) -> list:
    """Expand label-map arguments: FeTA/BIDS folders (with ``sub-*`` folders) give their dseg files,
    other folders every NIfTI file in them (flat folders such as ``sub-01_dseg.nii.gz`` lists)."""
    from ..datasets import nifti_files

    return nifti_files(paths, kind="dseg")


def _check_convention(convention: str) -> None:
    from ..errors import InputError

    if convention not in ("auto", "feta", "withcc", "generation"):
        raise InputError(None, f"--convention must be auto, feta, withcc or generation, got {convention!r}")


def _config(extra, output: Path, config, overwrite: bool) -> None:
    from ..errors import InputError
    from ..io import check_writable
    from ..synth import SynthConfig
    from .common import console

    if extra:
        raise InputError(None, f"fetalseg synth config takes no arguments, got {' '.join(extra)}")
    if not str(output).endswith((".yaml", ".yml")):
        raise InputError(output, "config output must be a .yaml or .yml file")
    check_writable(output, overwrite)
    cfg = SynthConfig.from_yaml(config) if config is not None else SynthConfig()
    cfg.to_yaml(output, overwrite=overwrite)
    console().print(f"{output}: {len(cfg.to_dict())} synth settings (edit and pass with --config)")


def _weights(paths, output: Path, seed: int, convention: str, shares, overwrite: bool) -> None:
    from ..errors import InputError
    from ..io import check_writable
    from ..synth.sampler import sampler_weights, save_weights
    from .common import console, progress

    _check_convention(convention)
    if not paths:
        raise InputError(None, "fetalseg synth weights needs label-map folders or files")
    if not str(output).endswith(".json"):
        raise InputError(output, "weights output must be a .json file")
    check_writable(output, overwrite)
    datasets, loose = [], []
    for p in map(Path, paths):
        if p.is_dir():
            datasets.append(_label_files([p]))
        else:
            loose.extend(_label_files([p]))
    if loose:
        datasets.append(loose)
    share_list = None
    if shares is not None:
        try:
            share_list = [float(x) for x in shares.split(",")]
        except ValueError:
            raise InputError(None, f"--shares must be comma-separated numbers, got {shares!r}") from None
        if len(share_list) != len(datasets):
            raise InputError(None, f"--shares has {len(share_list)} values for {len(datasets)} datasets")
    total = sum(len(d) for d in datasets)
    with progress() as bar:
        task = bar.add_task("shape features", total=total)
        result = sampler_weights(datasets, share_list, seed, convention=convention,
                                 progress=lambda _p: bar.advance(task))
    save_weights(result, output, overwrite=overwrite)
    out = console()
    n_clusters = len({(d, c) for d, c in zip(result["dataset"], result["cluster"])})
    w = result["weights"]
    out.print(f"{output}: {len(w)} label maps in {len(datasets)} dataset(s), {n_clusters} shape clusters, "
              f"weights {min(w):.4g}-{max(w):.4g} (uniform {1 / len(w):.4g})")


def _synth(paths, output: Path, n: int, seed: int, config, weights, convention, subclasses, columns, overwrite):
    import json

    import numpy as np
    import torch

    from ..errors import InputError
    from ..io import Image, check_writable, save_image
    from ..synth import SynthConfig, SynthGenerator, load_label_maps
    from ..synth.data import guess_convention
    from ..synth.preview import describe, mosaic
    from ..synth.sampler import WeightedMapSampler, load_weights
    from .common import console, ensure_new, progress

    _check_convention(convention)
    if n < 1:
        raise InputError(None, f"-n must be at least 1, got {n}")
    if columns < 1:
        raise InputError(None, f"--columns must be at least 1, got {columns}")
    cfg = SynthConfig.from_yaml(config) if config is not None else SynthConfig()
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(config, f"device {cfg.device} requested but no CUDA GPU is available")
    if weights is not None:
        wdata = load_weights(weights)
        files = [Path(f) for f in wdata["files"]]
        missing = [f for f in files if not f.exists()]
        if missing:
            raise InputError(weights, f"lists {len(missing)} missing label maps, e.g. {missing[0]}")
        if paths:
            console(stderr=True).print("note: --weights given, drawing label maps from its file list")
    else:
        if not paths:
            raise InputError(None, "no label maps given")
        files = _label_files(paths)
    if output.exists() and not output.is_dir():
        raise InputError(output, "exists and is not a folder")
    names = [output / f"synth-{i:04d}_{kind}.nii.gz" for i in range(n) for kind in ("T2w", "dseg")]
    names += [output / "synth-params.json", output / "synth-mosaic.png"]
    ensure_new(names, overwrite)

    if weights is not None:
        order = WeightedMapSampler(wdata, torch.Generator().manual_seed(seed)).draw(n).tolist()
    else:
        order = [i % len(files) for i in range(n)]
    # load and validate every map that will be used before writing anything
    maps = {}
    for i in sorted(set(order)):
        conv = guess_convention(files[i]) if convention == "auto" else convention
        maps[i] = load_label_maps([files[i]], conv, subclasses=subclasses, seed=seed + i)[0]
    output.mkdir(parents=True, exist_ok=True)
    check_writable(names[-1], overwrite)
    gen = SynthGenerator(cfg)
    g = torch.Generator().manual_seed(seed)
    records, previews = [], []
    with progress() as bar:
        task = bar.add_task("synth", total=n)
        for k, i in enumerate(order):
            img = maps[i]
            lab = img.data
            spacing = float(np.mean(img.spacing))
            batch = gen.sample(torch.from_numpy(lab.astype(np.int64))[None].to(device), g, spacing=spacing)
            x = batch.image[0, 0].cpu().numpy()
            t = batch.target[0].cpu().numpy().astype(np.uint8)
            aff = np.diag([*img.spacing, 1.0])  # the generator works in the input's voxel space
            aff[:3, 3] = -(np.array(x.shape) - 1) / 2 * img.spacing
            save_image(Image(x.astype(np.float32), aff), names[2 * k], overwrite=overwrite)
            save_image(Image(t, aff), names[2 * k + 1], overwrite=overwrite)
            records.append({"index": k, "source": str(files[i]), "image": names[2 * k].name,
                            "labels": names[2 * k + 1].name, "params": batch.params[0]})
            previews.append((x, t, describe(batch.params[0])))
            bar.advance(task)
    from ..io import write_text

    write_text(names[-2], json.dumps({"config": cfg.to_dict(), "seed": seed, "samples": records}, indent=1) + "\n",
               overwrite=overwrite)
    mosaic([p[0] for p in previews], [p[1] for p in previews], names[-1], titles=[p[2] for p in previews],
           columns=columns, overwrite=overwrite)
    console().print(f"{output}: {n} synthetic image/label pairs, parameters in {names[-2].name}, "
                    f"preview {names[-1].name}")
