"""Data-driven shape sampler: features against geometry, weights, rare-shape oversampling on phantoms."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fetalseg.errors import InputError
from fetalseg.io import Image, save_image
from fetalseg.synth import (
    FEATURE_NAMES, WeightedMapSampler, cluster_weights, load_weights, sampler_weights, save_weights, shape_features,
    uniform_weights,
)


def _ball(shape, centre, radius):
    x = np.indices(shape).astype(float)
    return np.sqrt(sum((x[i] - centre[i]) ** 2 for i in range(3))) <= radius


def test_shape_features_against_geometry():
    """A ball of white matter with a ball of ventricle inside: volumes, areas and ratios are known."""
    shape = (48, 48, 48)
    lab = np.zeros(shape, np.uint8)
    lab[_ball(shape, (24, 24, 24), 18)] = 3
    lab[_ball(shape, (24, 24, 24), 8)] = 4
    sp = (0.5, 0.5, 0.5)
    f = shape_features(lab, sp)
    assert f.shape == (21,) and len(FEATURE_NAMES) == 21
    vox = 0.125
    assert f[0] == pytest.approx((lab > 0).sum() * vox)
    # sphere area; marching cubes on a binary voxel ball overestimates it by ~8% (staircase)
    assert 1.0 < f[1] / (4 * np.pi * (18 * 0.5) ** 2) < 1.12
    assert f[2] == pytest.approx(f[1] / f[0])
    wm, vent = 3 + 3 * 1, 3 + 3 * 2  # first feature index of labels 3 and 4
    assert f[wm] + f[vent] == pytest.approx(1.0)  # volume fractions of the only two labels
    assert f[vent] == pytest.approx((lab == 4).sum() / (lab > 0).sum())
    assert f[vent + 1] == pytest.approx((8 / 18) ** 2, rel=0.08)  # area fraction of the inner ball
    assert f[3] == 0 and f[4] == 0 and f[5] == 0  # no grey matter
    # voxel size scales volume by s^3 and area by s^2; fractions unchanged
    g = shape_features(lab, (1.0, 1.0, 1.0))
    assert g[0] == pytest.approx(8 * f[0]) and g[1] == pytest.approx(4 * f[1], rel=1e-6)
    assert np.allclose(g[3:][0::3], f[3:][0::3])
    # generation maps: corpus callosum counts as white matter, extra-cerebral labels are ignored
    gen = lab.copy()
    gen[_ball(shape, (24, 24, 24), 18) & (np.indices(shape)[0] < 10)] = 8
    gen[:2] = 11
    assert np.allclose(shape_features(gen, sp), f)


def test_cluster_weights_sum_to_one_and_favour_small_clusters():
    """Five well-separated groups of 6 maps and one rare group of 2: six clusters, 1/6 of the mass each."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (6, 21)) * 5
    sizes = [6, 6, 6, 6, 6, 2]
    feats = np.vstack([c + rng.normal(0, 0.01, (n, 21)) for c, n in zip(centres, sizes)])
    w, c = cluster_weights(feats, seed=0)
    assert w.sum() == pytest.approx(1.0) and np.all(w > 0)
    assert len(set(c[30:])) == 1 and c[30] not in set(c[:30])
    assert np.allclose(w[:30], 1 / 36) and np.allclose(w[30:], 1 / 12)
    # each non-empty cluster holds 1/K of the mass
    k = len(set(c))
    for cl in set(c):
        assert w[c == cl].sum() == pytest.approx(1.0 / k)


@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory):
    """17 normal phantoms (27-29 weeks) and 1 with severe ventriculomegaly (the rare shape), 2 mm, as NIfTI."""
    from fetalseg.phantom import make_subject

    root = tmp_path_factory.mktemp("phantoms")
    files, rare = [], []
    for s in range(18):
        vm = s == 17
        subj = make_subject(27 + s % 3, "vm" if vm else "normal", severity=3.0 if vm else 1.0, voxel=2.0, seed=s)
        p = root / f"sub-{s:02d}_dseg.nii.gz"
        save_image(subj.generation, p)
        files.append(p)
        rare.append(vm)
    return files, np.array(rare)


def test_rare_pathology_drawn_more_often_than_uniform(phantom_files):
    files, rare = phantom_files
    result = sampler_weights([files], seed=0)
    w = np.asarray(result["weights"])
    assert w.sum() == pytest.approx(1.0) and len(w) == len(files) and result["files"] == [str(f) for f in files]
    assert len(result["features"][0]) == 21
    draws = WeightedMapSampler(result, torch.Generator().manual_seed(0)).draw(4000).numpy()
    base = WeightedMapSampler(result, torch.Generator().manual_seed(0), uniform=True).draw(4000).numpy()
    frac, frac_uniform = rare[draws].mean(), rare[base].mean()
    assert frac_uniform == pytest.approx(rare.mean(), abs=0.03)
    # the rare shape is a cluster of its own: 1/K = 1/6 of the mass instead of 1/18
    assert frac > 2.0 * frac_uniform, (frac, frac_uniform)
    assert w[rare].min() > 2.0 / len(files)


def test_several_datasets_get_their_shares(phantom_files, tmp_path):
    files, _ = phantom_files
    result = sampler_weights([files[:10], files[10:]], shares=[3, 1], seed=0)
    w, d = np.asarray(result["weights"]), np.asarray(result["dataset"])
    assert w.sum() == pytest.approx(1.0)
    assert w[d == 0].sum() == pytest.approx(0.75) and w[d == 1].sum() == pytest.approx(0.25)
    out = save_weights(result, tmp_path / "w.json")
    assert load_weights(out)["weights"] == result["weights"]
    with pytest.raises(InputError, match="exists"):
        save_weights(result, out)
    with pytest.raises(InputError):
        sampler_weights([files[:2], []])
    with pytest.raises(InputError, match="shares"):
        sampler_weights([files[:2]], shares=[1, 1])


def test_sampler_reproducible_and_weights_validated(tmp_path):
    s1 = WeightedMapSampler([0.1, 0.0, 0.9], torch.Generator().manual_seed(3)).draw(50)
    s2 = WeightedMapSampler([0.1, 0.0, 0.9], torch.Generator().manual_seed(3)).draw(50)
    assert torch.equal(s1, s2) and 1 not in s1.tolist()
    it = iter(WeightedMapSampler([1.0, 1.0]))
    assert {next(it) for _ in range(40)} == {0, 1}
    assert uniform_weights(["a", "b", "c", "d"])["weights"] == [0.25] * 4
    with pytest.raises(ValueError):
        WeightedMapSampler([-1.0, 2.0])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"files": ["a", "b"], "weights": [0.5, 0.6]}))
    with pytest.raises(InputError, match="sum to 1"):
        load_weights(bad)
    bad.write_text("{")
    with pytest.raises(InputError, match="JSON"):
        load_weights(bad)


def test_weights_for_withcc_files_use_that_convention(sb_atlas, tmp_path):
    """desc-withcc maps are read in their own convention (their label 1 is white matter, not CSF)."""
    from fetalseg.io import load_image
    from fetalseg.labels import WITHCC

    from conftest import atlas_files

    files = atlas_files(sb_atlas, ("withcc", "dseg"), ["sub-sb21pre"])["sub-sb21pre"]
    withcc, feta = files["withcc"], files["dseg"]
    img = load_image(withcc, labels=WITHCC)
    small = Image(img.data[::2, ::2, ::2].copy(), img.affine @ np.diag([2, 2, 2, 1]))
    p = tmp_path / "sub-x_desc-withcc_dseg.nii.gz"
    save_image(small, p)
    fimg = load_image(feta)
    q = tmp_path / "sub-x_dseg.nii.gz"
    save_image(Image(fimg.data[::2, ::2, ::2].copy(), small.affine), q)
    a, b = sampler_weights([[p, q]])["features"]
    assert np.allclose(a, b, rtol=1e-6)
