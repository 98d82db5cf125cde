"""Conversion of label maps between conventions through lookup tables."""

from __future__ import annotations

import numpy as np

from .feta import DHCP, FETA, GENERATION, WITHCC
from .table import LabelTable

# source value -> FeTA value
WITHCC_TO_FETA = {0: 0, 1: 3, 2: 4, 3: 5, 4: 1, 5: 2, 6: 6, 7: 7, 8: 3}
GENERATION_TO_FETA = {**{v: v for v in range(8)}, 8: 3, 9: 0, 10: 0, 11: 0, 12: 0}
# dHCP hippocampi and amygdala are grey matter of the medial temporal cortex: FeTA counts them as
# cortical grey matter; dHCP "background" (4) becomes FeTA background.
DHCP_TO_FETA = {0: 0, 1: 1, 2: 2, 3: 3, 4: 0, 5: 4, 6: 5, 7: 6, 8: 7, 9: 2}

TABLES: dict[str, LabelTable] = {"feta": FETA, "withcc": WITHCC, "generation": GENERATION, "dhcp": DHCP}
TO_FETA: dict[str, dict[int, int]] = {
    "feta": {v: v for v in FETA.values},
    "withcc": WITHCC_TO_FETA,
    "generation": GENERATION_TO_FETA,
    "dhcp": DHCP_TO_FETA,
}


def lookup_table(mapping: dict[int, int], dtype=np.uint8) -> np.ndarray:
    """A dense LUT array ``lut[src] = dst`` from a mapping; unmapped values map to 255 (sentinel)."""
    lut = np.full(max(mapping) + 1, 255, dtype=dtype)
    for src, dst in mapping.items():
        lut[src] = dst
    return lut


def relabel(labels: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """Map every value of ``labels`` through ``mapping``.

    Raises ``ValueError`` naming the values that the mapping does not cover.
    """
    labels = np.asarray(labels)
    values = np.unique(labels)
    missing = [int(v) for v in values if int(v) not in mapping]
    if missing:
        raise ValueError(f"values {missing} have no mapping")
    return lookup_table(mapping)[labels.astype(np.intp, copy=False)]


def to_feta(labels: np.ndarray, convention: str) -> np.ndarray:
    """Convert a label map from ``convention`` ('withcc', 'generation', 'dhcp', 'feta') to FeTA."""
    try:
        mapping = TO_FETA[convention]
    except KeyError:
        raise ValueError(f"unknown label convention {convention!r}; known: {sorted(TO_FETA)}") from None
    return relabel(labels, mapping)
