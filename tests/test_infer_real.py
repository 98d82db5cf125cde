"""Inference on a real fetal brain (the shared sb-atlas; skipped when absent)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fetalseg.infer import Predictor, segment
from fetalseg.infer import preprocess as pp
from fetalseg.infer.postprocess import postprocess
from fetalseg.io import Image, load_image, load_labels, resample_labels
from fetalseg.labels import FETA
from fetalseg.metrics import betti_numbers
from conftest import atlas_files
from test_infer_helpers import onehot_logits

pytestmark = pytest.mark.shared


class KnownMap:
    """Perfect model: the one-hot of a known label map, resampled (nearest) onto the model grid."""

    def __init__(self, labels: Image, grid):
        self.grid = grid
        self.map = resample_labels(labels.data, labels.affine, grid.shape, grid.affine, method="nearest")

    def __call__(self, x):
        assert tuple(x.shape[2:]) == tuple(self.grid.shape)
        return onehot_logits(torch.from_numpy(self.map)[None])


def _case(sb_atlas, sub="sub-sb23pre"):
    files = atlas_files(sb_atlas, ("T2w", "dseg"), [sub])[sub]
    return load_image(files["T2w"]), load_labels(files["dseg"])


@pytest.mark.parametrize("flip", [False, True])
def test_real_brain_round_trip_is_identical(sb_atlas, flip):
    t2w, dseg = _case(sb_atlas)
    if flip:  # same voxels stored in LPS order with a matching affine
        f = np.diag([-1.0, -1.0, 1.0, 1.0])
        f[:2, 3] = np.array(t2w.shape[:2]) - 1
        t2w = Image(np.ascontiguousarray(t2w.data[::-1, ::-1]), t2w.affine @ f, t2w.header)
        dseg = Image(np.ascontiguousarray(dseg.data[::-1, ::-1]), dseg.affine @ f, dseg.header)
    grid = pp.plan_grid(t2w, 0.8, box=pp.foreground_box(pp.normalise(t2w.data, None)))
    assert pp.is_exact(grid)
    assert np.prod(grid.shape) < np.prod(t2w.shape)  # the brain-centred crop is smaller than the field of view
    out = segment(t2w, Predictor(KnownMap(dseg, grid)), tta=False, postprocess=False, device="cpu", pose=False,
                  dae="none")
    np.testing.assert_array_equal(out.affine, t2w.affine)
    np.testing.assert_array_equal(out.data, dseg.data)  # nothing of the brain was cropped away


def test_real_brain_postprocessing_is_conservative_and_meets_targets(sb_atlas):
    """The atlas's thin cortex has hundreds of 6-connected fragments (FeTA convention): post-processing
    (6-connected by default) merges them into neighbours and reaches b0 targets changing < 2 % of
    the brain; with 26-connectivity only truly isolated islands go (< 1 %: the atlas splits the external CSF)."""
    _, dseg = _case(sb_atlas)
    onehot = np.eye(8, dtype=np.float32)[dseg.data].transpose(3, 0, 1, 2)
    brain = np.count_nonzero(dseg.data)
    probs, report = postprocess(onehot)
    fixed = np.argmax(probs, axis=0)
    assert 0 < report["relabelled"] < 0.02 * brain
    for lab in FETA.labels[1:]:
        assert betti_numbers(fixed == lab.value)[0] <= lab.betti[0], lab.short
    probs26, report26 = postprocess(onehot, connectivity=26)
    assert report26["relabelled"] < 0.01 * brain
    assert report26["relabelled"] < report["relabelled"]
