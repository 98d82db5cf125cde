"""The report with real `fetalseg biometry` outputs (skipped when the biometry module is not installed)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_report_shows_biometry_from_the_biometry_module(tmp_path):
    run = pytest.importorskip("fetalseg.biometry.run", reason="fetalseg.biometry is not installed")
    from fetalseg import norms
    from fetalseg.io import save_image
    from fetalseg.phantom import make_subject
    from fetalseg.report import write_reports

    root = tmp_path / "ds"
    anat = root / "sub-01" / "anat"
    s = make_subject(29.0, "normal", voxel=1.0, seed=3)
    save_image(s.image, anat / "sub-01_rec-sim_T2w.nii.gz", dtype=np.float32)
    save_image(s.labels, anat / "sub-01_rec-sim_dseg.nii.gz", dtype=np.uint8)
    (root / "participants.tsv").write_text("participant_id\tGestational age\tPathology\nsub-01\t29.0\tNeurotypical\n")
    run.run_biometry(root, tmp_path / "bio", seg=root)
    record = json.loads((tmp_path / "bio" / "sub-01_biometry.json").read_text())
    res = write_reports(root, tmp_path / "report", biometry=tmp_path / "bio")
    rows = {b["measure"]: b for b in res.contents[0].biometry}
    assert set(rows) == set(norms.MEASURES)
    for m, b in rows.items():
        v = record["measures"][m]["image_mm"]
        if v is None:
            assert b["value"] is None and b["reason"]
            continue
        assert b["value"] == pytest.approx(v)
        assert b["centile"] == pytest.approx(norms.centile(m, v, 29.0), abs=0.1)  # v is rounded in the JSON
    html = (tmp_path / "report" / "sub-01.html").read_text()
    assert "Biometry" in html and "growth chart" in html
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 3
    assert "Biometry of the cohort" in (tmp_path / "report" / "index.html").read_text()
