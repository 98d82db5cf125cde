"""``fetalseg phantom`` and make_cohort: dataset layout, formats, determinism, bad input."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from fetalseg.datasets import discover
from fetalseg.io import load_image, load_labels
from fetalseg.labels import GENERATION


def _tsv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _files(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from fetalseg.phantom import make_cohort

    root = tmp_path_factory.mktemp("cohort") / "ds"
    make_cohort(root, n=3, ga_range=(24, 34), pathologies=["normal", "vm", "acc"], sites=2, voxel=1.6, seed=5)
    return root


def test_cli_writes_a_feta_bids_dataset(cli, tmp_path):
    out = tmp_path / "sim"
    code, stdout, stderr = cli("phantom", "-o", out, "--n", "2", "--ga", "26:30", "--pathology", "sb,micro",
                               "--sites", "2", "--voxel", "1.6", "--seed", "1")
    assert code == 0, stderr
    ds = discover(out, require="both")
    assert [s.id for s in ds] == ["sub-001", "sub-002"]
    for s in ds:
        assert s.t2w.name == f"{s.id}_rec-sim_T2w.nii.gz"
        assert s.dseg.name == f"{s.id}_rec-sim_dseg.nii.gz"
        assert "desc-generation_dseg" in s.files
        assert 26.0 <= s.ga <= 30.0 and s.pathology == "Pathological"
        load_labels(s.dseg)  # valid FeTA label map
        load_image(s.files["desc-generation_dseg"], labels=GENERATION)
    rows = _tsv(out / "participants.tsv")
    assert list(rows[0]) == ["participant_id", "Gestational age", "Pathology", "Condition", "Severity", "Site",
                             "Quality", "Seed"]
    assert [r["Site"] for r in rows] == ["siteA", "siteB"]
    assert rows[0]["Condition"].startswith("Spina bifida") and rows[1]["Condition"] == "Microcephaly"
    assert all(0.0 <= float(r["Quality"]) <= 4.0 for r in rows)


def test_biometry_and_landmark_files(cohort):
    table = _tsv(cohort / "biometry.tsv")
    assert list(table[0]) == ["participant_id", "LCC", "HV", "bBIP", "sBIP", "TCD"]
    for row in table:
        sid = row["participant_id"]
        anat = cohort / sid / "anat"
        per = _tsv(anat / f"{sid}_rec-sim_biometry.tsv")
        assert list(per[0]) == ["LCC", "HV", "bBIP", "sBIP", "TCD"] and len(per) == 1
        marks = json.loads((anat / f"{sid}_rec-sim_landmarks.json").read_text())["measures"]
        for m in ("LCC", "HV", "bBIP", "sBIP", "TCD"):
            assert per[0][m] == row[m]
            if per[0][m] == "n/a":
                assert m == "LCC" and m not in marks  # agenesis of the corpus callosum
                continue
            a, b = marks[m]["points"]
            # the TSV rounds to 0.01 mm (error <= 0.005) and each landmark coordinate to 0.001 mm
            # (each end moves <= sqrt(3) * 0.0005 mm)
            bound = 0.005 + 2 * math.sqrt(3) * 0.0005
            assert math.dist(a, b) == pytest.approx(float(per[0][m]), abs=bound * 1.01)
            # landmarks lie inside the image's field of view
            img = load_image(anat / f"{sid}_rec-sim_T2w.nii.gz")
            for pt in (a, b):
                ijk = np.linalg.solve(img.affine, np.r_[pt, 1.0])[:3]
                assert np.all(ijk >= 0) and np.all(ijk <= np.array(img.shape) - 1)
    conds = [r["Condition"] for r in _tsv(cohort / "participants.tsv")]
    assert conds == ["Neurotypical", "Ventriculomegaly", "Agenesis of the corpus callosum"]


def test_same_seed_same_bytes(cohort, tmp_path):
    from fetalseg.phantom import make_cohort

    again = tmp_path / "ds"
    make_cohort(again, n=3, ga_range=(24, 34), pathologies=["normal", "vm", "acc"], sites=2, voxel=1.6, seed=5)
    a, b = _files(cohort), _files(again)
    assert [p.relative_to(cohort) for p in a] == [p.relative_to(again) for p in b]
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes(), x.name
    other = tmp_path / "other"
    make_cohort(other, n=1, ga_range=(24, 34), pathologies=["normal"], sites=2, voxel=1.6, seed=6)
    assert (other / "sub-001/anat/sub-001_rec-sim_T2w.nii.gz").read_bytes() != \
        (cohort / "sub-001/anat/sub-001_rec-sim_T2w.nii.gz").read_bytes()


@pytest.mark.parametrize("args, fragment", [
    (["--ga", "10:20"], "GA range"),
    (["--ga", "abc"], "--ga"),
    (["--pathology", "normal,hydro"], "unknown pathology"),
    (["--sites", "9"], "--sites"),
    (["--voxel", "7"], "voxel"),
    (["--n", "0"], "--n"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli, tmp_path, args, fragment):
    out = tmp_path / "bad"
    code, stdout, stderr = cli("phantom", "-o", out, *args)
    assert code == 2
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("fetalseg: error:") and fragment in lines[0]
    assert not out.exists()


def test_existing_outputs_are_not_overwritten(cli, tmp_path):
    out = tmp_path / "sim"
    assert cli("phantom", "-o", out, "--n", "1", "--voxel", "1.6")[0] == 0
    before = {p: p.read_bytes() for p in _files(out)}
    code, _, stderr = cli("phantom", "-o", out, "--n", "1", "--voxel", "1.6", "--seed", "3")
    assert code == 2 and "already exists" in stderr
    assert {p: p.read_bytes() for p in _files(out)} == before
    assert cli("phantom", "-o", out, "--n", "1", "--voxel", "1.6", "--seed", "3", "--overwrite")[0] == 0
    assert {p: p.read_bytes() for p in _files(out)} != before


def test_help_lists_the_command(cli):
    code, stdout, _ = cli("phantom", "--help")
    assert code == 0 and "--pathology" in stdout and "--sites" in stdout
