"""`fetalseg evaluate` and `fetalseg rank` through the real entry point."""

from __future__ import annotations

import csv

import nibabel as nib
import numpy as np
import pytest

from conftest import make_labels
from fetalseg.metrics import COLUMNS

SHAPE = (32, 32, 32)
AFFINE = np.diag([0.8, 0.8, 0.8, 1.0])


def save(path, data, affine=AFFINE):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data, np.uint8), affine), str(path))
    return path


def read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def case():
    ref = make_labels(SHAPE)
    pred = np.roll(ref, 1, axis=0)
    return ref, pred


def one_error_line(err):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    return len(lines) == 1 and lines[0].startswith("fetalseg: error:")


def test_single_files(cli, tmp_path, case):
    ref, pred = case
    r = save(tmp_path / "ref" / "sub-01_dseg.nii.gz", ref)
    p = save(tmp_path / "pred" / "sub-01_dseg.nii.gz", pred)
    out = tmp_path / "m.csv"
    code, stdout, err = cli("evaluate", p, r, "-o", out)
    assert code == 0, err
    rows = read(out)
    assert tuple(rows[0]) == COLUMNS
    assert [int(x["label"]) for x in rows] == list(range(1, 8))
    assert all(x["subject"] == "sub-01" for x in rows)
    assert 0 < float(rows[2]["dice"]) < 1 and float(rows[2]["hd95"]) == pytest.approx(0.8)
    assert "Dice" in stdout and "all" in stdout and "empty" in stdout
    # the same pair against itself
    code, _, err = cli("evaluate", r, r, "-o", tmp_path / "self.csv")
    assert code == 0, err
    assert all(float(x["dice"]) == 1.0 and float(x["hd95"]) == 0.0 for x in read(tmp_path / "self.csv"))


def test_folders_unmatched_and_jobs(cli, tmp_path, case):
    ref, pred = case
    for s in ("01", "02", "04"):
        save(tmp_path / "gt" / f"sub-{s}" / "anat" / f"sub-{s}_rec-x_dseg.nii.gz", ref)
        save(tmp_path / "gt" / f"sub-{s}" / "anat" / f"sub-{s}_rec-x_T2w.nii.gz", ref)
    for s in ("01", "02", "03"):
        save(tmp_path / "pred" / f"sub-{s}_dseg.nii.gz", pred if s != "02" else ref)
    code, _, err = cli("evaluate", tmp_path / "pred", tmp_path / "gt", "-o", tmp_path / "a.csv")
    assert code == 0, err
    assert "sub-03" in err and "sub-04" in err and "unmatched" in err
    rows = read(tmp_path / "a.csv")
    assert sorted({x["subject"] for x in rows}) == ["sub-01", "sub-02"] and len(rows) == 14
    code, _, err = cli("evaluate", tmp_path / "pred", tmp_path / "gt", "-o", tmp_path / "b.csv", "--jobs", "2")
    assert code == 0, err
    assert read(tmp_path / "b.csv") == rows


def test_grid_mismatch_and_resample(cli, tmp_path, case):
    ref, pred = case
    r = save(tmp_path / "ref.nii.gz", ref)
    shifted = AFFINE.copy()
    shifted[0, 3] = 0.01
    p = save(tmp_path / "pred.nii.gz", ref, shifted)
    code, _, err = cli("evaluate", p, r, "-o", tmp_path / "m.csv")
    assert code == 2 and one_error_line(err) and "--resample-pred" in err
    assert not (tmp_path / "m.csv").exists()
    code, _, err = cli("evaluate", p, r, "-o", tmp_path / "m.csv", "--resample-pred")
    assert code == 0, err
    assert all(float(x["dice"]) == 1.0 for x in read(tmp_path / "m.csv"))
    small = save(tmp_path / "small.nii.gz", ref[:30])
    code, _, err = cli("evaluate", small, r)
    assert code == 2 and "shape 30x32x32 vs 32x32x32" in err


def test_no_overwrite(cli, tmp_path, case):
    ref, _ = case
    r = save(tmp_path / "ref.nii.gz", ref)
    out = tmp_path / "m.csv"
    out.write_text("keep")
    code, _, err = cli("evaluate", r, r, "-o", out)
    assert code == 2 and one_error_line(err) and "--overwrite" in err and out.read_text() == "keep"
    code, _, err = cli("evaluate", r, r, "-o", out, "--overwrite")
    assert code == 0 and read(out)


def test_bad_input_battery(cli, tmp_path, case):
    ref, _ = case
    r = save(tmp_path / "ref.nii.gz", ref)
    text = tmp_path / "text.nii.gz"
    text.write_text("not an image")
    outside = ref.copy()
    outside[0, 0, 0] = 9
    bad_labels = save(tmp_path / "bad.nii.gz", outside)
    four_d = tmp_path / "4d.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 2), np.uint8), AFFINE), str(four_d))
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    out = tmp_path / "never.csv"
    cases = [
        (("evaluate", tmp_path / "missing.nii.gz", r), "missing"),
        (("evaluate", text, r), "text.nii.gz"),
        (("evaluate", bad_labels, r), "bad.nii.gz"),
        (("evaluate", r, bad_labels), "bad.nii.gz"),
        (("evaluate", four_d, r), "4d.nii.gz"),
        (("evaluate", empty_dir, r), "empty"),
        (("evaluate", r, r, "--empty", "lots"), "--empty"),
        (("evaluate", r, r, "--ec-target", "median"), "--ec-target"),
    ]
    for args, needle in cases:
        code, _, err = cli(*args, "-o", out)
        assert code == 2, (args, err)
        assert one_error_line(err), (args, err)
        assert needle in err, (args, err)
        assert not out.exists()


def test_rank(cli, tmp_path, case):
    ref, pred = case
    r = save(tmp_path / "gt" / "sub-01_dseg.nii.gz", ref)
    good = save(tmp_path / "good" / "sub-01_dseg.nii.gz", ref)
    bad = save(tmp_path / "bad" / "sub-01_dseg.nii.gz", np.roll(pred, 2, axis=1))
    for name, p in (("good", good), ("bad", bad)):
        assert cli("evaluate", p, r, "-o", tmp_path / f"{name}.csv")[0] == 0
    code, stdout, err = cli("rank", tmp_path / "bad.csv", tmp_path / "good.csv", "-o", tmp_path / "rank.csv")
    assert code == 0, err
    assert "good" in stdout and "bad" in stdout
    table = read(tmp_path / "rank.csv")
    assert [t["method"] for t in table] == ["good", "bad"]
    assert table[0]["final_rank"] == "1" and table[1]["final_rank"] == "2"
    # different cases, not a CSV, missing file: one-line errors
    other = save(tmp_path / "o" / "sub-02_dseg.nii.gz", ref)
    assert cli("evaluate", other, other, "-o", tmp_path / "other.csv")[0] == 0
    for args, needle in (((tmp_path / "good.csv", tmp_path / "other.csv"), "different cases"),
                         ((tmp_path / "good.csv", r), "sub-01_dseg.nii.gz"),
                         ((tmp_path / "good.csv", tmp_path / "nope.csv"), "nope.csv")):
        code, _, err = cli("rank", *args)
        assert code == 2 and one_error_line(err) and needle in err, (args, err)


def test_help_lists_commands(cli):
    code, stdout, _ = cli("--help")
    assert code == 0 and "evaluate" in stdout and "rank" in stdout
