"""Output naming and job planning for batches (no network involved)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from fetalseg.errors import InputError
from fetalseg.infer.batch import dseg_name, plan_jobs, probseg_name


def _nii(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)), path)
    return path


def test_names():
    assert dseg_name("sub-01_rec-mial_T2w.nii.gz") == "sub-01_rec-mial_dseg.nii.gz"
    assert dseg_name("brain.nii") == "brain_dseg.nii.gz"
    assert probseg_name("sub-01_rec-mial_dseg.nii.gz") == "sub-01_rec-mial_probseg.nii.gz"
    assert probseg_name("seg.nii.gz") == "seg_probseg.nii.gz"


def test_plan_bids_flat_and_single(tmp_path):
    root = tmp_path / "ds"
    _nii(root / "sub-01" / "ses-1" / "anat" / "sub-01_ses-1_rec-x_T2w.nii.gz")
    _nii(root / "sub-02" / "anat" / "sub-02_rec-x_T2w.nii.gz")
    _nii(root / "sub-02" / "anat" / "sub-02_rec-x_dseg.nii.gz")
    jobs = plan_jobs([root], tmp_path / "out", tmp_path / "post")
    assert [j.subject for j in jobs] == ["sub-01_ses-1", "sub-02"]
    assert jobs[0].output == tmp_path / "out" / "sub-01" / "ses-1" / "anat" / "sub-01_ses-1_rec-x_dseg.nii.gz"
    assert jobs[1].posteriors == tmp_path / "post" / "sub-02" / "anat" / "sub-02_rec-x_probseg.nii.gz"
    assert jobs[1].sidecar.name == "sub-02_rec-x_dseg.json"
    flat = tmp_path / "flat"  # files named sub-* without sub-* folders: not a BIDS dataset
    _nii(flat / "sub-07_T2w.nii.gz")
    _nii(flat / "other.nii")
    jobs = plan_jobs([flat], tmp_path / "o2")
    assert sorted(j.output.name for j in jobs) == ["other_dseg.nii.gz", "sub-07_dseg.nii.gz"]
    single = plan_jobs([flat / "other.nii"], tmp_path / "exact.nii.gz")
    assert single[0].output == tmp_path / "exact.nii.gz"


def test_plan_rejects_bad_outputs(tmp_path):
    a = _nii(tmp_path / "a" / "x.nii.gz")
    b = _nii(tmp_path / "b" / "x.nii.gz")
    with pytest.raises(InputError, match="same output"):
        plan_jobs([a, b], tmp_path / "out")
    with pytest.raises(InputError, match="output folder"):
        plan_jobs([a, tmp_path / "b"], tmp_path / "out.nii.gz")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        plan_jobs([a], tmp_path / "file")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="not a NIfTI"):
        plan_jobs([tmp_path / "notes.txt"], tmp_path / "out")
