"""Load and save NIfTI volumes with validation and header preservation."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

from ..errors import InputError
from .atomic import atomic_path, check_writable
from .image import Image

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti_path(path: str | os.PathLike) -> bool:
    """True if the file name ends in ``.nii`` or ``.nii.gz``."""
    return str(path).endswith(NIFTI_SUFFIXES)


def load_image(
    path: str | os.PathLike,
    *,
    labels: "object | None" = None,
    dtype: np.dtype | type | None = None,
) -> Image:
    """Read a 3-D NIfTI file and validate it.

    Parameters
    ----------
    path : path-like
        A ``.nii`` or ``.nii.gz`` file.
    labels : fetalseg.labels.LabelTable, optional
        When given, the file is a label map: values must be integers listed in the table, and the data
        is returned as ``uint8`` (or ``int16`` for tables with values above 255).
    dtype : numpy dtype, optional
        Data type of the returned array for intensity images (default: ``float32``). The on-disk
        dtype stays in ``image.header`` and is used again by :func:`save_image`.

    Returns
    -------
    Image
        Data of shape (X, Y, Z); a trailing singleton 4th axis is dropped.

    Raises
    ------
    InputError
        Missing file, not a NIfTI, truncated or corrupt, not 3-D, a zero-length axis, NaN/Inf voxels,
        a singular affine, or (label maps) values outside the label table.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file not found")
    if p.is_dir():
        raise InputError(p, "is a directory, expected a NIfTI file")
    try:
        img = nib.load(str(p))
    except Exception as exc:  # nibabel raises several types for non-NIfTI input
        raise InputError(p, f"not a readable NIfTI file ({_short(exc)})") from None
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise InputError(p, f"not a NIfTI file (read as {type(img).__name__})")
    shape = img.shape
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise InputError(p, f"expected a 3-D volume, got {len(img.shape)}-D shape {tuple(img.shape)}")
    if min(shape) == 0:
        raise InputError(p, f"has a zero-length axis (shape {tuple(shape)})")
    affine = np.asarray(img.affine, dtype=np.float64)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise InputError(p, "has a singular or non-finite affine (check the sform/qform and pixdim)")
    try:
        raw = np.asanyarray(img.dataobj)
    except (EOFError, OSError, zlib.error, gzip.BadGzipFile, ValueError) as exc:
        raise InputError(p, f"is truncated or corrupt ({_short(exc)})") from None
    raw = raw.reshape(shape)
    if raw.dtype.kind == "f" and not np.all(np.isfinite(raw)):
        n_bad = int(np.size(raw) - np.count_nonzero(np.isfinite(raw)))
        raise InputError(p, f"contains {n_bad} NaN/Inf voxels")
    if labels is not None:
        data = _as_labels(raw, labels, p)
    else:
        data = np.asarray(raw, dtype=dtype or np.float32)
    return Image(data=data, affine=affine, header=img.header.copy(), path=p)


def load_labels(path: str | os.PathLike, labels: "object | None" = None) -> Image:
    """Read a label map validated against ``labels`` (default: the FeTA table)."""
    if labels is None:
        from ..labels import FETA

        labels = FETA
    return load_image(path, labels=labels)


def _as_labels(raw: np.ndarray, table, p: Path) -> np.ndarray:
    if raw.dtype.kind == "f":
        rounded = np.rint(raw)
        if not np.array_equal(rounded, raw):
            raise InputError(p, "label map has non-integer values")
        raw = rounded
    values = np.unique(raw)
    allowed = np.asarray(table.values)
    bad = values[~np.isin(values, allowed)]
    if bad.size:
        shown = ", ".join(str(int(v)) for v in bad[:8]) + (" ..." if bad.size > 8 else "")
        raise InputError(p, f"label map has values outside the {table.name} table: {shown}")
    out_dtype = np.uint8 if allowed.max() <= 255 and allowed.min() >= 0 else np.int16
    return raw.astype(out_dtype, copy=False)


def save_image(
    image: Image,
    path: str | os.PathLike,
    *,
    dtype: np.dtype | type | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``image`` to ``path`` (``.nii`` or ``.nii.gz``) atomically.

    The header of ``image`` (if any) is reused, so sform/qform codes, units and descriptions are
    kept; the affine is written to both sform and qform. ``dtype`` sets the on-disk data type
    (default: the header's for images read from disk, else the array's). Intensity scaling
    (scl_slope/inter) is reset. Raises :class:`InputError` if ``path`` exists and not ``overwrite``.
    """
    target = check_writable(path, overwrite)
    if not is_nifti_path(target):
        raise InputError(target, "output must end in .nii or .nii.gz")
    header = image.header.copy() if image.header is not None else None
    data = np.asarray(image.data)
    if dtype is None:
        dtype = header.get_data_dtype() if header is not None and _fits(data, header.get_data_dtype()) else data.dtype
    if np.dtype(dtype) == np.float64:
        dtype = np.float32
    if np.dtype(dtype) == np.bool_:
        dtype = np.uint8
    out = nib.Nifti1Image(data.astype(dtype, copy=False), image.affine, header=header)
    out.set_data_dtype(dtype)
    out.header.set_slope_inter(1.0, 0.0)
    # keep the codes of the source header (0 stays 0); an in-memory image gets both set to 1
    scode = int(header["sform_code"]) if header is not None else 1
    qcode = int(header["qform_code"]) if header is not None else 1
    if scode == 0 and qcode == 0:
        scode = 1
    out.set_sform(image.affine, code=scode)
    out.set_qform(image.affine, code=qcode)
    with atomic_path(target, overwrite) as tmp:
        nib.save(out, str(tmp))
    return target


def _fits(data: np.ndarray, dtype: np.dtype) -> bool:
    """Whether ``data`` can be stored as ``dtype`` without loss."""
    dtype = np.dtype(dtype)
    if data.dtype == dtype:
        return True
    if dtype.kind in "iu":
        if data.dtype.kind == "f" and not np.array_equal(np.rint(data), data):
            return False
        info = np.iinfo(dtype)
        return data.size == 0 or (data.min() >= info.min and data.max() <= info.max)
    return dtype.kind == "f"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
