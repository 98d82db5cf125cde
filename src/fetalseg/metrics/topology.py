"""Topology of binary masks for the FeTA metrics: Euler characteristic and Betti numbers (6, 26).

The primitives live on a lower floor, :mod:`fetalseg.masks.topology` (where the convention is
described), so that :mod:`fetalseg.phantom` and :mod:`fetalseg.infer` use them without importing the
metrics; they are re-exported here unchanged.
"""

from ..masks.topology import bbox_crop, betti_numbers, euler_characteristic

__all__ = ["betti_numbers", "euler_characteristic", "bbox_crop"]
