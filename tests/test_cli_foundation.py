"""CLI of the foundation: --help content and light imports, info, relabel, resample, and the bad-input battery.

The start-up time of ``fetalseg --help`` is a figure of benchmarks/bench_cli.py, not a unit test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from badinput import BAD_KINDS, assert_clean_error, make_bad
from conftest import REPO, make_labels


def test_help_lists_commands_without_heavy_imports():
    exe = Path(sys.executable).with_name("fetalseg")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "fetalseg.cli.main"]
    res = subprocess.run(cmd + ["--help"], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0
    for name in ("info", "relabel", "resample"):
        assert name in res.stdout
    # heavy modules must not be imported for --help
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys; from fetalseg.cli import main; "
         "print(sorted(m for m in ('torch','sklearn','matplotlib','monai','scipy','nibabel') if m in sys.modules))"],
        capture_output=True, text=True)
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr


def _commands(bad: Path, tmp_path: Path, kind: str):
    out = tmp_path / "out" / "x.nii.gz"
    labels_flag = ["--labels"] if kind == "bad-labels" else []
    return {
        "info": ["info", bad, *labels_flag],
        "relabel": ["relabel", bad, "-o", out, "--from", "feta"],
        "resample": ["resample", bad, "-o", out, "--voxel", "1.0", *labels_flag],
    }, out


@pytest.mark.parametrize(
    "kind,command",
    [(k, c) for k in BAD_KINDS for c in ("info", "relabel", "resample") if k != "empty-dir" or c == "info"],
)
def test_bad_input_battery(cli, tmp_path, kind, command):
    bad, phrase = make_bad(kind, tmp_path / "in")
    cmds, out = _commands(bad, tmp_path, kind)
    code, stdout, stderr = cli(*cmds[command])
    assert_clean_error(code, stdout, stderr, bad, phrase)
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_debug_shows_traceback(cli, tmp_path):
    bad, _ = make_bad("nan", tmp_path)
    with pytest.raises(Exception, match="NaN"):
        cli("--debug", "info", bad)


def test_relabel_and_resample_round_trip(cli, tmp_path):
    withcc = make_labels((16, 14, 12))
    withcc[withcc == 3] = 8  # some "corpus callosum"
    src = tmp_path / "sub-1_rec-x_desc-withcc_dseg.nii.gz"
    nib.save(nib.Nifti1Image(withcc, np.diag([0.8, 0.8, 0.8, 1])), src)
    out = tmp_path / "feta.nii.gz"
    code, _, err = cli("relabel", src, "-o", out)
    assert code == 0, err
    feta = np.asanyarray(nib.load(out).dataobj)
    lut = np.array([0, 3, 4, 5, 1, 2, 6, 7, 3])
    assert np.array_equal(feta, lut[withcc])
    code, _, err = cli("relabel", src, "-o", out)
    assert code == 2 and "already exists" in err
    up = tmp_path / "up.nii.gz"
    assert cli("resample", out, "-o", up, "--voxel", "0.4", "--labels")[0] == 0
    back = tmp_path / "back.nii.gz"
    assert cli("resample", up, "-o", back, "--like", out, "--labels", "--interp", "nearest")[0] == 0
    # 2x upsampling then nearest back to the original centres: labels agree almost everywhere
    agree = (np.asanyarray(nib.load(back).dataobj) == feta).mean()
    assert agree > 0.9
