"""HTML reports: self-contained pages, QC-sorted index, volumes and topology against oracles, warnings, bad input."""

from __future__ import annotations

import base64
import io
import json
import re

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from badinput import assert_clean_error, make_bad
from conftest import make_labels
from fetalseg.report import write_reports

SHAPE = (32, 36, 30)
AFFINE = np.diag([0.9, 0.9, 0.9, 1.0])
QC = {"sub-01": 0.05, "sub-02": 3.0, "sub-03": 0.5}


def _save(path, data, dtype):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data, dtype), AFFINE), str(path))
    return path


def make_segmented(root, qc=QC, ga=(24.0, 30.5, 33.0)):
    """A BIDS image folder and a `fetalseg segment`-like output (dseg + JSON sidecar) for each subject.

    sub-02's cerebellum gets a second component (topology error); sub-03 has no brainstem (missing label).
    """
    rng = np.random.default_rng(0)
    src, seg = root / "images", root / "seg"
    lines = ["participant_id\tGestational age\tPathology"]
    for k, (sid, score) in enumerate(qc.items()):
        lab = make_labels(SHAPE)
        if sid == "sub-02":
            lab[2:4, 2:4, 2:4] = 5
        if sid == "sub-03":
            lab[lab == 7] = 3
        img = lab.astype(np.float32) * 40 + rng.normal(0, 5, SHAPE)
        t2w = _save(src / sid / "anat" / f"{sid}_rec-x_T2w.nii.gz", img, np.float32)
        dseg = _save(seg / sid / "anat" / f"{sid}_rec-x_dseg.nii.gz", lab, np.uint8)
        side = {"Sources": [str(t2w)], "models": [{"name": "tiny"}],
                "qc": {"members": 2, "agreement": 0.9, "topology_errors": 1, "relabelled_fraction": 0.01,
                       "qc_score": score, "qc_flag": score > 0.1}}
        dseg.with_name(f"{sid}_rec-x_dseg.json").write_text(json.dumps(side))
        lines.append(f"{sid}\t{ga[k]}\t{'Pathological' if k else 'Neurotypical'}")
    (src / "participants.tsv").write_text("\n".join(lines) + "\n")
    return src, seg


def pngs(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_pages_are_self_contained_and_index_sorted_by_qc(tmp_path):
    from PIL import Image as PILImage

    _, seg = make_segmented(tmp_path)
    out = tmp_path / "report"
    res = write_reports(seg, out)
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "sub-01.html", "sub-02.html", "sub-03.html"]
    for page in out.iterdir():
        html = page.read_text()
        assert "<script" not in html.lower() and "<link" not in html.lower()
        # every src/href is an embedded image or a sibling page: nothing is fetched from elsewhere
        refs = re.findall(r'(?:src|href)="([^"]*)"', html)
        assert refs and all(r.startswith("data:image/png;base64,") or (out / r).is_file() for r in refs), refs
        for png in pngs(html):
            with PILImage.open(io.BytesIO(png)) as im:
                im.load()
                assert im.format == "PNG" and min(im.size) > 10
    index = (out / "index.html").read_text()
    order = [index.index(f'href="{s}.html"') for s in ("sub-02", "sub-03", "sub-01")]
    assert order == sorted(order)  # worst QC first
    assert len(pngs(index)) == 3 and len(pngs((out / "sub-01.html").read_text())) == 2
    assert res.index == out / "index.html"


def test_volumes_topology_and_warnings_against_oracles(tmp_path):
    _, seg = make_segmented(tmp_path)
    res = write_reports(seg, tmp_path / "report")
    by = {c.id: c for c in res.contents}
    lab = np.asarray(nib.load(str(seg / "sub-02" / "anat" / "sub-02_rec-x_dseg.nii.gz")).dataobj)
    for r in by["sub-02"].labels:
        assert r["volume_mm3"] == pytest.approx(np.count_nonzero(lab == r["value"]) * 0.9**3)
        n_comp = ndimage.label(lab == r["value"])[1]  # 6-connected components
        assert r["betti"][0] == n_comp
    cbm = next(r for r in by["sub-02"].labels if r["short"] == "cbm")
    assert cbm["betti"][0] == 2 and not cbm["topology_ok"]
    assert any("Topology differs" in w and "cbm (2, 0, 0)" in w for w in by["sub-02"].warnings)
    assert any("QC score 3 is above the review threshold 0.1" in w for w in by["sub-02"].warnings)
    assert any("missing from the segmentation: bs" in w for w in by["sub-03"].warnings)
    assert not any("QC score" in w for w in by["sub-01"].warnings)
    assert by["sub-01"].inputs.ga == 24.0 and by["sub-02"].inputs.pathology == "Pathological"
    page = (tmp_path / "report" / "sub-02.html").read_text()
    assert "differs" in page and "Warnings" in page and "30.5 weeks" in page


def _has_biometry_chart() -> bool:
    import importlib

    try:
        return hasattr(importlib.import_module("fetalseg.biometry.chart"), "growth_chart_png")
    except ImportError:
        return False


def test_biometry_json_gives_centiles_warnings_and_chart(tmp_path):
    """A `fetalseg biometry` JSON (format of fetalseg.biometry.formats.subject_record) next to the label map."""
    from fetalseg import norms

    _, seg = make_segmented(tmp_path)
    far = norms.norm_mean("TCD", 30.5) + 3 * norms.norm_sd("TCD", 30.5)
    near = norms.norm_mean("bBIP", 30.5)
    (seg / "sub-02" / "anat" / "sub-02_biometry.json").write_text(json.dumps(
        {"participant_id": "sub-02", "ga_weeks": 30.5, "measures": {
            "TCD": {"image_mm": far, "fused_mm": far - 1.0},  # z and centile left for the report to compute
            "bBIP": {"image_mm": near, "fused_mm": near, "z": 0.0, "centile": 50.0, "flag": "normal"},
            "LCC": {"image_mm": None, "fused_mm": None, "reason": "no corpus callosum at the midline"}}}))
    res = write_reports(seg, tmp_path / "report")
    c = next(c for c in res.contents if c.id == "sub-02")
    rows = {b["measure"]: b for b in c.biometry}
    assert set(rows) == {"TCD", "bBIP", "LCC"}
    assert rows["TCD"]["z"] == pytest.approx(3.0) and rows["TCD"]["centile"] == pytest.approx(99.865, abs=0.01)
    assert rows["TCD"]["flag"] == "high" and rows["TCD"]["outside"] and not rows["bBIP"]["outside"]
    assert rows["LCC"]["value"] is None and not rows["LCC"]["outside"]
    assert any(w.startswith("TCD = ") and "outside the 3rd-97th centile" in w for w in c.warnings)
    assert any("LCC not measured: no corpus callosum at the midline" in w for w in c.warnings)
    html = (tmp_path / "report" / "sub-02.html").read_text()
    assert "Biometry" in html and "no corpus callosum at the midline" in html
    chart = _has_biometry_chart()  # the growth chart comes from fetalseg.biometry when it is installed
    assert len(pngs(html)) == (3 if chart else 2)
    assert ("Biometry of the cohort" in (tmp_path / "report" / "index.html").read_text()) == chart


def test_single_label_map_without_sidecar_or_image(tmp_path):
    lab = make_labels(SHAPE)
    f = _save(tmp_path / "flat" / "case7_dseg.nii.gz", lab, np.uint8)
    res = write_reports(f, tmp_path / "report")
    c = res.contents[0]
    assert c.id == "case7" and c.qc_score is None and c.inputs.image is None
    assert any("No image found" in w for w in c.warnings) and any("Gestational age unknown" in w for w in c.warnings)
    assert (tmp_path / "report" / "case7.html").exists()


def test_cli_report_and_bad_input(cli, tmp_path):
    src, seg = make_segmented(tmp_path)
    out = tmp_path / "report"
    code, stdout, err = cli("report", seg, "-o", out)
    assert code == 0, err
    assert f"index: {out / 'index.html'}" in stdout and "2 flagged for review (sub-02, sub-03)" in stdout
    code, stdout, err = cli("report", seg, "-o", out)
    assert_clean_error(code, stdout, err, out / "index.html", "--overwrite")
    bad, phrase = make_bad("bad-labels", tmp_path / "bad")
    code, stdout, err = cli("report", bad, "-o", tmp_path / "r2")
    assert_clean_error(code, stdout, err, bad, phrase)
    assert not (tmp_path / "r2").exists()
    code, stdout, err = cli("report", tmp_path / "nothing", "-o", tmp_path / "r3")
    assert_clean_error(code, stdout, err, tmp_path / "nothing", "not found")


def test_image_on_another_grid_is_refused_before_writing(cli, tmp_path):
    src, seg = make_segmented(tmp_path)
    img = src / "sub-03" / "anat" / "sub-03_rec-x_T2w.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((20, 20, 20), np.float32), AFFINE), str(img))
    code, stdout, err = cli("report", seg, "-o", tmp_path / "r")
    assert_clean_error(code, stdout, err, img, "grid differs from the label map")
    assert not (tmp_path / "r").exists()


def test_flat_label_maps_with_images_and_participants_options(cli, tmp_path):
    """Label maps without sidecars in a flat folder: image and GA come from the `images` and `participants` options."""
    src, seg = make_segmented(tmp_path)
    flat = tmp_path / "flat"
    flat.mkdir()
    for sid in ("sub-01", "sub-03"):
        (flat / f"{sid}_rec-x_dseg.nii.gz").write_bytes((seg / sid / "anat" / f"{sid}_rec-x_dseg.nii.gz").read_bytes())
    res = write_reports(flat, tmp_path / "r1", images=src, participants=src / "participants.tsv")
    by = {c.id: c for c in res.contents}
    assert by["sub-03"].inputs.image == src / "sub-03" / "anat" / "sub-03_rec-x_T2w.nii.gz"
    assert by["sub-03"].inputs.ga == 33.0 and by["sub-01"].qc_score is None
    assert not any("No image found" in w for w in by["sub-01"].warnings)
    code, stdout, err = cli("report", flat, "-o", tmp_path / "r2", "--participants", tmp_path / "none.tsv")
    assert_clean_error(code, stdout, err, tmp_path / "none.tsv", "not found")


def test_malformed_biometry_json_is_one_line_error(cli, tmp_path):
    _, seg = make_segmented(tmp_path)
    bad = seg / "sub-01" / "anat" / "sub-01_biometry.json"
    bad.write_text("{not json")
    code, stdout, err = cli("report", seg, "-o", tmp_path / "r")
    assert_clean_error(code, stdout, err, bad, "not a readable biometry JSON")
    bad.write_text(json.dumps({"ga_weeks": 30}))
    code, stdout, err = cli("report", seg, "-o", tmp_path / "r")
    assert_clean_error(code, stdout, err, bad, "no 'measures' object")
    assert not (tmp_path / "r").exists()
