"""Per-case FeTA 2024 evaluation of a label map against a reference, and summaries over cases.

One row per (subject, label) with the columns of :data:`COLUMNS`:

- ``dice`` = 2TP / (2TP + FP + FN), ``vs`` = 1 - |FN - FP| / (2TP + FP + FN) (both 1.0 when the
  label is absent from both maps);
- ``hd95`` in mm, surface-distance semantics (:mod:`fetalseg.metrics.surface`); a label empty in
  the prediction or the reference gets the ``empty`` policy value (inf by default, NaN, or a fixed
  penalty in mm), and such cases are counted (``empty`` key when ``extras=True``);
- ``ec``, ``betti0..2``: topology of the *predicted* mask, 6-connected foreground;
- ``ed`` = |EC_pred - EC_target|, the target being the label's expected topology
  (:attr:`fetalseg.labels.Label.euler`: 2 for cortical grey matter, 1 for the others) or, with
  ``ec_target='reference'``, the EC of the reference mask.
"""

from __future__ import annotations

import math

import numpy as np

from .overlap import dice_from_counts, vs_from_counts
from .surface import robust_hausdorff
from .topology import betti_numbers

__all__ = ["COLUMNS", "METRICS", "evaluate_case", "parse_empty", "summarize"]

COLUMNS = ("subject", "label", "label_name", "dice", "hd95", "vs", "ec", "betti0", "betti1", "betti2", "ed")
METRICS = ("dice", "hd95", "vs", "ed")


def parse_empty(value) -> float:
    """The HD95 value for a label empty in prediction or reference: 'inf', 'nan' or a number of mm >= 0."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("inf", "infinity"):
            return math.inf
        if v == "nan":
            return math.nan
        try:
            value = float(v)
        except ValueError:
            raise ValueError(f"empty must be 'inf', 'nan' or a number of mm, got {value!r}") from None
    value = float(value)
    if not (math.isnan(value) or value >= 0):
        raise ValueError(f"empty penalty must be >= 0 mm, got {value}")
    return value


def _label_boxes(labels: np.ndarray, name: str, table) -> list:
    """Bounding-box slices per label value (index v-1), validating the values against ``table``."""
    from scipy import ndimage

    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must be an integer label map, got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"{name} has negative label values")
    boxes = ndimage.find_objects(labels)
    bad = [v for v, b in enumerate(boxes, start=1) if b is not None and v not in table]
    if bad:
        raise ValueError(f"{name} has label values {bad} outside the {table.name} table")
    return boxes


def _union(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return tuple(slice(min(x.start, y.start), max(x.stop, y.stop)) for x, y in zip(a, b))


def evaluate_case(
    pred: np.ndarray,
    ref: np.ndarray,
    spacing,
    labels=None,
    *,
    empty="inf",
    ec_target: str = "expected",
    subject: str = "",
    percent: float = 95.0,
    extras: bool = False,
) -> list[dict]:
    """FeTA metrics of one predicted label map against its reference, one row per foreground label.

    Parameters
    ----------
    pred, ref : ndarray (X, Y, Z) of integers
        Label maps on the same voxel grid, values from ``labels``.
    spacing : 3 floats
        Voxel size in mm (from the reference header).
    labels : LabelTable, optional
        The label table (default :data:`fetalseg.labels.FETA`); every foreground label is scored.
    empty : 'inf', 'nan' or float
        HD95 for a label empty in the prediction or the reference.
    ec_target : 'expected' or 'reference'
        EC target for ED and Betti target for the Betti error: the label's expected topology, or
        the reference mask's.
    subject : str
        Value of the ``subject`` column.
    percent : float
        Hausdorff percentile (95 for HD95).
    extras : bool
        Also return ``betti_error`` (sum_i |b_i - target_i|) and ``empty`` (bool) per row.

    Returns
    -------
    list of dict
        Keys :data:`COLUMNS` (plus the extras), in label order. ``ed`` and ``betti_error`` are NaN
        for a label without an expected topology when ``ec_target='expected'``.
    """
    if labels is None:
        from ..labels import FETA as labels  # noqa: N811
    if ec_target not in ("expected", "reference"):
        raise ValueError(f"ec_target must be 'expected' or 'reference', got {ec_target!r}")
    penalty = parse_empty(empty)
    pred, ref = np.asarray(pred), np.asarray(ref)
    if pred.ndim != 3 or pred.shape != ref.shape:
        raise ValueError(f"prediction {pred.shape} and reference {ref.shape} must be 3-D of the same shape")
    sp = tuple(float(s) for s in spacing)
    boxes_p = _label_boxes(pred, "prediction", labels)
    boxes_r = _label_boxes(ref, "reference", labels)
    rows = []
    for lab in labels.labels:
        v = lab.value
        if v == 0:
            continue
        bp = boxes_p[v - 1] if v <= len(boxes_p) else None
        br = boxes_r[v - 1] if v <= len(boxes_r) else None
        box = _union(bp, br)
        if box is None:
            p = g = np.zeros((0, 0, 0), bool)
        else:
            p, g = pred[box] == v, ref[box] == v
        tp = int(np.count_nonzero(p & g))
        n_p, n_g = int(np.count_nonzero(p)), int(np.count_nonzero(g))
        fp, fn = n_p - tp, n_g - tp
        is_empty = n_p == 0 or n_g == 0
        hd = penalty if is_empty else robust_hausdorff(g, p, sp, percent)
        betti = betti_numbers(p) if n_p else (0, 0, 0)
        ec = betti[0] - betti[1] + betti[2]
        if ec_target == "reference":
            tb = betti_numbers(g) if n_g else (0, 0, 0)
        else:
            tb = lab.betti
        ed = math.nan if tb is None else float(abs(ec - (tb[0] - tb[1] + tb[2])))
        row = {
            "subject": subject, "label": v, "label_name": lab.name,
            "dice": dice_from_counts(tp, fp, fn), "hd95": float(hd), "vs": vs_from_counts(tp, fp, fn),
            "ec": ec, "betti0": betti[0], "betti1": betti[1], "betti2": betti[2], "ed": ed,
        }
        if extras:
            row["betti_error"] = math.nan if tb is None else float(sum(abs(a - b) for a, b in zip(betti, tb)))
            row["empty"] = is_empty
        rows.append(row)
    return rows


def _mean_sd(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample SD (ddof=1) ignoring NaN; inf propagates; SD is NaN for fewer than 2 values."""
    v = values[~np.isnan(values)]
    if v.size == 0:
        return math.nan, math.nan
    if np.isinf(v).any():
        return float(np.mean(v)), math.nan
    return float(np.mean(v)), (float(np.std(v, ddof=1)) if v.size > 1 else math.nan)


def summarize(rows: list[dict], metrics=("dice", "hd95", "vs", "ed", "betti_error")) -> list[dict]:
    """Mean and SD of each metric per label and over all rows (FeTA: mean over labels and cases).

    Returns one dict per label (in order of first appearance) and a last one with ``label='all'``:
    ``label``, ``label_name``, ``n`` (rows), ``n_empty`` (rows flagged ``empty``, or with a
    non-finite HD95 when the flag is absent), and ``<metric>_mean`` / ``<metric>_sd`` for the
    metrics present in the rows. NaN values are left out of means (and counted in ``n_empty`` for
    HD95); an infinite HD95 makes the mean infinite.
    """
    metrics = [m for m in metrics if rows and m in rows[0]]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["label"], r["label_name"]), []).append(r)
    out = []
    for (lab, name), rs in [*groups.items(), (("all", "all labels"), rows)]:
        d = {"label": lab, "label_name": name, "n": len(rs),
             "n_empty": sum(bool(r["empty"]) if "empty" in r else not math.isfinite(float(r["hd95"])) for r in rs)}
        for m in metrics:
            d[f"{m}_mean"], d[f"{m}_sd"] = _mean_sd(np.array([float(r[m]) for r in rs], float))
        out.append(d)
    return out


def write_csv(rows: list[dict], path, overwrite: bool = False) -> None:
    """Write rows with exactly :data:`COLUMNS` to ``path`` atomically (floats with full precision)."""
    import csv
    import io

    from ..io import write_text

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_fmt(r[c]) for c in COLUMNS])
    write_text(path, buf.getvalue(), overwrite=overwrite)


def _fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    return str(v)


def read_csv(path) -> list[dict]:
    """Read a metrics CSV written by :func:`write_csv`; raises :class:`InputError` when malformed."""
    import csv
    from pathlib import Path

    from ..errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found" if not p.exists() else "is not a file")
    try:
        with open(p, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise InputError(p, f"not a fetalseg metrics CSV (missing columns {', '.join(missing)})")
            rows = []
            for i, r in enumerate(reader, start=2):
                if None in r or None in r.values():  # csv.DictReader's marks of extra / missing fields
                    raise InputError(p, f"line {i}: number of fields differs from the header")
                row = {c: r[c] for c in COLUMNS}
                for c, kind in [("label", int), *((c, float) for c in ("dice", "hd95", "vs", "ed")),
                                *((c, int) for c in ("ec", "betti0", "betti1", "betti2"))]:
                    try:
                        row[c] = kind(row[c])
                    except ValueError:
                        raise InputError(p, f"line {i}: bad value {row[c]!r} in column {c}") from None
                rows.append(row)
    except UnicodeDecodeError:
        raise InputError(p, "not a text CSV file") from None
    if not rows:
        raise InputError(p, "no rows")
    return rows
