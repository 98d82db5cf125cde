"""Self-contained HTML reports of segmented subjects and cohorts (:mod:`fetalseg.report`).

One page per subject (orthogonal views with the label overlay and contours, label volumes, QC score,
topology per label against its expected Betti numbers, biometry with centiles and growth chart when a
``fetalseg biometry`` JSON is found, warnings) and an index page sorted by QC score, worst first.
Pages embed their images as base64 PNG and use no script and no network access.

- :mod:`~fetalseg.report.collect`: finding label maps, sidecars, images, GA and biometry;
- :mod:`~fetalseg.report.content`: volumes, topology, QC, biometry and warnings of a subject;
- :mod:`~fetalseg.report.figures`: mosaics, thumbnails, growth chart (PNG bytes);
- :mod:`~fetalseg.report.html`, :mod:`~fetalseg.report.pages`: the HTML;
- :mod:`~fetalseg.report.run`: :func:`write_reports`.
"""

from .run import ReportSet, page_name, write_reports

__all__ = ["write_reports", "ReportSet", "page_name"]
