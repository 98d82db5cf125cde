"""Shared fixtures: tiny synthetic volumes, the shared sb-atlas data (skipped when absent), CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SB_ATLAS = SHARED_DATA / "sb-atlas"

# Two cores are shared by pytest-xdist workers: one thread each keeps runs predictable.
os.environ.setdefault("OMP_NUM_THREADS", "1")
try:  # torch is a hard dependency, but keep conftest importable without it
    import torch

    torch.set_num_threads(1)
except Exception:  # pragma: no cover
    pass


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
