"""Finding and loading exported models for inference (no environment variables, no downloads).

A model is a pair ``NAME.safetensors`` + ``NAME.json`` (see :mod:`fetalseg.nets`). ``--model`` takes a
path to a ``.safetensors`` file, or a NAME looked up in a models folder (default: the package's
``fetalseg/models/`` folder). Without ``--model``, the installed model called ``default`` is used,
or the only installed model when there is exactly one.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from .predictor import Predictor
from .preprocess import DEFAULT_NORMALISATION

HOW_TO_GET_ONE = ("train one with `fetalseg train CONFIG.yaml`, export it with "
                  "`fetalseg export RUN -o NAME.safetensors`, then pass `model=NAME.safetensors` "
                  "(or copy NAME.safetensors and NAME.json into the models folder)")


def default_models_dir() -> Path:
    """The package's ``fetalseg/models/`` folder (may not exist)."""
    return Path(__file__).resolve().parents[1] / "models"


def installed_models(models_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """``{NAME: path}`` of every ``NAME.safetensors`` with a ``NAME.json`` card in ``models_dir``
    (segmentation models only: probability DAEs, whose card says ``kind: dae``, are left out)."""
    from ..nets.dae import is_dae_card

    d = Path(models_dir) if models_dir is not None else default_models_dir()
    if not d.is_dir():
        return {}
    return {p.name[: -len(".safetensors")]: p for p in sorted(d.glob("*.safetensors"))
            if p.with_suffix(".json").is_file() and not is_dae_card(p.with_suffix(".json"))}


def resolve_model(spec: str | os.PathLike | None, models_dir: str | os.PathLike | None = None) -> Path:
    """Path of the ``.safetensors`` file meant by ``spec`` (path or name; None: the default model).

    Raises :class:`InputError` with a one-line hint when nothing matches.
    """
    d = Path(models_dir) if models_dir is not None else default_models_dir()
    if models_dir is not None and not d.is_dir():
        raise InputError(d, "models folder not found")
    found = installed_models(d)
    if spec is None:
        if "default" in found:
            return found["default"]
        if len(found) == 1:
            return next(iter(found.values()))
        if not found:
            raise InputError(None, f"no segmentation model given and none installed in {d}: {HOW_TO_GET_ONE}")
        raise InputError(None, f"several models installed in {d} ({', '.join(found)}): choose one with `model`", param="model")
    text = os.fspath(spec)
    p = Path(text)
    if text.endswith(".safetensors") or os.sep in text or p.exists():
        if p.is_dir():
            raise InputError(p, "is a folder, expected a .safetensors model file")
        if not p.is_file():
            raise InputError(p, "model file not found")
        if p.suffix != ".safetensors":
            raise InputError(p, "expected a .safetensors model file (with its .json model card beside it)")
        return p
    if text in found:
        return found[text]
    known = f"installed: {', '.join(found)}" if found else f"none installed; {HOW_TO_GET_ONE}"
    raise InputError(None, f"no model named {text!r} in {d} ({known})")


def load_predictor(spec: str | os.PathLike | None = None, models_dir: str | os.PathLike | None = None,
                   device: str = "cpu", **options) -> Predictor:
    """A :class:`Predictor` for an exported model (see :func:`resolve_model`); ``options`` go to it."""
    from ..nets import load_model

    path = resolve_model(spec, models_dir)
    net, card = load_model(path, device=device)
    res = card.get("resolution_mm", 0.8)
    res = float(res[0] if isinstance(res, (list, tuple)) else res)
    patch = card.get("patch_size")
    if isinstance(patch, int):
        patch = (patch,) * 3
    divisor = int(card.get("divisor") or getattr(net, "divisor", 16))
    return Predictor(net, resolution_mm=res, normalisation=dict(card.get("normalisation") or DEFAULT_NORMALISATION),
                     divisor=divisor, patch_size=tuple(patch) if patch else None, device=device,
                     context=tuple(patch) if patch else None,
                     name=str(card.get("name") or path.name[: -len(".safetensors")]), card=card, **options)
