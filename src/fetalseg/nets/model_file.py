"""Model files: weights as safetensors plus a JSON model card (no pickle anywhere).

``save_model(module, card, "m.safetensors")`` writes

* ``m.safetensors``: the :class:`~fetalseg.nets.unet.SegNet` state dict (float32), with the
  network config as JSON in the safetensors metadata under ``"network"`` and the format version
  under ``"fetalseg_format"``;
* ``m.json``: the model card, a dict with at least ``name``, ``labels`` (FeTA table: value -> name),
  ``resolution_mm`` (isotropic input voxel size), ``normalisation`` (e.g.
  ``{"method": "percentile", "low": 0.5, "high": 99.5}``: intensities mapped linearly so that
  those percentiles of all voxels become 0 and 1, then clipped to [0, 1]), ``patch_size``,
  ``network`` (the :class:`~fetalseg.nets.unet.NetConfig` fields), ``divisor``, and ``sha256`` (hex
  digest of the safetensors file). Training fields (``training_data``, ``steps``,
  ``validation_dice``) are added by the trainer.

``load_model(path)`` rebuilds the network, checks the digest and returns it in eval mode.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from ..errors import InputError
from ..io import atomic_path
from ..io.atomic import exists_error
from ..io.intensity import DEFAULT_NORMALISATION
from .unet import NetConfig, SegNet, build_network

FORMAT_VERSION = "1"

#: DynUNet registers every layer a second time under ``net.skip_layers`` (shared tensors); those
#: aliases are left out of the file and filled in by the shared storage on load.
ALIAS_PREFIX = "net.skip_layers."



def feta_label_names() -> dict[str, str]:
    """The FeTA label table as ``{"0": "background", ...}`` (JSON keys are strings)."""
    from ..labels import FETA

    return {str(lab.value): lab.name for lab in FETA.labels}


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def card_path(path: str | os.PathLike) -> Path:
    """The model card path for a weights path: same name with suffix ``.json``."""
    return Path(path).with_suffix(".json")


def save_model(module_or_state, card: dict, path: str | os.PathLike, *, network: NetConfig | dict | None = None,
               overwrite: bool = False, dtype: str = "float32") -> dict:
    """Write weights (``path``, ``.safetensors``) and the model card (``path`` with suffix ``.json``).

    Parameters
    ----------
    module_or_state : SegNet or dict of tensors
        The network (its ``config`` is used) or a SegNet state dict (then ``network`` or
        ``card["network"]`` must give the config). A DDP wrapper is unwrapped.
    card : dict
        Model card fields; ``network``, ``divisor``, ``sha256`` and missing defaults (``labels``,
        ``normalisation``, ``resolution_mm`` 0.8) are filled in. Must be JSON-serialisable.
    path : path
        Output file, must end in ``.safetensors``. Neither file may exist unless ``overwrite``.
    dtype : {'float32', 'float16'}
        Storage type of the weights (float16 halves the file; :func:`load_model` returns float32 weights).

    Returns
    -------
    dict
        The card as written.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(path, "model file name must end in .safetensors")
    cpath = card_path(path)
    if not overwrite:
        for p in (path, cpath):
            if p.exists():
                raise exists_error(p)
    module = getattr(module_or_state, "module", module_or_state)  # DDP
    if isinstance(module, SegNet):
        config = module.config
        state = module.state_dict()
    else:
        state = dict(module)
        raw = network if network is not None else card.get("network")
        if raw is None:
            raise ValueError("save_model: a state dict needs network= or card['network']")
        config = raw if isinstance(raw, NetConfig) else NetConfig.from_dict(raw)
    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
    store = getattr(torch, dtype)
    state = {k: v.detach().to("cpu", store).contiguous().clone() for k, v in state.items()
             if torch.is_tensor(v) and v.is_floating_point() and not k.startswith(ALIAS_PREFIX)}
    meta = {"fetalseg_format": FORMAT_VERSION, "network": json.dumps(config.to_dict())}
    with atomic_path(path, overwrite=overwrite) as tmp:
        save_file(state, str(tmp), metadata=meta)
    out = {"name": path.stem, "labels": feta_label_names(), "resolution_mm": 0.8,
           "normalisation": dict(DEFAULT_NORMALISATION)}
    out.update(card)
    out["network"] = config.to_dict()
    out["divisor"] = config.divisor
    out["format"] = FORMAT_VERSION
    out["weights"] = path.name
    out["weights_dtype"] = dtype
    out["sha256"] = sha256_file(path)
    with atomic_path(cpath, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(out, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return out


def checked_card(path: str | os.PathLike, what: str = "model", kind: str | None = None) -> dict:
    """The model card (JSON) of weights file ``path`` after checking that both files exist, the card is a
    JSON object with a ``sha256`` (and ``kind`` equal to ``kind`` when given), and the weights' digest
    matches it. Raises :class:`InputError` naming the file and the problem (``what`` names the kind of
    model in the messages)."""
    path = Path(path)
    cpath = card_path(path)
    for p in (path, cpath):
        if not p.is_file():
            raise InputError(p, f"{what} file not found")
    try:
        card = json.loads(cpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(cpath, f"not a readable JSON model card ({exc})") from None
    if not isinstance(card, dict) or "sha256" not in card:
        raise InputError(cpath, "model card has no sha256")
    if kind is not None and card.get("kind") != kind:
        raise InputError(cpath, f"not a {what} card (kind {kind!r} expected)")
    digest = sha256_file(path)
    if digest != card["sha256"]:
        raise InputError(path, f"sha256 {digest[:12]}... does not match the model card ({str(card['sha256'])[:12]}...)")
    return card


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[SegNet, dict]:
    """Load a model written by :func:`save_model`, without pickle.

    Returns ``(module, card)``: the :class:`~fetalseg.nets.unet.SegNet` in eval mode on ``device``,
    returning logits ``[B, 8, X, Y, Z]`` for input ``[B, 1, X, Y, Z]`` (any size; padded inside),
    and the model card dict. Raises :class:`InputError` when a file is missing, unreadable, or the
    weights do not match the card's ``sha256``.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    card = checked_card(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types
        raise InputError(path, f"not a readable safetensors file ({exc})") from None
    raw = json.loads(meta["network"]) if "network" in meta else card.get("network")
    try:
        net = build_network(NetConfig.from_dict(raw))
        missing, unexpected = net.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith(ALIAS_PREFIX)]
        if missing or unexpected:
            raise RuntimeError(f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    except (ValueError, RuntimeError, TypeError) as exc:
        raise InputError(path, f"weights do not fit the network in the model card ({str(exc).splitlines()[0]})") from None
    net.eval().to(device)
    return net, card
