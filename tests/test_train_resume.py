"""Resume: a run SIGKILLed after a checkpoint and resumed ends bit-identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fetalseg.train import load_checkpoint, read_log
from train_helpers import tiny_config

REPO = Path(__file__).resolve().parents[1]


def _train_cmd(cfg: Path, run: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "fetalseg.cli.main", "train", str(cfg), "-o", str(run), "--no-progress",
            "--device", "cpu", *extra]


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    return env


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(tmp_path):
    steps = 30
    cfg = tiny_config(tmp_path, steps=steps, every=6)
    full, killed = tmp_path / "full", tmp_path / "killed"

    subprocess.run(_train_cmd(cfg, full), check=True, env=_env(), timeout=300, capture_output=True)

    proc = subprocess.Popen(_train_cmd(cfg, killed), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    last = killed / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 240
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    step_at_kill = load_checkpoint(last)["step"]
    assert 6 <= step_at_kill < steps
    logged = read_log(killed / "log.csv")
    assert logged[-1]["step"] >= step_at_kill  # rows after the checkpoint exist and must be redone

    res = subprocess.run(_train_cmd(cfg, killed, "--resume"), env=_env(), timeout=300, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr

    a = load_checkpoint(full / "checkpoints" / "last.pt")
    b = load_checkpoint(killed / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == steps
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(sa[x], sb[x]) for x in ("exp_avg", "exp_avg_sq"))
    ra, rb = read_log(full / "log.csv"), read_log(killed / "log.csv")
    assert [r["step"] for r in rb] == list(range(1, steps + 1))
    assert [r["loss"] for r in ra] == [r["loss"] for r in rb]
    assert [r["val_mean"] for r in ra if r["val_mean"] == r["val_mean"]] == \
           [r["val_mean"] for r in rb if r["val_mean"] == r["val_mean"]]
    ba, bb = load_checkpoint(full / "checkpoints" / "best.pt"), load_checkpoint(killed / "checkpoints" / "best.pt")
    assert ba["step"] == bb["step"]


def test_resume_refuses_a_different_config(tmp_path, cli):
    cfg = tiny_config(tmp_path, steps=2, every=2)
    run = tmp_path / "run"
    assert cli("train", cfg, "-o", run, "--no-progress")[0] == 0
    code, _, err = cli("train", cfg, "-o", run, "--no-progress", "--resume", "--steps", "3")
    assert code == 2 and "steps" in err and "different config" in err
