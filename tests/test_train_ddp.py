"""DDP: `fetalseg train` under torchrun with 2 CPU processes (gloo) equals one process on both ranks' batches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fetalseg.train import load_checkpoint, read_log
from train_helpers import tiny_config

REPO = Path(__file__).resolve().parents[1]


def _oracle(cfg, world: int):
    """Plain single-process SGD where each step's batch is the concatenation of every rank's batch.

    With per-sample Dice and a voxel-mean cross-entropy over equally sized samples, the loss of the
    concatenated batch is the mean of the ranks' losses, so its gradient is DDP's averaged gradient.
    """
    from fetalseg.nets import build_network
    from fetalseg.train import DeepSupervisionLoss, SynthSource
    from fetalseg.train.loop import PolyDecay, make_optimiser

    sources = [SynthSource.from_config(cfg, rank=r) for r in range(world)]
    torch.manual_seed(cfg.seed)
    net = build_network(cfg.network).train()
    opt = make_optimiser(net.parameters(), cfg.optim)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, PolyDecay(cfg.steps, cfg.optim.poly_power))
    crit = DeepSupervisionLoss(net.n_outputs)
    losses = []
    for step in range(cfg.steps):
        batches = [s.next_batch(step) for s in sources]
        x = torch.cat([b[0] for b in batches])
        y = torch.cat([b[1] for b in batches])
        loss = crit(net(x), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.optim.grad_clip)
        opt.step()
        sched.step()
        losses.append(loss.item())
    return net.state_dict(), losses


@pytest.mark.slow
def test_torchrun_two_cpu_processes_match_single_process_oracle(tmp_path):
    from fetalseg.train import TrainConfig

    steps = 4
    cfg_path = tiny_config(tmp_path, steps=steps, every=2, bf16=False,
                           optim={"name": "sgd", "lr": 0.01, "momentum": 0.9})
    run = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "fetalseg.cli.main", "train", str(cfg_path), "-o", str(run), "--no-progress", "--device", "cpu"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]

    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["step"] == steps and ckpt["extra"]["world_size"] == 2
    rows = read_log(run / "log.csv")
    assert [r["step"] for r in rows] == list(range(1, steps + 1))  # only rank 0 writes

    cfg = TrainConfig.from_yaml(cfg_path)
    want, _ = _oracle(cfg, world=2)
    single, _ = _oracle(cfg, world=1)
    for k, v in want.items():
        torch.testing.assert_close(ckpt["model"][k], v, rtol=1e-4, atol=1e-5, msg=k)
    # and the second rank's samples mattered: one rank alone trains to different weights
    assert any(not torch.allclose(ckpt["model"][k], single[k], atol=1e-5) for k in single)
