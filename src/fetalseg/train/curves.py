"""Learning curves: the run's CSV log drawn as a PNG (training loss and validation Dice against step)."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path


def read_log(path: str | os.PathLike) -> list[dict]:
    """Rows of a training CSV log as dicts of floats (empty cells become NaN)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append({k: (float(v) if v not in ("", None) else math.nan) for k, v in r.items()})
    return rows


def plot_curves(log_csv: str | os.PathLike, png: str | os.PathLike, title: str = "") -> Path:
    """Write ``png``: training loss (log scale, raw and 50-step running mean) and validation mean Dice
    over labels 1-7 plus per-label Dice (right axis) against step. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_path

    rows = read_log(log_csv)
    steps = [r["step"] for r in rows]
    loss = [r["loss"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    if rows:
        ax.plot(steps, loss, color="0.75", lw=0.6, label="loss")
        k = 50
        run = [sum(loss[max(0, i - k + 1): i + 1]) / len(loss[max(0, i - k + 1): i + 1]) for i in range(len(loss))]
        ax.plot(steps, run, color="k", lw=1.2, label=f"loss ({k}-step mean)")
        if min(loss) > 0:
            ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (Dice + CE, deep supervision)")
    ax2 = ax.twinx()
    val = [r for r in rows if not math.isnan(r.get("val_mean", math.nan))]
    if val:
        from ..labels import FETA

        for v in FETA.foreground:
            key = f"val_{v}"
            if key in val[0]:
                c = tuple(x / 255 for x in FETA[v].colour)
                if sum(c) > 2.4:  # near-white label colours (white matter) would vanish on white
                    c = (0.55, 0.55, 0.55)
                ax2.plot([r["step"] for r in val], [r[key] for r in val], lw=0.8, alpha=0.7, color=c,
                         label=FETA[v].short)
        ax2.plot([r["step"] for r in val], [r["val_mean"] for r in val], "o-", color="tab:red", lw=2,
                 label="mean Dice 1-7")
        ax2.legend(loc="center right", fontsize=7, ncol=2)
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("validation Dice")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title or Path(log_csv).parent.name)
    fig.tight_layout()
    with atomic_path(png, overwrite=True) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(png)
