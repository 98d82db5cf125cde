"""The library behind ``fetalseg synth``: output grid, and the same files from the library, the default
command and the named ``generate`` sub-command."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from conftest import make_labels

from fetalseg.io import Image, save_image
from fetalseg.synth.pairs import voxel_space_affine, write_pairs


def test_voxel_space_affine_centres_the_volume_with_the_map_voxel_size():
    aff = voxel_space_affine((3, 5, 8), (1.0, 2.0, 0.5))
    centre = aff @ np.array([1.0, 2.0, 3.5, 1.0])
    np.testing.assert_allclose(centre[:3], 0.0, atol=1e-12)
    np.testing.assert_allclose(aff[:3, :3], np.diag([1.0, 2.0, 0.5]))
    corner = aff @ np.array([0.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(corner[:3], [-1.0, -4.0, -1.75])


@pytest.fixture
def maps(tmp_path):
    d = tmp_path / "maps"
    for i, shape in enumerate([(24, 28, 20), (22, 22, 22)]):
        save_image(Image(make_labels(shape), np.diag([1.0, 1.1, 0.9, 1.0])), d / f"sub-{i}_dseg.nii.gz")
    cfg = tmp_path / "synth.yaml"
    cfg.write_text("output_shape: [24, 24, 24]\nvoxel_mm: 1.0\n")
    return d, cfg


def test_library_default_and_named_command_write_the_same_files(cli, maps, tmp_path):
    d, cfg = maps
    calls = []
    plan = write_pairs([d], tmp_path / "lib", n=2, seed=5, config=cfg, progress=lambda k, n: calls.append((k, n)))
    assert calls == [(1, 2), (2, 2)] and [p.name for p in plan.files] == ["sub-0_dseg.nii.gz", "sub-1_dseg.nii.gz"]
    assert cli("synth", d, "-o", tmp_path / "default", "-n", "2", "--seed", "5", "--config", cfg)[0] == 0
    assert cli("synth", "generate", d, "-o", tmp_path / "named", "-n", "2", "--seed", "5", "--config", cfg)[0] == 0
    for name in ("synth-0000_T2w.nii.gz", "synth-0001_dseg.nii.gz"):
        ref = nib.load(tmp_path / "lib" / name)
        for other in ("default", "named"):
            img = nib.load(tmp_path / other / name)
            assert np.array_equal(np.asarray(img.dataobj), np.asarray(ref.dataobj))
            np.testing.assert_allclose(img.affine, ref.affine)
    np.testing.assert_allclose(ref.affine, voxel_space_affine(ref.shape, (1.0, 1.1, 0.9)), atol=1e-6)
    params = [json.loads((tmp_path / o / "synth-params.json").read_text()) for o in ("lib", "named")]
    assert params[0]["samples"][1]["params"] == params[1]["samples"][1]["params"]
