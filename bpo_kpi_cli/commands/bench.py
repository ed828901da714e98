"""`bench NAME ARGS...`: run bench/<NAME>_bench.py, which lives in a clone of the repository
(next to the packages), not in an installed package."""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from bpo_kpi_cli.output import EXIT_ERROR, EXIT_OK, command

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


@command
def cmd_bench(args: argparse.Namespace) -> int:
    script = BENCH_DIR / f"{args.name}_bench.py"
    if not script.exists():
        raise FileNotFoundError(f"{script} not found: benchmarks run from a clone of the repo")
    saved = sys.argv
    sys.argv = [str(script), *args.args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    finally:
        sys.argv = saved
    return EXIT_OK
