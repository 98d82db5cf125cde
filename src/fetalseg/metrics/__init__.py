"""FeTA 2024 evaluation metrics (:mod:`fetalseg.metrics`).

Imports stay cheap (numpy, scipy, cc3d only; no torch) so that other modules can use the topology
functions freely.
"""

from .topology import bbox_crop, betti_numbers, euler_characteristic

__all__ = ["bbox_crop", "betti_numbers", "euler_characteristic"]
