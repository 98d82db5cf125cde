"""Segmentation networks and model files (:mod:`fetalseg.nets`).

* :func:`build_network` / :class:`SegNet` / :class:`NetConfig` / :data:`PRESETS`: the 3-D residual
  U-Net with deep supervision ('tiny' for tests, 'default' for the released model);
* :func:`save_model` / :func:`load_model`: safetensors weights + JSON model card, no pickle.
"""

from .model_file import DEFAULT_NORMALISATION, card_path, feta_label_names, load_model, save_model, sha256_file
from .unet import PRESETS, NetConfig, SegNet, build_network

__all__ = [
    "NetConfig", "SegNet", "PRESETS", "build_network",
    "save_model", "load_model", "card_path", "sha256_file", "feta_label_names", "DEFAULT_NORMALISATION",
]
