"""fetalseg: fetal brain MRI toolkit.

Contrast- and pathology-agnostic tissue segmentation trained SynthSeg-style from label maps, the
FeTA 2024 challenge metrics, biometry and domain-shift analysis.

The top-level namespace is light: heavy modules (torch, scikit-learn, matplotlib) are imported only
when a function that needs them is called.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "InputError", "load_image", "save_image", "Image", "FETA", "segment"]


def __getattr__(name: str):  # lazy public API (PEP 562)
    if name == "InputError":
        from .errors import InputError

        return InputError
    if name in ("load_image", "save_image", "Image"):
        from . import io

        return getattr(io, name)
    if name == "segment":
        from .infer import segment

        return segment
    if name == "FETA":
        from .labels import FETA

        return FETA
    raise AttributeError(f"module 'fetalseg' has no attribute {name!r}")
