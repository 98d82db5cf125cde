"""The topology steps inside segment: targets on the written label map, posteriors matching, --dae choices."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from fetalseg.infer import Predictor, segment
from fetalseg.infer.topology_step import lr_axis_of, match_posteriors, resolve_dae
from fetalseg.labels import FETA
from fetalseg.nets.dae import DAE, DaeConfig, save_dae
from test_infer_helpers import IntensityCodedModel, WorldModel, affine, phantom_image
from test_metrics_topology import gudhi_betti


def _world_predictor(img):
    from fetalseg.infer import preprocess as pp

    norm = pp.normalise(img.data, IntensityCodedModel.normalisation)
    grid = pp.plan_grid(img, 0.8, box=pp.foreground_box(norm), divisor=16)
    return Predictor(WorldModel(grid), normalisation=IntensityCodedModel.normalisation)


@pytest.mark.parametrize("kw", [dict(), dict(spacing=(0.7, 0.9, 1.3), angle_deg=17.0, flips=(-1, 1, 1))])
def test_segment_output_has_every_target_and_matching_posteriors(kw):
    shape = tuple(int(v) for v in np.round(38.0 / np.asarray(kw.get("spacing", (0.8, 0.8, 0.8)))))
    img, truth = phantom_image(shape, affine(shape=shape, **kw))
    assert any(gudhi_betti(truth == lab.value) != lab.betti for lab in FETA.labels[1:])  # the truth is not clean
    res = segment(img, _world_predictor(img), tta=False, device="cpu", pose=False, posteriors=True, dae="none")
    for lab in FETA.labels[1:]:
        assert gudhi_betti(res.labels.data == lab.value) == lab.betti, lab.short
    assert np.array_equal(np.argmax(res.posteriors, axis=0), res.labels.data)
    np.testing.assert_allclose(res.posteriors.sum(axis=0), 1.0, atol=1e-5)
    assert 0 < res.qc["relabelled_fraction"] < 0.2
    assert res.timings["postprocess"] > 0


def test_match_posteriors_swaps_only_changed_voxels():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=(5, 6, 7)).transpose(3, 0, 1, 2).astype(np.float32)
    hard = np.argmax(p, axis=0)
    labels = hard.copy()
    labels[1, 2, 3] = (hard[1, 2, 3] + 1) % 4
    q = match_posteriors(p.copy(), labels)
    assert np.array_equal(np.argmax(q, axis=0), labels)
    same = np.ones(hard.shape, bool)
    same[1, 2, 3] = False
    np.testing.assert_array_equal(q[:, same], p[:, same])
    np.testing.assert_allclose(sorted(q[:, 1, 2, 3]), sorted(p[:, 1, 2, 3]), rtol=1e-6)


def test_lr_axis_follows_the_affine():
    assert lr_axis_of(np.eye(4)) == 0
    perm = np.zeros((4, 4))
    perm[0, 2], perm[1, 0], perm[2, 1], perm[3, 3] = -0.8, 0.8, 0.8, 1
    assert lr_axis_of(perm) == 2


def test_resolve_dae_choices(tmp_path):
    assert resolve_dae(None) is None and resolve_dae("none") is None
    net = DAE(DaeConfig(8, (4, 8, 8)))
    assert resolve_dae(net) is net
    save_dae(net, {}, tmp_path / "d.safetensors")
    assert isinstance(resolve_dae(str(tmp_path / "d.safetensors")), DAE)
    from fetalseg.errors import InputError

    with pytest.raises(InputError, match="not found"):
        resolve_dae(tmp_path / "missing.safetensors")
    with pytest.raises(InputError, match="dae"):
        resolve_dae(3.5)


def test_shipped_dae_loads_and_keeps_a_clean_map():
    dae = resolve_dae("default")
    assert dae.card["kind"] == "dae" and dae.card["parameters"] < 200_000
    lab = np.zeros((32, 32, 32), np.uint8)
    lab[6:26, 6:26, 6:26] = 3
    lab[12:20, 12:20, 12:20] = 4
    p = np.stack([(lab == c).astype(np.float32) * 0.9 + 0.1 / 8 for c in range(8)])
    from fetalseg.nets.dae import refine

    out = np.argmax(refine(dae, p / p.sum(axis=0)), axis=0)
    assert np.mean(out == lab) > 0.98


def test_cli_dae_options(cli, tmp_path):
    from test_cli_segment import _write

    src = _write(tmp_path / "in.nii.gz")
    torch.manual_seed(0)
    dae_path = tmp_path / "my-dae.safetensors"
    save_dae(DAE(DaeConfig(8, (4, 8, 8))), {}, dae_path)
    from fetalseg.nets import build_network, save_model

    model = tmp_path / "tiny.safetensors"
    save_model(build_network("tiny"), {"patch_size": [32, 32, 32], "resolution_mm": 1.0}, model)
    code, _, err = cli("segment", src, "-o", tmp_path / "a.nii.gz", "--model", model, "--no-tta", "--dae", dae_path)
    assert code == 0, err
    side = json.loads((tmp_path / "a.json").read_text())
    assert side["dae"]["sha256"] == json.loads(dae_path.with_suffix(".json").read_text())["sha256"]
    seg = np.asarray(nib.load(tmp_path / "a.nii.gz").dataobj)
    for lab in FETA.labels[1:]:
        assert gudhi_betti(seg == lab.value) == lab.betti
    code, _, err = cli("segment", src, "-o", tmp_path / "b.nii.gz", "--model", model, "--dae", tmp_path / "no.safetensors")
    assert code == 2 and "no.safetensors" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b.nii.gz").exists()


def test_dae_runs_at_its_own_resolution_on_a_finer_grid():
    """On a grid twice as fine as the DAE's, the refined map agrees with refining at the DAE's resolution."""
    from torch.nn import functional as F

    from fetalseg.infer.topology_step import refine_probs
    from fetalseg.nets.dae import refine
    from test_topofix import _fetal_like, _probs_from_labels

    dae = resolve_dae("default")
    res = float(dae.card["resolution_mm"])
    coarse = _probs_from_labels(_fetal_like(40), 8, sigma=0.8, seed=1, noise=0.3)
    fine = F.interpolate(torch.from_numpy(coarse)[None], scale_factor=2, mode="trilinear")[0].numpy()
    at_res = np.argmax(refine(dae, coarse), axis=0).repeat(2, 0).repeat(2, 1).repeat(2, 2)
    direct = np.argmax(refine_probs(dae, fine, spacing_mm=res), axis=0)  # no resampling: DAE at the wrong scale
    resampled = np.argmax(refine_probs(dae, fine, spacing_mm=res / 2), axis=0)
    assert np.mean(resampled == at_res) > 0.95
    assert np.mean(resampled == at_res) > np.mean(direct == at_res)


def test_installed_models_leave_daes_out(tmp_path):
    from fetalseg.infer.models import installed_models

    save_dae(DAE(DaeConfig(8, (4, 8, 8))), {}, tmp_path / "dae-x.safetensors")
    assert installed_models(tmp_path) == {}
    assert "dae-default" not in installed_models() and "default" in installed_models()
