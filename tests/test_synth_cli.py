"""``fetalseg synth`` and ``fetalseg synth weights`` through the real entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_labels

from fetalseg.io import Image, load_image, save_image


@pytest.fixture
def label_dir(tmp_path):
    d = tmp_path / "maps"
    d.mkdir()
    for i, shape in enumerate([(24, 28, 20), (26, 24, 22), (22, 22, 22)]):
        save_image(Image(make_labels(shape), np.diag([1.0, 1.0, 1.0, 1.0])), d / f"sub-{i}_dseg.nii.gz")
    return d


@pytest.fixture
def small_config(tmp_path):
    p = tmp_path / "synth.yaml"
    p.write_text("output_shape: [24, 24, 24]\nvoxel_mm: 1.0\n")
    return p


def test_synth_writes_pairs_params_and_mosaic(cli, label_dir, small_config, tmp_path):
    out = tmp_path / "out"
    code, stdout, stderr = cli("synth", label_dir, "-o", out, "-n", "3", "--seed", "4", "--config", small_config)
    assert code == 0, stderr
    for i in range(3):
        img = load_image(out / f"synth-{i:04d}_T2w.nii.gz")
        lab = load_image(out / f"synth-{i:04d}_dseg.nii.gz")
        assert img.shape == lab.shape == (24, 24, 24)
        assert 0.0 <= img.data.min() and img.data.max() <= 1.0
        assert set(np.unique(lab.data)) <= set(range(8)) and len(np.unique(lab.data)) > 4
    params = json.loads((out / "synth-params.json").read_text())
    assert len(params["samples"]) == 3 and params["seed"] == 4 and params["config"]["output_shape"] == [24, 24, 24]
    assert (out / "synth-mosaic.png").read_bytes()[:4] == b"\x89PNG"
    # same seed, same samples
    out2 = tmp_path / "out2"
    assert cli("synth", label_dir, "-o", out2, "-n", "3", "--seed", "4", "--config", small_config)[0] == 0
    a, b = (load_image(o / "synth-0002_T2w.nii.gz").data for o in (out, out2))
    assert np.array_equal(a, b)
    # refuses to overwrite, one-line error, exit 2
    code, _, err = cli("synth", label_dir, "-o", out, "-n", "1", "--config", small_config)
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1


def test_synth_weights_then_synth_by_weights(cli, label_dir, small_config, tmp_path):
    w = tmp_path / "w.json"
    code, stdout, stderr = cli("synth", "weights", label_dir, "-o", w)
    assert code == 0, stderr
    data = json.loads(w.read_text())
    assert len(data["files"]) == 3 and sum(data["weights"]) == pytest.approx(1.0)
    out = tmp_path / "out"
    code, _, stderr = cli("synth", "-o", out, "-n", "2", "--weights", w, "--config", small_config, "--no-subclasses")
    assert code == 0, stderr
    sources = {s["source"] for s in json.loads((out / "synth-params.json").read_text())["samples"]}
    assert sources <= set(data["files"])


def test_synth_config_writes_an_editable_yaml(cli, label_dir, tmp_path):
    from fetalseg.synth import SynthConfig

    path = tmp_path / "synth.yaml"
    code, _, err = cli("synth", "config", "-o", path)
    assert code == 0, err
    assert SynthConfig.from_yaml(path) == SynthConfig()
    path.write_text(path.read_text().replace("p_gin: 0.2", "p_gin: 1.0").replace("[128, 128, 128]", "[20, 20, 20]"))
    out = tmp_path / "o"
    code, _, err = cli("synth", label_dir, "-o", out, "-n", "1", "--config", path)
    assert code == 0, err
    params = json.loads((out / "synth-params.json").read_text())
    assert params["config"]["p_gin"] == 1.0 and params["samples"][0]["params"]["gin"]["on"]
    assert load_image(out / "synth-0000_T2w.nii.gz").shape == (20, 20, 20)
    assert cli("synth", "config", "-o", path)[0] == 2  # exists


@pytest.mark.parametrize(
    "args, needle",
    [
        (["synth", "{tmp}/missing.nii.gz", "-o", "{tmp}/o"], "not found"),
        (["synth", "{maps}", "-o", "{tmp}/o", "--config", "{tmp}/bad.yaml"], "unknown synth config keys"),
        (["synth", "{maps}", "-o", "{tmp}/o", "-n", "0"], "-n must be"),
        (["synth", "{maps}", "-o", "{tmp}/o", "--convention", "dhcp"], "--convention"),
        (["synth", "weights", "{maps}", "-o", "{tmp}/w.txt"], ".json"),
        (["synth", "weights", "-o", "{tmp}/w.json"], "needs label-map"),
        (["synth", "weights", "{maps}", "-o", "{tmp}/w.json", "--shares", "1,x"], "--shares"),
        (["synth", "-o", "{tmp}/o", "--weights", "{tmp}/bad.yaml"], "JSON"),
    ],
)
def test_synth_bad_input_one_line_exit_2(cli, label_dir, tmp_path, args, needle):
    (tmp_path / "bad.yaml").write_text("nope: 1\n")
    args = [a.format(tmp=tmp_path, maps=label_dir) for a in args]
    code, _, err = cli(*args)
    assert code == 2, err
    assert needle in err and err.startswith("fetalseg: error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_bad_label_values_rejected_before_writing(cli, tmp_path, small_config):
    bad = tmp_path / "bad_dseg.nii.gz"
    save_image(Image(np.full((8, 8, 8), 9, np.uint8), np.eye(4)), bad)
    code, _, err = cli("synth", bad, "-o", tmp_path / "o", "--convention", "feta", "--config", small_config)
    assert code == 2 and "outside" in err
    assert not (tmp_path / "o").exists()
