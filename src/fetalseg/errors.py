"""Exceptions shared by the whole package.

:class:`InputError` is the one error users should ever see for bad input: the command-line interface
prints it as a single line ``fetalseg: error: PATH: PROBLEM`` on stderr and exits with code 2.
"""

from __future__ import annotations

import os


class InputError(ValueError):
    """Bad user input (a file, a folder or an argument), with the offending path.

    Parameters
    ----------
    path : str or os.PathLike or None
        The file or folder at fault; ``None`` for an argument that is not a path.
    problem : str
        What is wrong, as a short phrase without a trailing full stop.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.problem.replace("\n", " ").strip()
        return text if self.path is None else f"{self.path}: {text}"
