"""Shared fixtures: tiny synthetic volumes, the shared sb-atlas data (skipped when absent), CLI runner."""

from __future__ import annotations

import os

# Two cores are shared by pytest-xdist workers: one thread each keeps runs predictable. Set before any
# numerical import here; the variables reach the xdist workers and subprocesses when they start. A pytest
# plugin (jaxtyping) has already imported NumPy in this process, so the thread pools of libraries loaded
# before this file are limited at run time below (threadpoolctl), and torch explicitly.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SB_ATLAS = SHARED_DATA / "sb-atlas"

try:  # scikit-learn's dependency: limits the BLAS/OpenMP pools already loaded (NumPy's OpenBLAS)
    from threadpoolctl import threadpool_limits

    threadpool_limits(int(os.environ["OMP_NUM_THREADS"]))
except ImportError:  # pragma: no cover
    pass
try:  # property tests draw the same examples on every run and machine (a failure names a real input, not luck);
    # HYPOTHESIS_PROFILE=explore draws fresh ones and keeps a database of failures
    from hypothesis import settings as _hyp_settings

    _hyp_settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
    _hyp_settings.register_profile("explore", derandomize=False)
    _hyp_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
except ImportError:  # pragma: no cover
    pass
try:  # torch is a hard dependency, but keep conftest importable without it
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(autouse=True)
def _simulated_cpu_bf16(monkeypatch):
    """``FETALSEG_TEST_CPU_BF16=0`` (or ``1``) makes in-process training see a CPU without (with) native bf16,
    so the suite can be run both ways on one machine (``bf16: auto`` follows the CPU)."""
    want = os.environ.get("FETALSEG_TEST_CPU_BF16")
    if want is not None:
        from fetalseg.train.loop import use_bf16

        monkeypatch.setitem(use_bf16.__globals__, "cpu_has_bf16", lambda: want == "1")
    yield


@pytest.fixture(scope="session")
def sb_atlas() -> Path:
    """Folder of the shared spina bifida atlas; skips the test when ../shared is absent."""
    if not (SB_ATLAS / "participants.tsv").exists():
        pytest.skip(f"shared data not found at {SB_ATLAS} (tests that need the sb-atlas are skipped)")
    return SB_ATLAS


@pytest.fixture(scope="session")
def biometry_norms_tsv() -> Path:
    p = SHARED_DATA / "biometry-norms.tsv"
    if not p.exists():
        pytest.skip(f"shared data not found at {p}")
    return p


SHARED_FIXTURES = {"sb_atlas", "biometry_norms_tsv"}


def pytest_collection_modifyitems(items):
    """Every test that uses the shared data carries the ``shared`` marker (``-m "not shared"`` deselects it)."""
    for item in items:
        if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared)


# atlas file kinds: FeTA layout ``sub-X/anat/sub-X_rec-atlas_<kind>.nii.gz`` (see the atlas README)
ATLAS_KINDS = {"T2w": "T2w", "dseg": "dseg", "withcc": "desc-withcc_dseg", "mask": "desc-brain_mask"}


def atlas_subjects(sb_atlas: Path) -> list[str]:
    """Participant ids listed in the atlas's participants.tsv."""
    lines = (sb_atlas / "participants.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [ln.split("\t")[0] for ln in lines if ln.strip()]


def atlas_files(sb_atlas: Path, kinds=("T2w", "dseg"), subjects=None) -> dict[str, dict[str, Path]]:
    """``{subject: {kind: path}}`` of the shared atlas (all participants unless ``subjects`` is given).

    Skips the calling test, naming a missing file, when the shared data are only partly there.
    """
    subjects = atlas_subjects(sb_atlas) if subjects is None else list(subjects)
    out = {s: {k: sb_atlas / s / "anat" / f"{s}_rec-atlas_{ATLAS_KINDS[k]}.nii.gz" for k in kinds}
           for s in subjects}
    missing = [p for files in out.values() for p in files.values() if not p.is_file()]
    if not subjects or missing:
        pytest.skip(f"shared data incomplete at {sb_atlas}: "
                    + (f"{len(missing)} file(s) missing, e.g. {missing[0]}" if missing else "no participants"))
    return out


@pytest.fixture
def cli(tmp_path):
    """Run ``fetalseg ARGS`` in-process through the real entry point; returns (exit code, stdout, stderr)."""
    import contextlib
    import io
    import sys

    from fetalseg.cli.main import run

    def invoke(*args: str):
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            old = sys.argv
            sys.argv = ["fetalseg", *map(str, args)]
            try:
                run([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            finally:
                sys.argv = old
        return code, out.getvalue(), err.getvalue()

    return invoke


def make_labels(shape=(24, 28, 20)) -> np.ndarray:
    """A small FeTA-like label map of nested ellipsoids and half-spaces, values 0-7."""
    lab = np.zeros(shape, np.uint8)
    x, y, z = np.indices(shape)
    c = np.array(shape) / 2
    r = np.sqrt(((x - c[0]) / shape[0]) ** 2 + ((y - c[1]) / shape[1]) ** 2 + ((z - c[2]) / shape[2]) ** 2)
    lab[r < 0.45] = 1
    lab[r < 0.38] = 2
    lab[r < 0.33] = 3
    lab[r < 0.12] = 4
    lab[(r < 0.3) & (x < c[0] - 3)] = 6
    lab[(r < 0.3) & (z < c[2] - 5)] = 5
    lab[(r < 0.2) & (z < c[2] - 3) & (y > c[1])] = 7
    return lab
