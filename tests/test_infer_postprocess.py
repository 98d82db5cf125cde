"""Topological post-processing reaches the FeTA targets on corrupted label maps."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_labels
from fetalseg.infer.postprocess import postprocess
from fetalseg.labels import FETA
from fetalseg.metrics import betti_numbers


def _onehot(lab, n=8):
    return np.eye(n, dtype=np.float32)[lab].transpose(3, 0, 1, 2).copy()


def _interior(lab, value, rng, n, size=5):
    """``n`` voxels of label ``value`` whose whole ``size``^3 neighbourhood has that label."""
    from scipy import ndimage

    core = ndimage.binary_erosion(lab == value, structure=np.ones((size,) * 3))
    idx = np.argwhere(core)
    return idx[rng.choice(len(idx), size=n, replace=False)]


def _clean():
    lab = make_labels((40, 44, 36))
    return lab


def _corrupt(clean, seed=0):
    rng = np.random.default_rng(seed)
    bad = clean.copy()
    # single-voxel islands of the wrong label deep inside white matter and external CSF
    for (i, j, k), wrong in zip(_interior(clean, 3, rng, 6), (5, 7, 1, 4, 6, 2)):
        bad[i, j, k] = wrong
    # a 2x2x2 cavity of background inside white matter
    i, j, k = _interior(clean, 3, rng, 1)[0]
    bad[i:i + 2, j:j + 2, k:k + 2] = 0
    # a detached blob of cerebellum in the external CSF, and stray brainstem in the background
    i, j, k = _interior(clean, 1, rng, 1, size=3)[0]
    bad[i, j, k] = 5
    bad[1:3, 1:3, 1:3] = 7
    return bad


def _components(lab, value):
    return betti_numbers(lab == value)[0]


def test_clean_phantom_meets_targets():
    clean = _clean()
    for v in range(1, 8):
        assert _components(clean, v) <= FETA[v].betti[0]


def test_one_hot_corruptions_are_removed_and_filled_with_the_surrounding_label():
    clean = _clean()
    bad = _corrupt(clean)
    assert sum(_components(bad, v) for v in range(1, 8)) > sum(_components(clean, v) for v in range(1, 8))
    probs, report = postprocess(_onehot(bad))
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-6)
    fixed = np.argmax(probs, axis=0)
    for v in range(1, 8):  # targets: at most the expected number of components per label
        assert _components(fixed, v) <= FETA[v].betti[0], v
    # no enclosed background: the brain (labels 1-7) has no cavity
    assert betti_numbers(fixed > 0)[2] == 0
    # every corrupted voxel went back to its true label; nothing else changed
    np.testing.assert_array_equal(fixed, clean)
    assert report["relabelled"] == int(np.count_nonzero(bad != clean))
    assert report["components_removed"] >= 8


def test_soft_corruptions_fall_to_the_second_most_probable_label():
    clean = _clean()
    bad = _corrupt(clean, seed=1)
    probs = 0.6 * _onehot(bad) + 0.4 * _onehot(clean)  # true label is the runner-up where corrupted
    fixed = np.argmax(postprocess(probs)[0], axis=0)
    np.testing.assert_array_equal(fixed, clean)


def test_grey_matter_keeps_two_hemispheres_and_drops_small_pieces():
    lab = np.zeros((40, 30, 30), np.uint8)
    lab[3:37, 3:27, 3:27] = 3
    lab[5:18, 5:25, 5:25] = 2  # left hemisphere GM
    lab[22:35, 5:25, 5:25] = 2  # right hemisphere GM
    lab[19:21, 14:16, 14:16] = 2  # small piece in between (8 voxels)
    fixed = np.argmax(postprocess(_onehot(lab))[0], axis=0)
    assert _components(fixed, 2) == 2
    assert fixed[19:21, 14:16, 14:16].tolist() == np.full((2, 2, 2), 3).tolist()
    # a second piece far smaller than the first is not a hemisphere
    lab2 = lab.copy()
    lab2[22:35, 5:25, 5:25] = 3
    lab2[25:28, 10:13, 10:13] = 2
    fixed2 = np.argmax(postprocess(_onehot(lab2))[0], axis=0)
    assert _components(fixed2, 2) == 1


def test_postprocess_leaves_a_correct_map_unchanged_and_validates():
    clean = _clean()
    probs = 0.7 * _onehot(clean) + 0.3 / 8
    out, report = postprocess(probs)
    assert report == {"relabelled": 0, "components_removed": 0}
    np.testing.assert_allclose(out, probs, atol=1e-6)
    with pytest.raises(ValueError):
        postprocess(clean)
