"""The model shipped in the package (``fetalseg/models/default``): loads without pickle, passes its sha256
check, and segments held-out real anatomy and a phantom far better than chance.

The thresholds sit well below the figures measured when the model was exported (docs/model-default.md), so
they catch a broken pipeline or a corrupted/untrained model, not small numerical drift."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import atlas_files

from fetalseg.infer import segment
from fetalseg.infer.models import default_models_dir, installed_models
from fetalseg.io import load_image, load_labels
from fetalseg.metrics import dice

pytestmark = pytest.mark.slow


def _model():
    models = installed_models()
    assert "default" in models, f"no default model in {default_models_dir()}"
    return models["default"]


def test_default_model_card_and_hash():
    from fetalseg.nets import load_model

    path = _model()
    net, card = load_model(path)
    assert card["resolution_mm"] > 0 and card["normalisation"]["method"] == "percentile"
    assert card["validation_dice"]["mean_1_7"] > 0.3
    assert not net.training
    on_disk = json.loads(path.with_suffix(".json").read_text())
    assert on_disk["sha256"] == card["sha256"]


def _mean_dice(pred, ref, labels=range(1, 8)):
    return float(np.mean([dice(pred == v, ref == v) for v in labels]))


def test_default_model_on_held_out_atlas_brain(sb_atlas):
    sub = "sub-sb28op"  # never seen in training, not even as a label map
    files = atlas_files(sb_atlas, ("T2w", "dseg"), [sub])[sub]
    t2w = load_image(files["T2w"])
    ref = load_labels(files["dseg"])
    out = segment(t2w, _model(), tta=False, device="cpu")
    assert out.shape == t2w.shape and np.array_equal(out.affine, t2w.affine)
    assert _mean_dice(out.data, ref.data, labels=(1, 3, 4)) > 0.45  # external CSF, white matter, ventricles
    assert _mean_dice(out.data, ref.data, labels=(5, 6, 7)) > 0.3  # cerebellum, deep grey matter, brainstem


def test_default_model_on_unmasked_phantom():
    from fetalseg.phantom import make_subject

    sim = make_subject(ga=29, pathology="normal", voxel=1.0, seed=5)
    out = segment(sim.image, _model(), tta=False, device="cpu")
    assert out.shape == sim.image.shape
    assert dice(out.data == 3, sim.labels.data == 3) > 0.5  # white matter
    brain = sim.labels.data > 0
    assert (out.data[~brain] > 0).mean() < 0.05  # skull, fluid and maternal tissue stay background
