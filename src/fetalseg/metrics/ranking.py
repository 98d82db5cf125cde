"""FeTA ranking of several methods from their per-(subject, label) metric rows.

Per metric (Dice, HD95, VS, ED) a method's score is the mean over all its rows, i.e. over labels and
cases (NaN values left out; an infinite HD95 makes the mean infinite, i.e. worst). Methods are
ranked per metric, higher being better for Dice and VS and lower for HD95 and ED; ties share the
best rank of the tie ("1, 2, 2, 4"). The final score is the mean of the four ranks and the final
rank ranks those scores in the same way.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["HIGHER_IS_BETTER", "method_means", "rank_methods", "competition_rank"]

HIGHER_IS_BETTER = {"dice": True, "hd95": False, "vs": True, "ed": False}


def competition_rank(values, higher_is_better: bool) -> list[int]:
    """Ranks 1..n with ties sharing the smallest rank; NaN ranks last (tied with other NaN)."""
    from scipy.stats import rankdata

    v = np.asarray(values, dtype=float)
    key = -v if higher_is_better else v.copy()
    key[np.isnan(key)] = np.inf  # NaN = no score = worst
    key[np.isnan(v)] = np.inf
    return [int(r) for r in rankdata(key, method="min")]


def method_means(rows: list[dict]) -> dict[str, float]:
    """Mean of each ranking metric over all rows (labels and cases), NaN ignored."""
    out = {}
    for m in HIGHER_IS_BETTER:
        v = np.array([float(r[m]) for r in rows], float)
        v = v[~np.isnan(v)]
        out[m] = float(np.mean(v)) if v.size else math.nan
    return out


def rank_methods(methods: dict[str, list[dict]]) -> list[dict]:
    """The FeTA ranking table.

    Parameters
    ----------
    methods : dict
        Method name -> its metric rows (dicts with ``subject``, ``label``, ``dice``, ``hd95``,
        ``vs``, ``ed``). All methods must cover the same (subject, label) pairs.

    Returns
    -------
    list of dict
        One dict per method, sorted by final rank then name: ``method``, the four means, ``rank_<metric>``,
        ``mean_rank`` and ``final_rank``.

    Raises
    ------
    ValueError
        Fewer than one method, or methods evaluated on different (subject, label) pairs.
    """
    if not methods:
        raise ValueError("no methods to rank")
    names = list(methods)
    keys = {n: sorted({(str(r["subject"]), int(r["label"])) for r in rows}) for n, rows in methods.items()}
    first = keys[names[0]]
    for n in names[1:]:
        if keys[n] != first:
            a, b = set(first), set(keys[n])
            diff = sorted(a ^ b)[:3]
            raise ValueError(f"methods {names[0]!r} and {n!r} were evaluated on different cases, e.g. "
                             + ", ".join(f"{s} label {lab}" for s, lab in diff))
    means = {n: method_means(methods[n]) for n in names}
    table = [{"method": n, **means[n]} for n in names]
    for m, hib in HIGHER_IS_BETTER.items():
        for row, r in zip(table, competition_rank([means[n][m] for n in names], hib)):
            row[f"rank_{m}"] = r
    for row in table:
        row["mean_rank"] = float(np.mean([row[f"rank_{m}"] for m in HIGHER_IS_BETTER]))
    for row, r in zip(table, competition_rank([row["mean_rank"] for row in table], False)):
        row["final_rank"] = r
    return sorted(table, key=lambda r: (r["final_rank"], r["method"]))
