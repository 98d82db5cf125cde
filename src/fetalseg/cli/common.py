"""Helpers shared by command modules: consoles, progress bars, option types, parameter names as flags."""

from __future__ import annotations

import typer

OVERWRITE = typer.Option(False, "--overwrite", help="Replace existing outputs.")

#: Library parameter -> command-line flag, for parameter names in library messages (see
#: :func:`fetalseg.errors.rename_params`).
FLAGS = {
    "overwrite": "--overwrite", "resume": "--resume", "run_dir": "-o", "which": "--checkpoint",
    "device": "--device", "threads": "--threads", "merge": "--merge", "model": "--model", "sites": "--sites",
    "n": "-n", "columns": "--columns", "convention": "--convention", "shares": "--shares", "steps": "--steps",
    "precision": "--precision", "flips": "--flips", "empty": "--empty", "ec_target": "--ec-target",
    "resample_pred": "--resample-pred", "jobs": "--jobs",
}


def cli_text(text: str) -> str:
    """A library message with its parameter names replaced by the flags of :data:`FLAGS`."""
    from ..errors import rename_params

    return rename_params(text, FLAGS)


def console(stderr: bool = False):
    """A Rich console (stdout by default)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def progress(disable: bool = False):
    """A Rich progress bar on stderr with count, elapsed and remaining time."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console(stderr=True), disable=disable, transient=False,
    )


class StepBar:
    """A Rich progress bar fed by ``bar(done, total, info)`` calls (the library's progress callbacks).

    The bar appears at the first call, so processes that never report (DDP ranks other than 0)
    draw nothing, nor does a run of fewer than ``min_total`` items; leaving the ``with`` block stops it.
    ``info``: show the text the library passes with each call.
    """

    def __init__(self, name: str, enabled: bool = True, info: bool = True, min_total: int = 0):
        self.name, self.enabled, self.info, self.min_total = name, enabled, info, min_total
        self._bar, self._task = None, None

    def __call__(self, done: int, total: int, info: str = "") -> None:
        if not self.enabled or total < self.min_total:
            return
        if self._bar is None:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            columns = [TextColumn(f"[bold]{self.name}"), BarColumn(), MofNCompleteColumn()]
            columns += [TextColumn("{task.fields[info]}")] if self.info else []
            self._bar = Progress(*columns, TimeElapsedColumn(), TimeRemainingColumn(), console=console(stderr=True))
            self._task = self._bar.add_task(self.name, total=total, completed=done, info=info)
            self._bar.start()
        else:
            self._bar.update(self._task, completed=done, info=info)

    def __enter__(self) -> "StepBar":
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
