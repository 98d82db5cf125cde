"""fetalseg.datasets: BIDS/FeTA discovery and participants.tsv parsing."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from fetalseg.datasets import discover, read_participants, subject_id
from fetalseg.errors import InputError


def _touch_nifti(p):
    p.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4)), p)


def test_discover_layout_sessions_and_optional_files(tmp_path):
    _touch_nifti(tmp_path / "sub-001/anat/sub-001_rec-mial_T2w.nii.gz")
    _touch_nifti(tmp_path / "sub-001/anat/sub-001_rec-mial_dseg.nii.gz")
    _touch_nifti(tmp_path / "sub-001/anat/sub-001_rec-mial_desc-brain_mask.nii.gz")
    _touch_nifti(tmp_path / "sub-002/anat/sub-002_rec-irtk_dseg.nii.gz")
    _touch_nifti(tmp_path / "sub-003/ses-1/anat/sub-003_ses-1_rec-x_T2w.nii.gz")
    (tmp_path / "participants.tsv").write_text(
        "participant_id\tGestational age\tPathology\tSite\nsub-001\t27.5\tNeurotypical\tA\n"
        "sub-002\tn/a\tPathological\tB\n")
    ds = discover(tmp_path)
    assert [s.id for s in ds] == ["sub-001", "sub-002", "sub-003_ses-1"]
    s1 = ds["sub-001"]
    assert s1.ga == 27.5 and s1.pathology == "Neurotypical" and s1.extra == {"Site": "A"}
    assert s1.files["desc-brain_mask"].name.endswith("brain_mask.nii.gz")
    assert ds["sub-002"].t2w is None and ds["sub-002"].ga is None
    assert ds["sub-003_ses-1"].ga is None
    assert [s.id for s in discover(tmp_path, require="both")] == ["sub-001"]
    assert ds.columns == ["participant_id", "Gestational age", "Pathology", "Site"]
    assert subject_id("sub-7_ses-2_rec-a_T2w.nii.gz") == "sub-7_ses-2"
    assert subject_id("foo.nii.gz") is None


@pytest.mark.parametrize(
    "text,match",
    [
        ("participant_id,Gestational age,Pathology\nsub-1,27,x\n", "missing column"),
        ("participant_id\tGestational age\tPathology\nsub-1\t27\n", "line 2 has 2 fields"),
        ("participant_id\tGestational age\tPathology\nsub-1\tabc\tx\n", "not a number"),
        ("participant_id\tGestational age\tPathology\nsub-1\t27\tx\nsub-1\t28\tx\n", "duplicate"),
        ("", "is empty"),
    ],
)
def test_malformed_participants_tsv(tmp_path, text, match):
    p = tmp_path / "participants.tsv"
    p.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        read_participants(p)
    assert str(p) in str(err.value)


def test_empty_dataset_is_an_error(tmp_path):
    (tmp_path / "sub-1" / "anat").mkdir(parents=True)
    with pytest.raises(InputError, match="no subjects found"):
        discover(tmp_path)


@pytest.mark.shared
def test_discover_sb_atlas(sb_atlas):
    from conftest import atlas_files

    atlas_files(sb_atlas, ("T2w", "dseg", "withcc", "mask"))  # skips on partial data
    ds = discover(sb_atlas, require="both")
    assert len(ds) == 15
    assert all(s.files.get("desc-withcc_dseg") and s.files.get("desc-brain_mask") for s in ds)
    assert sorted(s.ga for s in ds)[0] == 21 and all(s.pathology == "Pathological" for s in ds)
    assert all("Condition" in s.extra for s in ds)
