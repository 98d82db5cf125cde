"""Merging the probabilities of several models (an ensemble) voxel by voxel.

* ``mean``: the average of the members' probabilities;
* ``max-confidence``: per voxel, the probability vector of the member whose top class probability
  is highest (the merge of the fetal SynthSeg fork): the label is that member's label there.
Ties go to the first member.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

MERGES = ("mean", "max-confidence")


def merge_mean(members: Sequence[np.ndarray]) -> np.ndarray:
    """Mean of probability maps, each ``(C, X, Y, Z)``; float32."""
    _check(members)
    out = np.array(members[0], dtype=np.float32, copy=True)
    for p in members[1:]:
        out += p
    out /= np.float32(len(members))
    return out


def merge_max_confidence(members: Sequence[np.ndarray]) -> np.ndarray:
    """Per voxel, the probabilities of the member with the highest maximum probability; float32."""
    _check(members)
    out = np.array(members[0], dtype=np.float32, copy=True)
    best = out.max(axis=0)
    for p in members[1:]:
        conf = p.max(axis=0)
        better = conf > best
        out[:, better] = p[:, better]
        best[better] = conf[better]
    return out


def merge(members: Sequence[np.ndarray], method: str = "mean") -> np.ndarray:
    """Dispatch on ``method`` ('mean' or 'max-confidence')."""
    if method == "mean":
        return merge_mean(members)
    if method == "max-confidence":
        return merge_max_confidence(members)
    raise ValueError(f"merge must be one of {', '.join(MERGES)}, got {method!r}")


def _check(members: Sequence[np.ndarray]) -> None:
    if len(members) == 0:
        raise ValueError("no members to merge")
    shape = np.shape(members[0])
    if len(shape) != 4:
        raise ValueError(f"members must be (C, X, Y, Z) probability maps, got shape {shape}")
    for p in members[1:]:
        if np.shape(p) != shape:
            raise ValueError(f"members differ in shape: {shape} and {np.shape(p)}")
