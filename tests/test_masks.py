"""The mask floor (:mod:`fetalseg.masks`): bounding boxes, and the one Dice rule with its three
empty-label policies, each pinned where it is used (metrics 1.0, training validation NaN, QC skip)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fetalseg.masks import bbox, bbox_crop, dice_from_counts, dice_per_label


def _brute_dice(a, b, v):
    """Dice of label ``v`` by counting voxel by voxel; None when absent from both."""
    inter = sum(1 for i in np.ndindex(a.shape) if a[i] == v and b[i] == v)
    size = sum(1 for i in np.ndindex(a.shape) if a[i] == v) + sum(1 for i in np.ndindex(a.shape) if b[i] == v)
    return None if size == 0 else 2 * inter / size


@pytest.mark.parametrize("empty", ["one", "nan", "skip"])
def test_dice_per_label_against_brute_force_with_each_policy(empty):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, (7, 5, 6)).astype(np.uint8)
    b = rng.integers(0, 4, (7, 5, 6)).astype(np.uint8)
    b[0, 0, 0] = 9  # a label present in one map only
    d = dice_per_label(a, b, (1, 2, 3, 9, 6), empty=empty)
    for v in (1, 2, 3, 9):
        assert d[v] == pytest.approx(_brute_dice(a, b, v), abs=1e-12)
    assert d[9] == 0.0
    if empty == "one":
        assert d[6] == 1.0
    elif empty == "nan":
        assert math.isnan(d[6])
    else:
        assert 6 not in d and list(d) == [1, 2, 3, 9]


def test_dice_policy_is_required_and_checked():
    a = np.zeros((3, 3, 3), np.uint8)
    with pytest.raises(TypeError):
        dice_per_label(a, a, (1,))  # no default: every caller states its policy
    with pytest.raises(ValueError, match="empty"):
        dice_per_label(a, a, (1,), empty="zero")
    with pytest.raises(ValueError, match="shape"):
        dice_per_label(a, a[:2], (1,), empty="nan")
    assert dice_from_counts(0, 0, 0, empty="one") == 1.0 and math.isnan(dice_from_counts(0, 0, 0, empty="nan"))
    assert dice_from_counts(3, 1, 2, empty="one") == pytest.approx(6 / 9)


def test_metrics_dice_gives_one_for_two_empty_masks():
    from fetalseg.metrics import dice

    e = np.zeros((4, 4, 4), bool)
    m = e.copy()
    m[1:3, 1:3, 1:3] = True
    assert dice(e, e) == 1.0 and dice(m, e) == 0.0 and dice(m, m) == 1.0


def test_training_validation_gives_nan_for_an_absent_label():
    """:func:`fetalseg.train.evaluate` through a network that predicts a fixed label map."""
    from types import SimpleNamespace

    from fetalseg.train import evaluate

    target = np.zeros((6, 6, 6), np.uint8)
    target[1:4, 1:4, 1:4] = 1
    target[4:, 4:, 4:] = 3
    pred = target.copy()
    pred[1, 1, 1] = 2  # label 2 only in the prediction: Dice 0; labels 4-7 in neither: NaN

    class Fixed(torch.nn.Module):
        def forward(self, x):
            onehot = torch.nn.functional.one_hot(torch.from_numpy(pred).long(), 8).permute(3, 0, 1, 2)
            return onehot[None].float() + 0 * x

    case = SimpleNamespace(image=torch.zeros(1, 1, 6, 6, 6), target=target)
    d = evaluate(Fixed(), [case], torch.device("cpu"))
    assert d[1] == pytest.approx(_brute_dice(pred, target, 1)) and d[2] == 0.0 and d[3] == 1.0
    assert all(math.isnan(d[v]) for v in (4, 5, 6, 7))


def test_qc_agreement_skips_labels_absent_from_both():
    from fetalseg.infer.qc import dice_agreement

    ref = np.zeros((5, 5, 5), np.uint8)
    ref[1:4, 1:4, 1:4] = 1
    ref[0, 0, :2] = 2
    m1, m2 = ref.copy(), ref.copy()
    m2[2, 2, 2] = 3
    expected = [np.mean([_brute_dice(m, ref, v) for v in (1, 2, 3) if _brute_dice(m, ref, v) is not None])
                for m in (m1, m2)]
    assert dice_agreement([m1, m2], ref) == pytest.approx(np.mean(expected), abs=1e-12)
    assert dice_agreement([ref * 0, ref * 0], ref * 0) == 1.0  # nothing anywhere: perfect agreement
    assert math.isnan(dice_agreement([m1], ref))


def test_bbox_against_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = rng.random((6, 7, 5)) > 0.97
        box = bbox(m, margin=1)
        if not m.any():
            assert box is None and bbox_crop(m).shape == (0, 0, 0)
            continue
        idx = np.argwhere(m)
        lo, hi = np.maximum(idx.min(0) - 1, 0), np.minimum(idx.max(0) + 2, m.shape)
        assert [(s.start, s.stop) for s in box] == list(zip(lo.tolist(), hi.tolist()))
        assert bbox_crop(m, 1).shape == tuple(hi - lo) and m[box].sum() == m.sum()
