"""The Markdown summary of a domain-shift analysis: the dominant factor of each metric, in words."""

from __future__ import annotations

import math

from .forest import MIN_CV_SUBJECTS

UNITS = {"dice": "Dice", "hd95": "mm HD95", "vs": "VS", "ed": "ED"}


def fit_sentence(cv_r2: float, n: int) -> str:
    """How much the forest explains, said plainly (R^2 <= 0: nothing)."""
    if n < MIN_CV_SUBJECTS or math.isnan(cv_r2):
        return (f"Too few subjects ({n}) to cross-validate (at least {MIN_CV_SUBJECTS} are needed): the SHAP "
                "values describe the fit to these subjects, not an effect you can rely on.")
    if cv_r2 <= 0:
        return (f"**The forest explains nothing**: cross-validated R² = {cv_r2:.2f} ≤ 0, so these factors do not "
                "predict the metric in this cohort and the ranking below is noise.")
    how = "little" if cv_r2 < 0.2 else ("part" if cv_r2 < 0.5 else "much")
    return f"Cross-validated R² = {cv_r2:.2f} over {n} subjects: the factors explain {how} of its variation."


def dominant_sentence(r) -> str:
    """'Quality is the dominant factor for dice: ...' for one :class:`TargetResult`."""
    if r.note == "constant":
        return f"{r.metric} is the same for all {r.n} subjects: nothing to explain."
    if not r.stats:
        return f"Fewer than 2 subjects have a finite {r.metric}: nothing to explain."
    top = r.stats[0]
    unit = UNITS.get(r.metric, r.metric)
    what = f"{r.metric}" + ("" if r.label == "mean" else f" of {r.label}")
    if not math.isnan(r.cv_r2) and r.cv_r2 <= 0:
        return (f"No dominant factor for {what}: the largest SHAP values, for {top['factor']} (span "
                f"{top['range']:.3g} {unit}), are noise.")
    text = (f"**{top['factor']}** is the dominant factor for {what}: it spans {top['range']:.3g} {unit} "
            f"(mean |SHAP| {top['mean_abs_shap']:.3g})")
    if top["direction"]:
        text += f"; higher {top['factor']} goes with {'higher' if top['direction'] == '+' else 'lower'} {r.metric}"
    elif top["kind"] == "categorical":
        text += f"; lowest for {top['low_group']}, highest for {top['high_group']}"
    rest = ", ".join(f"{s['factor']} {s['range']:.3g}" for s in r.stats[1:])
    return text + (f". The others span: {rest}." if rest else ".")


def _factor_table(r) -> list[str]:
    lines = ["| factor | mean abs SHAP | range | metric lowest for | highest for |", "|---|---:|---:|---|---|"]
    for s in r.stats:
        lines.append(f"| {s['factor']} | {s['mean_abs_shap']:.4g} | {s['range']:.4g} | {s['low_group']} "
                     f"| {s['high_group']} |")
    return lines


def _per_label_table(results) -> list[str]:
    per = [r for r in results if r.label != "mean"]
    if not per:
        return []
    lines = ["## Per label", "", "| metric | label | dominant factor | range | CV R² |", "|---|---|---|---:|---:|"]
    for r in per:
        if not r.stats:
            lines.append(f"| {r.metric} | {r.label} | ({r.note}) | | |")
            continue
        r2 = "n/a" if math.isnan(r.cv_r2) else f"{r.cv_r2:.2f}"
        lines.append(f"| {r.metric} | {r.label} | {r.stats[0]['factor']} | {r.stats[0]['range']:.3g} | {r2} |")
    return ["", *lines]


def summary_markdown(cases, results, metrics_name: str, participants_name: str) -> str:
    """The whole summary: inputs, method, one section per metric (per-case mean), per-label table."""
    facs = "; ".join(f"{f.name} ({f.kind}{': ' + ', '.join(f.categories) if f.kind == 'categorical' else ''})"
                     for f in cases.factors)
    lines = ["# Domain-shift analysis", "",
             f"{len(cases.subjects)} subjects of `{metrics_name}` matched in `{participants_name}`. Factors: {facs}."]
    for what, items in (("metrics subjects without a participant row", cases.unmatched_metrics),
                        ("participants without metrics", cases.unmatched_participants),
                        ("subjects left out for a missing factor value", cases.dropped_missing)):
        if items:
            lines.append(f"Left out: {len(items)} {what} ({', '.join(items[:6])}{', ...' if len(items) > 6 else ''}).")
    lines += ["", "One seeded random forest per metric (per-case mean over labels), explained with SHAP "
                  "(TreeExplainer); one-hot SHAP values are summed per factor. *Range*: max - min over the factor's "
                  "groups (categories, or quantile bins) of the mean SHAP value, in the metric's unit (as in FeTA 2024)."]
    for r in results:
        if r.label != "mean":
            continue
        fit = [fit_sentence(r.cv_r2, r.n), ""] if r.stats else []
        lines += ["", f"## {r.metric} (mean over labels)", "", *fit, dominant_sentence(r)]
        if r.stats:
            lines += ["", *_factor_table(r)]
    lines += _per_label_table(results)
    return "\n".join(lines) + "\n"
