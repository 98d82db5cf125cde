"""Reading YAML configuration files with one-line errors."""

from __future__ import annotations

import os
import types
import typing
from dataclasses import is_dataclass
from pathlib import Path

from ..errors import InputError


def read_yaml_mapping(path: str | os.PathLike, what: str = "config") -> dict:
    """The mapping stored in a YAML file (an empty file gives ``{}``).

    Raises :class:`InputError` naming ``path`` when the file is missing, is not valid YAML, or does
    not hold a mapping.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError(p, f"{what} file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(p, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise InputError(p, f"{what} must be a YAML mapping of key: value")
    return data


def check_field_types(kind, data: dict, prefix: str = "") -> None:
    """Raise :class:`InputError` (without a path) for the first value of ``data`` whose type does not fit
    the annotation of dataclass ``kind``'s field of that name; unknown keys are left to the caller.

    YAML values are checked, not converted: ints pass where floats are expected, bools are not numbers,
    lists pass for lists and tuples (element types checked), a mapping or ``None`` passes for a
    dataclass-typed field. The message names the key as ``prefix + key``.
    """
    hints = typing.get_type_hints(kind)
    for key, value in data.items():
        if key in hints and not _has_type(value, hints[key]):
            raise InputError(None, f"{prefix}{key} must be {_type_name(hints[key])}, "
                                   f"got {type(value).__name__} {value!r}")


def _has_type(value, tp) -> bool:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, a) for a in args)
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if is_dataclass(tp):
        return isinstance(value, (dict, tp)) or value is None
    if origin in (list, tuple) or tp in (list, tuple):
        return isinstance(value, (list, tuple)) and (not args or all(_has_type(v, args[0]) for v in value))
    if origin is dict or tp is dict:
        return isinstance(value, dict)
    return isinstance(value, tp)


def _type_name(tp) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args) + (" or null" if type(None) in typing.get_args(tp) else "")
    base = typing.get_origin(tp) or tp
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping",
             list: "a list", tuple: "a list"}
    text = names.get(base, "a mapping")
    return f"{text} of {_type_name(args[0]).split(' ', 1)[-1]}s" if base in (list, tuple) and args else text
