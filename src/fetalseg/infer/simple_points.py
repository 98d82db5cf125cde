"""Simple points for 3-D binary images with 6-connected foreground and 26-connected background.

A voxel ``x`` is *simple* for a set ``X`` when adding it to (or removing it from) ``X`` changes no
Betti number of ``X``, of the background, or of the pair (Bertrand and Malandain 1994, "A new
characterization of three-dimensional simple points", Pattern Recognition Letters 15:169-175).
For the (6, 26) pair used by the FeTA topology metrics (:mod:`fetalseg.metrics.topology`) the test
is local, on the 26 neighbours of ``x`` (``x`` itself excluded):

* ``T6 = 1``: the foreground voxels among the 18 face and edge neighbours form exactly one
  6-connected component that touches ``x`` through a face, and
* ``T26 = 1``: the background voxels among the 26 neighbours form exactly one 26-connected component.

The answer for all 2**26 neighbourhood configurations is a lookup table (8 MiB of bits), computed
vectorised by bitwise flood fill on 27-bit codes and cached in the user cache folder
(``$XDG_CACHE_HOME/fetalseg`` or ``~/.cache/fetalseg``; ``FETALSEG_CACHE`` overrides the folder).

Neighbourhood code: the 3x3x3 block around ``x`` is numbered ``q = 9 * i + 3 * j + k`` for
offsets ``(i - 1, j - 1, k - 1)`` along the array axes; the centre ``q = 13`` is left out, so bit
``b`` of the 26-bit code is position ``q = b`` for ``b < 13`` and ``q = b + 1`` otherwise.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["OFFSETS", "simple_table", "is_simple", "neighbour_codes", "simple_reference"]

#: The 26 neighbour offsets (di, dj, dk), in code-bit order.
OFFSETS = np.array([(i - 1, j - 1, k - 1) for i in range(3) for j in range(3) for k in range(3)
                    if (i, j, k) != (1, 1, 1)], dtype=np.int64)

_POS = np.array([(i, j, k) for i in range(3) for j in range(3) for k in range(3)])
_ALL26 = np.uint32(((1 << 27) - 1) & ~(1 << 13))


def _bits(select, centre: bool = False) -> np.uint32:
    return np.uint32(sum(1 << q for q in range(27) if select(_POS[q]) and (centre or q != 13)))


_DIST = np.abs(_POS - 1).sum(axis=1)
_FACE = _bits(lambda p: np.abs(p - 1).sum() == 1)
_N18 = _bits(lambda p: np.abs(p - 1).sum() <= 2)
#: (shift, mask of positions that may move that way, up) for +1 and -1 along each axis; the centre
#: moves too, so that the separable 26-dilation reaches corners through it.
_STEPS = [(s, _bits(lambda p, a=a, lo=lo: p[a] < 2 if lo else p[a] > 0, centre=True), lo)
          for a, s in ((0, 9), (1, 3), (2, 1)) for lo in (True, False)]


def _shift(s: np.ndarray, step) -> np.ndarray:
    n, mask, up = step
    return (s & mask) << np.uint32(n) if up else (s & mask) >> np.uint32(n)


def _dilate6(s: np.ndarray) -> np.ndarray:
    out = s.copy()
    for step in _STEPS:
        out |= _shift(s, step)
    return out


def _dilate26(s: np.ndarray) -> np.ndarray:
    for a in range(3):
        s = s | _shift(s, _STEPS[2 * a]) | _shift(s, _STEPS[2 * a + 1])
    return s


def _one_component(allowed: np.ndarray, start: np.ndarray, dilate) -> np.ndarray:
    """True where ``allowed`` (27-bit sets) is nonempty and connected from its bits in ``start``."""
    seed = start & allowed
    low = seed & (~seed + np.uint32(1))
    comp = low
    while True:
        nxt = dilate(comp) & allowed
        if np.array_equal(nxt, comp):
            break
        comp = nxt
    return (low != 0) & ((seed & ~comp) == 0)


def _simple_from_codes(codes: np.ndarray) -> np.ndarray:
    """Simple-point test for 26-bit neighbourhood codes (uint32 array) -> bool array."""
    c = codes.astype(np.uint32)
    c27 = (c & np.uint32(0x1FFF)) | ((c >> np.uint32(13)) << np.uint32(14))
    fg18 = c27 & _N18
    t6 = _one_component(fg18, np.full_like(c27, _FACE), _dilate6)
    bg = ~c27 & _ALL26
    t26 = _one_component(bg, bg, _dilate26)
    return t6 & t26


def _cache_file() -> Path:
    root = os.environ.get("FETALSEG_CACHE")
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fetalseg"
    return Path(root) / "simple_points_6_26.npy"


def _build_table(chunk: int = 1 << 21) -> np.ndarray:
    out = np.empty(1 << 23, np.uint8)
    for start in range(0, 1 << 26, chunk):
        codes = np.arange(start, start + chunk, dtype=np.uint32)
        out[start >> 3:(start + chunk) >> 3] = np.packbits(_simple_from_codes(codes), bitorder="little")
    return out


@lru_cache(maxsize=1)
def simple_table() -> np.ndarray:
    """The packed lookup table: bit ``code`` (little-endian bit order) is 1 when ``code`` is simple.

    Built on first use (about 10-30 s) and cached on disk; a cache file of the wrong size is rebuilt.
    Returns a read-only uint8 array of 2**23 bytes.
    """
    from ..io import atomic_path

    path = _cache_file()
    table = None
    if path.is_file():
        try:
            table = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            table = None
        if table is not None and (table.dtype != np.uint8 or table.shape != (1 << 23,)):
            table = None
    if table is None:
        table = _build_table()
        try:
            with atomic_path(path, overwrite=True) as tmp:
                np.save(tmp, table, allow_pickle=False)
        except OSError:  # read-only home: keep the table in memory only
            pass
    table.setflags(write=False)
    return table


def is_simple(codes: np.ndarray) -> np.ndarray:
    """Bool array: whether each 26-bit neighbourhood code (integer array) is a simple configuration."""
    codes = np.asarray(codes, dtype=np.int64)
    table = simple_table()
    return ((table[codes >> 3] >> (codes & 7).astype(np.uint8)) & 1).astype(bool)


def neighbour_codes(values: np.ndarray, flat_index: np.ndarray, strides: tuple[int, int, int],
                    equal_to) -> np.ndarray:
    """26-bit codes of the set ``values == equal_to`` around the voxels ``flat_index``.

    ``values`` is a flattened C-ordered 3-D array (e.g. a label map), ``strides`` its element
    strides (``(ny * nz, nz, 1)``), ``equal_to`` a scalar or one value per index (the label whose
    set is tested at that voxel). Every index must be at least one voxel from the border (pad the
    array first). Returns int64 codes in the bit order of :data:`OFFSETS`.
    """
    steps = OFFSETS @ np.asarray(strides, dtype=np.int64)
    code = np.zeros(flat_index.shape, np.int64)
    for b, d in enumerate(steps):
        code |= (values[flat_index + d] == equal_to).astype(np.int64) << b
    return code


def simple_reference(codes: np.ndarray) -> np.ndarray:
    """The same test computed directly (no table), for checking the table on a sample of codes."""
    return _simple_from_codes(np.asarray(codes, dtype=np.uint32))
