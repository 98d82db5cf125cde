"""Domain-shift analysis: known-factor cohorts must rank the driving factor first; SHAP sums and ranges."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from fetalseg.analysis import analyze, load_cases
from fetalseg.analysis.forest import design_matrix, explain_target, factor_range
from fetalseg.labels import FETA
from fetalseg.metrics.evaluate import write_csv

SITES = ("siteA", "siteB", "siteC")
SITE_EFFECT = {"siteA": 0.0, "siteB": -0.12, "siteC": 0.06}


def make_cohort(folder, driver: str, n: int = 36, seed: int = 0, noise: float = 0.01):
    """participants.tsv and metrics.csv where ``driver`` ('quality' or 'site') sets the Dice and HD95.

    Quality (0-4), GA (20-38 w), pathology and site are drawn independently; Dice per label is
    0.55 + effect + N(0, noise), HD95 is 6 - 20 * effect mm (+ noise); the other factors have no effect.
    """
    rng = np.random.default_rng(seed)
    quality = np.round(rng.uniform(0, 4, n), 1)
    ga = np.round(rng.uniform(20, 38, n), 1)
    path = rng.choice(["Neurotypical", "Pathological"], n)
    site = np.array([SITES[i % 3] for i in rng.permutation(n)])
    effect = 0.06 * (quality - 2) if driver == "quality" else np.array([SITE_EFFECT[s] for s in site])
    lines = ["participant_id\tGestational age\tPathology\tSite\tQuality"]
    rows = []
    for i in range(n):
        sid = f"sub-{i + 1:03d}"
        lines.append(f"{sid}\t{ga[i]}\t{path[i]}\t{site[i]}\t{quality[i]}")
        for lab in FETA.labels[1:]:
            dice = float(np.clip(0.55 + effect[i] + rng.normal(0, noise), 0, 1))
            hd = float(max(0.5, 6 - 20 * effect[i] + rng.normal(0, 20 * noise)))
            rows.append({"subject": sid, "label": lab.value, "label_name": lab.name, "dice": dice, "hd95": hd,
                         "vs": 0.9, "ec": 1, "betti0": 1, "betti1": 0, "betti2": 0, "ed": float(rng.integers(0, 3))})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "participants.tsv").write_text("\n".join(lines) + "\n")
    write_csv(rows, folder / "metrics.csv")
    return folder / "metrics.csv", folder / "participants.tsv"


def read_importance(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("driver,column", [("quality", "Quality"), ("site", "Site")])
def test_known_driver_ranks_first(tmp_path, driver, column):
    m, p = make_cohort(tmp_path / "in", driver)
    out = tmp_path / "out"
    res = analyze(m, p, out, metrics=["dice", "hd95"], per_label=False, seed=0)
    rows = read_importance(out / "shap_importance.csv")
    for metric in ("dice", "hd95"):
        mine = sorted((r for r in rows if r["metric"] == metric), key=lambda r: int(r["rank"]))
        assert mine[0]["factor"] == column, mine
        assert float(mine[0]["cv_r2"]) > 0.7
        # the driver's range is close to the true spread of its effect and dwarfs the others
        assert float(mine[0]["range"]) > 4 * max(float(r["range"]) for r in mine[1:])
    true_span = 0.18 if driver == "site" else None  # siteC - siteB
    if true_span is not None:
        top = next(r for r in rows if r["metric"] == "dice" and r["rank"] == "1")
        assert float(top["range"]) == pytest.approx(true_span, abs=0.03)
        assert (top["low_group"], top["high_group"]) == ("siteB", "siteC")
    text = (out / "summary.md").read_text()
    assert f"**{column}** is the dominant factor for dice" in text
    assert "explains nothing" not in text
    for name in ("beeswarm_dice.png", "dependence_hd95.png", "cases.csv"):
        assert (out / name).stat().st_size > 1000 if name.endswith(".png") else (out / name).exists()
    assert res.results[0].target == "dice"


def test_noise_only_says_it_explains_nothing(tmp_path):
    """ED is pure noise in the synthetic cohort: the CV R^2 must be <= 0 and the summary must say so."""
    m, p = make_cohort(tmp_path / "in", "quality")
    res = analyze(m, p, tmp_path / "out", metrics=["ed"], per_label=False, seed=0)
    r = res.results[0]
    assert r.cv_r2 <= 0
    assert "**The forest explains nothing**" in res.summary


def test_shap_summed_per_factor_is_additive(tmp_path):
    """Per-factor SHAP values (one-hot columns summed) plus the base value give the forest's prediction."""
    from sklearn.ensemble import RandomForestRegressor

    m, p = make_cohort(tmp_path / "in", "site", n=24)
    cases = load_cases(m, p, metrics=["dice"])
    X, owner = design_matrix(cases.factors)
    assert [f.name for f in cases.factors] == ["Quality", "Gestational age", "Pathology", "Site"]
    assert owner == [0, 1, 2, 2, 3, 3, 3]  # numeric: one column; categorical: one per category
    np.testing.assert_array_equal(X[:, 4:].sum(axis=1), 1)  # one-hot
    assert sorted(cases.factors[3].categories) == list(SITES)
    y = cases.targets["dice"]
    ex = explain_target(X, owner, y, seed=3, n_trees=50)
    pred = RandomForestRegressor(n_estimators=50, random_state=3, n_jobs=1).fit(X, y).predict(X)
    assert ex.shap.shape == (24, 4)
    np.testing.assert_allclose(ex.base + ex.shap.sum(axis=1), pred, atol=1e-9)


def test_factor_range_by_hand():
    from fetalseg.analysis.data import Factor

    f = Factor("Site", "categorical", np.array(["b", "a", "b", "c", "a"]))
    rng, lo, hi = factor_range(np.array([1.0, -2.0, 3.0, 0.5, 0.0]), f)
    assert (rng, lo, hi) == (pytest.approx(2.0 - (-1.0)), "a", "b")
    g = Factor("GA", "numeric", np.arange(8, dtype=float))  # 4 quantile bins of two values each
    rng, lo, hi = factor_range(np.array([0, 0, 1, 1, 2, 2, 5, 7.0]), g)
    assert rng == pytest.approx(6.0) and lo.startswith("0") and hi.endswith("7")


def test_per_case_mean_and_labels(tmp_path):
    m, p = make_cohort(tmp_path / "in", "quality", n=6)
    cases = load_cases(m, p, factors=["quality", "site"], metrics=["dice"])
    with open(m, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["subject"] == "sub-002"]
    i = cases.subjects.index("sub-002")
    assert cases.targets["dice"][i] == pytest.approx(np.mean([float(r["dice"]) for r in rows]))
    assert cases.targets["dice_gm"][i] == pytest.approx(float(rows[1]["dice"]))
    assert [f.name for f in cases.factors] == ["Quality", "Site"]
    assert cases.factors[1].kind == "categorical" and cases.factors[0].kind == "numeric"


def test_infinite_hd95_drops_the_case_for_that_target(tmp_path):
    m, p = make_cohort(tmp_path / "in", "quality", n=12)
    text = m.read_text().splitlines()
    # make sub-001's cerebellum HD95 infinite (label empty)
    for k, line in enumerate(text):
        if line.startswith("sub-001,5,"):
            cells = line.split(",")
            cells[4] = "inf"
            text[k] = ",".join(cells)
    m.write_text("\n".join(text) + "\n")
    res = analyze(m, p, tmp_path / "out", metrics=["hd95"], seed=0, n_trees=30)
    by = {r.target: r for r in res.results}
    assert by["hd95"].n == 11 and by["hd95_cbm"].n == 11 and by["hd95_gm"].n == 12
    assert math.isinf(load_cases(m, p, metrics=["hd95"]).targets["hd95"][0])


def test_partial_match_is_reported(tmp_path):
    """Subjects on one side only are left out and listed in the summary; the rest is analysed."""
    m, p = make_cohort(tmp_path / "in", "quality", n=12)
    lines = p.read_text().splitlines()
    p.write_text("\n".join(lines[:-2] + ["sub-900\t30\tNeurotypical\tsiteA\t2.0"]) + "\n")  # drop 011, 012
    res = analyze(m, p, tmp_path / "out", metrics=["dice"], per_label=False)
    assert len(res.cases.subjects) == 10
    assert res.cases.unmatched_metrics == ["sub-011", "sub-012"] and res.cases.unmatched_participants == ["sub-900"]
    assert "Left out: 2 metrics subjects without a participant row (sub-011, sub-012)" in res.summary
    assert "Left out: 1 participants without metrics (sub-900)" in res.summary
