"""fetalseg.io: NIfTI round trips, reorientation and resampling against exact oracles."""

from __future__ import annotations

import itertools
import os

import nibabel as nib
import numpy as np
import pytest

from conftest import atlas_files, make_labels
from fetalseg.errors import InputError
from fetalseg.io import (Image, from_ras, grid_with_spacing, load_image, orientation_code, resample,
                         resample_labels, save_image, to_ras, write_text)
from fetalseg.labels import FETA


def _signed_permutations():
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            yield perm, signs


def _perm_affine(perm, signs, shape, spacing=(0.8, 1.0, 1.3), origin=(5.0, -7.0, 2.0)):
    aff = np.eye(4)
    aff[:3, :3] = 0
    for src, dst in enumerate(perm):
        aff[dst, src] = signs[src] * spacing[src]
    aff[:3, 3] = origin
    return aff


@pytest.mark.parametrize("perm,signs", list(_signed_permutations()))
def test_reorient_round_trip_is_exact(perm, signs):
    lab = make_labels((10, 12, 14))
    aff = _perm_affine(perm, signs, lab.shape)
    img = Image(lab, aff)
    ras, ornt = to_ras(img)
    assert orientation_code(ras.affine) == "RAS"
    # every voxel keeps its world position: compare world coordinates of a labelled voxel set
    ijk = np.argwhere(lab == 4)
    world = (aff @ np.c_[ijk, np.ones(len(ijk))].T).T[:, :3]
    ijk_ras = np.rint((np.linalg.inv(ras.affine) @ np.c_[world, np.ones(len(world))].T).T[:, :3]).astype(int)
    assert (ras.data[tuple(ijk_ras.T)] == 4).all()
    # the RAS array, independently: RAS axis perm[a] is stored axis a, reversed when signs[a] < 0
    order = np.argsort(perm)
    expected = np.flip(np.transpose(lab, order), [d for d in range(3) if signs[order[d]] < 0])
    np.testing.assert_array_equal(ras.data, expected)
    back = from_ras(ras, ornt, img.shape)
    assert np.array_equal(back.data, lab)
    assert np.allclose(back.affine, aff)


@pytest.mark.parametrize("perm,signs", list(_signed_permutations())[::5])
def test_resample_labels_to_permuted_grid_and_back_is_identity(perm, signs):
    lab = make_labels((11, 9, 13))
    src_aff = np.diag([0.8, 0.8, 0.8, 1.0])
    src_aff[:3, 3] = (-4, 3, 10)
    # the same voxel centres indexed in another order: a flip/permutation of the grid
    ras = Image(lab, src_aff)
    dst_shape = tuple(lab.shape[p] for p in np.argsort(perm))
    m = np.zeros((4, 4))
    m[3, 3] = 1
    for dst_axis in range(3):
        src_axis = np.argsort(perm)[dst_axis]
        s = signs[dst_axis]
        m[src_axis, dst_axis] = s
        m[src_axis, 3] = 0 if s > 0 else lab.shape[src_axis] - 1
    dst_aff = src_aff @ m
    # the intermediate, independently: destination axis d is source axis argsort(perm)[d], reversed when signs[d] < 0
    expected = np.transpose(lab, np.argsort(perm))
    expected = np.flip(expected, [d for d in range(3) if signs[d] < 0])
    for method in ("nearest", "linear"):
        there = resample_labels(lab, src_aff, dst_shape, dst_aff, method=method)
        np.testing.assert_array_equal(there, expected)
        back = resample_labels(there, dst_aff, lab.shape, src_aff, method=method)
        assert np.array_equal(back, lab), method
        assert back.dtype == lab.dtype
    assert ras.shape == lab.shape


def test_resample_matches_scipy_free_oracle_on_half_voxel_shift():
    # linear interpolation at half-voxel shift = mean of the two neighbours
    data = np.random.default_rng(0).random((6, 5, 4)).astype(np.float32)
    src = np.eye(4)
    dst = np.eye(4)
    dst[0, 3] = 0.5
    out = resample(data, src, (5, 5, 4), dst, interpolation="linear")
    assert np.allclose(out, 0.5 * (data[:-1] + data[1:]), atol=1e-6)


def test_cubic_reproduces_quadratic_polynomial_inside():
    x, y, z = np.indices((16, 16, 16)).astype(np.float32)
    data = 0.1 * x ** 2 + y - 0.5 * z
    dst = np.eye(4)
    dst[:3, 3] = (0.3, 0.2, 0.1)
    out = resample(data, np.eye(4), (16, 16, 16), dst, interpolation="cubic")
    xs, ys, zs = x + 0.3, y + 0.2, z + 0.1
    truth = 0.1 * xs ** 2 + ys - 0.5 * zs
    inner = (slice(4, 11),) * 3
    assert np.allclose(out[inner], truth[inner], atol=2e-2)


def test_linear_onehot_labels_preserve_label_set_on_upsampling():
    lab = make_labels((12, 12, 12))
    shape, aff = grid_with_spacing(lab.shape, np.eye(4), 0.5)
    assert shape == (24, 24, 24)
    up = resample_labels(lab, np.eye(4), shape, aff, method="linear")
    assert set(np.unique(up)) <= set(np.unique(lab))
    # the voxel grid corners coincide: physical extent unchanged
    corner_old = np.eye(4)[:3, :3] @ np.array([-0.5, -0.5, -0.5])
    corner_new = aff[:3, :3] @ np.array([-0.5, -0.5, -0.5]) + aff[:3, 3]
    assert np.allclose(corner_old, corner_new)


def test_save_load_round_trip_keeps_header(tmp_path):
    data = np.random.default_rng(1).normal(size=(7, 8, 9)).astype(np.float32)
    aff = _perm_affine((1, 0, 2), (1, -1, 1), data.shape)
    img = nib.Nifti1Image(data, aff)
    img.set_sform(aff, code=2)
    img.set_qform(aff, code=1)
    img.header["descrip"] = b"fetal test"
    src = tmp_path / "a.nii.gz"
    nib.save(img, src)
    loaded = load_image(src)
    out = save_image(loaded, tmp_path / "b.nii.gz")
    again = nib.load(out)
    assert again.header["sform_code"] == 2 and again.header["qform_code"] == 1
    assert again.header["descrip"] == b"fetal test"
    assert again.get_data_dtype() == np.float32
    assert np.allclose(again.affine, aff)
    assert np.array_equal(np.asanyarray(again.dataobj), data)


def test_save_refuses_overwrite_and_leaves_no_temporary(tmp_path):
    img = Image(np.zeros((3, 3, 3), np.uint8), np.eye(4))
    p = save_image(img, tmp_path / "x.nii.gz")
    before = p.read_bytes()
    with pytest.raises(InputError, match="already exists"):
        save_image(img.with_data(np.ones((3, 3, 3), np.uint8)), p)
    assert p.read_bytes() == before
    save_image(img.with_data(np.ones((3, 3, 3), np.uint8)), p, overwrite=True)
    assert np.asanyarray(nib.load(p).dataobj).max() == 1
    assert sorted(f.name for f in tmp_path.iterdir()) == ["x.nii.gz"]
    mask = os.umask(0)
    os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600
    write_text(tmp_path / "t.txt", "hi")
    with pytest.raises(InputError):
        write_text(tmp_path / "t.txt", "again")


def test_label_dtype_and_table_check(tmp_path):
    p = tmp_path / "l.nii.gz"
    nib.save(nib.Nifti1Image(np.full((4, 4, 4), 3, np.float32), np.eye(4)), p)
    img = load_image(p, labels=FETA)
    assert img.data.dtype == np.uint8 and (img.data == 3).all()


@pytest.mark.shared
def test_real_volume_survives_load_save(sb_atlas, tmp_path):
    files = atlas_files(sb_atlas, ("T2w", "dseg"), ["sub-sb28op"])["sub-sb28op"]
    src, lab_src = files["T2w"], files["dseg"]
    orig = nib.load(src)
    img = load_image(src)
    out = nib.load(save_image(img, tmp_path / "t2w.nii.gz"))
    for key in ("sform_code", "qform_code", "dim", "pixdim", "xyzt_units"):
        assert np.array_equal(out.header[key], orig.header[key]), key
    assert out.get_data_dtype() == orig.get_data_dtype()
    assert np.allclose(out.affine, orig.affine)
    assert np.array_equal(np.asanyarray(out.dataobj), np.asanyarray(orig.dataobj))
    lab = load_image(lab_src, labels=FETA)
    ras, ornt = to_ras(lab)
    back = from_ras(ras, ornt, lab.shape)
    assert np.array_equal(back.data, lab.data)
