"""Self-contained HTML of the report: inline CSS, images as base64 PNG data URIs, no script, no network.

Every text from files (ids, paths, names) is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import base64
import math
from html import escape

from .. import __version__

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;
color:#1d232a;background:#fff;line-height:1.4}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #dde3ea}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}td,th{padding:3px 10px;border-bottom:1px solid #eef1f4;
text-align:right}th{background:#f4f6f8}td.l,th.l{text-align:left}.bad{color:#b3261e;font-weight:600}
.ok{color:#1b7f3b}.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:8px 14px;margin:1em 0}
.clean{background:#eaf6ee;border-left:4px solid #2e9e57;padding:8px 14px;margin:1em 0}
.sw{display:inline-block;width:12px;height:12px;border:1px solid #888;vertical-align:middle;margin-right:6px}
figure{margin:.6em 0}figure img{max-width:100%;border:1px solid #ccd}figcaption{font-size:.85em;color:#555}
.facts td{text-align:left}.muted{color:#6b7580;font-size:.85em}img.thumb{height:72px;border:1px solid #ccd}
.views{display:grid;grid-template-columns:1fr;gap:12px}
"""


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def img(png: bytes, alt: str, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<img{c} alt="{escape(alt)}" src="{data_uri(png)}">'


def page(title: str, body: str) -> str:
    """A complete HTML5 document with the inline stylesheet."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n{body}\n<p class=\"muted\">fetalseg {escape(__version__)}: "
            "self-contained page (no script, no network access).</p>\n</body>\n</html>\n")


def _num(v, fmt: str = "{:.1f}") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return fmt.format(v)


def facts_table(c) -> str:
    """Subject facts: GA, pathology, files, models."""
    i = c.inputs
    rows = [("Gestational age", _num(i.ga, "{:.1f} weeks")),
            ("Pathology", escape(" / ".join(dict.fromkeys(x for x in (i.pathology, i.condition) if x)) or "n/a")),
            ("Label map", escape(str(i.dseg))), ("Image", escape(str(i.image)) if i.image else "not found")]
    models = i.sidecar.get("models")
    if models:
        rows.append(("Model(s)", escape(", ".join(str(m.get("name")) for m in models if isinstance(m, dict)))))
    body = "".join(f'<tr><th class="l">{k}</th><td>{v}</td></tr>' for k, v in rows)
    return f'<table class="facts">{body}</table>'


def warnings_block(warnings: list[str]) -> str:
    if not warnings:
        return '<div class="clean">No warnings.</div>'
    items = "".join(f"<li>{escape(w)}</li>" for w in warnings)
    return f'<div class="warn"><strong>Warnings</strong><ul>{items}</ul></div>'


def qc_table(c) -> str:
    """QC score and its parts (from the segmentation sidecar) against the review threshold."""
    if c.qc_score is None:
        return '<p class="muted">No QC from <code>fetalseg segment</code> for this label map (no sidecar).</p>'
    q = c.qc
    cls = "bad" if c.qc_flag else "ok"
    rows = [("QC score (0 is best)", f'<span class="{cls}">{c.qc_score:.4g}</span>'),
            ("Review threshold", f"{c.qc_threshold:g}"), ("Flagged for review", "yes" if c.qc_flag else "no"),
            ("Score", "calibrated: 1 - predicted mean Dice" if q.get("qc_method") == "calibrated" else "heuristic"),
            ("Predicted mean Dice (calibrated on the model's benchmark)", _num(q.get("predicted_dice"), "{:.3f}")),
            ("Agreement of TTA/ensemble members (Dice)", _num(q.get("agreement"), "{:.3f}")),
            ("Mean confidence of the chosen labels", _num(q.get("confidence"), "{:.3f}")),
            ("Relabelled by post-processing (fraction)", _num(q.get("relabelled_fraction"), "{:.4f}")),
            ("Topology errors before post-processing", _num(q.get("topology_errors"), "{:d}")),
            ("Members", _num(q.get("members"), "{:d}"))]
    body = "".join(f'<tr><th class="l">{k}</th><td>{v}</td></tr>' for k, v in rows)
    return f'<table class="facts">{body}</table>'


def labels_table(c, cohort: dict | None) -> str:
    """Volumes, share of the brain, cohort z (when given) and Betti numbers against targets, per label."""
    from ..labels import FETA

    head = ["label", "volume (cm³)", "soft volume (cm³)", "% of brain"]
    head += ["cohort z"] if cohort else []
    head += ["Betti (b0, b1, b2)", "expected", "topology"]
    out = ["<table><tr>" + "".join(f'<th class="{"l" if h == "label" else ""}">{h}</th>' for h in head) + "</tr>"]
    for r in c.labels:
        rgb = "#%02x%02x%02x" % FETA[r["value"]].colour
        cells = [f'<td class="l"><span class="sw" style="background:{rgb}"></span>{r["value"]} {escape(r["name"])}</td>',
                 f'<td class="{"bad" if r["missing"] else ""}">{r["volume_mm3"] / 1000:.2f}</td>',
                 f"<td>{_num(None if r['soft_mm3'] is None else r['soft_mm3'] / 1000, '{:.2f}')}</td>",
                 f"<td>{r['percent']:.1f}</td>"]
        if cohort:
            mean, sd = cohort.get(r["short"], (math.nan, math.nan))
            z = (r["volume_mm3"] - mean) / sd if sd and sd > 0 else math.nan
            cells.append(f'<td class="{"bad" if abs(z) > 2 else ""}">{_num(z, "{:+.1f}")}</td>')
        ok = r["topology_ok"]
        cells += [f"<td>{r['betti']}</td>", f"<td>{r['target']}</td>",
                  f'<td class="{"ok" if ok else "bad"}">{"ok" if ok else "differs"}</td>']
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append(f'<tr><th class="l">brain (labels 1-7)</th><th>{c.brain_mm3 / 1000:.2f}</th>'
               + "<th></th>" * (len(head) - 2) + "</tr></table>")
    return "".join(out)


def biometry_table(c) -> str:
    """Measurements (image and fused estimates, mm), z-score and centile of the image value; reasons for gaps."""
    rows = []
    for b in c.biometry:
        note = escape(b["reason"] or "not measured") if b["value"] is None else (
            "outside 3rd-97th" if b["outside"] else "")
        rows.append(f'<tr><td class="l">{escape(b["measure"])}</td><td>{_num(b["value"])}</td>'
                    f'<td>{_num(b["fused"])}</td><td>{_num(b["z"], "{:+.2f}")}</td>'
                    f'<td class="{"bad" if b["outside"] else ""}">{_num(b["centile"], "{:.1f}")}</td>'
                    f'<td class="l">{note}</td></tr>')
    return ('<table><tr><th class="l">measure</th><th>image (mm)</th><th>fused (mm)</th><th>z</th><th>centile</th>'
            f'<th class="l">note</th></tr>{"".join(rows)}</table>')
