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
   upright brain), and the pass that finds the most cerebellum and brainstem is kept (:func:`repose`).

The model grid of the kept pass is an ordinary :class:`~fetalseg.infer.preprocess.ModelGrid` (rotated
relative to the input), so the rest of the pipeline (ensembles, post-processing, mapping back onto the
input's exact grid) is unchanged.
"""

from __future__ import annotations

import numpy as np

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
    """The :class:`~fetalseg.pose.Pose` of the arg-max of ``probs`` (C, *grid.shape) on ``grid`` (label
    symmetry, :func:`fetalseg.pose.estimate_pose`) on a grid subsampled to about ``coarse_mm``; None when it
    cannot be found (no cerebrum or hindbrain)."""
    from ..pose import estimate_pose

    labels = np.asarray(probs).argmax(axis=0).astype(np.uint8)
    k = max(1, int(round(coarse_mm / float(np.min(grid.spacing)))))
    aff = np.asarray(grid.affine, float).copy()
    aff[:3, :3] = aff[:3, :3] * k
    try:
        return estimate_pose(labels[::k, ::k, ::k], aff)
    except ValueError:
        return None


def frame_of(normalised: np.ndarray, grid: ModelGrid, probs: np.ndarray, coarse_mm: float = 2.0):
    """The head frame (:func:`fetalseg.pose.image_frame`) of the normalised input on ``grid``, inside the
    brain of the first pass ``probs`` (C, *grid.shape): labels 2-7 (external CSF left out: a network may
    label amniotic fluid next to an unmasked head as external CSF), the anterior-posterior line from the
    cerebrum's silhouette; on ``grid`` subsampled to about ``coarse_mm``; signs nearest to ``grid``'s axes.
    None when the brain is too small."""
    from ..pose import CEREBRUM, image_frame
    from .preprocess import to_model

    k = max(1, int(round(coarse_mm / float(np.min(grid.spacing)))))
    image = to_model(normalised, grid)[::k, ::k, ::k]
    lab = np.asarray(probs).argmax(axis=0)[::k, ::k, ::k]
    aff = np.asarray(grid.affine, float).copy()
    aff[:3, :3] = aff[:3, :3] * k
    try:
        return image_frame(image, lab > 1, aff, reference=grid_axes(grid), silhouette=np.isin(lab, CEREBRUM))
    except ValueError:
        return None


def posed_grid(pose, probs: np.ndarray, grid: ModelGrid, resolution_mm: float, divisor: int,
               margin_mm: float = 6.0, min_shape: tuple[int, int, int] | None = None) -> ModelGrid:
    """A model grid along the canonical axes of ``pose`` covering the brain of ``probs`` on ``grid``.

    The brain (arg-max > 0) of the first pass, taken to canonical coordinates, is boxed, grown by
    ``margin_mm``, and covered by isotropic ``resolution_mm`` voxels (at least ``min_shape``, grown about the
    box's centre), padded to a multiple of ``divisor``; the grid maps back to the same input grid as ``grid``.
    """
    fg = np.argwhere(np.asarray(probs).argmax(axis=0) > 0)
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


def confidence(probs: np.ndarray) -> float:
    """Mean maximum class probability over the voxels whose arg-max is not background (0 if none)."""
    p = np.asarray(probs)
    top = p.max(axis=0)
    fg = p.argmax(axis=0) > 0
    return float(top[fg].mean()) if fg.any() else 0.0


def hindbrain(probs: np.ndarray) -> float:
    """Share of the foreground voxels (arg-max > 0) whose arg-max is cerebellum (5) or brainstem (7); 0 if
    none. Counted on the arg-max, not summed over probabilities: an unsure network spreads probability
    over every class, which would read as hindbrain everywhere."""
    lab = np.asarray(probs).argmax(axis=0)
    fg = int((lab > 0).sum())
    return float(np.isin(lab, (5, 7)).sum()) / fg if fg else 0.0


def candidate_frames(frames, grid: ModelGrid, min_angle_deg: float = 15.0, same_deg: float = 20.0):
    """The frames to segment in: every pose of ``frames`` (None entries skipped) and its half-turns, in that
    order, less those within ``min_angle_deg`` of ``grid``'s axes (the first pass stands for them) and
    those within ``same_deg`` of one already listed (a network trained with 20-degree rotations sees them
    alike). Returns ``(poses, upright)``; ``upright``: some frame was within ``min_angle_deg`` of the grid."""
    from ..pose import half_turns

    axes, out, upright = grid_axes(grid), [], False
    for frame in frames:
        for pose in half_turns(frame) if frame is not None else ():
            if angle_deg(pose.rotation, axes) < min_angle_deg:
                upright = True
            elif all(angle_deg(pose.rotation, q.rotation) >= same_deg for q in out):
                out.append(pose)
    return out, upright


HINDBRAIN_TIE = 0.9
"""Passes whose hindbrain share is at least this fraction of the largest count as tied; the most confident
of them is kept."""


CONFIDENCE_TIE = 0.01
"""Tied passes within this of the most confident one count as equally confident: the earliest is kept."""


def _choose(passes: list[dict]) -> dict:
    """Of the passes made in a head frame (``p['frame']``) whose hindbrain share ties with the largest of all
    passes, the most confident, the earliest (label frame first) among equally confident ones; else the
    first pass (a tilted brain's first pass finds most of its hindbrain too, but less of the rest, so it does
    not win ties against its frame)."""
    top = max(p["hindbrain"] for p in passes)
    tied = [p for p in passes if p["frame"] and p["hindbrain"] >= HINDBRAIN_TIE * top]
    if not tied:
        return passes[0]
    best = max(p["confidence"] for p in tied)
    return next(p for p in tied if p["confidence"] >= best - CONFIDENCE_TIE)


def _refine(predictor, normalised: np.ndarray, grid: ModelGrid, best: dict, min_angle_deg: float):
    """A pass in the label frame of the chosen pass's own segmentation, when that frame is at least
    ``min_angle_deg`` from the chosen one and ties with it (:func:`_choose`); else None. The image frame's
    anterior-posterior line comes from a first pass that may have called the hindbrain cerebrum (tilting the
    silhouette); the chosen pass has found the hindbrain, so its labels give the sharper frame."""
    from . import preprocess
    from . import tta as tta_mod

    pose = label_frame(best["probs"], best["grid"])
    if pose is None or angle_deg(pose.rotation, grid_axes(best["grid"])) < min_angle_deg:
        return None
    g = posed_grid(pose, best["probs"], best["grid"], predictor.resolution_mm, predictor.divisor,
                   min_shape=predictor.context)
    pr, labs = tta_mod.flip_tta(predictor, preprocess.to_model(normalised, g), (), keep_labels=True)
    new = {"grid": g, "probs": pr, "labels": labs, "angle": angle_deg(pose.rotation, grid_axes(grid)), "frame": True,
           "hindbrain": hindbrain(pr), "confidence": confidence(pr)}
    return _choose([new, best])


def repose(predictor, normalised: np.ndarray, grid: ModelGrid, probs: np.ndarray, labels: list, flips,
           min_angle_deg: float = 15.0):
    """Steps 2-3 of the module docstring for one predictor.

    ``normalised`` is the normalised input volume, ``grid``/``probs``/``labels`` the first pass
    (``labels``: the per-pass arg-max maps kept for QC). Returns ``(grid, probs, labels, info)`` of the
    kept pass; ``info`` records the kept frame's angle to the first grid, the confidences and hindbrain shares.

    Two head frames are proposed: the first pass's label symmetry (sharp when the first pass is good) and
    the image's symmetry (right when a confused first pass is not); symmetry gives axis lines, not their
    signs. The network runs (without TTA) in each frame and its half-turns (:func:`candidate_frames`: the
    first pass stands for frames within ``min_angle_deg`` of its grid, near-duplicates are dropped), and the
    pass giving the cerebellum and brainstem the largest share of
    the brain is kept (see :func:`_choose` for ties). Measured with the leg-3 model on a held-out
    atlas image: the right frame gave them 3.1 % of the foreground, the wrong half-turns at most 1.9 %,
    while the mean confidence of the wrong frames was as high as the right one's (0.739-0.758 against
    0.753): a network that has only seen upright brains labels an upside-down one confidently, but does not
    find its hindbrain.
    """
    from . import preprocess
    from . import tta as tta_mod

    frames = [label_frame(probs, grid), frame_of(normalised, grid, probs)]
    if frames == [None, None]:
        return grid, probs, labels, {"pose": "not found"}
    poses, upright = candidate_frames(frames, grid, min_angle_deg)
    axes = grid_axes(grid)
    passes = [{"grid": grid, "probs": probs, "labels": labels, "angle": 0.0, "frame": upright}]
    for pose in poses:
        g = posed_grid(pose, probs, grid, predictor.resolution_mm, predictor.divisor, min_shape=predictor.context)
        pr, labs = tta_mod.flip_tta(predictor, preprocess.to_model(normalised, g), (), keep_labels=True)
        passes.append({"grid": g, "probs": pr, "labels": labs, "angle": angle_deg(pose.rotation, axes),
                       "frame": True})
    for p in passes:
        p["hindbrain"], p["confidence"] = hindbrain(p["probs"]), confidence(p["probs"])
    best = _choose(passes)
    if best is not passes[0]:
        best = _refine(predictor, normalised, grid, best, min_angle_deg) or best
    info = {"pose_angle_deg": round(best["angle"], 1), "confidence_first": round(passes[0]["confidence"], 4),
            "hindbrain_first": round(passes[0]["hindbrain"], 4), "frames_tried": len(passes) - 1}
    if best is passes[0]:
        return grid, probs, labels, {**info, "pose": "upright" if upright else "first pass kept"}
    info.update(confidence_posed=round(best["confidence"], 4), hindbrain_posed=round(best["hindbrain"], 4))
    pr, labs = best["probs"], best["labels"]
    if flips:
        pr, labs = tta_mod.flip_tta(predictor, preprocess.to_model(normalised, best["grid"]), flips, keep_labels=True)
    return best["grid"], pr, labs, {**info, "pose": "canonical frame"}
