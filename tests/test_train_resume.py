"""Resume: a run SIGKILLed after a checkpoint and resumed ends bit-identical to an uninterrupted run.

The run kills itself (a real SIGKILL, no clean-up) when it asks for the batch of a chosen step, so the
kill point does not depend on how fast the machine is or how a polling parent is scheduled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fetalseg.train import load_checkpoint, read_log
from train_helpers import tiny_config

REPO = Path(__file__).resolve().parents[1]


def _train_cmd(cfg: Path, run: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "fetalseg.cli.main", "train", str(cfg), "-o", str(run), "--no-progress",
            "--device", "cpu", *extra]


# ``fetalseg train`` that SIGKILLs itself when the batch of step KILL_AT (0-based) is requested
KILLER = """
import os, signal, sys
from fetalseg.train.data import SynthSource
kill_at, real = int(sys.argv.pop(1)), SynthSource.next_batch
def next_batch(self, step):
    if step == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, step)
SynthSource.next_batch = next_batch
from fetalseg.cli.main import run
run(sys.argv[1:])
"""


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    return env


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(tmp_path):
    steps = 18
    cfg = tiny_config(tmp_path, steps=steps, every=6)
    full, killed = tmp_path / "full", tmp_path / "killed"

    subprocess.run(_train_cmd(cfg, full), check=True, env=_env(), timeout=300, capture_output=True)

    kill_at = 10  # steps 1-10 done, checkpoint at 6: rows 7-10 are logged and must be redone
    cmd = _train_cmd(cfg, killed)
    res = subprocess.run([cmd[0], "-c", KILLER, str(kill_at), *cmd[3:]], env=_env(), timeout=300,
                         capture_output=True, text=True)
    assert res.returncode == -signal.SIGKILL, res.stderr
    last = killed / "checkpoints" / "last.pt"
    assert load_checkpoint(last)["step"] == 6
    assert read_log(killed / "log.csv")[-1]["step"] == kill_at

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
