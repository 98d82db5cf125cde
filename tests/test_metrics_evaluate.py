"""evaluate_case rows, summaries and the FeTA ranking; the sb-atlas evaluated against itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import atlas_files, make_labels
from fetalseg.labels import FETA
from fetalseg.metrics import (COLUMNS, betti_numbers, dice, evaluate_case, hausdorff95, parse_empty, rank_methods,
                              summarize)


def test_rows_match_the_single_metrics():
    ref = make_labels((32, 32, 32))
    pred = np.roll(ref, 1, axis=1)
    pred[3:6, 3:6, 3:6] = 2  # a stray grey-matter island
    sp = (0.8, 0.9, 1.1)
    rows = evaluate_case(pred, ref, sp, subject="sub-01")
    assert [r["label"] for r in rows] == list(FETA.foreground)
    assert all(tuple(r) == COLUMNS for r in rows)
    for r in rows:
        g, p = ref == r["label"], pred == r["label"]
        assert r["subject"] == "sub-01" and r["label_name"] == FETA[r["label"]].name
        assert r["dice"] == pytest.approx(dice(g, p))
        assert r["hd95"] == hausdorff95(g, p, sp)
        b = betti_numbers(p)
        assert (r["betti0"], r["betti1"], r["betti2"]) == b
        assert r["ec"] == b[0] - b[1] + b[2]
        assert r["ed"] == abs(r["ec"] - FETA[r["label"]].euler)
    gm = rows[1]
    assert gm["betti0"] >= 2  # the island adds a component


def test_identical_maps():
    ref = make_labels((32, 32, 32))
    for r in evaluate_case(ref, ref, (1, 1, 1)):
        assert r["dice"] == 1.0 and r["hd95"] == 0.0 and r["vs"] == 1.0


def test_empty_policies_and_counts():
    ref = make_labels((32, 32, 32))
    pred = ref.copy()
    pred[pred == 4] = 3  # ventricles missing from the prediction
    for policy, check in (("inf", math.isinf), ("nan", math.isnan), (12.5, lambda v: v == 12.5)):
        rows = evaluate_case(pred, ref, (1, 1, 1), empty=policy, extras=True)
        vent = rows[3]
        assert vent["empty"] and check(vent["hd95"]) and vent["dice"] == 0.0
        assert sum(r["empty"] for r in rows) == 1
        summ = summarize(rows)
        assert summ[-1]["label"] == "all" and summ[-1]["n_empty"] == 1 and summ[-1]["n"] == 7
    assert math.isnan(parse_empty("nan")) and parse_empty("inf") == math.inf and parse_empty("3") == 3.0
    with pytest.raises(ValueError):
        parse_empty("-1")
    with pytest.raises(ValueError):
        parse_empty("big")


def test_ec_target_reference_and_betti_error():
    ref = make_labels((32, 32, 32))
    pred = ref.copy()
    pred[2:4, 2:4, 2:4] = 7  # a brainstem island: b0 + 1
    exp = {r["label"]: r for r in evaluate_case(pred, ref, (1, 1, 1), extras=True)}
    rel = {r["label"]: r for r in evaluate_case(pred, ref, (1, 1, 1), ec_target="reference", extras=True)}
    assert rel[7]["ed"] == 1.0 and rel[3]["ed"] == 0.0
    bs_ref = betti_numbers(ref == 7)
    assert rel[7]["betti_error"] == sum(abs(a - b) for a, b in zip(betti_numbers(pred == 7), bs_ref))
    assert exp[7]["betti_error"] == sum(abs(a - b) for a, b in zip(betti_numbers(pred == 7), (1, 0, 0)))


def test_rejects_bad_input():
    ref = make_labels((32, 32, 32))
    with pytest.raises(ValueError, match="outside"):
        evaluate_case(np.where(ref == 1, 9, ref).astype(np.uint8), ref, (1, 1, 1))
    with pytest.raises(ValueError, match="same shape"):
        evaluate_case(ref[:-1], ref, (1, 1, 1))
    with pytest.raises(ValueError, match="integer"):
        evaluate_case(ref.astype(float), ref, (1, 1, 1))
    with pytest.raises(ValueError, match="ec_target"):
        evaluate_case(ref, ref, (1, 1, 1), ec_target="mean")


def _rows(values):
    """Rows for a method from {(subject, label): (dice, hd95, vs, ed)}."""
    return [dict(subject=s, label=lab, dice=d, hd95=h, vs=v, ed=e) for (s, lab), (d, h, v, e) in values.items()]


def test_ranking_by_hand():
    cases = [("sub-1", 1), ("sub-1", 2), ("sub-2", 1), ("sub-2", 2)]
    a = _rows({c: (0.9, 1.0, 0.95, 2.0) for c in cases})
    b = _rows({c: (0.8, 2.0, 0.95, 1.0) for c in cases})
    c = _rows({c: (0.7, math.inf if c == ("sub-2", 2) else 0.5, 0.90, 4.0) for c in cases})
    table = {r["method"]: r for r in rank_methods({"A": a, "B": b, "C": c})}
    assert (table["A"]["rank_dice"], table["B"]["rank_dice"], table["C"]["rank_dice"]) == (1, 2, 3)
    assert (table["A"]["rank_hd95"], table["B"]["rank_hd95"], table["C"]["rank_hd95"]) == (1, 2, 3)  # inf worst
    assert (table["A"]["rank_vs"], table["B"]["rank_vs"], table["C"]["rank_vs"]) == (1, 1, 3)  # tie shares
    assert (table["A"]["rank_ed"], table["B"]["rank_ed"], table["C"]["rank_ed"]) == (2, 1, 3)
    assert table["A"]["mean_rank"] == 1.25 and table["B"]["mean_rank"] == 1.5 and table["C"]["mean_rank"] == 3.0
    assert [table[m]["final_rank"] for m in "ABC"] == [1, 2, 3]
    # ties in the final score share the rank
    t2 = {r["method"]: r for r in rank_methods({"A": a, "A2": [dict(r) for r in a]})}
    assert t2["A"]["final_rank"] == t2["A2"]["final_rank"] == 1


def test_ranking_requires_same_cases():
    a = _rows({("sub-1", 1): (0.9, 1.0, 0.9, 0.0)})
    b = _rows({("sub-2", 1): (0.9, 1.0, 0.9, 0.0)})
    with pytest.raises(ValueError, match="different cases"):
        rank_methods({"a": a, "b": b})


@pytest.mark.shared
def test_sb_atlas_against_itself(sb_atlas):
    from fetalseg.datasets import discover
    from fetalseg.io import load_image

    atlas_files(sb_atlas, ("dseg",))  # skips on partial data
    subjects = list(discover(sb_atlas, require="dseg"))
    assert len(subjects) == 15
    for s in subjects[::7]:  # three subjects keep the test fast; the docs cover all 15
        img = load_image(s.dseg, labels=FETA)
        rows = evaluate_case(img.data, img.data, img.spacing, ec_target="expected")
        for r in rows:
            assert r["dice"] == 1.0 and r["hd95"] == 0.0 and r["vs"] == 1.0
        # atlas label maps are not topologically clean: grey matter is far from 2 components, 0 tunnels
        gm = rows[1]
        assert gm["ed"] > 0 and gm["betti0"] > 2
        ref_rows = evaluate_case(img.data, img.data, img.spacing, ec_target="reference")
        assert all(r["ed"] == 0.0 for r in ref_rows)
