"""Exceptions shared by the whole package.

:class:`InputError` is the one error users should ever see for bad input: the command-line interface
prints it as a single line ``fetalseg: error: PATH: PROBLEM`` on stderr and exits with code 2.
"""

from __future__ import annotations

import os
import re
from typing import Mapping


class InputError(ValueError):
    """Bad user input (a file, a folder or an argument), with the offending path.

    Parameters
    ----------
    path : str or os.PathLike or None
        The file or folder at fault; ``None`` for an argument that is not a path.
    problem : str
        What is wrong, as a short phrase without a trailing full stop. Parameters of the library
        function are named in backticks (```threads` must be >= 1``, ``use `overwrite=True```), never
        as command-line flags: the command line renames them (:func:`rename_params`).
    param : str, optional
        The name of the parameter at fault, when the problem is an argument value.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str, *, param: str | None = None):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        self.param = param
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.problem.replace("\n", " ").strip()
        return text if self.path is None else f"{self.path}: {text}"


_PARAM = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)(?:=([^`]*))?`")


def rename_params(text: str, names: Mapping[str, str]) -> str:
    """``text`` with every backticked parameter reference of ``names`` renamed.

    ```name` `` and ```name=True` `` become ``names[name]``; ```name=VALUE` `` becomes
    ``names[name] VALUE`` (quotes around ``VALUE`` dropped). References to other names are kept as
    they are. The command line uses it to turn parameter names into flags
    (``{"overwrite": "--overwrite"}``).
    """

    def sub(m: re.Match) -> str:
        flag = names.get(m.group(1))
        if flag is None:
            return m.group(0)
        value = m.group(2)
        if value is None or value == "True":
            return flag
        return f"{flag} {value.strip(chr(39) + chr(34))}"

    return _PARAM.sub(sub, text)
