"""Speed of the synthetic generator (issue 6) against an equivalent TorchIO chain, same run, same map.

Usage: python benchmarks/bench_synth.py [--threads 2] [--repeats 10] [--label-map PATH] [--device cpu]

Input: one sb-atlas label map (FeTA convention) cropped/padded to 128^3, given to both pipelines.
* fetalseg default: SynthConfig() defaults (every step with its default probability), 128^3 output;
* fetalseg all steps: every step forced on (probability 1);
* TorchIO: RandomAffine, RandomElasticDeformation, RandomLabelsToImage, RandomBiasField, RandomBlur,
  RandomNoise (defaults), the chain named in issue 6.
Prints the mean seconds per sample (and the median), the ratio TorchIO / fetalseg, and on a GPU the
samples per second in batches of 8.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

# Passive OpenMP waits (set before torch starts its thread pool): on a shared, loaded machine spinning
# threads otherwise burn the cores they wait for. Applies to both pipelines alike; override from the shell.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ATLAS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sb-atlas"


def crop_or_pad(a: np.ndarray, shape=(128, 128, 128)) -> np.ndarray:
    """Centre crop/pad of a label map around its foreground bounding box."""
    idx = np.argwhere(a > 0)
    c = ((idx.min(0) + idx.max(0)) // 2) if len(idx) else np.array(a.shape) // 2
    out = np.zeros(shape, a.dtype)
    src, dst = [], []
    for n, s, ci in zip(a.shape, shape, c):
        start = int(ci) - s // 2
        lo, hi = max(0, start), min(n, start + s)
        src.append(slice(lo, hi))
        dst.append(slice(lo - start, hi - start))
    out[tuple(dst)] = a[tuple(src)]
    return out


CPU_TIMES: dict[int, float] = {}


def timeit(fn, repeats: int) -> list[float]:
    """Wall seconds of ``fn(seed)`` for seeds 1..repeats (after one warm-up); the process CPU seconds
    of the last call to this function are kept in ``CPU_TIMES[id(fn)]`` (load-independent figure)."""
    fn(0)  # warm-up
    out = []
    c0 = time.process_time()
    for r in range(repeats):
        t0 = time.perf_counter()
        fn(r + 1)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t0)
    CPU_TIMES[id(fn)] = (time.process_time() - c0) / repeats
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--label-map", type=Path, default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from fetalseg.synth import SynthConfig, SynthGenerator, load_label_maps

    path = args.label_map or next(iter(sorted(ATLAS.glob("sub-*/anat/*_rec-atlas_dseg.nii.gz"))))
    lab = crop_or_pad(load_label_maps([path])[0].data)
    lab_t = torch.from_numpy(lab.astype(np.int64))
    print(f"label map: {path} -> {lab.shape}; threads {args.threads}; OMP_WAIT_POLICY "
          f"{os.environ.get('OMP_WAIT_POLICY')}; repeats {args.repeats}; "
          f"load average {Path('/proc/loadavg').read_text().split()[0] if Path('/proc/loadavg').exists() else '?'}")

    results, cpu = {}, {}
    for name, cfg in (("fetalseg default", SynthConfig()), ("fetalseg all steps", SynthConfig.all_on())):
        gen = SynthGenerator(cfg)
        fn = lambda s, gen=gen: gen.sample(lab_t[None], torch.Generator().manual_seed(s))  # noqa: E731
        results[name] = timeit(fn, args.repeats)
        cpu[name] = CPU_TIMES[id(fn)]

    import torchio as tio

    chain = tio.Compose([
        tio.RandomAffine(), tio.RandomElasticDeformation(), tio.RandomLabelsToImage(label_key="label"),
        tio.RandomBiasField(), tio.RandomBlur(), tio.RandomNoise(),
    ])
    subject = tio.Subject(label=tio.LabelMap(tensor=torch.from_numpy(lab[None].astype(np.int64))))

    def run_tio(s):
        torch.manual_seed(s)
        return chain(subject)

    results["torchio chain"] = timeit(run_tio, args.repeats)
    cpu["torchio chain"] = CPU_TIMES[id(run_tio)]
    for name, ts in results.items():
        print(f"{name:22s} mean {statistics.mean(ts):.3f} s  median {statistics.median(ts):.3f} s  "
              f"(process CPU {cpu[name]:.3f} s) per 128^3 sample")
    tio_mean = statistics.mean(results["torchio chain"])
    for name in ("fetalseg default", "fetalseg all steps"):
        print(f"speed-up vs torchio ({name}): {tio_mean / statistics.mean(results[name]):.1f}x wall, "
              f"{cpu['torchio chain'] / cpu[name]:.1f}x CPU")

    if args.device.startswith("cuda") and torch.cuda.is_available():
        gen = SynthGenerator(SynthConfig())
        batch = lab_t.to(args.device)[None].repeat(8, 1, 1, 1)
        ts = timeit(lambda s: gen.sample(batch, torch.Generator().manual_seed(s)), args.repeats)
        print(f"GPU {torch.cuda.get_device_name()}: {8 / statistics.mean(ts):.1f} samples/s (batches of 8, 128^3)")


if __name__ == "__main__":
    main()
