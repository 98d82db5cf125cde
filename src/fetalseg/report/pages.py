"""The two kinds of page: one per subject and the cohort index (subjects sorted by QC, worst first)."""

from __future__ import annotations

import math
from html import escape

from .html import biometry_table, facts_table, img, labels_table, page, qc_table, warnings_block


def subject_page(c, figs: dict[str, bytes], cohort: dict | None = None,
                 index_name: str | None = "index.html") -> str:
    """HTML of one subject: facts, warnings, orthogonal views, QC, labels, biometry (when present).

    ``figs`` holds PNG bytes under ``'overlay'``, ``'contour'`` and optionally ``'growth'``.
    """
    parts = []
    if index_name:
        parts.append(f'<p class="muted"><a href="{escape(index_name)}">&larr; cohort index</a></p>')
    parts += [f"<h1>{escape(c.id)}</h1>", facts_table(c), warnings_block(c.warnings), "<h2>Views</h2>",
              '<div class="views">',
              f'<figure>{img(figs["overlay"], "labels over the image")}<figcaption>Labels over the image: axial, '
              "coronal, sagittal rows; slices at 20-80% of the brain's extent.</figcaption></figure>",
              f'<figure>{img(figs["contour"], "label contours")}<figcaption>Label boundaries on the image '
              "(same slices).</figcaption></figure>", "</div>",
              "<h2>Quality control</h2>", qc_table(c),
              "<h2>Labels: volumes and topology</h2>", labels_table(c, cohort),
              '<p class="muted">Volumes: voxel count x voxel volume of the label map; soft volumes (sum of '
              "probabilities) from <code>fetalseg segment</code> when available. No normative volume curves ship "
              "with fetalseg" + ("; cohort z compares each volume with the other subjects of this report" if cohort
                                 else "") + ". Betti numbers of each label's 6-connected mask (components, tunnels, "
              "cavities); cortical grey matter is expected to be (2, 0, 0), the others (1, 0, 0).</p>"]
    if c.biometry:
        parts += ["<h2>Biometry</h2>", biometry_table(c)]
        if "growth" in figs:
            parts.append(f'<figure>{img(figs["growth"], "growth chart")}<figcaption>Normative centile bands by '
                         "gestational age; the subject's image measurements as dots (red: outside the 3rd-97th "
                         "centile).</figcaption></figure>")
    return page(f"fetalseg report: {c.id}", "\n".join(parts))


def qc_sort_key(c) -> tuple:
    """Worst first: flagged subjects by decreasing QC score, then the rest; no QC last, by id."""
    return (c.qc_score is None, -(c.qc_score if c.qc_score is not None else 0.0), c.id)


def index_page(contents: list, thumbs: dict[str, bytes], pages: dict[str, str],
               growth: bytes | None = None) -> str:
    """HTML of the cohort index: one row per subject, worst QC first, each linking its page; the
    cohort's growth chart below when ``growth`` (PNG bytes) is given. Each subject was flagged against
    its own ``qc_threshold`` (the segmenting model's, or the one given to `write_reports`)."""
    ordered = sorted(contents, key=qc_sort_key)
    n_flag = sum(c.qc_flag for c in contents)
    rows = []
    for c in ordered:
        score = "n/a" if c.qc_score is None else f"{c.qc_score:.4g}"
        bad_topo = sum(not r["topology_ok"] and not r["missing"] for r in c.labels)
        warn = "<br>".join(escape(w) for w in c.warnings[:3]) + (" ..." if len(c.warnings) > 3 else "")
        ga = "n/a" if c.inputs.ga is None or math.isnan(c.inputs.ga) else f"{c.inputs.ga:.1f}"
        rows.append(
            f'<tr><td>{img(thumbs[c.id], "axial view", "thumb")}</td>'
            f'<td class="l"><a href="{escape(pages[c.id])}">{escape(c.id)}</a></td>'
            f'<td class="{"bad" if c.qc_flag else "ok"}">{score}</td><td>{bad_topo}</td>'
            f"<td>{c.brain_mm3 / 1000:.1f}</td><td>{ga}</td><td class=\"l\">{escape(c.inputs.pathology or 'n/a')}</td>"
            f'<td class="l">{warn or "none"}</td></tr>')
    head = "".join(f"<th{' class=l' if h in ('subject', 'pathology', 'warnings') else ''}>{h}</th>"
                   for h in ("view", "subject", "QC score", "labels with topology errors", "brain (cm³)", "GA (weeks)",
                             "pathology", "warnings"))
    thr = {c.qc_threshold for c in contents}
    above = f"above {thr.pop():g}" if len(thr) == 1 else "above each segmenting model's threshold"
    body = (f"<h1>fetalseg cohort report</h1><p>{len(contents)} subject(s); {n_flag} flagged for review (QC score "
            f"{above}). Sorted by QC score, worst first; subjects without QC last.</p>"
            f"<table><tr>{head}</tr>{''.join(rows)}</table>")
    if growth is not None:
        body += (f'<h2>Biometry of the cohort</h2><figure>{img(growth, "cohort growth chart")}<figcaption>Each '
                 "subject's measurements on the normative centile bands (red: outside the 3rd-97th centile)."
                 "</figcaption></figure>")
    return page("fetalseg cohort report", body)
