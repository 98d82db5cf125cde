"""The one rule from named files and folders to NIfTI files (:func:`fetalseg.datasets.expand_inputs`),
and every command and config that reads inputs following it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fetalseg.datasets import expand_inputs, is_bids_folder, nifti_files
from fetalseg.errors import InputError


def _touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"")
    return p


@pytest.fixture
def tree(tmp_path):
    """A BIDS dataset (sessions, a label-only and an image-only subject) and a flat folder of BIDS-named files."""
    bids = tmp_path / "bids"
    for sid in ("sub-01", "sub-02"):
        _touch(bids / sid / "anat" / f"{sid}_rec-x_T2w.nii.gz")
        _touch(bids / sid / "anat" / f"{sid}_rec-x_dseg.nii.gz")
        _touch(bids / sid / "anat" / f"{sid}_rec-x_desc-withcc_dseg.nii.gz")
    _touch(bids / "sub-03" / "ses-2" / "anat" / "sub-03_ses-2_rec-x_T2w.nii.gz")  # no labels
    _touch(bids / "sub-04" / "anat" / "sub-04_rec-x_dseg.nii.gz")  # no image
    flat = tmp_path / "flat"
    for name in ("sub-02_rec-x_dseg.nii.gz", "sub-01_rec-x_dseg.nii.gz", "case.nii", "notes.txt"):
        _touch(flat / name)
    (flat / "misc.nii.gz").mkdir()  # a folder with a NIfTI-like name is not a file
    return bids, flat


def test_bids_folder_gives_the_requested_kind_per_subject(tree):
    bids, _ = tree
    assert is_bids_folder(bids) and not is_bids_folder(tree[1])
    t2w = expand_inputs([bids], kind="t2w")
    assert [f.subject for f in t2w] == ["sub-01", "sub-02", "sub-03_ses-2"]
    assert [f.relative.as_posix() for f in t2w][-1] == "sub-03/ses-2/anat/sub-03_ses-2_rec-x_T2w.nii.gz"
    assert all(f.bids_root == bids and f.path == bids / f.relative for f in t2w)
    assert [f.subject for f in expand_inputs([bids], kind="dseg")] == ["sub-01", "sub-02", "sub-04"]
    withcc = nifti_files([bids], kind="desc-withcc_dseg")
    assert [p.name for p in withcc] == ["sub-01_rec-x_desc-withcc_dseg.nii.gz", "sub-02_rec-x_desc-withcc_dseg.nii.gz"]
    assert [f.subject for f in expand_inputs([bids], kind="dseg", include=["sub-02", "sub-04"],
                                             exclude=["sub-04"])] == ["sub-02"]
    with pytest.raises(InputError, match="subject sub-03_ses-2 has no dseg file"):
        expand_inputs([bids], kind="dseg", strict=True)
    assert len(expand_inputs([bids], kind="dseg", strict=True, exclude=["sub-03_ses-2"])) == 3


def test_flat_folder_of_bids_named_files_is_not_a_dataset(tree):
    _, flat = tree
    found = expand_inputs([flat])
    assert [f.path.name for f in found] == ["case.nii", "sub-01_rec-x_dseg.nii.gz", "sub-02_rec-x_dseg.nii.gz"]
    assert [f.subject for f in found] == ["case", "sub-01", "sub-02"]
    assert all(f.bids_root is None and f.relative == Path(f.path.name) for f in found)


def test_files_are_kept_in_order_and_bad_paths_are_input_errors(tree, tmp_path):
    bids, flat = tree
    files = [flat / "sub-02_rec-x_dseg.nii.gz", flat / "case.nii"]
    assert nifti_files([*files, bids], kind="dseg")[:2] == files
    for bad, phrase in ((tmp_path / "nope.nii.gz", "file not found"), (flat / "notes.txt", "not a NIfTI file"),
                        (_touch(tmp_path / "empty" / "a.txt").parent, "no NIfTI files"),
                        ((tmp_path / "nosubj" / "sub-01").mkdir(parents=True) or tmp_path / "nosubj",
                         "no subjects found")):
        with pytest.raises(InputError, match=phrase) as err:
            expand_inputs([bad])
        assert err.value.path == str(bad)


def test_every_reader_of_inputs_follows_the_rule(tree, tmp_path):
    """Segment (jobs), evaluate, synth and training datasets expand the same inputs the same way."""
    from fetalseg.infer.batch import plan_jobs
    from fetalseg.metrics.files import FileEvaluation
    from fetalseg.synth.pairs import plan_pairs
    from fetalseg.synth.weights_file import group_inputs
    from fetalseg.train.config import DatasetSpec
    from fetalseg.train.data import dataset_files

    bids, flat = tree
    for inputs in ([bids], [flat], [flat / "case.nii", bids]):
        assert [j.input for j in plan_jobs(inputs, tmp_path / "out")] == nifti_files(inputs, kind="t2w")
        dseg = nifti_files(inputs, kind="dseg")
        assert plan_pairs(inputs, tmp_path / "synth", n=2).files == dseg
    for folder in (bids, flat):  # evaluate: each side's files (paired with themselves, by subject)
        ev = FileEvaluation(folder, folder)
        assert [p for _, p, _ in ev.pairs] == [r for _, _, r in ev.pairs] == nifti_files([folder], kind="dseg")
    # synth weights: one dataset per folder, the loose files last
    assert group_inputs([flat / "case.nii", bids, flat]) == [nifti_files([bids], kind="dseg"),
                                                             nifti_files([flat], kind="dseg"), [flat / "case.nii"]]
    assert dataset_files(DatasetSpec(paths=[str(flat)])) == nifti_files([flat], kind="dseg")
    spec = DatasetSpec(paths=[str(bids)], labels_key="desc-withcc_dseg", exclude=["sub-03_ses-2", "sub-04"])
    assert dataset_files(spec) == nifti_files([bids], kind="desc-withcc_dseg")
