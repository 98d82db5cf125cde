"""Test-time augmentation by flips: probabilities of flipped copies, flipped back and averaged.

The model grid is RAS-oriented, so axis 0 is left-right: the default ``flips=((0,),)`` is the
left-right flip. FeTA labels are not lateralised, so no label swap is needed after flipping back.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .postprocess import label_map

#: Left-right flip only (axis 0 of the RAS model grid).
LR = ((0,),)
#: Every combination of flips along the three axes (7 flipped copies plus the original).
ALL_FLIPS = ((0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2))


def flip_tta(
    predict: Callable[[np.ndarray], np.ndarray],
    volume: np.ndarray,
    flips: Sequence[Sequence[int]] = LR,
    *,
    keep_labels: bool = False,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Average ``predict`` over the original volume and its flipped copies.

    Parameters
    ----------
    predict : callable
        ``(X, Y, Z)`` float32 volume -> probabilities ``(C, X, Y, Z)``.
    volume : ndarray (X, Y, Z)
    flips : sequence of axis tuples
        Each entry flips the volume along those spatial axes (0, 1, 2); ``()`` entries are ignored
        (the unflipped pass is always made). An empty sequence disables TTA.
    keep_labels : bool
        Also return each pass's arg-max label map (uint8), for agreement-based QC.

    Returns
    -------
    (probs, members)
        ``probs``: float32 ``(C, X, Y, Z)``, the mean of the passes' probabilities (each flipped back);
        ``members``: the passes' label maps (empty unless ``keep_labels``).
    """
    passes = [()] + [tuple(int(a) for a in f) for f in flips if len(f)]
    for f in passes:
        if any(a not in (0, 1, 2) for a in f):
            raise ValueError(f"flip axes must be 0, 1 or 2, got {f}")
    total = None
    members: list[np.ndarray] = []
    for f in passes:
        v = np.ascontiguousarray(np.flip(volume, axis=f)) if f else volume
        p = predict(v)
        if f:
            p = np.flip(p, axis=tuple(a + 1 for a in f))
        if keep_labels:
            members.append(label_map(p)[0])
        total = np.array(p, dtype=np.float32, copy=True) if total is None else np.add(total, p, out=total)
    total /= np.float32(len(passes))
    return total, members
