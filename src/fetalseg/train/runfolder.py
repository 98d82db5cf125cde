"""The run folder of a training run: what is in it, and the rules for starting and resuming one.

* ``config.yaml``: the resolved configuration (absolute paths);
* ``log.csv``: one row per step: ``step`` (completed steps), ``loss``, ``lr``, ``time_s`` (wall time of
  the step), ``elapsed_s`` (training time so far), and on validation steps ``val_mean`` (mean Dice
  over FeTA labels 1-7) and ``val_1`` .. ``val_7``;
* ``curve.png``: the learning curve (:mod:`fetalseg.train.curves`);
* ``checkpoints/last.pt`` and ``checkpoints/best.pt`` (see :class:`fetalseg.train.loop.CheckpointPolicy`);
* ``summary.json`` at the end.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from ..errors import InputError
from ..labels import FETA
from .config import TrainConfig

FG = tuple(lab.value for lab in FETA.labels if lab.value != 0)
"""The FeTA foreground labels (1-7): validated and logged per label."""
LOG_COLUMNS = ["step", "loss", "lr", "time_s", "elapsed_s", "val_mean"] + [f"val_{v}" for v in FG]
IGNORED_ON_RESUME = {"device", "threads"}


def _fmt(x) -> str:
    if isinstance(x, float):
        return "" if math.isnan(x) else f"{x:.6g}"
    return str(x)


def prepare_run_dir(cfg: TrainConfig, run_dir: Path, resume: bool, ignored=IGNORED_ON_RESUME) -> Path | None:
    """Check the run folder; returns the checkpoint to resume from (or None). Raises InputError.

    ``cfg`` is any config with ``from_yaml``/``to_dict`` (segmentation or DAE training); on resume, the saved
    ``config.yaml`` must equal it except for the keys in ``ignored``."""
    last = run_dir / "checkpoints" / "last.pt"
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(run_dir, "run folder path is a file")
    if not resume:
        if last.exists() or (run_dir / "log.csv").exists():
            raise InputError(run_dir, "already holds a training run (use `resume=True` to continue it, or choose "
                                      "another `run_dir`)", param="run_dir")
        return None
    if not last.exists():
        return None
    saved = run_dir / "config.yaml"
    if saved.exists():
        old = type(cfg).from_yaml(saved).to_dict()
        new = cfg.to_dict()
        diff = sorted(k for k in set(old) | set(new) if k not in ignored and old.get(k) != new.get(k))
        if diff:
            raise InputError(saved, f"the run was started with a different config ({', '.join(diff)} differ)")
    return last


def truncate_log(log: Path, step: int) -> None:
    """Keep the header and rows with ``step <= step`` (rows written after the checkpoint are redone)."""
    from ..io import atomic_path

    if not log.exists():
        return
    with open(log, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    keep = rows[:1] + [r for r in rows[1:] if r and int(float(r[0])) <= step]
    with atomic_path(log, overwrite=True) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(keep)


class RunFolder:
    """The files of one run folder (module docstring), written by the main process only."""

    def __init__(self, run_dir: Path, cfg: TrainConfig):
        self.root, self.cfg = Path(run_dir), cfg
        self.checkpoints = self.root / "checkpoints"
        self.log, self.png = self.root / "log.csv", self.root / "curve.png"

    def start(self, start_step: int) -> None:
        """Create the folder, write ``config.yaml``, and start ``log.csv`` (cut back to ``start_step`` on resume)."""
        from ..io import write_text

        self.root.mkdir(parents=True, exist_ok=True)
        write_text(self.root / "config.yaml", self.cfg.to_yaml(), overwrite=True)
        if start_step > 0:
            truncate_log(self.log, start_step)
        else:
            with open(self.log, "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow(LOG_COLUMNS)

    def log_step(self, done: int, loss: float, lr: float, time_s: float, elapsed_s: float, mean: float,
                 val: dict[int, float]) -> None:
        """Append the row of step ``done`` (``val``: Dice per label on validation steps, else empty)."""
        row = [done, loss, lr, time_s, elapsed_s, mean] + [val.get(v, math.nan) for v in FG]
        with open(self.log, "a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow([_fmt(x) for x in row])

    def plot(self) -> None:
        from .curves import plot_curves

        plot_curves(self.log, self.png, title=self.cfg.name)

    def write_summary(self, summary: dict) -> None:
        from ..io import write_text

        write_text(self.root / "summary.json", json.dumps(summary, indent=2) + "\n", overwrite=True)
