"""House rules read from the source: the library never imports the CLI, never names a command-line flag
in a message (parameters are named, the CLI renames them), the topology primitives sit below ``phantom``,
``infer`` and ``metrics`` (nothing upstream of ``metrics`` imports it), and no function body is over 60
lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "fetalseg"
LIBRARY = sorted(p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] != "cli")


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def _messages(path: Path) -> list[tuple[int, str]]:
    """Every string constant of ``path`` but docstrings (bare string statements, attribute docstrings
    included), f-string pieces included, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def _cli_flags() -> set[str]:
    """Every long option of every ``fetalseg`` command, from the Typer app itself."""
    import typer.main

    from fetalseg.cli.main import app

    flags, todo = set(), [typer.main.get_command(app)]
    while todo:
        cmd = todo.pop()
        todo.extend(getattr(cmd, "commands", {}).values())
        for p in cmd.params:
            flags.update(o for o in (*p.opts, *p.secondary_opts) if o.startswith("--"))
    return flags


def test_the_scanners_see_what_they_look_for(tmp_path):
    """The checks below would catch a violation (they are not vacuous)."""
    assert "fetalseg.cli.common" in _imports(SRC / "cli" / "cmd_train.py")
    assert "fetalseg.masks.betti_numbers" in _imports(SRC / "infer" / "qc.py")
    p = tmp_path / "m.py"
    p.write_text('"""Doc --overwrite."""\nX = "doc"\n"""Attribute doc --overwrite."""\nY = f"use --overwrite {1}"\n')
    assert sorted(v for _, v in _messages(p)) == ["doc", "use --overwrite "]  # docstrings left out
    assert {"--overwrite", "--device", "--threads", "--resume", "--checkpoint"} <= _cli_flags()


def test_no_library_module_imports_the_cli():
    offenders = [str(p.relative_to(SRC)) for p in LIBRARY if any(m.startswith("fetalseg.cli") for m in _imports(p))]
    assert offenders == []


def test_no_library_message_names_a_command_line_flag():
    flags = _cli_flags()
    pattern = re.compile(r"(?<![\w`-])(" + "|".join(re.escape(f) for f in sorted(flags, key=len, reverse=True))
                         + r")(?![\w-])")
    offenders = [f"{p.relative_to(SRC)}:{line}: {text!r}" for p in LIBRARY for line, text in _messages(p)
                 if pattern.search(text)]
    assert offenders == []


#: packages upstream of ``metrics`` in the pipeline (README, Layout), ``masks`` the floor below them all
UPSTREAM_OF_METRICS = ["io", "masks", "labels", "datasets", "phantom", "synth", "nets", "train", "infer"]


@pytest.mark.parametrize("floor", UPSTREAM_OF_METRICS)
def test_topology_primitives_sit_below_phantom_infer_and_metrics(floor):
    """Upstream packages reach the topology primitives in :mod:`fetalseg.masks`, never through ``metrics``."""
    offenders = [str(p.relative_to(SRC)) for p in sorted((SRC / floor).rglob("*.py"))
                 if any(m.startswith("fetalseg.metrics") for m in _imports(p))]
    assert offenders == []


def _long_functions(text: str, limit: int = 60) -> list[tuple[str, int, int]]:
    """(name, line, body lines) of the functions in ``text`` whose body (docstring excluded) is over ``limit``."""
    out = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            n = node.end_lineno - body[0].lineno + 1 if body else 0
            if n > limit:
                out.append((node.name, node.lineno, n))
    return out


def test_the_length_check_counts_body_lines_without_the_docstring():
    def source(n: int) -> str:
        return 'def f():\n    """Doc\n    more doc."""\n' + "\n".join(f"    x{i} = {i}" for i in range(n)) + "\n"

    assert _long_functions(source(60)) == []
    assert _long_functions(source(61)) == [("f", 1, 61)]
    assert _long_functions("class A:\n    def m(self):\n" + "\n".join(["        pass"] * 61)) == [("m", 2, 61)]


def test_no_function_body_over_60_lines():
    offenders = [f"{p.relative_to(SRC)}:{line}: {name} body is {n} lines" for p in sorted(SRC.rglob("*.py"))
                 for name, line, n in _long_functions(p.read_text(encoding="utf-8"))]
    assert offenders == []
