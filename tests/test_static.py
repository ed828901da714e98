"""The checks the README tells developers to run before a commit, run by the suite so that CI
gates them: ruff (lint), ruff format and mypy over every package; and the shape of the code:
which package may import which (docs/ARCHITECTURE.md §1), and a command line whose `--help`
imports no data library."""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.static


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],  # the packages listed in pyproject.toml's [tool.mypy] files
    ],
    ids=["ruff", "ruff-format", "mypy"],
)
def test_static_check_passes(command: list[str]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, f"{' '.join(command)} failed:\n{run.stdout}\n{run.stderr}"


# Which of the project's packages each part may import: docs/ARCHITECTURE.md §1. Imports run
# one way; the command line (bpo_kpi_cli) sits on top and only the tests import it.
FIRST_PARTY = {
    "bpo_kpi", "bpo_kpi_cli", "ingest", "kpi", "export", "app_pages", "sample_data", "app"
}  # fmt: skip
MAY_IMPORT: dict[str, set[str]] = {
    "bpo_kpi": set(),
    "ingest": {"bpo_kpi"},
    "kpi": {"bpo_kpi"},
    "export": {"bpo_kpi", "kpi"},  # a KPI snapshot written as files: the CLI and the dashboard
    "sample_data": {"bpo_kpi", "ingest"},
    "app_pages": {"bpo_kpi", "kpi", "export"},
    "app.py": {"app_pages", "bpo_kpi", "kpi"},
    "notebooks": {"bpo_kpi", "kpi"},
    "bench": {"bpo_kpi", "ingest", "kpi", "export", "sample_data"},
    "bpo_kpi_cli": {"bpo_kpi", "ingest", "kpi", "export", "sample_data", "app_pages"},
}


def first_party_imports(source: str, own: str) -> set[tuple[str, int]]:
    """(package, line) of every import of another first-party package in `source`: at the top,
    in a function or under `if TYPE_CHECKING` alike (a deferred import is still an import)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue  # relative imports stay inside their package
        for name in names:
            top = name.partition(".")[0]
            if top in FIRST_PARTY and top != own:
                found.add((top, node.lineno))
    return found


def _sources(part: str) -> dict[str, str]:
    """Python source of a part, by file: a package or folder's .py files, a notebook's code
    cells (IPython magics left out), or one file."""
    path = ROOT / part
    if path.is_file():
        return {part: path.read_text(encoding="utf-8")}
    out = {str(f.relative_to(ROOT)): f.read_text(encoding="utf-8") for f in path.rglob("*.py")}
    for nb in path.rglob("*.ipynb"):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        lines = "\n".join(code).splitlines()
        kept = (ln for ln in lines if not ln.lstrip().startswith(("%", "!")))
        out[str(nb.relative_to(ROOT))] = "\n".join(kept)
    return out


def test_every_package_has_an_import_rule() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - set(MAY_IMPORT) == set(), "give the new package a rule in MAY_IMPORT"
    assert all((ROOT / part).exists() for part in MAY_IMPORT)


@pytest.mark.parametrize("part", sorted(MAY_IMPORT))
def test_imports_run_one_way(part: str) -> None:
    own = part.removesuffix(".py")
    wrong = [
        f"{file}:{line} imports {package}"
        for file, source in sorted(_sources(part).items())
        for package, line in sorted(first_party_imports(source, own))
        if package not in MAY_IMPORT[part]
    ]
    assert wrong == [], f"{part} may import only {sorted(MAY_IMPORT[part])}:\n" + "\n".join(wrong)


def test_the_import_check_sees_deferred_imports() -> None:
    source = """
from typing import TYPE_CHECKING
import os
from bpo_kpi.db import connect
if TYPE_CHECKING:
    from ingest.load import FileResult
def later():
    from kpi import gateway
    import sample_data.writers
"""
    found = {package for package, _ in first_party_imports(source, "bpo_kpi")}
    assert found == {"ingest", "kpi", "sample_data"}


HEAVY = ("pandas", "numpy", "duckdb", "scipy", "pydantic", "pyarrow", "streamlit")


def test_help_imports_no_heavy_library() -> None:
    """`bpo-kpi --help` and `bpo-kpi COMMAND --help` stay fast: the parser imports no data
    library; a command's module is imported when it runs (bpo_kpi_cli.main)."""
    code = (
        "import contextlib, io, sys\n"
        "from bpo_kpi_cli.main import main\n"
        "for argv in (['--help'], ['kpis', '--help'], ['ingest', '--help']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        main(argv)\n"
        f"print(sorted({{m.partition('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_every_command_is_dispatched_and_guarded() -> None:
    from bpo_kpi.config import CONFIG_ENV
    from bpo_kpi.db import DB_ENV, DEFAULT_DB
    from bpo_kpi_cli import args, main, output

    sub = next(a for a in main.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(main.COMMANDS)
    guarded = output.command(lambda _: 0).__code__
    for name in main.COMMANDS:
        function = main.command_function(name)
        assert function.__code__ is guarded, f"{name}: wrap its function in output.command"
    # The parser's help spells out these names (importing them would import DuckDB).
    assert f"${DB_ENV} or ./{DEFAULT_DB}" in args.DB_HELP
    assert f"${CONFIG_ENV}" in args.CONFIG_HELP
