"""The two topology steps of :func:`fetalseg.segment`: the DAE on merged probabilities, then the guarantee.

1. :func:`refine_probs`: the probability DAE (:mod:`fetalseg.nets.dae`) on the merged (TTA and
   ensemble averaged) probabilities, on the model grid;
2. :func:`guaranteed_labels`: :func:`fetalseg.infer.topofix.fix_topology` on the probabilities
   mapped back to the input grid, so the written label map itself has the target Betti numbers.

:func:`resolve_dae` turns the ``dae`` setting ('default', 'none', None, a path or a loaded DAE)
into a network.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..labels import FETA

DEFAULT_DAE = "dae-default"


def resolve_dae(spec, models_dir: str | os.PathLike | None = None, device: str = "cpu"):
    """A DAE in eval mode, or None for ``spec`` None / 'none'.

    ``spec``: 'default' (``dae-default.safetensors`` in ``models_dir``, default the package's
    ``fetalseg/models``), a ``.safetensors`` path, or an already built :class:`~fetalseg.nets.dae.DAE`.
    Raises :class:`InputError` for a missing or unreadable file.
    """
    from ..nets.dae import DAE, load_dae

    if spec is None or (isinstance(spec, str) and spec.lower() == "none"):
        return None
    if isinstance(spec, DAE):
        return spec.eval()
    if isinstance(spec, str) and spec == "default":
        root = Path(models_dir) if models_dir is not None else Path(__file__).resolve().parents[1] / "models"
        spec = root / f"{DEFAULT_DAE}.safetensors"
    if not isinstance(spec, (str, os.PathLike)):
        raise InputError(None, f"`dae` must be 'default', 'none', a path or a DAE, got {type(spec).__name__}",
                         param="dae")
    return load_dae(spec, device=device)[0]


def refine_probs(dae, probs: np.ndarray, spacing_mm: float | None = None) -> np.ndarray:
    """DAE-refined probabilities (C, X, Y, Z) float32 of merged probabilities on the model grid.

    When the grid's voxel size ``spacing_mm`` differs by more than 10 % from the DAE's training
    resolution (its card's ``resolution_mm``), the DAE runs on a copy resampled to that resolution
    (trilinear) and its correction (refined minus input log-probabilities) is resampled back and
    added to the full-resolution log-probabilities, so that structures keep their trained size in
    voxels and the input's fine detail is kept.
    """
    import torch
    from torch.nn import functional as F

    from ..nets.dae import refine

    device = next(dae.parameters()).device
    res = getattr(dae, "card", {}).get("resolution_mm")
    if spacing_mm is None or res is None or abs(spacing_mm / float(res) - 1.0) <= 0.1:
        return refine(dae, probs, device=device)
    x = torch.as_tensor(np.asarray(probs, np.float32))[None].to(device)
    size = [max(8, int(round(n * spacing_mm / float(res)))) for n in x.shape[2:]]
    with torch.no_grad():
        low = F.interpolate(x, size=size, mode="trilinear", align_corners=False)
        low = low / low.sum(dim=1, keepdim=True).clamp_min(1e-8)
        corr = dae.eval()(low) - torch.log(low.clamp_min(0) + 1e-4)
        corr = F.interpolate(corr, size=x.shape[2:], mode="trilinear", align_corners=False)
        out = torch.softmax(torch.log(x.clamp_min(0) + 1e-4) + corr, dim=1)[0]
    return out.cpu().numpy()


def lr_axis_of(affine: np.ndarray) -> int:
    """The array axis whose direction is closest to the world left-right (RAS x) axis."""
    cols = np.asarray(affine, float)[:3, :3]
    cols = cols / np.linalg.norm(cols, axis=0, keepdims=True)
    return int(np.argmax(np.abs(cols[0])))


def guaranteed_labels(probs: np.ndarray, affine: np.ndarray, table=FETA, *,
                      model_voxel_mm3: float | None = None, voxel_mm3: float | None = None) -> tuple[np.ndarray, dict]:
    """Labels with every target Betti number from input-grid probabilities ``probs`` (C, X, Y, Z).

    Returns ``(uint8 labels, report)``; the report has :func:`~fetalseg.infer.topofix.fix_topology`'s
    fields plus ``relabelled``: changed voxels, expressed in model-grid voxels when both voxel volumes
    are given (so that QC fractions compare with the model grid's foreground).
    """
    from .topofix import fix_topology

    labels, report = fix_topology(probs, table, lr_axis=lr_axis_of(affine))
    scale = 1.0 if not (model_voxel_mm3 and voxel_mm3) else voxel_mm3 / model_voxel_mm3
    report["relabelled"] = int(round(report["changed"] * scale))
    return labels, report


def match_posteriors(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Make the arg-max of ``probs`` (C, X, Y, Z; edited in place and returned) equal to ``labels``.

    Where a voxel's label is not its arg-max (the guaranteed step changed it), the probabilities of
    the arg-max class and of the label are swapped: the values stay the same set, the sum stays 1.
    """
    from .postprocess import label_map

    hard, _ = label_map(probs)
    idx = np.nonzero(hard != labels)
    old, new = hard[idx].astype(np.intp), labels[idx].astype(np.intp)
    p_old, p_new = probs[(old,) + idx].copy(), probs[(new,) + idx].copy()
    probs[(old,) + idx] = p_new
    probs[(new,) + idx] = p_old
    still = label_map(probs)[0][idx] != labels[idx]  # exact ties with a lower class: nudge the label up
    if still.any():
        sub = tuple(i[still] for i in idx)
        probs[(new[still],) + sub] += 1e-6
        probs[(slice(None),) + sub] /= probs[(slice(None),) + sub].sum(axis=0)
    return probs
