"""Reading YAML configuration files with one-line errors."""

from __future__ import annotations

import os
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
