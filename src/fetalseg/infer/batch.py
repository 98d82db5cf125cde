"""Batches of subjects: output naming, resume, skip-on-failure, summary tables.

Outputs of one subject (``Job``): the label map ``..._dseg.nii.gz`` (written last: its presence
marks the subject finished, so a rerun skips it unless ``overwrite``), a JSON sidecar
``..._dseg.json`` (models, options, volumes, QC) and optionally a 4-D posterior map
``..._probseg.nii.gz`` (volume ``c`` = probability of FeTA label ``c``). The summary CSVs are rebuilt
from the sidecars of every finished subject, so a resumed batch still lists all subjects.

Naming: a BIDS/FeTA folder input is mirrored below the output folder
(``sub-X/anat/sub-X_rec-Y_T2w.nii.gz`` -> ``OUT/sub-X/anat/sub-X_rec-Y_dseg.nii.gz``); a plain file
``NAME.nii.gz`` becomes ``OUT/NAME_dseg.nii.gz`` (``NAME_T2w`` -> ``NAME_dseg``), or exactly OUTPUT
when there is one input and OUTPUT ends in ``.nii``/``.nii.gz``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..errors import InputError
from ..io import atomic_path, check_writable, is_nifti_path, write_text
from ..io.atomic import exists_error


@dataclass(frozen=True)
class Job:
    """One subject: its input image, its label-map output and optional posterior output."""

    subject: str
    input: Path
    output: Path
    posteriors: Path | None = None

    @property
    def sidecar(self) -> Path:
        return self.output.with_name(_stem(self.output.name) + ".json")

    def finished(self) -> bool:
        return self.output.exists()


@dataclass
class BatchSummary:
    """What a batch did: finished now, skipped (finished earlier), failed with one-line reasons (naming the file)."""

    done: list[Job] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)
    failed: list[tuple[Job, str]] = field(default_factory=list)

    def text(self) -> str:
        parts = [f"{len(self.done)} segmented", f"{len(self.skipped)} skipped (already done)",
                 f"{len(self.failed)} failed"]
        return ", ".join(parts)


def _stem(name: str) -> str:
    for suf in (".nii.gz", ".nii", ".json"):
        if name.endswith(suf):
            return name[: -len(suf)]
    return name


def dseg_name(input_name: str) -> str:
    """``X_T2w.nii.gz`` -> ``X_dseg.nii.gz``; ``X.nii`` -> ``X_dseg.nii.gz``."""
    stem = _stem(input_name)
    stem = stem[: -len("_T2w")] if stem.endswith("_T2w") else stem
    return f"{stem}_dseg.nii.gz"


def probseg_name(dseg: str) -> str:
    """``X_dseg.nii.gz`` -> ``X_probseg.nii.gz``; ``seg.nii.gz`` -> ``seg_probseg.nii.gz``."""
    stem = _stem(dseg)
    stem = stem[: -len("_dseg")] if stem.endswith("_dseg") else stem
    return f"{stem}_probseg.nii.gz"


def plan_jobs(inputs: Sequence[os.PathLike], output: os.PathLike,
              posteriors_dir: os.PathLike | None = None) -> list[Job]:
    """Expand the inputs to jobs and check every output path (nothing is written).

    Raises :class:`InputError` for a missing input, a file that is not NIfTI, a folder without
    NIfTI files or subjects, an output folder that is a file, or two inputs with the same output.
    """
    from ..datasets import expand_inputs

    output = Path(output)
    pairs = [(f.subject, f.path, f.relative.with_name(dseg_name(f.relative.name)))  # subject, input, output rel
             for f in expand_inputs(inputs, kind="t2w")]
    single_file = len(pairs) == 1 and is_nifti_path(output) and not Path(inputs[0]).is_dir()
    if not single_file:
        if is_nifti_path(output):
            raise InputError(output, "several inputs need an output folder, not a NIfTI file name")
        if output.exists() and not output.is_dir():
            raise InputError(output, "exists and is not a folder")
    jobs, seen = [], {}
    for subject, src, rel in pairs:
        out = output if single_file else output / rel
        if out in seen:
            raise InputError(src, f"same output {out} as {seen[out]} (rename one input)")
        seen[out] = src
        post = None
        if posteriors_dir is not None:
            pd = Path(posteriors_dir)
            if pd.exists() and not pd.is_dir():
                raise InputError(pd, "exists and is not a folder")
            post = pd / (rel.parent if not single_file else Path()) / probseg_name(out.name)
        jobs.append(Job(subject, src, out, post))
    return jobs


def run_batch(jobs: Sequence[Job], work: Callable[[Job], None], *, overwrite: bool = False,
              progress: Callable[[int, int], None] | None = None, reraise_single: bool = True) -> BatchSummary:
    """Run ``work(job)`` for every unfinished job; failures are recorded and the batch goes on.

    ``progress(done, total)`` is called before the first job and after each (``total``: jobs to run).
    With one job and ``reraise_single``, its error propagates (a single bad input is a bad argument:
    exit code 2 at the command line).
    """
    summary = BatchSummary()
    todo = []
    for job in jobs:
        (summary.skipped if job.finished() and not overwrite else todo).append(job)
    if progress is not None and todo:
        progress(0, len(todo))
    for k, job in enumerate(todo, start=1):
        try:
            work(job)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one subject must not stop the batch
            if reraise_single and len(jobs) == 1:
                raise
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            msg = exc.message if isinstance(exc, InputError) else f"{job.input}: {type(exc).__name__}: {text}"
            summary.failed.append((job, msg))
        else:
            summary.done.append(job)
        if progress is not None:
            progress(k, len(todo))
    return summary


def summary_rows(jobs: Sequence[Job], summary: BatchSummary) -> tuple[list[dict], list[dict]]:
    """Rows of the volumes and QC tables: every finished subject (now or earlier), from its sidecar."""
    rows_v, rows_q = [], []
    for job in jobs:
        if job in summary.done or job in summary.skipped:
            side = read_sidecar(job) or {}
            base = {"subject": job.subject, "input": str(job.input)}
            rows_v.append({**base, **side.get("volumes_mm3", {})})
            rows_q.append({**base, **side.get("qc", {})})
    return rows_v, rows_q


def write_dataset_description(inputs: Sequence[os.PathLike], output: os.PathLike) -> Path | None:
    """``OUTPUT/dataset_description.json`` (a BIDS derivative naming its source datasets) when some input
    is a BIDS dataset and the output is a folder; an existing file is kept. Returns the path written."""
    from .. import __version__
    from ..datasets import is_bids_folder

    roots = [Path(p) for p in inputs if is_bids_folder(p)]
    desc = Path(output) / "dataset_description.json"
    if not roots or is_nifti_path(output) or desc.exists():
        return None
    return write_text(desc, json.dumps({
        "Name": "fetalseg segment", "BIDSVersion": "1.9.0", "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "fetalseg", "Version": __version__}],
        "SourceDatasets": [{"URL": str(r.resolve())} for r in roots]}, indent=2) + "\n")


def write_sidecar(job: Job, fields: dict) -> None:
    """The subject's JSON sidecar (replaced: it belongs to the unfinished subject being made)."""
    write_text(job.sidecar, json.dumps(fields, indent=2, default=_json_default) + "\n", overwrite=True)


def read_sidecar(job: Job) -> dict | None:
    try:
        return json.loads(job.sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def table_columns(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols.extend(k for k in r if k not in cols)
    return cols


def check_table(path: os.PathLike, overwrite: bool) -> None:
    """An existing summary table may be replaced only with ``overwrite`` or if fetalseg wrote it."""
    p = Path(path)
    if p.is_dir():
        raise InputError(p, "is a directory, expected a .csv file path")
    if p.exists() and not overwrite:
        try:
            first = p.read_text(encoding="utf-8").splitlines()[:1]
        except (OSError, UnicodeDecodeError):
            first = []
        if not first or not first[0].startswith("subject,input,"):
            raise exists_error(p)


def write_table(rows: list[dict], path: os.PathLike) -> None:
    """CSV with a header row; floats as written, missing values empty."""
    buf = io.StringIO()
    cols = table_columns(rows)
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None or (isinstance(v, float) and math.isnan(v)) else v) for k, v in r.items()})
    write_text(path, buf.getvalue(), overwrite=True)


def write_posteriors(post, reference, path: os.PathLike, labels: Sequence[str]) -> None:
    """A 4-D float32 NIfTI (X, Y, Z, C) on ``reference``'s grid and header, written atomically."""
    import nibabel as nib
    import numpy as np

    data = np.moveaxis(np.asarray(post, np.float32), 0, -1)
    hdr = reference.header.copy() if reference.header is not None else None
    img = nib.Nifti1Image(data, reference.affine, header=hdr)
    img.set_data_dtype(np.float32)
    img.header.set_slope_inter(1.0, 0.0)
    img.header["intent_name"] = b"probseg"
    img.header["descrip"] = ("fetalseg posteriors: " + " ".join(labels)).encode()[:79]
    img.set_sform(reference.affine, code=1)
    img.set_qform(reference.affine, code=1)
    with atomic_path(path, overwrite=True) as tmp:
        nib.save(img, str(tmp))


def check_job_outputs(jobs: Sequence[Job], overwrite: bool) -> None:
    """Outputs must be writable paths (folders are not); finished ones are skipped, not an error."""
    for job in jobs:
        for p in (job.output, job.sidecar, job.posteriors):
            if p is not None and p.is_dir():
                raise InputError(p, "is a directory, expected a file path")
        if overwrite:
            check_writable(job.output, True)


def _json_default(obj):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(obj)
