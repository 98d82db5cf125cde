"""Preprocessing and its inverse: output grid = input grid, perfect models give back the true map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fetalseg.infer import Predictor, segment
from fetalseg.infer import preprocess as pp
from fetalseg.io import Image
from test_infer_helpers import IntensityCodedModel, WorldModel, affine, dice, phantom_image

EXACT = {
    "ras": dict(),
    "flipped-LPI": dict(flips=(-1, -1, -1)),
    "permuted-flipped": dict(perm=(2, 0, 1), flips=(1, -1, 1)),
}
RESAMPLED = {
    "oblique": dict(angle_deg=23.0),
    "anisotropic": dict(spacing=(0.7, 0.9, 1.6)),
    "oblique-anisotropic-flipped": dict(spacing=(1.0, 0.6, 1.3), flips=(-1, 1, -1), angle_deg=-17.0, perm=(1, 0, 2)),
    "finer-0.5mm": dict(spacing=(0.5, 0.5, 0.5)),
}


def _grid_for(img: Image, model=IntensityCodedModel):
    norm = pp.normalise(img.data, model.normalisation)
    return pp.plan_grid(img, 0.8, box=pp.foreground_box(norm), divisor=16)


def _shape(kw):
    sp = np.asarray(kw.get("spacing", (0.8, 0.8, 0.8)))
    return tuple(int(v) for v in np.round(38.0 / sp))


def test_normalise_percentile_against_numpy():
    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, 50.0, size=(9, 10, 11)).astype(np.float32)
    lo, hi = np.percentile(x, [0.5, 99.5])
    want = np.clip((x - lo) / (hi - lo), 0, 1)
    np.testing.assert_allclose(pp.normalise_percentile(x), want, atol=1e-6)
    assert not pp.normalise_percentile(np.full((4, 4, 4), 3.0)).any()
    with pytest.raises(ValueError):
        pp.normalise(x, {"method": "zscore"})


@pytest.mark.parametrize("name", list(EXACT))
def test_model_grid_is_exact_ras_and_divisible(name):
    kw = EXACT[name]
    shape = _shape(kw)
    img, _ = phantom_image(shape, affine(shape=shape, **kw))
    grid = _grid_for(img)
    assert pp.is_exact(grid)
    assert all(s % 16 == 0 for s in grid.shape)
    # RAS: each model axis points along +x, +y, +z respectively
    assert (np.argmax(np.abs(grid.affine[:3, :3]), axis=0) == [0, 1, 2]).all()
    assert (np.diag(grid.affine[:3, :3]) > 0).all()
    np.testing.assert_allclose(grid.spacing, 0.8)


@pytest.mark.parametrize("name", list(EXACT))
def test_perfect_model_round_trip_is_identical(name):
    """A map known on the model grid, returned as one-hot, comes back identical on the input grid."""
    kw = EXACT[name]
    shape = _shape(kw)
    img, truth = phantom_image(shape, affine(shape=shape, **kw))
    model = WorldModel(_grid_for(img))
    out = segment(img, Predictor(model, normalisation=IntensityCodedModel.normalisation), tta=False, device="cpu",
                  pose=False, postprocess=False, dae="none")  # the truth map does not have the FeTA Betti targets
    assert model.calls == 1
    assert out.data.dtype == np.uint8 and out.shape == img.shape
    np.testing.assert_array_equal(out.affine, img.affine)
    np.testing.assert_array_equal(out.data, truth)


@pytest.mark.parametrize("name", list(EXACT))
def test_intensity_coded_round_trip_with_tta_is_identical(name):
    kw = EXACT[name]
    shape = _shape(kw)
    aff = affine(shape=shape, **kw)
    _, truth = phantom_image(shape, aff)
    img = Image(truth.astype(np.float32) * 7.0 / truth.max(), aff)  # intensity = label * 7 / 4
    truth7 = np.rint(img.data).astype(np.uint8)  # labels 0, 1, 3, 5, 7
    out = segment(img, Predictor(IntensityCodedModel(), normalisation=IntensityCodedModel.normalisation),
                  tta=True, device="cpu", pose=False, postprocess=False)
    np.testing.assert_array_equal(out.data, truth7)


@pytest.mark.parametrize("name", list(RESAMPLED))
def test_resampled_inputs_keep_their_grid_and_labels(name):
    kw = RESAMPLED[name]
    shape = _shape(kw)
    img, truth = phantom_image(shape, affine(shape=shape, **kw))
    grid = _grid_for(img)
    # obliquity is kept (no rotation), so an oblique 0.8 mm input maps exactly
    assert pp.is_exact(grid) == (name == "oblique")
    res = segment(img, Predictor(WorldModel(grid), normalisation=IntensityCodedModel.normalisation), tta=False,
                  device="cpu", pose=False, return_result=True, postprocess=False, dae="none")
    out = res.labels
    assert out.shape == img.shape and out.data.dtype == np.uint8
    np.testing.assert_array_equal(out.affine, img.affine)
    for lab in (1, 2, 3, 4):
        assert dice(out.data, truth, lab) > 0.85, (lab, dice(out.data, truth, lab))
    assert (out.data == truth).mean() > 0.95
    if name == "oblique":
        np.testing.assert_array_equal(out.data, truth)


def test_inverse_probabilities_sum_to_one_and_background_outside():
    shape = (30, 34, 26)
    img, _ = phantom_image(shape, affine(spacing=(1.1, 0.9, 1.4), angle_deg=31.0, shape=shape))
    grid = _grid_for(img)
    rng = np.random.default_rng(3)
    p = rng.random((5,) + grid.shape).astype(np.float32)
    p /= p.sum(axis=0)
    covered = np.zeros(img.shape, bool)
    for sl, block in pp.iter_to_input(p, grid, slab=7):
        np.testing.assert_allclose(block.sum(axis=0), 1.0, atol=1e-5)
        assert block.min() >= -1e-6
        covered[sl] = True
    # every input voxel whose centre maps inside the model grid was covered
    m = np.linalg.inv(grid.affine) @ img.affine
    idx = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1).reshape(-1, 3)
    u = idx @ m[:3, :3].T + m[:3, 3]
    inside = ((u >= 0) & (u <= np.asarray(grid.shape) - 1)).all(axis=1).reshape(shape)
    assert covered[inside].all()


def test_crop_is_centred_on_the_brain_and_covers_it():
    shape = (80, 80, 80)
    img, truth = phantom_image(shape, affine(spacing=(0.8,) * 3, shape=shape))
    grid = _grid_for(img)
    assert np.prod(grid.shape) < 0.5 * np.prod(shape)  # cropped
    m = np.linalg.inv(grid.affine) @ img.affine
    idx = np.argwhere(truth > 0)
    u = idx @ m[:3, :3].T + m[:3, 3]
    assert (u >= 0).all() and (u <= np.asarray(grid.shape) - 1).all()
    assert torch.get_num_threads() >= 1


def test_separable_interpolation_equals_grid_sample():
    """Axis-aligned grids take the fast separable path; it must match the general 3-D path."""
    shape = (27, 33, 21)
    img, _ = phantom_image(shape, affine(spacing=(0.55, 1.05, 1.5), perm=(1, 2, 0), flips=(-1, 1, -1), shape=shape))
    grid = _grid_for(img)
    assert pp._axis_map(grid) is not None and not pp.is_exact(grid)
    rng = np.random.default_rng(5)
    p = rng.random((4,) + grid.shape).astype(np.float32)
    p /= p.sum(axis=0)
    fast = list(pp.iter_to_input(p, grid, slab=5))
    slow = list(pp._general_blocks(p, grid, pp.input_box(grid), 5))  # the path oblique grids take
    assert [f[0] for f in fast] == [s[0] for s in slow]
    for (_, a), (_, b) in zip(fast, slow):
        np.testing.assert_allclose(a, b, atol=2e-5)


def test_without_crop_the_whole_field_of_view_is_used_and_labels_agree():
    shape = (60, 64, 52)
    aff = affine(shape=shape, flips=(1, 1, -1))
    _, truth = phantom_image(shape, aff)
    img = Image(truth.astype(np.float32) * 7.0 / truth.max(), aff)
    pred = Predictor(IntensityCodedModel(), normalisation=IntensityCodedModel.normalisation)
    seen = []
    pred.network = lambda x, f=pred.network: (seen.append(tuple(x.shape[2:])), f(x))[1]
    a = segment(img, pred, tta=False, crop=True, device="cpu", pose=False, dae="none")
    b = segment(img, pred, tta=False, crop=False, device="cpu", pose=False, dae="none")
    np.testing.assert_array_equal(a.data, b.data)
    assert np.prod(seen[0]) < np.prod(seen[1]) and all(s >= n for s, n in zip(seen[1], shape))


def test_plan_grid_min_shape_grows_about_the_box_and_keeps_exact_copies():
    """The network's context: a tight box is grown to at least ``min_shape`` voxels, centred on the box,
    beyond the image when needed, model voxels still on input voxel centres (exact copies both ways)."""
    shape = (40, 36, 30)
    img, _ = phantom_image(shape, affine(shape=shape))
    box = (np.array([10, 12, 8]), np.array([20, 22, 18]))
    tight = pp.plan_grid(img, 0.8, box=box, divisor=8, margin_mm=0.0)
    wide = pp.plan_grid(img, 0.8, box=box, divisor=8, margin_mm=0.0, min_shape=(48, 24, 40))
    assert tight.shape == (16, 16, 16)
    assert wide.shape == (48, 24, 40)  # grown where smaller, never shrunk; already multiples of 8
    centre = lambda g: g.affine[:3, :3] @ ((np.asarray(g.shape) - 1) / 2) + g.affine[:3, 3]
    np.testing.assert_allclose(centre(wide), centre(tight), atol=0.4 + 1e-6)  # within half a voxel
    assert pp.is_exact(wide)
    x = pp.to_model(img.data.astype(np.float32), wide)
    ijk = np.rint(np.linalg.solve(img.affine, wide.affine)[:3, 3]).astype(int)  # model voxel 0 in input indices
    inside = tuple(slice(max(0, -o), min(n, s - o)) for o, n, s in zip(ijk, wide.shape, shape))
    src = tuple(slice(sl.start + o, sl.stop + o) for sl, o in zip(inside, ijk))
    np.testing.assert_array_equal(x[inside], img.data[src])  # exact copy inside the image
    assert x.sum() == pytest.approx(img.data[src].sum(), rel=1e-6)  # zeros beyond it


def test_predictor_context_from_the_card_and_validated(tmp_path):
    from fetalseg.infer.models import load_predictor
    from fetalseg.nets import build_network, save_model

    save_model(build_network({"preset": "tiny"}), {"name": "t", "patch_size": [32, 40, 48]}, tmp_path / "t.safetensors")
    assert load_predictor(tmp_path / "t.safetensors").context == (32, 40, 48)
    with pytest.raises(ValueError, match="context"):
        Predictor(IntensityCodedModel(), context=(8, 8))
    assert Predictor(IntensityCodedModel()).context is None
    assert Predictor(IntensityCodedModel(), context=[16, 16, 16]).context == (16, 16, 16)
