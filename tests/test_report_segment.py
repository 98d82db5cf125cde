"""``fetalseg segment --report DIR``: segmentation followed by the HTML report of the segmented subjects."""

from __future__ import annotations

import re

import nibabel as nib
import pytest

from badinput import assert_clean_error
from test_cli_segment import tiny_model  # noqa: F401  (the fixture: a tiny exported network)
from test_infer_helpers import affine, phantom_image

pytestmark = pytest.mark.slow  # segments with a tiny network first


def _bids(root, n=2, shape=(22, 26, 20)):
    for i in range(1, n + 1):
        img, _ = phantom_image(shape, affine(shape=shape))
        p = root / f"sub-0{i}" / "anat" / f"sub-0{i}_rec-x_T2w.nii.gz"
        p.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(img.data, img.affine), str(p))
    (root / "participants.tsv").write_text("participant_id\tGestational age\tPathology\n"
                                           "sub-01\t25\tNeurotypical\nsub-02\t31.5\tPathological\n")
    return root


def test_segment_report(cli, tmp_path, tiny_model):
    src = _bids(tmp_path / "in")
    out, rep = tmp_path / "seg", tmp_path / "report"
    code, stdout, err = cli("segment", src, "-o", out, "--model", tiny_model, "--report", rep, "--quiet")
    assert code == 0, err
    assert f"report: {rep / 'index.html'}" in stdout
    assert sorted(p.name for p in rep.iterdir()) == ["index.html", "sub-01.html", "sub-02.html"]
    page = (rep / "sub-02.html").read_text()
    assert "31.5 weeks" in page and "Pathological" in page  # GA from the source dataset via the sidecar
    assert str(src / "sub-02" / "anat" / "sub-02_rec-x_T2w.nii.gz") in page
    assert "QC score (0 is best)" in page  # QC read from the segmentation sidecar
    scores = [float(s) for s in re.findall(r'<td class="(?:bad|ok)">([0-9.e+-]+)</td>', (rep / "index.html").read_text())]
    assert len(scores) == 2 and scores == sorted(scores, reverse=True)


def test_segment_report_refuses_existing_index_before_segmenting(cli, tmp_path, tiny_model):
    src = _bids(tmp_path / "in", n=1)
    rep = tmp_path / "report"
    rep.mkdir()
    (rep / "index.html").write_text("mine")
    out = tmp_path / "seg"
    code, stdout, err = cli("segment", src, "-o", out, "--model", tiny_model, "--report", rep)
    assert_clean_error(code, stdout, err, rep / "index.html", "--overwrite")
    assert not out.exists() and (rep / "index.html").read_text() == "mine"
