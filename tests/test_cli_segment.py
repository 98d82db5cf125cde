"""``fetalseg segment`` end to end with a tiny exported model: outputs, batches, resume, bad input."""

from __future__ import annotations

import csv
import json
import shutil

import nibabel as nib
import numpy as np
import pytest
import torch

from badinput import BAD_KINDS, assert_clean_error, make_bad
from test_infer_helpers import affine, phantom_image


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from fetalseg.nets import build_network, save_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    save_model(build_network("tiny"), {"patch_size": [32, 32, 32], "resolution_mm": 1.0}, path)
    return path


def _write(path, shape=(22, 26, 20), **kw):
    img, _ = phantom_image(shape, affine(shape=shape, **kw))
    path.parent.mkdir(parents=True, exist_ok=True)
    out = nib.Nifti1Image(img.data, img.affine)
    out.header.set_qform(img.affine, code=1)
    out.header.set_sform(img.affine, code=2)
    nib.save(out, path)
    return path


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("kind", [k for k in BAD_KINDS if k != "bad-labels"])
def test_bad_input_battery(cli, tmp_path, tiny_model, kind):
    bad, phrase = make_bad(kind, tmp_path / "in")
    out = tmp_path / "out"
    code, so, se = cli("segment", bad, "-o", out, "--model", tiny_model)
    assert_clean_error(code, so, se, bad, phrase)
    assert not out.exists()


def test_no_model_installed_is_a_one_line_error(cli, tmp_path):
    img = _write(tmp_path / "a_T2w.nii.gz")
    empty = tmp_path / "models"
    empty.mkdir()
    code, so, se = cli("segment", img, "-o", tmp_path / "out", "--models-dir", empty)
    lines = [ln for ln in se.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1, se
    assert "no segmentation model" in lines[0] and "fetalseg train" in lines[0]
    code, _, se = cli("segment", img, "-o", tmp_path / "out", "--model", tmp_path / "nope.safetensors")
    assert code == 2 and "model file not found" in se
    code, _, se = cli("segment", img, "-o", tmp_path / "out", "--model", "x.safetensors", "--merge", "vote")
    assert code == 2 and "--merge" in se
    assert not (tmp_path / "out").exists()


def test_single_file_output_keeps_the_input_grid_and_header(cli, tmp_path, tiny_model):
    src = _write(tmp_path / "sub-01_T2w.nii.gz", spacing=(0.9, 1.1, 1.3), flips=(-1, 1, 1), angle_deg=12.0)
    dst = tmp_path / "seg.nii.gz"
    code, so, se = cli("segment", src, "-o", dst, "--model", tiny_model, "--threads", "1", "--device", "cpu",
                       "--flips", "all")
    assert code == 0, se
    a, b = nib.load(src), nib.load(dst)
    assert b.shape == a.shape and b.get_data_dtype() == np.uint8
    np.testing.assert_allclose(b.affine, a.affine, atol=1e-6)
    assert int(b.header["sform_code"]) == 2 and int(b.header["qform_code"]) == 1
    assert set(np.unique(np.asarray(b.dataobj))) <= set(range(8))
    side = json.loads((tmp_path / "seg.json").read_text())
    assert side["models"][0]["name"] == "tiny" and "qc_score" in side["qc"]
    assert side["tta"] == "all" and side["qc"]["members"] == 8


def test_bids_folder_is_mirrored_with_posteriors_volumes_and_qc(cli, tmp_path, tiny_model):
    root = tmp_path / "feta"
    for s in ("01", "02"):
        _write(root / f"sub-{s}" / "anat" / f"sub-{s}_rec-mial_T2w.nii.gz")
    out, post = tmp_path / "derivatives", tmp_path / "post"
    code, so, se = cli("segment", root, "-o", out, "--model", tiny_model, "--volumes", tmp_path / "v.csv",
                       "--qc", tmp_path / "qc.csv", "--posteriors", post, "--no-tta", "-q")
    assert code == 0, se
    assert "2 segmented" in so
    for s in ("01", "02"):
        seg = out / f"sub-{s}" / "anat" / f"sub-{s}_rec-mial_dseg.nii.gz"
        assert seg.exists()
        p = nib.load(post / f"sub-{s}" / "anat" / f"sub-{s}_rec-mial_probseg.nii.gz")
        probs = np.asarray(p.dataobj)
        assert probs.shape == (22, 26, 20, 8)
        np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-4)
        assert np.array_equal(np.argmax(probs, axis=-1), np.asarray(nib.load(seg).dataobj))
    assert json.loads((out / "dataset_description.json").read_text())["DatasetType"] == "derivative"
    vol = _rows(tmp_path / "v.csv")
    assert [r["subject"] for r in vol] == ["sub-01", "sub-02"]
    for r in vol:
        parts = sum(float(r[f"{k}_mm3"]) for k in ("ecsf", "gm", "wm", "vent", "cbm", "dgm", "bs"))
        assert parts == pytest.approx(float(r["brain_mm3"]), rel=1e-4)
    q = _rows(tmp_path / "qc.csv")
    assert q[0]["members"] == "1" and q[0]["qc_flag"] in ("True", "False")


def test_batch_with_a_corrupt_file_finishes_the_others_and_resumes(cli, tmp_path, tiny_model):
    inp = tmp_path / "in"
    good = [_write(inp / f"case{i}.nii.gz") for i in range(2)]
    corrupt, _ = make_bad("truncated", tmp_path / "tmp")
    shutil.move(corrupt, inp / "case1b.nii.gz")
    out = tmp_path / "out"
    code, so, se = cli("segment", inp, "-o", out, "--model", tiny_model, "--volumes", tmp_path / "v.csv", "-q")
    assert code == 1
    assert "2 segmented" in so and "1 failed" in so
    fails = [ln for ln in se.splitlines() if ln.startswith("fetalseg: failed:")]
    assert len(fails) == 1 and "case1b.nii.gz" in fails[0] and "truncated" in fails[0]
    for g in good:
        assert (out / g.name.replace(".nii.gz", "_dseg.nii.gz")).exists()
    assert not (out / "case1b_dseg.nii.gz").exists()
    assert len(_rows(tmp_path / "v.csv")) == 2
    # rerun without the corrupt file: finished subjects are skipped, outputs untouched, tables rebuilt
    (inp / "case1b.nii.gz").unlink()
    seg0 = out / "case0_dseg.nii.gz"
    stamp = seg0.stat().st_mtime_ns
    code, so, se = cli("segment", inp, "-o", out, "--model", tiny_model, "--volumes", tmp_path / "v.csv", "-q")
    assert code == 0, se
    assert "0 segmented, 2 skipped" in so
    assert seg0.stat().st_mtime_ns == stamp
    assert len(_rows(tmp_path / "v.csv")) == 2
    code, so, _ = cli("segment", inp, "-o", out, "--model", tiny_model, "--overwrite", "-q")
    assert code == 0 and "2 segmented" in so


def test_existing_foreign_table_is_not_overwritten(cli, tmp_path, tiny_model):
    img = _write(tmp_path / "a.nii.gz")
    table = tmp_path / "v.csv"
    table.write_text("mine\n1\n")
    code, _, se = cli("segment", img, "-o", tmp_path / "out", "--model", tiny_model, "--volumes", table)
    assert code == 2 and "already exists" in se
    assert table.read_text() == "mine\n1\n" and not (tmp_path / "out").exists()


def test_python_api_with_a_model_file(tmp_path, tiny_model):
    from fetalseg.errors import InputError
    from fetalseg.infer import segment

    src = _write(tmp_path / "x.nii.gz", spacing=(1.2, 1.2, 0.9))
    out = segment(src, model=tiny_model, device="cpu", threads=1)
    ref = nib.load(src)
    assert out.shape == ref.shape and out.data.dtype == np.uint8
    np.testing.assert_allclose(out.affine, ref.affine)
    assert int(out.header["sform_code"]) == 2 and out.header.get_data_dtype() == np.uint8
    from fetalseg.io import save_image

    save_image(out, tmp_path / "api_dseg.nii.gz")  # no dtype given: the label header says uint8
    assert nib.load(tmp_path / "api_dseg.nii.gz").get_data_dtype() == np.uint8
    with pytest.raises(InputError, match="not found"):
        segment(tmp_path / "missing.nii.gz", model=tiny_model)
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA"):
            segment(src, model=tiny_model, device="cuda")
