"""Training speed and memory: step time and peak memory of the network (forward + deep-supervision loss +
backward + AdamW step) with and without bf16 autocast, on the CPU and, when present, the GPU.

    python benchmarks/bench_train.py [--preset default] [--patch 128] [--steps 3] [--threads 2] [--synth]

Each configuration runs in a fresh process so that peak memory (CPU: peak RSS, GPU: peak allocated)
belongs to it alone. Inputs are random (:class:`fetalseg.train.RandomSource`): synthesis time is
reported separately with ``--synth`` (one sample from an sb-atlas label map, when the shared data exists).
The ratio column is against fp32 on the same device in the same run.

``--candidates`` instead times issue 11's candidate networks at 0.8 mm (one row each, CPU only): base
features 8 / 12 / 16 with 4 or 5 levels at 96^3, the default network at 112^3 and 128^3, and the default at
96^3 with ``channels_last_3d`` memory and with batch instead of instance norm (norm layers swapped in the
benchmark only: the library's networks use instance norm). Every row runs in fp32 and, when the CPU has
native bf16 (:func:`fetalseg.train.loop.cpu_has_bf16`; many do not), in bf16 autocast; ratios are against
the default network at 96^3 in fp32.
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
    net = build_network(json.loads(args.network) if args.network else args.preset)
    if args.batch_norm:
        _swap_instance_norm(net)
    memory = torch.channels_last_3d if args.channels_last else torch.contiguous_format
    net = net.to(dev, memory_format=memory).train()
    crit = DeepSupervisionLoss(net.n_outputs)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    src = RandomSource((args.patch,) * 3, 1, seed=0, device=dev)
    times = []
    for step in range(args.steps + 1):  # first step is warm-up
        x, y = src.next_batch(step)
        x = x.contiguous(memory_format=memory)
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


def _swap_instance_norm(net) -> None:
    """Replace every InstanceNorm3d of ``net`` by a BatchNorm3d of the same width (in place)."""
    from torch import nn

    for mod in list(net.modules()):
        for child_name, child in list(mod.named_children()):
            if isinstance(child, nn.InstanceNorm3d):
                setattr(mod, child_name, nn.BatchNorm3d(child.num_features))


#: (label, network overrides of the default preset, patch side, memory/norm variant)
CANDIDATES = [
    ("base 8, 5 levels", {"base_features": 8, "max_features": 128}, 96, ""),
    ("base 12, 5 levels", {"base_features": 12, "max_features": 192}, 96, ""),
    ("base 16, 5 levels (default)", {}, 96, ""),
    ("base 8, 4 levels", {"levels": 4, "base_features": 8, "max_features": 64, "deep_supervision": 2}, 96, ""),
    ("base 16, 4 levels", {"levels": 4, "max_features": 128, "deep_supervision": 2}, 96, ""),
    ("default, 112^3", {}, 112, ""),
    ("default, 128^3", {}, 128, ""),
    ("default, channels_last_3d", {}, 96, "channels_last"),
    ("default, batch norm", {}, 96, "batch_norm"),
]


def _run_worker(args, env, dev: str, patch: int, bf16: bool, network: dict | None = None, variant: str = ""):
    cmd = [sys.executable, __file__, "--worker", "--preset", args.preset, "--patch", str(patch),
           "--steps", str(args.steps), "--threads", str(args.threads), "--device", dev]
    if network is not None:
        cmd += ["--network", json.dumps({"preset": "default", **network})]
    if variant:
        cmd.append("--" + variant.replace("_", "-"))
    res = subprocess.run(cmd + (["--bf16"] if bf16 else []), capture_output=True, text=True, env=env)
    if res.returncode:
        return res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"exit {res.returncode}"
    return json.loads(res.stdout.strip().splitlines()[-1])


def candidates(args, env) -> None:
    """Issue 11's candidate table (CPU): one Markdown row per candidate, fp32 and (native only) bf16; the
    ratio is each row's fastest step against the default network's fp32 step at 96^3."""
    from fetalseg.train.loop import cpu_has_bf16

    precisions = [False, True] if cpu_has_bf16() else [False]
    print(f"native bf16: {'yes' if len(precisions) == 2 else 'no (bf16 columns skipped)'}")
    rows, ref = [], None
    for label, network, patch, variant in CANDIDATES:
        cells, fastest, params = [], None, None
        for bf16 in precisions:
            r = _run_worker(args, env, "cpu", patch, bf16, network, variant)
            if isinstance(r, str):
                cells += [f"failed ({r[:40]})", ""]
                continue
            cells += [f"{r['step_s']:.2f}", f"{r['peak_mb']:.0f}"]
            fastest = r["step_s"] if fastest is None else min(fastest, r["step_s"])
            params = r["params"]
            if label.endswith("(default)") and not bf16:
                ref = r["step_s"]
        rows.append((label, patch, params, cells, fastest))
        print(f"  measured {label} at {patch}^3", flush=True)
    heads = ["fp32 step s", "fp32 peak MiB"] + (["bf16 step s", "bf16 peak MiB"] if len(precisions) == 2 else [])
    print("| candidate | patch | parameters | " + " | ".join(heads) + " | fastest / default fp32 |")
    print("| --- " * (len(heads) + 4) + "|")
    for label, patch, params, cells, fastest in rows:
        p = f"{params / 1e6:.2f} M" if params else "?"
        ratio = f"{fastest / ref:.2f}" if fastest and ref else "?"
        print(f"| {label} | {patch}^3 | {p} | " + " | ".join(cells) + f" | {ratio} |")


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
    ap.add_argument("--candidates", action="store_true", help="issue 11's candidate table (CPU) instead")
    ap.add_argument("--network", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--channels-last", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--batch-norm", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    import torch

    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads waste the shared cores under load
    if args.candidates:
        print(f"candidates at 0.8 mm, batch 1, {args.steps} timed steps (median), {args.threads} CPU threads, "
              f"load average {os.getloadavg()[0]:.1f}")
        return candidates(args, env)
    print(f"preset {args.preset}, patch {args.patch}^3, batch 1, {args.steps} timed steps (median), "
          f"{args.threads} CPU threads, OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'device':6} {'precision':9} {'step s':>8} {'ratio':>6} {'peak MiB':>9}")
    for dev in devices:
        base = None
        for bf16 in (False, True):
            r = _run_worker(args, env, dev, args.patch, bf16)
            if isinstance(r, str):
                print(f"{dev:6} {'bf16' if bf16 else 'fp32':9} failed: {r}")
                continue
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
