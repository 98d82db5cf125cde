"""Phantom data for the training tests: label maps and validation image/label pairs on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import make_labels

# intensity of each FeTA label in the phantom validation images (a T2w-like ordering)
PHANTOM_T2 = np.array([0, 220, 90, 150, 240, 110, 100, 120], np.float32)


def write_nifti(path: Path, data: np.ndarray, spacing: float = 0.8) -> Path:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.diag([spacing, spacing, spacing, 1.0])), str(path))
    return path


def phantom_data(root: Path, n_maps: int = 3, n_val: int = 1) -> tuple[Path, Path]:
    """``root/maps`` (FeTA label maps of slightly different shapes) and ``root/val`` (BIDS pairs)."""
    maps, val = root / "maps", root / "val"
    for i in range(n_maps):
        write_nifti(maps / f"lab{i}.nii.gz", make_labels((34 + 2 * i, 38, 32 + i)))
    rng = np.random.default_rng(0)
    for i in range(n_val):
        lab = make_labels((32, 36, 30))
        img = PHANTOM_T2[lab] + rng.normal(0, 5, lab.shape).astype(np.float32)
        sid = f"sub-val{i}"
        write_nifti(val / sid / "anat" / f"{sid}_rec-x_T2w.nii.gz", img.astype(np.float32))
        write_nifti(val / sid / "anat" / f"{sid}_rec-x_dseg.nii.gz", lab)
    return maps, val


def tiny_config(root: Path, *, steps: int = 20, every: int = 10, validation: bool = True, **extra) -> Path:
    """A tiny-preset training YAML in ``root`` that uses :func:`phantom_data`."""
    import yaml

    maps, val = phantom_data(root)
    cfg = {
        "name": "tiny-test", "seed": 3, "steps": steps, "patch_size": [32, 32, 32],
        "network": {"preset": "tiny"},
        "datasets": [{"name": "phantom", "paths": [str(maps)], "convention": "feta"}],
        "validation": {"paths": [str(val)] if validation else [], "every": every},
        "checkpoint_every": every, "threads": 1,
    }
    cfg.update(extra)
    path = root / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
