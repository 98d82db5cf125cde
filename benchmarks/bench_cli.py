"""Start-up time of ``fetalseg --help`` (target: under 1 s) against a bare ``python -c pass``."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path


def _time(cmd: list[str], n: int = 7) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    exe = Path(sys.executable).with_name("fetalseg")
    help_s = _time([str(exe), "--help"])
    bare_s = _time([sys.executable, "-c", "pass"])
    print(f"fetalseg --help: {help_s * 1000:.0f} ms median of 7 (target < 1000 ms)")
    print(f"python -c pass:  {bare_s * 1000:.0f} ms (interpreter start-up, same run)")
    print(f"ratio: {help_s / bare_s:.1f}x interpreter start-up")


if __name__ == "__main__":
    main()
