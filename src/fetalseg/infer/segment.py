"""``segment()``: a T2w volume in, FeTA labels out, in the input's exact grid and header.

Pipeline per model: intensity normalisation (the model card's percentiles) -> brain-centred crop
-> resampling onto the RAS model grid at the model's resolution -> network (whole volume or
sliding windows) with flip TTA -> probabilities. Models of an ensemble are merged (mean or
max-confidence) on the first model's grid; the probability DAE (optional) refines the merged
probabilities; they are mapped back onto the input grid (exactly when the grids coincide), and the
guaranteed topology step (:mod:`fetalseg.infer.topofix`) turns them into the uint8 label map with
every label's target Betti numbers (plain arg-max without it). Volumes are soft (sum of posteriors).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from ..io import Image, load_image
from ..labels import FETA
from . import ensemble, posed, preprocess, qc
from . import tta as tta_mod
from . import topology_step
from .postprocess import label_map
from .predictor import Predictor
from .volumes import volume_row


@dataclass
class SegmentResult:
    """Everything one segmentation produces.

    Attributes
    ----------
    labels : Image
        uint8 FeTA labels (0-7) on the input's grid, with the input's affine and header.
    posteriors : ndarray (C, X, Y, Z) float32 or None
        Class probabilities on the input grid (class index = label value), when requested.
    volumes : dict
        ``'<short>_mm3'`` soft volume per foreground label and ``brain_mm3``, in mm^3.
    soft_volumes : ndarray (C,)
        Soft volume of every class, background included (they sum to the field of view).
    qc : dict
        See :func:`fetalseg.infer.qc.qc_report`.
    models : list of str
    timings : dict
        Seconds spent per stage: preprocess, network, postprocess, qc, inverse.
    """

    labels: Image
    posteriors: np.ndarray | None
    volumes: dict
    soft_volumes: np.ndarray
    qc: dict
    models: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def as_predictors(model: Any = None, *, models_dir=None, device: str = "cpu") -> list[Predictor]:
    """Normalise ``model`` to a list of predictors.

    ``model`` may be None (the installed default model), a model name or ``.safetensors`` path, a
    :class:`Predictor`, a callable network (wrapped with the default 0.8 mm contract), or a list of
    these (an ensemble).
    """
    from .models import load_predictor

    items = list(model) if isinstance(model, (list, tuple)) else [model]
    if not items:
        raise InputError(None, "no model given")
    out = []
    for m in items:
        if isinstance(m, Predictor):
            out.append(m)
        elif m is None or isinstance(m, (str, os.PathLike)):
            out.append(load_predictor(m, models_dir, device=device))
        elif callable(m):
            out.append(Predictor(m, device=device))
        else:
            raise TypeError(f"cannot use {type(m).__name__} as a model")
    return out


def _load(image_or_path) -> Image:
    if isinstance(image_or_path, Image):
        img = image_or_path
        if not np.issubdtype(np.asarray(img.data).dtype, np.number) or not np.all(np.isfinite(img.data)):
            raise InputError(img.path, "image data must be finite numbers")
        return img
    if isinstance(image_or_path, (str, os.PathLike)):
        return load_image(image_or_path)
    raise TypeError(f"expected an Image or a path, got {type(image_or_path).__name__}")


def run_segmentation(
    image: Image,
    predictors: Sequence[Predictor],
    *,
    tta: bool = True,
    flips: Sequence[Sequence[int]] | None = None,
    merge: str = "mean",
    postprocess: bool = True,
    crop: bool = True,
    posteriors: bool = False,
    table=FETA,
    pose: bool = True,
    dae=None,
) -> SegmentResult:
    """The pipeline of the module docstring on a loaded image with ready predictors (one or a list).

    ``pose``: estimate the head pose from a first pass and segment again in the canonical head frame when
    the brain is turned (:mod:`fetalseg.infer.posed`; 3-7 extra network passes without TTA). ``dae``: a loaded DAE (or None) applied to the merged
    probabilities; ``postprocess``: the guaranteed topology step on the input grid
    (:mod:`fetalseg.infer.topology_step`)."""
    if isinstance(predictors, Predictor):
        predictors = [predictors]
    if merge not in ensemble.MERGES:
        raise InputError(None, f"`merge` must be one of {', '.join(ensemble.MERGES)}, got {merge!r}", param="merge")
    flips = () if not tta else (tta_mod.LR if flips is None else flips)
    clock = _Clock()
    ref: preprocess.ModelGrid | None = None
    model_probs: list[np.ndarray] = []
    members: list[np.ndarray] = []
    cache: dict[str, np.ndarray] = {}
    pose_info: dict[str, dict] = {}
    for pred in predictors:
        key = repr(sorted(pred.normalisation.items()))
        if key not in cache:
            cache[key] = preprocess.normalise(image.data, pred.normalisation)
        normd = cache[key]
        box = preprocess.foreground_box(normd) if crop else None
        grid = preprocess.plan_grid(image, pred.resolution_mm, box=box, divisor=pred.divisor,
                                    min_shape=pred.context)
        x = preprocess.to_model(normd, grid)
        clock.lap("preprocess")
        probs, labs = tta_mod.flip_tta(pred, x, flips, keep_labels=True)
        if pose:
            grid, probs, labs, pose_info[pred.name] = posed.repose(pred, normd, grid, probs, labs, flips)
        clock.lap("network")
        if ref is None:
            ref = grid
        elif grid.shape != ref.shape or not np.allclose(grid.affine, ref.affine, atol=1e-6):
            probs, labs = _regrid(probs, labs, grid, ref)
            clock.lap("preprocess")
        model_probs.append(probs)
        members.extend(labs)
    cache.clear()
    merged = ensemble.merge(model_probs, merge) if len(model_probs) > 1 else model_probs[0]
    del model_probs
    raw, chosen = label_map(merged)
    if dae is not None:
        merged = topology_step.refine_probs(dae, merged, spacing_mm=float(np.mean(ref.spacing)))
        clock.lap("dae")
    labels, soft, post = _to_input(merged, ref, image, posteriors or postprocess)
    clock.lap("inverse")
    report = {"relabelled": 0, "components_removed": 0}
    if postprocess:
        labels, report = topology_step.guaranteed_labels(post, image.affine, table, voxel_mm3=image.voxel_volume,
                                                         model_voxel_mm3=abs(np.linalg.det(ref.affine[:3, :3])))
        post = topology_step.match_posteriors(post, labels) if posteriors else None
    clock.lap("postprocess")
    calibration = qc.QCCalibration.from_card(predictors[0].card) if len(predictors) == 1 else None
    quality = qc.qc_report(members, raw, report["relabelled"], table, n_classes=merged.shape[0], chosen=chosen,
                           calibration=calibration)
    quality["components_removed"] = report["components_removed"]
    if pose:
        quality["pose"] = pose_info
    clock.lap("qc")
    del members, raw, chosen
    out_img = Image(data=labels, affine=image.affine.copy(), header=_label_header(image.header), path=None)
    return SegmentResult(out_img, post, volume_row(soft, table), soft, quality, [p.name for p in predictors],
                         clock.laps)


class _Clock:
    """Accumulates wall-clock seconds per named stage."""

    def __init__(self) -> None:
        import time

        self._now = time.perf_counter
        self._t = self._now()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        t = self._now()
        self.laps[name] = round(self.laps.get(name, 0.0) + t - self._t, 4)
        self._t = t


def _label_header(header):
    """The input's header (orientation codes, units, description kept) retyped for a uint8 label map."""
    if header is None:
        return None
    hdr = header.copy()
    try:
        hdr.set_data_dtype(np.uint8)
        hdr.set_slope_inter(1.0, 0.0)
        hdr["cal_min"], hdr["cal_max"] = 0, 7
    except (AttributeError, KeyError, TypeError, ValueError):  # not a NIfTI header: keep as is
        pass
    return hdr


def _regrid(probs, labs, grid, ref):
    """Probabilities and member label maps from ``grid`` onto another model grid ``ref``."""
    g = preprocess.ModelGrid(grid.shape, grid.affine, ref.shape, ref.affine)
    out = np.zeros((probs.shape[0],) + tuple(ref.shape), np.float32)
    out[0] = 1.0
    for sl, block in preprocess.iter_to_input(probs, g):
        out[(slice(None),) + sl] = block
    new_labs = []
    for lab in labs:
        onehot = np.stack([lab == c for c in range(probs.shape[0])]).astype(np.float32)
        tmp = np.zeros(ref.shape, np.uint8)
        for sl, block in preprocess.iter_to_input(onehot, g):
            tmp[sl] = np.argmax(block, axis=0)
        new_labs.append(tmp)
    return out, new_labs


def _to_input(probs: np.ndarray, grid: preprocess.ModelGrid, image: Image, keep: bool):
    """Labels (uint8), soft class volumes (mm^3) and optionally posteriors on the input grid."""
    n_cls = probs.shape[0]
    labels = np.zeros(image.shape, np.uint8)
    post = None
    if keep:
        post = np.zeros((n_cls,) + image.shape, np.float32)
        post[0] = 1.0
    sums = np.zeros(n_cls, np.float64)
    covered = 0
    for sl, block in preprocess.iter_to_input(probs, grid):
        labels[sl] = label_map(block)[0]
        sums += block.reshape(n_cls, -1).sum(axis=1, dtype=np.float64)
        covered += block[0].size
        if keep:
            post[(slice(None),) + sl] = block
    sums[0] += int(np.prod(image.shape)) - covered
    return labels, sums * image.voxel_volume, post


def segment(
    image_or_path,
    model: Any = None,
    *,
    models_dir: str | os.PathLike | None = None,
    tta: bool = True,
    flips: Sequence[Sequence[int]] | None = None,
    merge: str = "mean",
    postprocess: bool = True,
    crop: bool = True,
    device: str = "auto",
    threads: int | None = None,
    posteriors: bool = False,
    return_result: bool = False,
    precision: str | None = None,
    pose: bool = True,
    dae: Any = "default",
) -> Image | SegmentResult:
    """Segment a fetal brain T2w volume into FeTA labels.

    Parameters
    ----------
    image_or_path : Image or path-like
        Any orientation, voxel size and field of view.
    model : None, str, path, Predictor, callable or list of these
        None: the installed default model; a name (looked up in ``models_dir``) or a
        ``.safetensors`` path; a list makes an ensemble.
    models_dir : path, optional
        Folder of installed models (default: the package's ``fetalseg/models``).
    tta : bool
        Average the probabilities of flipped copies (``flips``; default left-right only).
    merge : {'mean', 'max-confidence'}
        How ensemble members are merged.
    postprocess : bool
        The guaranteed topology step: every label gets its target Betti numbers in the output
        (:mod:`fetalseg.infer.topofix`).
    crop : bool
        Crop the model grid around the brain (faster); False covers the whole field of view.
    device : {'auto', 'cpu', 'cuda'}
    threads : int, optional
        CPU threads for this call (``torch.set_num_threads``; the previous setting is restored after).
    posteriors : bool
        Keep the probability maps (implies a :class:`SegmentResult` return).
    return_result : bool
        Return a :class:`SegmentResult` (labels, posteriors, volumes, QC) instead of the label image.
    precision : {'float32', 'bfloat16', 'float16'}, optional
        Network arithmetic for every model (default: each predictor's own, float32 for model files).
    pose : bool
        Segment turned brains again in their canonical head frame (:mod:`fetalseg.infer.posed`): a brain
        at any angle in its grid is segmented as well as an upright one (measured with the default model:
        within 0.02 mean Dice at 30, 90 and 180 degrees about each axis), at the cost of 3-7 network passes
        without TTA. False keeps the first pass on the RAS grid (about 2-3x faster).
    dae : 'default', 'none', None, path or DAE
        Probability denoising autoencoder applied after TTA/ensemble merging and before the topology
        step (:func:`fetalseg.infer.topology_step.resolve_dae`).

    Returns
    -------
    Image or SegmentResult
        The uint8 label image on the input's exact grid, with its affine and header.
    """
    from ..nets.device import resolve_device, torch_settings

    if threads is not None and int(threads) < 1:
        raise InputError(None, f"`threads` must be >= 1, got {threads}", param="threads")
    dev = str(resolve_device(device))
    image = _load(image_or_path)
    with torch_settings(threads=threads):
        preds = as_predictors(model, models_dir=models_dir, device=dev)
        if precision is not None:
            preds = [dataclasses.replace(p, precision=precision) for p in preds]
        refiner = topology_step.resolve_dae(dae, models_dir, device=dev)
        result = run_segmentation(image, preds, tta=tta, flips=flips, merge=merge, postprocess=postprocess,
                                  crop=crop, posteriors=posteriors, pose=pose, dae=refiner)
    return result if (return_result or posteriors) else result.labels
