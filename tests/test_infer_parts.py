"""TTA, ensembles, predictor modes, soft volumes, QC and model lookup, against brute-force oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fetalseg.errors import InputError
from fetalseg.infer import Predictor, ensemble, qc, segment, tta, volumes
from fetalseg.infer.models import installed_models, resolve_model
from fetalseg.io import Image
from test_infer_helpers import IntensityCodedModel, affine, phantom_image


def _softmax(z):
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


class PositionNet:
    """Not flip-equivariant: logits depend on voxel position and intensity (so flips matter)."""

    def __init__(self, n=4):
        self.n = n
        self.calls = []

    def __call__(self, x):
        self.calls.append(x.detach().clone())
        b, _, X, Y, Z = x.shape
        ramp = torch.arange(X, dtype=torch.float32)[:, None, None] / X + torch.arange(Z)[None, None, :] / (2 * Z)
        logits = torch.stack([x[:, 0] * (c + 1) + ramp * (c - 1.5) for c in range(self.n)], dim=1)
        return logits


def test_flip_tta_is_the_mean_of_flipped_back_passes():
    rng = np.random.default_rng(0)
    vol = rng.random((6, 5, 7)).astype(np.float32)
    pred = Predictor(PositionNet(), divisor=1)
    probs, members = tta.flip_tta(pred, vol, tta.LR, keep_labels=True)
    a = pred(vol)
    b = np.flip(pred(np.ascontiguousarray(vol[::-1])), axis=1)
    np.testing.assert_allclose(probs, (a + b) / 2, atol=1e-6)
    assert not np.allclose(a, b, atol=1e-3)  # the flip really changes the network's answer
    assert len(members) == 2 and np.array_equal(members[1], np.argmax(b, axis=0))
    allp, _ = tta.flip_tta(pred, vol, tta.ALL_FLIPS)
    manual = sum(np.flip(pred(np.ascontiguousarray(np.flip(vol, f))), tuple(a + 1 for a in f)) if f else pred(vol)
                 for f in [()] + list(tta.ALL_FLIPS)) / 8
    np.testing.assert_allclose(allp, manual, atol=1e-6)
    none, m = tta.flip_tta(pred, vol, ())
    np.testing.assert_allclose(none, a, atol=1e-7)


def test_ensemble_mean_and_max_confidence_brute_force():
    rng = np.random.default_rng(1)
    members = [_softmax(rng.normal(0, 2, (4, 3, 4, 5))).astype(np.float32) for _ in range(3)]
    np.testing.assert_allclose(ensemble.merge(members, "mean"), sum(members) / 3, atol=1e-6)
    got = ensemble.merge(members, "max-confidence")
    for idx in np.ndindex(3, 4, 5):
        conf = [m[(slice(None),) + idx].max() for m in members]
        best = int(np.argmax(conf))
        np.testing.assert_array_equal(got[(slice(None),) + idx], members[best][(slice(None),) + idx])
    with pytest.raises(ValueError):
        ensemble.merge(members, "vote")
    with pytest.raises(ValueError):
        ensemble.merge([members[0], members[1][:, :2]])


def test_segment_ensemble_and_tta_average_the_members():
    """Two models that disagree by a constant shift: mean merge = the average of their TTA means."""
    shape = (30, 30, 30)
    img, _ = phantom_image(shape, affine(shape=shape))
    n1, n2 = PositionNet(8), PositionNet(8)
    p1 = Predictor(n1, normalisation=IntensityCodedModel.normalisation)
    p2 = Predictor(lambda x: n2(x) * 0.5 + 1.0, normalisation=IntensityCodedModel.normalisation)
    res = segment(img, [p1, p2], tta=True, merge="mean", postprocess=False, device="cpu", pose=False, posteriors=True,
                  dae="none")
    assert len(n1.calls) == 2 and len(n2.calls) == 2  # original + left-right flip each
    x = n1.calls[0][0, 0].numpy()
    assert torch.equal(n1.calls[1][0, 0], torch.from_numpy(np.ascontiguousarray(x[::-1])))
    q1, _ = tta.flip_tta(p1, x, tta.LR)
    q2, _ = tta.flip_tta(p2, x, tta.LR)
    want = (q1 + q2) / 2
    # the model grid is exact for this 0.8 mm RAS input: posteriors are copies of the merged ones
    from fetalseg.infer import preprocess as pp
    norm = pp.normalise(img.data, IntensityCodedModel.normalisation)
    grid = pp.plan_grid(img, 0.8, box=pp.foreground_box(norm))
    back = np.zeros((8,) + shape, np.float32)
    back[0] = 1
    for sl, block in pp.iter_to_input(want, grid):
        back[(slice(None),) + sl] = block
    np.testing.assert_allclose(res.posteriors, back, atol=1e-5)
    assert res.qc["members"] == 4


def test_sliding_window_matches_whole_volume_for_a_voxelwise_network():
    rng = np.random.default_rng(2)
    vol = rng.random((40, 36, 44)).astype(np.float32)
    net = lambda x: torch.cat([x, 1 - x, x * x], dim=1) * 3  # noqa: E731  no spatial context
    whole = Predictor(net, divisor=8, mode="whole")(vol)
    sliding = Predictor(net, divisor=8, mode="sliding", patch_size=(24, 24, 24), overlap=0.5)(vol)
    np.testing.assert_allclose(sliding, whole, atol=1e-5)
    auto = Predictor(net, divisor=8, max_voxels=1000, patch_size=(16, 16, 16))
    assert auto.uses_sliding_window(vol.shape) and not Predictor(net).uses_sliding_window(vol.shape)
    with pytest.raises(ValueError, match="does not match"):
        Predictor(lambda x: x[:, :, :-1], divisor=1)(vol)


def test_soft_volumes_sum_to_the_field_of_view_and_match_hard_for_one_hot():
    rng = np.random.default_rng(4)
    p = _softmax(rng.normal(0, 1, (8, 5, 6, 7)))
    v = volumes.soft_volumes(p, 0.5)
    assert math.isclose(v.sum(), 5 * 6 * 7 * 0.5, rel_tol=1e-9)
    lab = rng.integers(0, 8, (5, 6, 7))
    onehot = np.eye(8)[lab].transpose(3, 0, 1, 2)
    np.testing.assert_allclose(volumes.soft_volumes(onehot, 0.5), volumes.hard_volumes(lab, 0.5, 8))


def test_segment_volumes_sum_to_the_labelled_volume():
    shape = (34, 30, 28)
    aff = affine(spacing=(0.8, 0.8, 0.8), shape=shape, flips=(-1, 1, 1))
    _, truth = phantom_image(shape, aff)
    img = Image(truth.astype(np.float32), aff)
    res = segment(img, Predictor(IntensityCodedModel(), normalisation=IntensityCodedModel.normalisation),
                  device="cpu", pose=False, return_result=True, postprocess=False, dae="none")
    vox = img.voxel_volume
    labelled = np.count_nonzero(res.labels.data) * vox
    assert res.volumes["brain_mm3"] == pytest.approx(labelled, rel=1e-4)
    assert res.soft_volumes.sum() == pytest.approx(np.prod(shape) * vox, rel=1e-6)
    shorts = {1: "ecsf", 2: "gm", 3: "wm", 4: "vent", 5: "cbm", 6: "dgm", 7: "bs"}
    for lab, short in shorts.items():  # one-hot posteriors: soft volume = voxel count x voxel volume
        assert res.volumes[f"{short}_mm3"] == pytest.approx(np.count_nonzero(res.labels.data == lab) * vox, abs=1e-2)
    assert np.count_nonzero(res.labels.data == 7) > 0


def test_qc_agreement_and_topology():
    a = np.zeros((10, 10, 10), np.uint8)
    a[2:8, 2:8, 2:8] = 3
    b = a.copy()
    b[2:5, 2:8, 2:8] = 0  # half of the cube lost
    assert math.isnan(qc.dice_agreement([a], a))
    assert qc.dice_agreement([a, a], a) == 1.0
    assert qc.dice_agreement([a, b], a) == pytest.approx((1 + 2 * 108 / (216 + 108)) / 2)
    errs = qc.topology_errors(a)  # labels 1,2,4,5,6,7 missing: 1+2+1+1+1+1 expected components
    assert errs == 7
    good = qc.qc_report([a, a], a, 0)
    bad = qc.qc_report([a, b], a, 100)
    assert bad["qc_score"] > good["qc_score"] and bad["qc_flag"]
    assert good["qc_score"] == pytest.approx(0.07)


def test_model_lookup(tmp_path):
    with pytest.raises(InputError, match="fetalseg train"):
        resolve_model(None, tmp_path)
    with pytest.raises(InputError, match="not found"):
        resolve_model(tmp_path / "nope.safetensors", tmp_path)
    for name in ("a", "b"):
        (tmp_path / f"{name}.safetensors").write_bytes(b"x")
        (tmp_path / f"{name}.json").write_text("{}")
    (tmp_path / "orphan.safetensors").write_bytes(b"x")  # no card: not installed
    assert set(installed_models(tmp_path)) == {"a", "b"}
    assert resolve_model("b", tmp_path) == tmp_path / "b.safetensors"
    with pytest.raises(InputError, match="several models"):
        resolve_model(None, tmp_path)
    with pytest.raises(InputError, match="no model named"):
        resolve_model("c", tmp_path)
    (tmp_path / "default.safetensors").write_bytes(b"x")
    (tmp_path / "default.json").write_text("{}")
    assert resolve_model(None, tmp_path).name == "default.safetensors"


def test_sliding_window_pipeline_and_mixed_resolution_ensemble():
    """Sliding windows give the same labels as a whole-volume pass for a voxel-wise perfect model, and an
    ensemble of models at 0.8 mm and 1.0 mm is merged on the first model's grid."""
    from fetalseg.infer import preprocess as pp
    from test_infer_helpers import WorldModel, dice

    shape = (44, 40, 36)
    aff = affine(shape=shape, flips=(1, -1, 1))
    img, truth = phantom_image(shape, aff)
    coded = Image(truth.astype(np.float32) * 7.0 / truth.max(), aff)
    norm = IntensityCodedModel.normalisation
    whole = segment(coded, Predictor(IntensityCodedModel(), normalisation=norm), tta=False, device="cpu", pose=False)
    slid = segment(coded, Predictor(IntensityCodedModel(), normalisation=norm, mode="sliding",
                                    patch_size=(16, 16, 16), overlap=0.25), tta=False, device="cpu", pose=False)
    np.testing.assert_array_equal(slid.data, whole.data)

    box = pp.foreground_box(pp.normalise(img.data, norm))
    g08 = pp.plan_grid(img, 0.8, box=box)
    g10 = pp.plan_grid(img, 1.0, box=box)
    m08, m10 = WorldModel(g08), WorldModel(g10)
    res = segment(img, [Predictor(m08, normalisation=norm), Predictor(m10, resolution_mm=1.0, normalisation=norm)],
                  tta=False, device="cpu", pose=False, return_result=True)
    assert m08.calls == 1 and m10.calls == 1 and res.qc["members"] == 2
    for lab in (1, 2, 3, 4):
        assert dice(res.labels.data, truth, lab) > 0.9
    assert res.qc["agreement"] > 0.85
