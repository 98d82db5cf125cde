"""GA baseline: each measurement predicted from gestational age alone (the FeTA 2024 reference).

A baseline holds, per measure, polynomial coefficients of the mean (mm) in GA (weeks, highest
power first, :func:`numpy.polyval`) and of its SD. The default comes from the packaged norms
(:mod:`fetalseg.norms`: quadratic mean, linear SD); :func:`fit_baseline` fits a polynomial by
least squares on a table of measurements with a constant residual SD.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import norms
from .measure import MEASURES

__all__ = ["GABaseline", "default_baseline", "fit_baseline", "load_baseline"]

KIND = "fetalseg-ga-baseline"


@dataclass
class GABaseline:
    """Per-measure ``mean(GA)`` and ``SD(GA)`` polynomials (mm; GA in weeks; highest power first)."""

    mean: dict[str, list[float]]
    sd: dict[str, list[float]]
    source: str
    n: dict[str, int] | None = None
    ga_range: tuple[float, float] | None = None

    def predict(self, measure: str, ga) -> float | np.ndarray:
        """Mean (mm) of ``measure`` at ``ga`` weeks (float or array)."""
        return _poly(self._get(self.mean, measure), ga)

    def spread(self, measure: str, ga) -> float | np.ndarray:
        """SD (mm) of ``measure`` around the mean at ``ga`` weeks."""
        return _poly(self._get(self.sd, measure), ga)

    def _get(self, table: dict, measure: str) -> list[float]:
        if measure not in table:
            raise ValueError(f"measure {measure!r} not in this baseline (has {', '.join(table)})")
        return table[measure]

    def to_json(self) -> str:
        data = {"kind": KIND, "source": self.source, "mean_coefficients": self.mean, "sd_coefficients": self.sd,
                "n": self.n, "ga_range": list(self.ga_range) if self.ga_range else None,
                "convention": "numpy.polyval: highest power of GA (weeks) first; mm"}
        return json.dumps(data, indent=2) + "\n"


def _poly(coef: list[float], ga):
    out = np.polyval(np.asarray(coef, dtype=np.float64), np.asarray(ga, dtype=np.float64))
    return float(out) if np.ndim(out) == 0 else out


def default_baseline() -> GABaseline:
    """The packaged norms as a baseline (``fetalseg/data/biometry_norms.tsv``)."""
    table = norms.load_norms()
    return GABaseline(mean={m: [table[m].a, table[m].b, table[m].c] for m in MEASURES},
                      sd={m: [table[m].a5, table[m].b5] for m in MEASURES},
                      source=f"packaged norms ({norms.NORMS_FILE}, copy of the shared biometry-norms.tsv)",
                      ga_range=norms.GA_RANGE)


def fit_baseline(ga, values: dict[str, np.ndarray], degree: int = 1, source: str = "fitted") -> GABaseline:
    """Least-squares polynomial of each measure on GA.

    Parameters
    ----------
    ga : array (n,), weeks
    values : dict measure -> array (n,), mm; NaN entries are left out of that measure's fit.
    degree : int
        1 (linear, the FeTA 2024 baseline) or 2.
    source : str
        Where the table came from (kept in the JSON).

    Raises
    ------
    ValueError
        Degree not 1 or 2, lengths differ, or fewer than ``degree + 2`` finite pairs for a measure.
    """
    if degree not in (1, 2):
        raise ValueError(f"degree must be 1 or 2, got {degree}")
    ga = np.asarray(ga, dtype=np.float64)
    mean, sd, n = {}, {}, {}
    for m, v in values.items():
        v = np.asarray(v, dtype=np.float64)
        if v.shape != ga.shape:
            raise ValueError(f"values[{m!r}] has {v.size} entries for {ga.size} ages")
        ok = np.isfinite(v) & np.isfinite(ga)
        if ok.sum() < degree + 2:
            raise ValueError(f"{m}: {int(ok.sum())} finite values, need at least {degree + 2} to fit degree {degree}")
        coef = np.polyfit(ga[ok], v[ok], degree)
        resid = v[ok] - np.polyval(coef, ga[ok])
        mean[m] = [float(c) for c in coef]
        sd[m] = [float(np.sqrt((resid**2).sum() / (ok.sum() - degree - 1)))]
        n[m] = int(ok.sum())
    finite = ga[np.isfinite(ga)]
    rng = (float(finite.min()), float(finite.max())) if finite.size else None
    return GABaseline(mean=mean, sd=sd, source=source, n=n, ga_range=rng)


def load_baseline(path) -> GABaseline:
    """Read a baseline JSON written by :meth:`GABaseline.to_json`; ``ValueError`` if it is not one."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: not a readable JSON file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise ValueError(f"{p}: not a GA baseline (kind {KIND!r} expected)")
    rng = data.get("ga_range")
    return GABaseline(mean=data["mean_coefficients"], sd=data["sd_coefficients"], source=data.get("source", str(p)),
                      n=data.get("n"), ga_range=tuple(rng) if rng else None)


def fit_baseline_file(table, degree: int = 1) -> GABaseline:
    """:func:`fit_baseline` on a biometry TSV. GA comes from its ``Gestational age`` (or ``ga``/``GA``)
    column, else from the ``participants.tsv`` beside it, joined on ``participant_id``.
    Raises :class:`fetalseg.errors.InputError` naming the file for unusable tables."""
    from ..datasets.bids import read_participants
    from ..errors import InputError
    from .formats import load_biometry_tsv

    p = Path(table)
    ids, values, other = load_biometry_tsv(p)
    col = next((c for c in ("Gestational age", "ga", "GA") if c in other), None)
    if col is not None:
        text = other[col]
    else:
        part = p.parent / "participants.tsv"
        if not part.exists() or ids[0] is None:
            raise InputError(p, "no 'Gestational age' column and no participants.tsv with participant_id beside it")
        _, rows = read_participants(part)
        text = [rows.get(i, {}).get("Gestational age", "n/a") for i in ids]
    try:
        ga = np.array([float("nan") if t in ("", "n/a", "NA", "nan") else float(t) for t in text])
    except ValueError:
        raise InputError(p, "gestational age column has a non-numeric value") from None
    try:
        return fit_baseline(ga, values, degree, source=f"fitted on {p.name} ({len(ga)} rows)")
    except ValueError as exc:
        raise InputError(p, str(exc)) from None
