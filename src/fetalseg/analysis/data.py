"""The analysis table: per-case metrics (mean over labels and per label) joined with participant factors.

The metrics come from a ``fetalseg evaluate`` CSV (one row per subject and label, columns
:data:`fetalseg.metrics.COLUMNS`); the factors are columns of a FeTA ``participants.tsv``. A
factor is *numeric* when every non-missing value parses as a number, else *categorical* (missing
values become the category ``'n/a'``). Subjects are matched by BIDS participant id (a metrics
subject ``sub-X_ses-Y`` matches participant ``sub-X``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError

#: Short names accepted for the usual FeTA 2024 factors (column names match too, case-insensitively).
FACTOR_ALIASES = {"quality": "Quality", "ga": "Gestational age", "pathology": "Pathology", "site": "Site",
                  "condition": "Condition"}
DEFAULT_FACTORS = ("quality", "ga", "pathology", "site")
DEFAULT_METRICS = ("dice", "hd95", "ed")
#: Metrics whose larger values are better (the others are errors: smaller is better).
HIGHER_IS_BETTER = {"dice": True, "vs": True, "hd95": False, "ed": False}
MISSING = ("", "n/a", "na", "nan", "none")


@dataclass
class Factor:
    """One factor over the matched subjects: its column, kind and values (float or str array)."""

    name: str
    kind: str  # 'numeric' or 'categorical'
    values: np.ndarray

    @property
    def categories(self) -> list[str]:
        return sorted(set(self.values.tolist())) if self.kind == "categorical" else []


@dataclass
class CaseTable:
    """Matched subjects, their factors and metric targets.

    ``targets`` maps a target name (``'dice'``: per-case mean over labels; ``'dice_gm'``: one label)
    to a float array over ``subjects`` (inf where a label was empty, NaN where undefined).
    """

    subjects: list[str]
    factors: list[Factor]
    targets: dict[str, np.ndarray]
    metrics: list[str]
    labels: list[str]
    unmatched_metrics: list[str] = field(default_factory=list)
    unmatched_participants: list[str] = field(default_factory=list)
    dropped_missing: list[str] = field(default_factory=list)


def resolve_factors(requested: Sequence[str] | None, columns: Sequence[str], path) -> list[str]:
    """Column names for ``requested`` factors (aliases, column names, case-insensitive).

    With ``requested=None`` the defaults :data:`DEFAULT_FACTORS` present in ``columns`` are used.
    Raises :class:`InputError` (naming ``path``) for an unknown factor or when none is left.
    """
    lower = {c.lower(): c for c in columns if c != "participant_id"}
    out: list[str] = []
    for name in (DEFAULT_FACTORS if requested is None else requested):
        key = name.strip()
        col = lower.get(key.lower()) or lower.get(FACTOR_ALIASES.get(key.lower(), "").lower())
        if col is None:
            if requested is None:
                continue
            known = ", ".join(c for c in columns if c != "participant_id")
            raise InputError(path, f"no column for factor {key!r} in `factors` (columns: {known})")
        if col not in out:
            out.append(col)
    if not out:
        raise InputError(path, "none of the default factors (Quality, Gestational age, Pathology, Site) is a "
                               "column; name the columns to use in `factors`")
    return out


def _parse_factor(name: str, raw: list[str]) -> Factor:
    vals = [v.strip() for v in raw]
    try:
        nums = np.array([math.nan if v.lower() in MISSING else float(v) for v in vals], dtype=np.float64)
        return Factor(name, "numeric", nums)
    except ValueError:
        return Factor(name, "categorical", np.array([("n/a" if v.lower() in MISSING else v) for v in vals]))


def _per_case_targets(rows: list[dict], subjects: list[str], metrics: Sequence[str]):
    """``{metric: mean over labels, metric_short: per label}`` arrays over ``subjects``, and label shorts."""
    from ..labels import FETA

    by_key = {(r["subject"], int(r["label"])): r for r in rows}
    values = sorted({int(r["label"]) for r in rows})
    shorts = [FETA[v].short if v in FETA else str(v) for v in values]
    targets: dict[str, np.ndarray] = {}
    for m in metrics:
        per = np.full((len(subjects), len(values)), np.nan)
        for i, s in enumerate(subjects):
            for j, v in enumerate(values):
                r = by_key.get((s, v))
                if r is not None:
                    per[i, j] = float(r[m])
        with warnings.catch_warnings():  # a subject without any value: NaN, said by the caller
            warnings.simplefilter("ignore", RuntimeWarning)
            targets[m] = np.nanmean(per, axis=1)  # an infinite HD95 makes the mean infinite
        for j, short in enumerate(shorts):
            targets[f"{m}_{short}"] = per[:, j]
    return targets, shorts


def _check_metrics(metrics: Sequence[str] | None) -> list[str]:
    out = list(DEFAULT_METRICS if metrics is None else metrics)
    bad = [m for m in out if m not in HIGHER_IS_BETTER]
    if bad or not out:
        raise InputError(None, f"unknown metric {bad[0] if bad else ''!r} in `metrics`; known: "
                               f"{', '.join(HIGHER_IS_BETTER)}")
    return list(dict.fromkeys(out))


def load_cases(metrics_csv, participants_tsv, factors: Sequence[str] | None = None,
               metrics: Sequence[str] | None = None) -> CaseTable:
    """Read and join a metrics CSV and a participants table; see the module docstring.

    Raises :class:`InputError` for a malformed file, an unknown metric or factor, no subject in
    common, fewer than 2 matched subjects with all factors known, or a factor that is constant
    over the matched subjects (it cannot explain anything).
    """
    from ..datasets import read_participants
    from ..metrics.evaluate import read_csv

    mets = _check_metrics(metrics)
    rows = read_csv(metrics_csv)
    columns, parts = read_participants(participants_tsv)
    cols = resolve_factors(factors, columns, participants_tsv)
    subjects = list(dict.fromkeys(r["subject"] for r in rows))
    matched = [s for s in subjects if s.split("_ses-")[0] in parts]
    if not matched:
        raise InputError(participants_tsv, f"no participant matches a subject of {metrics_csv} "
                                           f"(metrics: {_few(subjects)}; participants: {_few(list(parts))})")
    fac = [_parse_factor(c, [parts[s.split("_ses-")[0]][c] for s in matched]) for c in cols]
    known = np.ones(len(matched), bool)
    for f in fac:
        if f.kind == "numeric":
            known &= ~np.isnan(f.values)
    keep = [s for s, k in zip(matched, known) if k]
    if len(keep) < 2:
        raise InputError(participants_tsv, f"{len(keep)} subject(s) matched with all factors known; need at least 2")
    fac = [Factor(f.name, f.kind, f.values[known]) for f in fac]
    _check_constant(fac, len(keep), participants_tsv, metrics_csv)
    targets, shorts = _per_case_targets(rows, keep, mets)
    matched_ids = {s.split("_ses-")[0] for s in matched}
    return CaseTable(keep, fac, targets, mets, shorts,
                     unmatched_metrics=[s for s in subjects if s not in matched],
                     unmatched_participants=[p for p in parts if p not in matched_ids],
                     dropped_missing=[s for s, k in zip(matched, known) if not k])


def _check_constant(fac: list[Factor], n: int, participants_tsv, metrics_csv) -> None:
    for f in fac:
        uniq = set(f.values.tolist())
        if len(uniq) < 2:
            raise InputError(participants_tsv, f"factor {f.name!r} is constant ({next(iter(uniq))!r}) over the "
                                               f"{n} subjects matched with {Path(metrics_csv).name}; "
                                               f"leave it out of `factors`")


def _few(items: list[str], k: int = 4) -> str:
    return ", ".join(items[:k]) + (f", ... ({len(items)} in all)" if len(items) > k else "") if items else "none"
