"""Atomic, no-clobber file writing: write a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from ..errors import InputError


def exists_error(path: str | os.PathLike, problem: str = "already exists") -> InputError:
    """The :class:`InputError` for an output that exists and may not be replaced (``overwrite`` false)."""
    return InputError(path, f"{problem} (use `overwrite=True` to replace it)", param="overwrite")


def check_writable(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Raise :class:`InputError` if ``path`` exists and ``overwrite`` is false, or is a folder."""
    p = Path(path)
    if p.is_dir():
        raise InputError(p, "is a directory, expected a file path")
    if p.exists() and not overwrite:
        raise exists_error(p)
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    The temporary name keeps the target's suffixes (``.nii.gz`` stays ``.nii.gz``) so that writers
    which infer the format from the name work. On error the temporary file is removed and the
    target is left untouched. Parent folders are created.
    """
    target = check_writable(path, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes) or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name.split('.')[0]}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp (and some writers, e.g. safetensors) make 0600 files: give the usual permissions
        os.chmod(tmp_path, 0o666 & ~_umask())
        if not overwrite and target.exists():
            raise exists_error(target, "appeared while writing")
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str, overwrite: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path, overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)
