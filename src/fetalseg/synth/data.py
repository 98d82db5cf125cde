"""Loading label maps (and matching images) for the generator, in the generation label convention."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError

# source convention -> generation labels
_TO_GENERATION = {
    "feta": {v: v for v in range(8)},
    "withcc": {0: 0, 1: 3, 2: 4, 3: 5, 4: 1, 5: 2, 6: 6, 7: 7, 8: 8},
    "generation": {v: v for v in range(13)},
}


def to_generation(labels: np.ndarray, convention: str) -> np.ndarray:
    """Convert a label map from 'feta', 'withcc' or 'generation' to generation labels (uint8).

    WITHCC's corpus callosum becomes generation label 8; FeTA maps are already a subset.
    """
    from ..labels import relabel

    if convention not in _TO_GENERATION:
        raise ValueError(f"unknown label convention {convention!r}; known: {sorted(_TO_GENERATION)}")
    return relabel(labels, _TO_GENERATION[convention]).astype(np.uint8)


def guess_convention(path: str | os.PathLike) -> str:
    """'withcc' for file names containing ``desc-withcc``, else 'feta'."""
    return "withcc" if "desc-withcc" in Path(path).name else "feta"


def load_label_maps(paths, convention: str | None = "feta", *, subclasses: bool = False, n_max: int = 6,
                    seed: int = 0, use_images: bool = True):
    """Read label maps and return them as :class:`fetalseg.io.Image` in the generation convention.

    Parameters
    ----------
    paths : path or iterable of paths
        NIfTI label maps.
    convention : {'feta', 'withcc', 'generation'} or None
        Label convention of the files; ``None`` guesses per file (:func:`guess_convention`).
    subclasses : bool
        Return sub-class maps instead (int16, ``parent + 16 k``, see
        :func:`fetalseg.synth.make_subclasses`): k-means on the matching ``*_T2w`` image
        (:func:`matching_image`, same grid) when there is one and ``use_images``, else smooth partitions;
        map ``i`` uses seed ``seed + i``.
    n_max : int
        Maximum sub-classes per label (1-6).

    Raises
    ------
    InputError
        For unreadable files or values outside the convention's table.
    """
    from ..io import load_image
    from ..labels import TABLES

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = []
    for p in paths:
        conv = convention or guess_convention(p)
        if conv not in _TO_GENERATION:
            raise InputError(None, f"unknown label convention {conv!r}; known: {sorted(_TO_GENERATION)}")
        img = load_image(p, labels=TABLES[conv])
        img = img.with_data(to_generation(img.data, conv))
        if subclasses:
            from .subclasses import make_subclasses

            ref = None
            t2 = matching_image(p) if use_images else None
            if t2 is not None:
                ref_img = load_image(t2)
                if ref_img.shape == img.shape and np.allclose(ref_img.affine, img.affine, atol=1e-3):
                    ref = ref_img.data
            img = img.with_data(make_subclasses(img.data, ref, n_max=n_max, seed=seed + len(out)).labels)
        out.append(img)
    return out


def matching_image(label_path: str | os.PathLike) -> Path | None:
    """The T2w file next to a label map (``*_dseg`` / ``*_desc-*_dseg`` -> ``*_T2w``), or None."""
    p = Path(label_path)
    name = p.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            break
    else:
        return None
    if not stem.endswith("_dseg"):
        return None
    parts = [x for x in stem[: -len("_dseg")].split("_") if not x.startswith("desc-")]
    for suffix in (".nii.gz", ".nii"):
        cand = p.with_name("_".join(parts) + "_T2w" + suffix)
        if cand.exists():
            return cand
    return None
