"""fetalseg.pose.image_frame: the head frame from the image's own symmetry, on rotated phantoms."""

from __future__ import annotations

import numpy as np
import pytest

from fetalseg.io import Image
from fetalseg.pose import CEREBRUM, half_turns, image_frame, rotate_image
from fetalseg.pose.frame import Pose
from fetalseg.pose.image_frame import ImageSymmetryField


def _angle(a, b) -> float:
    return float(np.degrees(np.arccos(min(1.0, abs(float(np.dot(a, b)))))))


@pytest.fixture(scope="module")
def phantom():
    from fetalseg.phantom import make_subject

    s = make_subject(ga=30, pathology="normal", voxel=1.6, seed=1)
    return s.image, s.labels


@pytest.mark.parametrize("angles", [(0.0, 0.0, 90.0), (90.0, 0.0, 0.0), (25.0, -160.0, 40.0)])
def test_plane_and_axis_lines_follow_a_turned_brain(phantom, angles):
    image, labels = phantom
    rot_img, r, _ = rotate_image(image, angles)
    rot_lab, _, _ = rotate_image(labels, angles, labels=True)
    lab = np.asarray(rot_lab.data)
    pose = image_frame(rot_img.data, lab > 1, rot_img.affine, silhouette=np.isin(lab, CEREBRUM))
    # the phantom's world x is its left-right axis, y anterior, z superior
    assert _angle(pose.normal, r[:, 0]) < 3.0
    assert _angle(pose.rotation[:, 1], r[:, 1]) < 8.0
    assert np.linalg.det(pose.rotation) == pytest.approx(1.0)
    assert pose.symmetry > 0.5
    assert pose.info["method"].startswith("image symmetry")


def test_plane_does_not_depend_on_contrast(phantom):
    image, labels = phantom
    lab = np.asarray(labels.data)
    data = np.asarray(image.data, np.float64)
    inverted = np.where(lab > 0, data.max() - data, 0.0)
    a = image_frame(data, lab > 1, image.affine)
    b = image_frame(inverted, lab > 1, image.affine)
    assert _angle(a.normal, b.normal) < 2.0
    assert _angle(a.normal, [1.0, 0.0, 0.0]) < 3.0


def test_reference_picks_the_nearest_signs(phantom):
    image, labels = phantom
    lab = np.asarray(labels.data)
    cerebrum = np.isin(lab, CEREBRUM)
    up = image_frame(image.data, lab > 1, image.affine, silhouette=cerebrum)
    assert np.trace(up.rotation) > 2.9  # upright phantom: near the world axes
    flipped = np.diag([1.0, -1.0, -1.0])
    turned = image_frame(image.data, lab > 1, image.affine, reference=flipped, silhouette=cerebrum)
    np.testing.assert_allclose(turned.rotation, up.rotation @ flipped, atol=1e-9)


def test_symmetry_score_is_a_correlation():
    rng = np.random.default_rng(0)
    half = rng.random((15, 30, 30))
    vol = np.concatenate([half, half[::-1]], axis=0)  # mirror-symmetric about the plane x = 14.5
    mask = np.ones_like(vol, bool)
    field = ImageSymmetryField(vol, mask, np.eye(4), sigma_mm=1.0, max_points=20000)
    assert field.score(np.array([1.0, 0.0, 0.0]), 14.5) == pytest.approx(1.0, abs=1e-6)
    # any other plane: the random texture does not match its mirror image (only the shared darkening of the
    # smoothed box's faces correlates)
    assert field.score(np.array([0.0, 1.0, 0.0]), 14.5) < 0.8
    assert field.score(np.array([1.0, 0.0, 0.0]), 12.0) < 0.5


def test_half_turns_share_axis_lines_and_are_proper():
    from fetalseg.pose import rotation_matrix

    base = Pose(rotation=rotation_matrix([10.0, 20.0, 30.0]), origin=np.zeros(3))
    turns = half_turns(base)
    assert len(turns) == 4
    np.testing.assert_allclose(turns[0].rotation, base.rotation)
    for t in turns:
        assert np.linalg.det(t.rotation) == pytest.approx(1.0)
        np.testing.assert_allclose(np.abs(t.rotation), np.abs(base.rotation), atol=1e-12)
    for t in turns[1:]:  # each a 180-degree turn of the base
        rel = base.rotation.T @ t.rotation
        assert np.degrees(np.arccos(np.clip((np.trace(rel) - 1) / 2, -1, 1))) == pytest.approx(180.0, abs=1e-3)  # arccos near -1 loses digits


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="at least 100"):
        image_frame(np.zeros((8, 8, 8)), np.zeros((8, 8, 8), bool), np.eye(4))
    with pytest.raises(ValueError, match="one shape"):
        image_frame(np.zeros((8, 8, 8)), np.zeros((8, 8, 9), bool), np.eye(4))
    with pytest.raises(ValueError, match="4x4"):
        image_frame(np.zeros((8, 8, 8)), np.ones((8, 8, 8), bool), np.eye(3))


def test_flatten_cancels_a_smooth_multiplicative_field():
    from fetalseg.pose.image_frame import flatten

    rng = np.random.default_rng(1)
    tissue = _smoothed_texture(rng.random((40, 40, 40)))
    mask = np.zeros(tissue.shape, bool)
    mask[5:35, 5:35, 5:35] = True
    x = np.arange(40, dtype=float)[:, None, None]
    bias = np.exp(0.04 * (x - 20.0)) * np.ones((1, 40, 40))  # x2.2 across the mask, smooth
    plain = flatten(tissue, mask, (1.0, 1.0, 1.0), sigma_mm=4.0)
    biased = flatten(tissue * bias, mask, (1.0, 1.0, 1.0), sigma_mm=4.0)
    assert np.all(plain[~mask] == 0) and np.all(biased[~mask] == 0)
    assert abs(float(plain[mask].mean()) - 1.0) < 0.05
    # deep inside the mask the Gaussian window is whole and the field cancels (to exp(a^2 sigma^2 / 2) = 1.013);
    # near the edge the window is cut by the mask and leans inwards (up to ~12 % here)
    inner = np.zeros_like(mask)
    inner[13:27, 13:27, 13:27] = True
    ratio = biased[inner] / plain[inner]
    assert np.abs(ratio - 1.0).max() < 0.03
    raw = np.corrcoef(tissue[mask], (tissue * bias)[mask])[0, 1]
    assert raw < 0.3 < 0.7 < np.corrcoef(plain[mask], biased[mask])[0, 1]  # the field swamps the texture
    assert np.corrcoef(plain[inner], biased[inner])[0, 1] > 0.99


def _smoothed_texture(a):
    from scipy import ndimage

    return 0.2 + ndimage.gaussian_filter(a, 1.0)


def test_plane_survives_a_bias_field_that_breaks_the_mirror_symmetry(phantom):
    image, labels = phantom
    lab = np.asarray(labels.data)
    data = np.asarray(image.data, np.float64)
    world = np.stack(np.meshgrid(*[np.arange(n) for n in data.shape], indexing="ij"), -1) @ image.affine[:3, :3].T
    # brighter to the left and front, as a receive coil beside the head makes it: 3x across the brain
    field = np.exp(0.02 * (world[..., 0] - world[..., 0].mean()) + 0.01 * (world[..., 1] - world[..., 1].mean()))
    pose = image_frame(data * field, lab > 1, image.affine, silhouette=np.isin(lab, CEREBRUM))
    assert _angle(pose.normal, [1.0, 0.0, 0.0]) < 3.0
    assert pose.symmetry > 0.5
