"""Binary masks and label maps: bounding boxes, topology (Euler characteristic, Betti numbers) and
overlap (Dice) (:mod:`fetalseg.masks`).

The floor below :mod:`fetalseg.phantom`, :mod:`fetalseg.infer` and :mod:`fetalseg.metrics`: plain
functions over NumPy arrays (numpy and cc3d only), so that every layer above uses the same rules.
"""

from .overlap import EMPTY_POLICIES, confusion, dice_from_counts, dice_per_label, label_overlap
from .topology import bbox, bbox_crop, betti_numbers, euler_characteristic

__all__ = [
    "bbox", "bbox_crop", "betti_numbers", "euler_characteristic",
    "EMPTY_POLICIES", "confusion", "dice_from_counts", "dice_per_label", "label_overlap",
]
