"""Training speed and memory: step time and peak memory of the network (forward + deep-supervision loss +
backward + AdamW step) with and without bf16 autocast, on the CPU and, when present, the GPU.

    python benchmarks/bench_train.py [--preset default] [--patch 128] [--steps 3] [--threads 2] [--synth]

Each configuration runs in a fresh process so that peak memory (CPU: peak RSS, GPU: peak allocated)
belongs to it alone. Inputs are random (:class:`fetalseg.train.RandomSource`): synthesis time is
reported separately with ``--synth`` (one sample from an sb-atlas label map, when the shared data exists).
The ratio column is against fp32 on the same device in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def worker(args) -> None:
    import resource

    import torch

    torch.set_num_threads(args.threads)
    from fetalseg.nets import build_network
    from fetalseg.train import DeepSupervisionLoss, RandomSource

    dev = torch.device(args.device)
    torch.manual_seed(0)
    net = build_network(args.preset).to(dev).train()
    crit = DeepSupervisionLoss(net.n_outputs)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    src = RandomSource((args.patch,) * 3, 1, seed=0, device=dev)
    times = []
    for step in range(args.steps + 1):  # first step is warm-up
        x, y = src.next_batch(step)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.bf16):
            out = net(x)
        loss = crit(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2 ** 20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"step_s": sorted(times[1:])[len(times[1:]) // 2], "peak_mb": peak,
                      "params": sum(p.numel() for p in net.parameters())}))


def synth_time(patch: int) -> float | None:
    import torch

    atlas = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sb-atlas"
    files = sorted(atlas.glob("sub-*/anat/*desc-withcc_dseg.nii.gz"))
    if not files:
        return None
    from fetalseg.synth import SynthConfig, SynthGenerator, load_label_maps

    lab = torch.from_numpy(load_label_maps(files[:1], "withcc")[0].data.astype("int64"))
    gen = SynthGenerator(SynthConfig(output_shape=(patch,) * 3))
    gen.sample([lab], torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    for k in range(3):
        gen.sample([lab], torch.Generator().manual_seed(k + 1))
    return (time.perf_counter() - t0) / 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default")
    ap.add_argument("--patch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cpu, plus cuda when available)")
    ap.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--synth", action="store_true", help="also time one synthetic sample")
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    import torch

    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads waste the shared cores under load
    print(f"preset {args.preset}, patch {args.patch}^3, batch 1, {args.steps} timed steps (median), "
          f"{args.threads} CPU threads, OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'device':6} {'precision':9} {'step s':>8} {'ratio':>6} {'peak MiB':>9}")
    for dev in devices:
        base = None
        for bf16 in (False, True):
            cmd = [sys.executable, __file__, "--worker", "--preset", args.preset, "--patch", str(args.patch),
                   "--steps", str(args.steps), "--threads", str(args.threads), "--device", dev]
            res = subprocess.run(cmd + (["--bf16"] if bf16 else []), capture_output=True, text=True, env=env)
            if res.returncode:
                print(f"{dev:6} {'bf16' if bf16 else 'fp32':9} failed: {res.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            base = base or r["step_s"]
            print(f"{dev:6} {'bf16' if bf16 else 'fp32':9} {r['step_s']:8.2f} {r['step_s'] / base:6.2f} "
                  f"{r['peak_mb']:9.0f}")
    if args.synth:
        torch.set_num_threads(args.threads)
        t = synth_time(args.patch)
        print("synthesis: shared sb-atlas not found" if t is None else
              f"synthesis of one {args.patch}^3 sample from an sb-atlas map (cpu): {t:.2f} s")


if __name__ == "__main__":
    main()
