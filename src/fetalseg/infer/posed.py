"""Segmentation in the brain's canonical head frame (any head pose in the scanner).

A fetal head lies at any angle, and super-resolution volumes keep that pose; a network trained on brains
within about 20 degrees of upright fails on others. The pose step:

1. a first pass on the usual RAS model grid (:func:`fetalseg.infer.preprocess.plan_grid`) gives the brain's
   outline, even for a rotated brain (its labels may be wrong, its foreground is not);
2. two head frames are proposed: :func:`fetalseg.pose.estimate_pose` on the first pass's labels (sharp when
   the first pass is good), and :func:`fetalseg.pose.image_frame` from the image inside the first pass's
   brain outline (mid-sagittal plane of best intensity symmetry, long axis of the sagittal silhouette): the
   image is symmetric about its own mid-sagittal plane whatever a confused network labels;
3. symmetry gives axis lines, not their signs: the network runs in each frame and its half-turns
   (:func:`posed_grid`: x left->right, y posterior->anterior, z inferior->superior, which is RAS for an
   upright brain); of the passes in the plane the image finds most symmetric, the one that finds the most
   cerebellum and brainstem is kept, an upright first pass unless a tied one is clearly more confident
   (:func:`repose`, :func:`_choose`).

The model grid of the kept pass is an ordinary :class:`~fetalseg.infer.preprocess.ModelGrid` (rotated
relative to the input), so the rest of the pipeline (ensembles, post-processing, mapping back onto the
input's exact grid) is unchanged.
"""

from __future__ import annotations

import numpy as np

from .postprocess import label_map
from .preprocess import ModelGrid

__all__ = ["angle_deg", "label_frame", "frame_of", "candidate_frames", "posed_grid", "confidence", "hindbrain",
           "repose"]


def angle_deg(rotation: np.ndarray, axes: np.ndarray) -> float:
    """Angle in degrees of the rotation taking the unit column vectors ``axes`` (3, 3) onto ``rotation``'s."""
    r = np.asarray(rotation, float).T @ np.asarray(axes, float)
    return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0))))


def grid_axes(grid: ModelGrid) -> np.ndarray:
    """Unit world directions (columns) of the model grid's voxel axes."""
    a = np.asarray(grid.affine, float)[:3, :3]
    return a / np.linalg.norm(a, axis=0, keepdims=True)


def label_frame(probs: np.ndarray, grid: ModelGrid, coarse_mm: float = 1.6):
    """The :class:`~fetalseg.pose.Pose` of the arg-max of ``probs`` (C, *grid.shape; or that label map) on
    ``grid`` (label symmetry, :func:`fetalseg.pose.estimate_pose`) on a grid subsampled to about
    ``coarse_mm``; None when it cannot be found (no cerebrum or hindbrain). The symmetry score weights the
    labels by volume, as when the shipped models' pose benchmarks were measured (the label-weighted default
    of :func:`~fetalseg.pose.estimate_pose`, which biometry uses, is not yet measured for this step)."""
    from ..pose import estimate_pose

    labels = _label_map(probs).astype(np.uint8)
    k = max(1, int(round(coarse_mm / float(np.min(grid.spacing)))))
    aff = np.asarray(grid.affine, float).copy()
    aff[:3, :3] = aff[:3, :3] * k
    try:
        return estimate_pose(labels[::k, ::k, ::k], aff, weighting="volume")
    except ValueError:
        return None


def _image_inputs(normalised: np.ndarray, grid: ModelGrid, probs: np.ndarray, coarse_mm: float = 2.0):
    """The normalised input on ``grid`` subsampled to about ``coarse_mm``, the first pass's brain there (labels
    2-7: a network may call amniotic fluid next to an unmasked head external CSF) and cerebrum (2, 3, 4, 6),
    and the subsampled grid's affine."""
    from ..pose import CEREBRUM
    from .preprocess import to_model

    k = max(1, int(round(coarse_mm / float(np.min(grid.spacing)))))
    image = to_model(normalised, grid)[::k, ::k, ::k]
    lab = _label_map(probs)[::k, ::k, ::k]
    aff = np.asarray(grid.affine, float).copy()
    aff[:3, :3] = aff[:3, :3] * k
    return image, lab > 1, np.isin(lab, CEREBRUM), aff


def frame_of(normalised: np.ndarray, grid: ModelGrid, probs: np.ndarray, coarse_mm: float = 2.0):
    """The head frame (:func:`fetalseg.pose.image_frame`) of the normalised input on ``grid``, inside the
    brain of the first pass ``probs`` (C, *grid.shape; or its arg-max map), the anterior-posterior line from
    its cerebrum's silhouette (:func:`_image_inputs`), signs nearest to ``grid``'s axes (None when the brain is
    too small); and the :class:`~fetalseg.pose.image_frame.ImageSymmetryField` (2 mm) that scores other planes alike."""
    from ..pose import image_frame
    from ..pose.image_frame import ImageSymmetryField

    image, brain, cerebrum, aff = _image_inputs(normalised, grid, probs, coarse_mm)
    field = ImageSymmetryField(image, brain, aff, sigma_mm=2.0, max_points=4000)
    try:
        return image_frame(image, brain, aff, reference=grid_axes(grid), silhouette=cerebrum), field
    except ValueError:
        return None, field


def posed_grid(pose, probs: np.ndarray, grid: ModelGrid, resolution_mm: float, divisor: int,
               margin_mm: float = 6.0, min_shape: tuple[int, int, int] | None = None) -> ModelGrid:
    """A model grid along the canonical axes of ``pose`` covering the brain of ``probs`` (C, *grid.shape; or
    their arg-max map) on ``grid``.

    The brain (arg-max > 0) of the first pass, taken to canonical coordinates, is boxed, grown by
    ``margin_mm``, and covered by isotropic ``resolution_mm`` voxels (at least ``min_shape``, grown about the
    box's centre), padded to a multiple of ``divisor``; the grid maps back to the same input grid as ``grid``.
    """
    fg = np.argwhere(_label_map(probs) > 0)
    if len(fg) == 0:
        raise ValueError("probs has no foreground")
    world = fg @ np.asarray(grid.affine, float)[:3, :3].T + np.asarray(grid.affine, float)[:3, 3]
    u = pose.to_canonical(world)
    lo, hi = u.min(axis=0) - margin_mm, u.max(axis=0) + margin_mm
    n = np.ceil((hi - lo) / resolution_mm).astype(int) + 1
    if min_shape is not None:
        n = np.maximum(n, np.asarray(min_shape, int))
    n = (np.ceil(n / divisor) * divisor).astype(int)
    centre = (lo + hi) / 2.0
    affine = np.eye(4)
    affine[:3, :3] = pose.rotation * resolution_mm
    affine[:3, 3] = pose.to_world(centre - (n - 1) / 2.0 * resolution_mm)
    return ModelGrid(tuple(int(v) for v in n), affine, grid.input_shape, grid.input_affine)


def confidence(probs: np.ndarray, labels: np.ndarray | None = None) -> float:
    """Mean maximum class probability over the voxels whose arg-max is not background (0 if none);
    ``labels``: that arg-max map when already computed."""
    p = np.asarray(probs)
    if labels is None:
        labels, top = label_map(p)  # arg-max and maximum in one pass
    else:
        top = p.max(axis=0)
    fg = np.asarray(labels) > 0
    return float(top[fg].mean()) if fg.any() else 0.0


def _label_map(probs_or_labels: np.ndarray) -> np.ndarray:
    """The arg-max of probabilities (C, X, Y, Z), or a label map (X, Y, Z) as it is."""
    a = np.asarray(probs_or_labels)
    return a if a.ndim == 3 else label_map(a)[0]


def hindbrain(probs: np.ndarray) -> float:
    """Share of the foreground voxels (arg-max > 0) whose arg-max is cerebellum (5) or brainstem (7); 0 if
    none. ``probs``: probabilities (C, X, Y, Z) or their arg-max map (X, Y, Z). Counted on the arg-max, not
    summed over probabilities: an unsure network spreads probability over every class, which would read as
    hindbrain everywhere."""
    lab = _label_map(probs)
    fg = int((lab > 0).sum())
    return float(np.isin(lab, (5, 7)).sum()) / fg if fg else 0.0


def candidate_frames(frames, grid: ModelGrid, min_angle_deg: float = 15.0, same_deg: float = 20.0):
    """The frames to segment in: every pose of ``frames`` (None entries skipped) and its half-turns, in that
    order, less those within ``min_angle_deg`` of ``grid``'s axes (the first pass stands for them) and
    those within ``same_deg`` of one already listed (a network trained with 20-degree rotations sees them
    alike). Returns ``(poses, upright)``; ``upright``: the first pose within ``min_angle_deg`` of the grid,
    or None."""
    from ..pose import half_turns

    axes, out, upright = grid_axes(grid), [], None
    for frame in frames:
        for pose in half_turns(frame) if frame is not None else ():
            if angle_deg(pose.rotation, axes) < min_angle_deg:
                upright = upright or pose
            elif all(angle_deg(pose.rotation, q.rotation) >= same_deg for q in out):
                out.append(pose)
    return out, upright


SYMMETRY_TIE = 0.05
"""Framed passes whose mid-sagittal plane has an image symmetry (a correlation) within this of the best count
as lying in the brain's plane."""


HINDBRAIN_TIE = 0.9
"""Passes in that plane whose hindbrain share is at least this fraction of the largest count as tied; the most
confident of them is kept."""


CONFIDENCE_MARGIN = 0.02
"""A first pass standing for an upright frame gives way to a tied pass only when that pass is more confident by
at least this much (mean maximum probability)."""


def _choose(passes: list[dict]) -> dict:
    """Of the passes made in a head frame (``p['frame']``), those whose mid-sagittal plane is (within
    ``SYMMETRY_TIE``) the most symmetric in the image; of these, those whose hindbrain share ties with their
    largest, and of these the most confident, unless the first pass is among them (its frame is upright) and
    that pass beats it by less than ``CONFIDENCE_MARGIN``. The first pass when no pass has a frame, or when it has none
    itself and finds more hindbrain than that pass by more than the tie (a tilted brain's first pass finds most
    of its hindbrain too, but less of the rest, so it does not win ties against its frame).

    The plane first: symmetry gives the plane, not the signs of the axes in it, and the half-turns in one plane
    are told apart by the hindbrain the network finds. Measured on held-out atlas images: turned 90 degrees about
    the vertical axis, half-turns of the confused first pass's label frame (a wrong plane, image symmetry
    0.63) found 0.042 of the brain as hindbrain, the right frame (0.79) 0.038, and were as confident; upright
    under the benchmark's bias field (before :func:`fetalseg.pose.image_frame.flatten`), frames 110-175 degrees
    away found up to 1.19 x the first pass's hindbrain. The margin: held-out atlas images with T1-like
    contrast or inverted, upright, leg-4 model: the front-back half-turn found as much hindbrain as the first
    pass (0.0356 both) and was 0.008 more confident (kept: Dice 0.83 -> 0.37); turned 180 degrees about the
    vertical axis, the right frame tied with the first pass on hindbrain and was 0.037-0.041 more confident."""
    framed = [p for p in passes if p["frame"]]
    if not framed:
        return passes[0]
    sym = max(p["symmetry"] for p in framed)
    plane = [p for p in framed if p["symmetry"] >= sym - SYMMETRY_TIE]
    top = max(p["hindbrain"] for p in plane)
    tied = [p for p in plane if p["hindbrain"] >= HINDBRAIN_TIE * top]
    best = max(tied, key=lambda p: p["confidence"])
    first = passes[0]
    if any(p is first for p in tied) and best["confidence"] < first["confidence"] + CONFIDENCE_MARGIN:
        return first
    return first if not first["frame"] and best["hindbrain"] < HINDBRAIN_TIE * first["hindbrain"] else best


def _frame_pass(predictor, normalised: np.ndarray, grid: ModelGrid, pose, template: np.ndarray, field) -> dict:
    """One network pass (no TTA) on a grid along ``pose`` covering the brain of ``template`` (probabilities or
    a label map on ``grid``); keeps its label map and scores (``field``: the image symmetry of the pose's
    mid-sagittal plane), not its probabilities (up to 8 such passes)."""
    from . import preprocess
    from . import tta as tta_mod

    g = posed_grid(pose, template, grid, predictor.resolution_mm, predictor.divisor, min_shape=predictor.context)
    pr, labs = tta_mod.flip_tta(predictor, preprocess.to_model(normalised, g), (), keep_labels=True)
    return {"grid": g, "map": labs[0], "labels": labs, "frame": True, "rotation": pose.rotation,
            "hindbrain": hindbrain(labs[0]), "confidence": confidence(pr, labs[0]),
            "symmetry": _plane_symmetry(field, pose)}


def _plane_symmetry(field, pose) -> float:
    """Image symmetry (correlation) about the mid-sagittal plane of ``pose`` (-inf without a pose)."""
    if pose is None or field.n_points == 0:
        return -np.inf
    n = pose.rotation[:, 0]
    return field.score(n, float(n @ pose.origin))


def _refine(predictor, normalised: np.ndarray, best: dict, min_angle_deg: float, field) -> dict:
    """``best``, or a pass in the label frame of its own segmentation when that frame is at least
    ``min_angle_deg`` from it and ties with it (:func:`_choose`, the new pass in the first pass's place: kept
    unless ``best`` is clearly more confident). The image frame's anterior-posterior line
    comes from a first pass that may have called the hindbrain cerebrum (tilting the silhouette); the chosen
    pass has found the hindbrain, so its labels give the sharper frame."""
    pose = label_frame(best["map"], best["grid"])
    if pose is None or angle_deg(pose.rotation, grid_axes(best["grid"])) < min_angle_deg:
        return best
    return _choose([_frame_pass(predictor, normalised, best["grid"], pose, best["map"], field), best])


def repose(predictor, normalised: np.ndarray, grid: ModelGrid, probs: np.ndarray, labels: list, flips,
           min_angle_deg: float = 15.0):
    """Steps 2-3 of the module docstring for one predictor.

    ``normalised`` is the normalised input volume, ``grid``/``probs``/``labels`` the first pass
    (``labels``: the per-pass arg-max maps kept for QC). Returns ``(grid, probs, labels, info)`` of the
    kept pass; ``info`` records the kept frame's angle to the first grid, the confidences and hindbrain shares.

    Two head frames are proposed: the first pass's label symmetry (sharp when the first pass is good) and
    the image's symmetry (right when a confused first pass is not); symmetry gives axis lines, not their
    signs. The network runs (without TTA) in each frame and its half-turns (:func:`candidate_frames`: the
    first pass stands for frames within ``min_angle_deg`` of its grid, near-duplicates are dropped); in the plane
    of best image symmetry the pass giving the cerebellum and brainstem the largest share of the brain is kept
    (:func:`_choose`), its frame refined once from its own labels; the kept grid then gets the ``flips`` (TTA)
    passes.
    Measured with the leg-3 model on a held-out atlas image: the right frame gave them 3.1 % of the
    foreground, the wrong half-turns at most 1.9 %, while the mean confidence of the wrong frames was as high
    as the right one's (0.739-0.758 against 0.753): a network that has only seen upright brains labels an
    upside-down one confidently, but does not find its hindbrain.
    """
    from . import preprocess
    from . import tta as tta_mod

    first_map = label_map(probs)[0]  # every score below reads the arg-max: take it once
    by_image, field = frame_of(normalised, grid, first_map)
    frames = [label_frame(first_map, grid), by_image]
    if frames == [None, None]:
        return grid, probs, labels, {"pose": "not found"}
    poses, upright = candidate_frames(frames, grid, min_angle_deg)
    first = {"grid": grid, "labels": labels, "frame": upright is not None, "rotation": grid_axes(grid),
             "hindbrain": hindbrain(first_map), "confidence": confidence(probs, first_map),
             "symmetry": _plane_symmetry(field, upright)}
    passes = [first] + [_frame_pass(predictor, normalised, grid, pose, first_map, field) for pose in poses]
    best = _choose(passes)
    info = {"confidence_first": round(first["confidence"], 4), "hindbrain_first": round(first["hindbrain"], 4),
            "frames_tried": len(passes) - 1}
    if best is first:
        return grid, probs, labels, {**info, "pose_angle_deg": 0.0,
                                     "pose": "upright" if upright is not None else "first pass kept"}
    best = _refine(predictor, normalised, best, min_angle_deg, field)
    info.update(pose_angle_deg=round(angle_deg(best["rotation"], grid_axes(grid)), 1),
                confidence_posed=round(best["confidence"], 4), hindbrain_posed=round(best["hindbrain"], 4))
    pr, labs = tta_mod.flip_tta(predictor, preprocess.to_model(normalised, best["grid"]), flips, keep_labels=True)
    return best["grid"], pr, labs, {**info, "pose": "canonical frame"}
