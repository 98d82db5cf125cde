"""The bad-input battery: files that every command reading NIfTI must reject with one line and exit 2.

``make_bad(kind, folder)`` writes one bad input and returns ``(path, expected phrase)``. Command tests
import ``BAD_KINDS`` and ``make_bad`` and check exit code 2, a single stderr line naming the file and
the problem, no traceback, and no output written.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np

BAD_KINDS = ("missing", "not-nifti", "truncated", "4d", "2d", "nan", "zero-axis", "singular", "bad-labels", "empty-dir")


def make_bad(kind: str, folder: Path) -> tuple[Path, str]:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"sub-bad_rec-x_T2w.nii.gz"
    good = np.zeros((12, 12, 12), np.float32)
    good[3:9, 3:9, 3:9] = 1
    if kind == "missing":
        return folder / "sub-none_rec-x_T2w.nii.gz", "not found"
    if kind == "not-nifti":
        p.write_bytes(gzip.compress(b"this is not an image" * 40))
        return p, "not a readable NIfTI"
    if kind == "truncated":
        nib.save(nib.Nifti1Image(np.random.default_rng(0).random((20, 20, 20)).astype(np.float32), np.eye(4)), p)
        raw = p.read_bytes()
        p.write_bytes(raw[: len(raw) // 2])
        return p, "truncated"
    if kind == "4d":
        nib.save(nib.Nifti1Image(np.zeros((6, 6, 6, 3), np.float32), np.eye(4)), p)
        return p, "expected a 3-D volume"
    if kind == "2d":
        nib.save(nib.Nifti1Image(np.zeros((6, 6), np.float32), np.eye(4)), p)
        return p, "expected a 3-D volume"
    if kind == "nan":
        data = good.copy()
        data[5, 5, 5] = np.nan
        data[6, 6, 6] = np.inf
        nib.save(nib.Nifti1Image(data, np.eye(4)), p)
        return p, "NaN/Inf"
    if kind == "zero-axis":
        nib.save(nib.Nifti1Image(np.zeros((6, 0, 6), np.float32), np.eye(4)), p)
        return p, "zero-length axis"
    if kind == "singular":
        img = nib.Nifti1Image(good, np.eye(4))
        nib.save(img, p)
        # write a zero third row into the sform and disable the qform, bypassing nibabel's checks
        hdr = nib.Nifti1Header.from_fileobj(gzip.open(p))
        hdr["qform_code"] = 0
        hdr["sform_code"] = 1
        hdr["srow_z"] = [0, 0, 0, 0]
        with gzip.open(p, "wb") as f:
            hdr.write_to(f)
            f.write(b"\x00" * (int(hdr["vox_offset"]) - 348))
            f.write(good.tobytes(order="F"))
        return p, "singular"
    if kind == "bad-labels":
        lab = np.zeros((12, 12, 12), np.uint8)
        lab[4:8, 4:8, 4:8] = 42
        q = folder / "sub-bad_rec-x_dseg.nii.gz"
        nib.save(nib.Nifti1Image(lab, np.eye(4)), q)
        return q, "outside the FeTA table"
    if kind == "empty-dir":
        d = folder / "dataset"
        (d / "sub-01" / "anat").mkdir(parents=True, exist_ok=True)
        return d, "no subjects found"
    raise ValueError(kind)


def assert_clean_error(code: int, out: str, err: str, path: Path, phrase: str) -> None:
    """Exit 2, one stderr line naming ``path`` and containing ``phrase``, no traceback."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    assert str(path) in lines[0] and phrase in lines[0], lines[0]
    assert "Traceback" not in err + out


# --- as a user runs it: a subprocess of the installed command -----------------------------------------
def fetalseg_command() -> list[str]:
    """The ``fetalseg`` console script next to this interpreter (else ``python -m fetalseg.cli.main``)."""
    import sys

    exe = Path(sys.executable).with_name("fetalseg")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "fetalseg.cli.main"]


def run_as_user(args, cwd: Path, timeout: float = 300) -> tuple[int, str, str]:
    """Run ``fetalseg ARGS`` in a fresh process in ``cwd`` (warnings and stderr as a user sees them)."""
    import subprocess

    res = subprocess.run(fetalseg_command() + [str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                         timeout=timeout)
    return res.returncode, res.stdout, res.stderr


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder below ``folder`` with its size and modification time (to prove nothing was written)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(folder))] = (st.st_size if p.is_file() else -1, st.st_mtime_ns)
    return out


def assert_one_line_error(code: int, out: str, err: str, phrase: str, path: Path | None = None) -> None:
    """Exit 2 and exactly one stderr line ``fetalseg: error: ...`` holding ``phrase`` (and ``path``), no traceback."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("fetalseg: error: "), lines[0]
    assert phrase in lines[0], (phrase, lines[0])
    assert path is None or str(path) in lines[0], (str(path), lines[0])
    assert "Traceback" not in out + err
