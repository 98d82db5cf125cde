"""The shared-data gate: tests that need ../shared skip, naming a missing file, when the data are partial."""

from __future__ import annotations

import pytest

from conftest import atlas_files, atlas_subjects


def _partial_atlas(root):
    (root / "participants.tsv").write_text("participant_id\tGestational age\nsub-a\t21\nsub-b\t22\n")
    anat = root / "sub-a" / "anat"
    anat.mkdir(parents=True)
    for kind in ("T2w", "dseg"):
        (anat / f"sub-a_rec-atlas_{kind}.nii.gz").write_bytes(b"")
    return root


def test_complete_subjects_are_returned(tmp_path):
    root = _partial_atlas(tmp_path)
    assert atlas_subjects(root) == ["sub-a", "sub-b"]
    files = atlas_files(root, ("T2w", "dseg"), ["sub-a"])
    assert files["sub-a"]["dseg"] == root / "sub-a" / "anat" / "sub-a_rec-atlas_dseg.nii.gz"


@pytest.mark.parametrize("kinds, subjects", [(("T2w", "dseg"), None), (("withcc",), ["sub-a"])])
def test_partial_data_skip_naming_a_missing_file(tmp_path, kinds, subjects):
    root = _partial_atlas(tmp_path)
    with pytest.raises(pytest.skip.Exception, match="shared data incomplete.*missing, e.g. .*sub-"):
        atlas_files(root, kinds, subjects)

