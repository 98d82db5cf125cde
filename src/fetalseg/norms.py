"""Normative fetal brain biometry on MRI: mean, SD, z-score and centile by gestational age.

The coefficients ship as package data (``fetalseg/data/biometry_norms.tsv``, a copy of the
project's shared ``biometry-norms.tsv`` with its source comment), so this module works without
``../shared``. For each measure (all in mm)::

    mean(GA) = a * GA**2 + b * GA + c        SD(GA) = a5 * GA + b5

with GA the gestational age in weeks. Measures: ``sBIP`` (skull biparietal diameter), ``bBIP``
(brain biparietal diameter), ``TCD`` (transverse cerebellar diameter), ``HV`` (height of the
vermis), ``LCC`` (length of the corpus callosum). The curves are fitted on 19-40 weeks; outside
that range they are extrapolated (no error), which callers should treat with care.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["MEASURES", "Norm", "load_norms", "norm_mean", "norm_sd", "zscore", "centile", "NORMS_FILE"]

MEASURES = ("sBIP", "bBIP", "TCD", "HV", "LCC")
"""Measures of the table, in its row order."""

NORMS_FILE = "biometry_norms.tsv"
GA_RANGE = (19.0, 40.0)


@dataclass(frozen=True)
class Norm:
    """Coefficients of one measure: ``mean = a GA^2 + b GA + c``, ``SD = a5 GA + b5`` (mm, GA in weeks)."""

    measure: str
    a: float
    b: float
    c: float
    a5: float
    b5: float
    plane: str


def _parse(text: str, source: str) -> dict[str, Norm]:
    rows: dict[str, Norm] = {}
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.rstrip("\n").split("\t")
        if header is None:
            header = cells
            need = ["measure", "a", "b", "c", "a5", "b5", "plane"]
            if header[: len(need)] != need:
                raise ValueError(f"{source}: header {header} is not {need}")
            continue
        rec = dict(zip(header, cells))
        rows[rec["measure"]] = Norm(rec["measure"], float(rec["a"]), float(rec["b"]), float(rec["c"]),
                                    float(rec["a5"]), float(rec["b5"]), rec["plane"])
    missing = [m for m in MEASURES if m not in rows]
    if missing:
        raise ValueError(f"{source}: measures {missing} missing")
    return rows


@lru_cache(maxsize=4)
def load_norms(path: str | Path | None = None) -> dict[str, Norm]:
    """Read a norms table (default: the packaged copy) into ``{measure: Norm}``."""
    if path is None:
        text = resources.files("fetalseg").joinpath("data", NORMS_FILE).read_text(encoding="utf-8")
        return _parse(text, NORMS_FILE)
    p = Path(path)
    return _parse(p.read_text(encoding="utf-8"), str(p))


def _norm(measure: str) -> Norm:
    norms = load_norms()
    if measure not in norms:
        raise ValueError(f"unknown biometry measure {measure!r}; known: {', '.join(MEASURES)}")
    return norms[measure]


def norm_mean(measure: str, ga):
    """Normative mean (mm) of ``measure`` at gestational age ``ga`` (weeks; float or array)."""
    n = _norm(measure)
    g = np.asarray(ga, dtype=np.float64)
    out = n.a * g**2 + n.b * g + n.c
    return float(out) if out.ndim == 0 else out


def norm_sd(measure: str, ga):
    """Normative standard deviation (mm) of ``measure`` at ``ga`` (weeks; float or array)."""
    n = _norm(measure)
    g = np.asarray(ga, dtype=np.float64)
    out = n.a5 * g + n.b5
    return float(out) if out.ndim == 0 else out


def zscore(measure: str, value, ga):
    """``(value - mean(ga)) / SD(ga)`` for a measurement ``value`` in mm (floats or arrays)."""
    v = np.asarray(value, dtype=np.float64)
    out = (v - np.asarray(norm_mean(measure, ga))) / np.asarray(norm_sd(measure, ga))
    return float(out) if np.ndim(out) == 0 else out


def centile(measure: str, value, ga):
    """Centile (0-100) of ``value`` under the normal model ``N(mean(ga), SD(ga))``."""
    z = np.asarray(zscore(measure, value, ga), dtype=np.float64)
    erf = np.vectorize(math.erf, otypes=[np.float64])
    out = 50.0 * (1.0 + erf(z / math.sqrt(2.0)))
    return float(out) if out.ndim == 0 else out
