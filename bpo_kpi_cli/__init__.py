"""The `bpo-kpi` command line: a shell that parses arguments, calls `ingest`, `kpi`,
`sample_data` and `bpo_kpi`, and prints what they return. Imports run one way: this package may
import every other; none imports it (a test in tests/test_static.py checks both).

Layout:

- `main`: the parser and the dispatch of a command to its module (`main.COMMANDS`);
- `args`: the arguments several commands share and the parsers of their values;
- `output`: printing (tables, reconciliations, progress), exit codes, and
  `output.command`, which turns a user's error into one line on stderr and an exit code;
- `commands.read`, `commands.alerts`, `commands.write`, `commands.actions`, `commands.meeting`,
  `commands.export`, `commands.serve`, `commands.bench`: the commands by area (a command's
  module imports only what its commands use: start-up time);
- `docs`: `python -m bpo_kpi_cli.docs` regenerates the README's reference tables.

Two changes to the layout first proposed (issue 11): the error handling is a decorator on each
command function (`output.command`) rather than a `try` in `main`, and a `KpiQuery` is built
from the arguments in `commands.read` rather than in `args`: both need pydantic (and the error
handling DuckDB's `DatabaseBusy`), and `main` and `args` are the `--help` path, which imports
neither (see `main`'s docstring on start-up).
"""
