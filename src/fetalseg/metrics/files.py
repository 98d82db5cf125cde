"""FeTA metrics of label-map files: predictions paired with references by subject (what ``fetalseg
evaluate`` does).

Predictions and references are files or folders (FeTA/BIDS datasets give their ``dseg`` files, other
folders every NIfTI file, :func:`fetalseg.datasets.expand_inputs`). Files are paired by BIDS subject key
(``sub-X[_ses-Y]``, else the file name without ``.nii[.gz]``); two single files are always a pair.
A prediction on another grid than its reference is an error, unless ``resample_pred`` (nearest
neighbour onto the reference grid).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from ..errors import InputError


def match_files(preds, refs, single: bool):
    """Pair :class:`~fetalseg.datasets.InputFile` lists by subject key.

    Returns ``(pairs [(subject, pred path, ref path)], unmatched preds [(subject, path)], unmatched refs)``;
    with ``single`` and one file on each side, the two files are paired whatever their names.
    """
    if single and len(preds) == 1 and len(refs) == 1:
        return [(refs[0].subject, preds[0].path, refs[0].path)], [], []
    maps = []
    for files in (preds, refs):
        m: dict[str, Path] = {}
        for f in files:
            if f.subject in m:
                raise InputError(f.path, f"subject {f.subject} appears twice (also {m[f.subject]})")
            m[f.subject] = f.path
        maps.append(m)
    mp, mr = maps
    pairs = [(k, mp[k], mr[k]) for k in sorted(mp) if k in mr]
    return pairs, [(k, mp[k]) for k in sorted(mp) if k not in mr], [(k, mr[k]) for k in sorted(mr) if k not in mp]


def evaluate_pair(subject: str, pred_path: Path, ref_path: Path, opts: dict) -> list[dict]:
    """Rows of one case (:func:`~fetalseg.metrics.evaluate_case`); ``opts``: resample_pred, empty, ec_target."""
    import numpy as np

    from ..io import load_image, resample_labels
    from ..labels import FETA
    from .evaluate import evaluate_case

    ref = load_image(ref_path, labels=FETA)
    prd = load_image(pred_path, labels=FETA)
    diff = float(np.abs(prd.affine - ref.affine).max())
    if prd.shape != ref.shape or diff > 1e-3:
        if not opts["resample_pred"]:
            what = (f"shape {'x'.join(map(str, prd.shape))} vs {'x'.join(map(str, ref.shape))}"
                    if prd.shape != ref.shape else f"affines differ by up to {diff:.3g} mm")
            raise InputError(pred_path, f"grid differs from the reference {ref_path} ({what}); "
                                        "use `resample_pred=True` to resample the prediction", param="resample_pred")
        data = resample_labels(prd.data, prd.affine, ref.shape, ref.affine, method="nearest")
    else:
        data = prd.data
    return evaluate_case(data, ref.data, ref.spacing, FETA, empty=opts["empty"], ec_target=opts["ec_target"],
                         subject=subject, extras=True)


def _evaluate_pair_in_worker(subject: str, pred_path: Path, ref_path: Path, opts: dict):
    """Worker: rows of one case, or ('error', path, problem) for bad input (InputError does not pickle)."""
    try:
        return evaluate_pair(subject, pred_path, ref_path, opts)
    except InputError as exc:
        return ("error", exc.path, exc.problem)


class FileEvaluation:
    """Predictions ``pred`` paired with references ``gt`` (module docstring), options checked; nothing is
    computed until :meth:`run`.

    Parameters
    ----------
    pred, gt : path-like
        A label map or a folder of them each.
    output : path-like, optional
        CSV written by :meth:`run` (:func:`~fetalseg.metrics.write_csv`); checked here.
    resample_pred : bool
        Resample predictions onto the reference grid instead of stopping on a grid mismatch.
    empty, ec_target
        As in :func:`~fetalseg.metrics.evaluate_case`.

    Attributes
    ----------
    pairs : list of (subject, pred path, ref path)
    only_pred, only_ref : list of (subject, path)
        Files without a partner (left out).
    """

    def __init__(self, pred: str | os.PathLike, gt: str | os.PathLike, *, output: str | os.PathLike | None = None,
                 overwrite: bool = False, resample_pred: bool = False, empty: str = "inf",
                 ec_target: str = "expected"):
        from ..datasets import expand_inputs
        from ..io import check_writable
        from .evaluate import parse_empty

        if output is not None:
            check_writable(output, overwrite)
        try:
            parse_empty(empty)
        except ValueError as exc:
            raise InputError(None, f"`empty`: {exc}", param="empty") from None
        if ec_target not in ("expected", "reference"):
            raise InputError(None, f"`ec_target` must be 'expected' or 'reference', got {ec_target!r}",
                             param="ec_target")
        pred, gt = Path(pred), Path(gt)
        single = not pred.is_dir() and not gt.is_dir()
        self.pairs, self.only_pred, self.only_ref = match_files(
            expand_inputs([pred], kind="dseg"), expand_inputs([gt], kind="dseg"), single)
        self.pred, self.gt, self.output, self.overwrite = pred, gt, output, overwrite
        self.opts = dict(resample_pred=resample_pred, empty=empty, ec_target=ec_target)

    def run(self, jobs: int = 1, progress: Callable[[int, int], None] | None = None) -> list[dict]:
        """Rows of every pair, in pair order (``jobs`` processes); also written to ``output``.
        ``progress(done, total)`` after each case. InputError when no prediction has a reference."""
        if not self.pairs:
            raise InputError(self.pred, f"no prediction matches a reference in {self.gt} "
                                        "(subjects are matched by BIDS id sub-*)")
        if jobs < 1:
            raise InputError(None, f"`jobs` must be >= 1, got {jobs}", param="jobs")
        if jobs == 1 or len(self.pairs) == 1:
            results = {}
            for k, (subject, p, r) in enumerate(self.pairs, start=1):
                results[subject] = evaluate_pair(subject, p, r, self.opts)
                if progress is not None:
                    progress(k, len(self.pairs))
        else:
            results = self._run_parallel(jobs, progress)
        rows = [row for subject, _, _ in self.pairs for row in results[subject]]
        if self.output is not None:
            from .evaluate import write_csv

            write_csv(rows, self.output, overwrite=self.overwrite)
        return rows

    def _run_parallel(self, jobs: int, progress) -> dict:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        results = {}
        ctx = mp.get_context("spawn")  # no fork of a process that may hold threads
        with ProcessPoolExecutor(max_workers=min(jobs, len(self.pairs)), mp_context=ctx) as pool:
            futs = {pool.submit(_evaluate_pair_in_worker, s, p, r, self.opts): s for s, p, r in self.pairs}
            for fut in as_completed(futs):
                out = fut.result()
                if isinstance(out, tuple) and out and out[0] == "error":
                    for f in futs:
                        f.cancel()
                    raise InputError(out[1], out[2])
                results[futs[fut]] = out
                if progress is not None:
                    progress(len(results), len(self.pairs))
        return results


def method_names(paths) -> list[str]:
    """Methods are named after their files (stem; parent folder added when stems collide)."""
    paths = [Path(p) for p in paths]
    stems = [p.name[:-4] if p.name.lower().endswith(".csv") else p.name for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    names = [f"{p.parent.name}/{s}" for p, s in zip(paths, stems)]
    if len(set(names)) != len(names):
        dup = next(p for p, n in zip(paths, names) if names.count(n) > 1)
        raise InputError(dup, "given twice")
    return names


def rank_files(paths, output: str | os.PathLike | None = None, overwrite: bool = False) -> list[dict]:
    """FeTA ranking (:func:`~fetalseg.metrics.rank_methods`) of the methods whose metrics CSVs (written by
    :class:`FileEvaluation`) are ``paths``, named by :func:`method_names`; also written to the CSV ``output``
    (columns: method, the four metric means, their ranks, mean_rank, final_rank)."""
    import csv
    import io

    from ..io import check_writable, write_text
    from .evaluate import read_csv
    from .ranking import HIGHER_IS_BETTER, rank_methods

    if output is not None:
        check_writable(output, overwrite)
    methods = {n: read_csv(p) for n, p in zip(method_names(paths), paths)}
    try:
        table = rank_methods(methods)
    except ValueError as exc:
        raise InputError(None, str(exc)) from None
    if output is not None:
        cols = ["method", *HIGHER_IS_BETTER, *(f"rank_{m}" for m in HIGHER_IS_BETTER), "mean_rank", "final_rank"]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in table:
            w.writerow([r[c] for c in cols])
        write_text(output, buf.getvalue(), overwrite=overwrite)
    return table
