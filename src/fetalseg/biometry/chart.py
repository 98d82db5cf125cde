"""Growth chart: the norms' 3rd/50th/97th centile bands per measure with subjects' points."""

from __future__ import annotations

import io
import math

import numpy as np

from .context import centile_lines
from .measure import MEASURES

__all__ = ["growth_chart_png"]


def growth_chart_png(points: list[dict], title: str = "Fetal brain biometry", ga_range=(18.0, 40.0)) -> bytes:
    """PNG bytes of a 1x5 chart, one panel per measure (mm against GA in weeks).

    Parameters
    ----------
    points : list of dict
        One per subject: ``{'id': str, 'ga': float, 'values': {measure: mm}, 'flags': {measure: str}}``;
        NaN values are left out; flagged points (outside 3rd-97th centile) are drawn in red.
    title : str
    ga_range : (float, float)
        GA axis range (weeks).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ga = np.linspace(ga_range[0], ga_range[1], 100)
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(3.2 * len(MEASURES), 3.4), constrained_layout=True)
    for ax, m in zip(axes, MEASURES):
        lines = centile_lines(m, ga)
        ax.fill_between(ga, lines[3.0], lines[97.0], color="#cfe3f5", label="3rd-97th centile")
        ax.plot(ga, lines[50.0], color="#2b6cb0", lw=1.2, label="50th centile")
        for c in (3.0, 97.0):
            ax.plot(ga, lines[c], color="#2b6cb0", lw=0.6, ls="--")
        xs = [p["ga"] for p in points if math.isfinite(p["values"].get(m, float("nan")))]
        ys = [p["values"][m] for p in points if math.isfinite(p["values"].get(m, float("nan")))]
        bad = [p.get("flags", {}).get(m) in ("low", "high") for p in points
               if math.isfinite(p["values"].get(m, float("nan")))]
        ax.scatter(xs, ys, s=14, c=["#c53030" if b else "#1a202c" for b in bad], zorder=3)
        ax.set_title(m)
        ax.set_xlabel("GA (weeks)")
        ax.set_xlim(*ga_range)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mm")
    axes[0].legend(loc="upper left", fontsize=7)
    fig.suptitle(f"{title} ({len(points)} subject{'s' if len(points) != 1 else ''}; red: outside 3rd-97th)")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
