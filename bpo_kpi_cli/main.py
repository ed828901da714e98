"""`bpo-kpi`: the argument parser and the dispatch of a parsed command to its module.

Start-up design: this module and `bpo_kpi_cli.args` import only the standard library and the
KPI catalog's names, so `bpo-kpi --help` and `bpo-kpi COMMAND --help` answer without importing
pandas, DuckDB, pydantic or SciPy (a test checks this; the budget for `bpo-kpi --help` is 0.3 s).
`COMMANDS` names each command's function as "module:function"; `main` imports that module
(with `importlib`) only once the command is parsed, and the module imports everything it uses
at its top. That is the only deferred import in the shell, and it is there for start-up time,
not to break a cycle: `bpo_kpi_cli` sits above every other package and nothing imports it.

The errors a user causes or can fix are turned into one line on stderr and an exit code by
`bpo_kpi_cli.output.command`, which wraps every command function: their exception classes come
from pydantic and DuckDB, which this module must not import.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path

from bpo_kpi.state import ACTION_KINDS
from bpo_kpi_cli.args import (
    add_common,
    add_engine_args,
    add_format,
    add_listing,
    add_query_args,
    add_where,
    lag_days,
    parse_date,
    parse_date_or_datetime,
    parse_datetime,
)
from kpi.catalog import RATE_KPIS

# Command -> "module:function" under bpo_kpi_cli.commands; imported when the command runs.
COMMANDS = {
    "ingest": "write:cmd_ingest",
    "retry": "write:cmd_retry",
    "upgrade": "write:cmd_upgrade",
    "recompute": "write:cmd_recompute",
    "runs": "read:cmd_runs",
    "warnings": "read:cmd_warnings",
    "rejects": "read:cmd_rejects",
    "kpis": "read:cmd_kpis",
    "scorecard": "read:cmd_scorecard",
    "gaps": "read:cmd_gaps",
    "alerts": "alerts:cmd_alerts",
    "calibration": "read:cmd_calibration",
    "meeting": "meeting:cmd_meeting",
    "publish": "read:cmd_publish",
    "actions": "actions:cmd_actions",
    "export": "export:cmd_export",
    "demo": "serve:cmd_demo",
    "serve": "serve:cmd_serve",
    "bench": "bench:cmd_bench",
}

# bench/<name>_bench.py
BENCHMARKS = ("ingest", "kpi", "read", "startup", "dashboard", "export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bpo-kpi",
        description="KPIs of outsourced content review: quality, agreement, turnaround.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ing = sub.add_parser(
        "ingest",
        help="load vendor files (decisions, audits, calibration) into the database",
        description="Validate and upsert vendor files. Every row is inserted, updated, "
        "unchanged, stale (a re-sent older version: not applied) or rejected with a reason; "
        "rows kept with a fixed or emptied field carry warnings. Files given by name load in "
        "one transaction; a FOLDER loads each file not loaded before, in name order, as its "
        "own run (--watch: keep doing so as files arrive). A file already loaded with the same "
        "content, mapping and configuration is reported as such and not read again.",
    )
    ing.add_argument("kind", choices=["decisions", "audits", "calibration"])
    ing.add_argument("files", nargs="+", type=Path, metavar="FILE|FOLDER")
    ing.add_argument("--vendor", help="vendor name for rows that carry none (checked if they do)")
    ing.add_argument("--mapping", type=Path, help="vendor mapping TOML (see sample_data/vendors)")
    ing.add_argument("--force", action="store_true", help="load files even if already loaded")
    ing.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="how long to wait for another ingest holding the database "
        "(default: the configuration's ingest.lock_wait_seconds, 600)",
    )
    ing.add_argument("--watch", action="store_true", help="with a FOLDER: keep loading new files")
    ing.add_argument(
        "--every", type=float, default=30.0, metavar="SECONDS", help="with --watch: poll interval"
    )
    ing.add_argument(
        "--settle",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="with a FOLDER: a file modified more recently than this is still being written",
    )
    add_format(ing, "table", "json")
    ing.add_argument("--quiet", action="store_true", help="no progress messages")
    add_common(ing)

    rt = sub.add_parser(
        "retry",
        help="validate a run's rejected rows again (after fixing a mapping or the config)",
        description="Re-validate the rejected rows of ingest run RUN still outstanding, with "
        "the current configuration and mapping (--mapping, else the run's mapping file as it "
        "is now), and load those now valid. The retry is a run of its own; rows rejected again "
        "are recorded under it with their original lines.",
    )
    rt.add_argument("run", type=int, metavar="RUN")
    rt.add_argument("--mapping", type=Path, help="vendor mapping TOML (default: the run's)")
    rt.add_argument("--wait", type=float, metavar="SECONDS", help="as for ingest")
    add_format(rt, "table", "json")
    rt.add_argument("--quiet", action="store_true", help="no progress messages")
    add_common(rt)

    runs = add_listing(
        sub, "runs", "ingest runs: counts, status and why a run failed",
        "The latest ingest runs with their reconciliation (read = inserted + updated + "
        "unchanged + stale + rejected), warnings, status (ok, ok_with_rejects, failed, "
        "rolled_back, interrupted, running) and error.",
        limit=50,
    )  # fmt: skip
    runs.add_argument("--status", help="only runs with this status (e.g. failed)")
    add_listing(
        sub, "warnings",
        "warnings of ingest runs: rows loaded with a field fixed or emptied",
        "Show warnings (of one run with --run): the row's line, the column, the value as read "
        "and what was done (clamped, emptied, kept as an unknown error type).",
    ).add_argument("--run", type=int, help="ingest run id (default: all runs)")  # fmt: skip

    kp = sub.add_parser(
        "kpis",
        help="KPI table by dimensions and period",
        description="Compute every KPI of the catalog (or --kpis) grouped by dimensions and "
        "period. JSON/CSV fields are the KPI names; empty values are null.",
    )
    add_query_args(kp)
    kp.add_argument("--kpis", help="comma-separated KPI names (default: all)")
    kp.add_argument(
        "--time-keys",
        default="",
        help="also group by local arrival time: weekday (1 = Monday) and/or hour "
        "(the Turnaround page's hour x weekday heatmap: --time-keys weekday,hour)",
    )

    sc = sub.add_parser(
        "scorecard",
        help="every KPI per vendor with its target, status and rank",
        description="Every KPI of the catalog (or --kpis) per vendor over the window and "
        "filters, as the dashboard's Vendor comparison shows it: value, 95%% interval and n, "
        "the target that applies (per workflow and vendor; a vendor in several workflows is "
        "held to their targets weighted by its volume there), status (met, missed, too few, no "
        "target, no data) and rank (1 = best; backlog and pending disputes ranked per 1,000 "
        "decisions / audits). JSON/CSV fields: kpi, label, unit, direction, vendor, value, "
        "low, high, n, enough, target, status, relative, relative_to, rank, ranked. CSV text "
        "is safe to open in a spreadsheet.",
    )
    add_query_args(sc)
    sc.add_argument("--kpis", help="comma-separated KPI names (default: all)")

    pub = sub.add_parser(
        "publish",
        help="write the canonical tables to Parquet files (for Spark, or readers during ingest)",
        description="Write decisions, audit_facts and calibration_ratings to DIR/<table>.parquet "
        "(each file replaced whole), in time order. `bpo-kpi kpis --engine spark --parquet DIR` "
        "reads them.",
    )
    pub.add_argument("--out", type=Path, required=True, metavar="DIR")
    add_common(pub)

    gp = sub.add_parser(
        "gaps",
        help="quality gaps: segments above target error rate with confidence",
        description="Segments (combinations of dimensions) whose Wilson lower bound of the "
        "error rate is above the target error rate, ranked by excess errors. With --segment, "
        "drill into one segment: --drill reviewers | error-types | decisions.",
    )
    add_query_args(gp)
    gp.add_argument(
        "--dims",
        default="vendor,site,workflow,market",
        help="dimensions to search (policy is opt-in: see kpi/gaps.py)",
    )
    gp.add_argument("--depth", type=int, default=3, help="max dimensions per segment")
    gp.add_argument("--min-audits", type=int, default=20, help="skip smaller segments")
    gp.add_argument("--all", action="store_true", help="include gaps explained by a narrower one")
    gp.add_argument("--segment", help="DIM=VALUE[,DIM=VALUE...]: drill into this segment")
    gp.add_argument(
        "--drill", choices=["reviewers", "error-types", "decisions"], default="reviewers"
    )

    cal = sub.add_parser(
        "calibration",
        help="calibration sessions: agreement, accuracy vs golden, contested items",
        description="Per session and vendor: accuracy against the golden answer (95% interval "
        "clustered by item and rater), Fleiss' kappa, Krippendorff's alpha and Gwet's AC1 with "
        "item-bootstrap intervals; --items lists "
        "every item with its majority, golden label and contested flag.",
    )
    cal.add_argument("--session", action="append", default=[], help="session id (repeatable)")
    cal.add_argument("--workflow")
    cal.add_argument("--vendor")
    cal.add_argument("--from", dest="start", type=parse_date)
    cal.add_argument("--to", dest="end", type=parse_date)
    cal.add_argument("--items", action="store_true", help="per-item table instead of summary")
    cal.add_argument("--bootstrap", type=int, default=500, help="bootstrap replicates")
    cal.add_argument("--role", default="admin")
    add_format(cal, "table", "json", "csv")
    add_engine_args(cal)
    add_common(cal)

    mt = sub.add_parser(
        "meeting",
        help="calibration meeting pack for one vendor: a deck (pptx), pdf or json",
        description="The weekly calibration meeting with a vendor, for one session (--session, "
        "repeatable: pooled) or every session of an ISO week the vendor's raters rated "
        "(--week): agreement with intervals and Landis-Koch readings (the Calibration review "
        "page's numbers), contested items with every rater's label and cited policy (and a "
        "link when calibration.item_url_template is configured), last meeting's actions with "
        "their effect so far, this meeting's agreed actions and notes. pdf converts the deck "
        "with LibreOffice (soffice), which must be installed.",
    )
    mt.add_argument("--session", action="append", default=[], help="session id (repeatable)")
    mt.add_argument("--week", help="ISO week, e.g. 2026-W47: every session the vendor rated")
    mt.add_argument("--vendor", required=True, help="whose raters the meeting is with")
    mt.add_argument(
        "--workflow", action="append", default=[], help="with --week: only these workflows"
    )
    mt.add_argument("--out", required=True, metavar="PATH",
                    help="the file to write (.pptx, .pdf, .json; - : json on stdout)")  # fmt: skip
    mt.add_argument("--format", dest="fmt", choices=["pptx", "pdf", "json"],
                    help="default: from --out's suffix")  # fmt: skip
    mt.add_argument("--notes", metavar="TEXT", help="this meeting's notes (plain text)")
    mt.add_argument("--notes-file", type=Path, metavar="FILE", help="notes from a UTF-8 file")
    mt.add_argument(
        "--as-of", type=parse_date, metavar="DAY",
        help="the day actions' effects are measured to (default: the newest data)",
    )  # fmt: skip
    mt.add_argument("--kpi", default="quality_score", help="the KPI of the actions' effects")
    mt.add_argument("--days", type=int, default=28, help="days before and after each action")
    mt.add_argument("--bootstrap", type=int, default=500, help="bootstrap replicates")
    mt.add_argument("--role", default="admin", help="viewer role from the configuration")
    mt.add_argument("--quiet", action="store_true", help="no progress messages")
    add_common(mt)

    al = sub.add_parser(
        "alerts",
        help="the daily monitor's alert list (the dashboard's Overview)",
        description="Alerts for one day within the filters, most severe first: data not "
        "fresh, error rates out of control (daily p-chart per vendor over the window), SLA "
        "breaches on the day and backlog past due at its end (per vendor x workflow), QA "
        "coverage below target over the window's fully audited days. Definitions: kpi/monitor.py. "
        "With the dashboard's From/To days and filters, the same alerts as its Overview page. "
        "Acknowledged and snoozed alerts (--ack, --snooze: kept in <db>.state.sqlite beside "
        "the database) stay listed, with a status column once that file exists; --notify "
        "sends the new ones, --exit-status makes the exit code say how bad the day is.",
    )
    al.add_argument(
        "--day",
        "--to",
        dest="day",
        type=parse_date,
        help="the monitored day, the window's last day (default: the newest day with data)",
    )
    al.add_argument(
        "--from",
        dest="start",
        type=parse_date,
        help="the window's first day (default: 27 days before --day, not before the data)",
    )
    add_where(al)
    al.add_argument("--vendor", action="append", default=[], help="same as --where vendor=...")
    al.add_argument("--workflow", action="append", default=[], help="same as --where workflow=...")
    al.add_argument("--role", default="admin", help="viewer role from the configuration")
    al.add_argument(
        "--as-of",
        type=parse_datetime,
        help="instant of the freshness check, the audit lag and an unfinished day's backlog "
        "(default: now)",
    )
    al.add_argument(
        "--qa-lag-days",
        type=lag_days,
        default=3,
        help="days after which a day's QA audits count as complete (0 to 365; default: 3)",
    )
    add_format(al, "table", "json", "csv")
    al.add_argument(
        "--notify",
        nargs="+",
        action="extend",
        default=[],
        metavar="URL",
        help="send the day's alerts that are neither acknowledged, snoozed nor already sent to "
        "each apprise URL (mailto://, slack://, workflows://, json://HOST:PORT/PATH ...), one "
        "message per target with a dashboard link per alert ([dashboard] url); what was sent "
        "and skipped goes to stderr; implies --exit-status (3: a target was not reached)",
    )
    al.add_argument(
        "--digest",
        action="store_true",
        help="with --notify: also send the day's digest once per target (HTML: the vendor "
        "tiles and the alert list)",
    )
    al.add_argument(
        "--exit-status",
        action="store_true",
        help="exit 0 when no alert is open (neither acknowledged nor snoozed; info alerts do "
        "not count), 1 when the worst open one is a warning, 2 when one is critical. Errors "
        "keep exiting 1 (usage errors 2) with an `error:` line on stderr",
    )
    action = al.add_mutually_exclusive_group()
    action.add_argument(
        "--ack", metavar="KEY", help="acknowledge alert KEY (the key column) with --by, --reason"
    )
    action.add_argument(
        "--snooze", metavar="KEY", help="snooze alert KEY --until a day, with --by, --reason"
    )
    action.add_argument(
        "--unack", metavar="KEY", help="clear alert KEY's acknowledgement or snooze (new again)"
    )
    al.add_argument(
        "--until",
        type=parse_date_or_datetime,
        metavar="DAY|TIME",
        help="with --snooze: YYYY-MM-DD (from that day's start in the reporting time zone the "
        "alert is new again) or an ISO time; at most 90 days ahead",
    )
    al.add_argument("--by", metavar="NAME", help="with --ack / --snooze: who")
    al.add_argument("--reason", metavar="TEXT", help="with --ack / --snooze: why")
    add_engine_args(al)
    add_common(al)

    add_actions(sub)

    ex = sub.add_parser(
        "export",
        help="KPI snapshot or stakeholder deck for a period (pptx, xlsx, csv, parquet, json, html)",
        description="Write the period's KPIs per vendor and per vendor x workflow, the "
        "scorecard against targets, the weekly trend before it, the top quality gaps, the "
        "calibration summary, the alerts and the KPI definitions, with a lineage manifest "
        "(period, scope, data freshness, ingest runs and file SHA-256, configuration hash, "
        "version, content hash). pptx is a deck with an executive summary and native charts; "
        "csv and parquet write a folder (or a .zip) with a file per table. The same data and "
        "configuration give the same content hash and byte-identical csv, json and parquet.",
    )
    ex.add_argument(
        "--period",
        help="2026-W41 (ISO week), 2026-10 (month), 2026-Q4 (quarter), 2026 or 2026-10-05; "
        "or give --from and --to",
    )
    ex.add_argument("--from", dest="start", type=parse_date, help="first day, with --to")
    ex.add_argument("--to", dest="end", type=parse_date, help="last day, with --from")
    add_where(ex)
    ex.add_argument(
        "--vendor",
        help="a vendor's deck (QBR): only that vendor's numbers, no other vendor named",
    )
    ex.add_argument("--role", default="admin", help="viewer role from the configuration")
    ex.add_argument(
        "--format",
        dest="fmt",
        choices=["pptx", "xlsx", "csv", "parquet", "json", "html"],
        help="default: from --out's suffix (.pptx, .xlsx, .json, .html; .zip or a folder: csv)",
    )
    ex.add_argument("--out", type=Path, required=True, metavar="PATH")
    ex.add_argument(
        "--compare-to",
        type=Path,
        metavar="SNAPSHOT",
        help="an earlier json / csv / parquet export, or an --archive folder: list every "
        "number that changed since (restated), and mark them in the deck",
    )
    ex.add_argument(
        "--archive",
        type=Path,
        metavar="DIR",
        help="also keep this snapshot (as JSON) in DIR, for later --compare-to DIR",
    )
    ex.add_argument("--trend-weeks", type=int, default=8, help="weeks of trend before the period")
    ex.add_argument("--top-gaps", type=int, default=10, help="quality gaps listed")
    ex.add_argument("--quiet", action="store_true", help="no progress messages")
    add_engine_args(ex)
    add_common(ex)

    add_listing(
        sub, "rejects", "rejected rows of ingest runs, with line and reason",
        "Show the rejected rows not loaded since (of one run with --run), with source line "
        "and reason; `bpo-kpi retry RUN` validates a run's rows again after a fix.",
    ).add_argument("--run", type=int, help="ingest run id (default: all runs)")  # fmt: skip

    demo = sub.add_parser(
        "demo",
        help="generate sample data, ingest it and start the dashboard",
        description="Generate seeded sample data (with injected quality gaps), ingest it into "
        "the database and serve the dashboard.",
    )
    demo.add_argument("--decisions", type=int, default=200_000, help="decisions to generate")
    demo.add_argument("--weeks", type=int, default=10, help="weeks of history")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument(
        "--end",
        type=parse_date,
        help="last day of data, YYYY-MM-DD (default: yesterday in the reporting time zone)",
    )
    demo.add_argument("--data-dir", type=Path, default=Path("demo_data"), help="where files go")
    demo.add_argument("--no-serve", action="store_true", help="only generate and ingest")
    demo.add_argument("--port", type=int, default=8501)
    demo.add_argument("--force", action="store_true", help="regenerate even if the db has data")
    add_common(demo)

    srv = sub.add_parser(
        "serve",
        help="start the dashboard on a database",
        description="Serve the Streamlit dashboard on the database (it reads a replica that "
        "`bpo-kpi ingest` refreshes after each commit, so ingests and the dashboard never wait "
        "for each other).",
    )
    srv.add_argument("--port", type=int, default=8501)
    srv.add_argument(
        "--role",
        help="single-user mode: the role everyone gets (default: admin); with sign-in each "
        "viewer's role comes from the configuration's [auth] rules",
    )
    srv.add_argument(
        "--address", default="localhost",
        help="interface to listen on (default: localhost); another one needs sign-in, or "
        "--allow-no-sign-in",
    )  # fmt: skip
    srv.add_argument(
        "--secrets", type=Path, metavar="FILE",
        help="Streamlit secrets file with the [auth] sign-in settings (default: "
        "~/.streamlit/secrets.toml and ./.streamlit/secrets.toml); keep it out of the repository",
    )  # fmt: skip
    srv.add_argument(
        "--allow-no-sign-in", action="store_true",
        help="serve a non-local --address without sign-in (everyone who reaches the port sees "
        "the role's data)",
    )  # fmt: skip
    add_common(srv)

    up = sub.add_parser(
        "upgrade",
        help="bring a database written by an older bpo-kpi to the current schema",
        description="Open the database for writing once: missing tables and columns are added "
        "and derived values filled (any ingest does the same).",
    )
    up.add_argument("--wait", type=float, metavar="SECONDS", help="as for ingest")
    add_common(up)

    rc = sub.add_parser(
        "recompute",
        help="derive stored values again after SLA minutes, error types or severity rules change",
        description="Due times (from the SLA minutes), error categories and severities are "
        "stored at ingest. After those settings change, this derives them again with the "
        "current configuration, in one transaction, and publishes the replica (the next "
        "ingest would do the same). Targets and monitor settings need no recompute.",
    )
    rc.add_argument("--wait", type=float, metavar="SECONDS", help="as for ingest")
    add_common(rc)

    bench = sub.add_parser(
        "bench",
        help="run a benchmark from bench/ (ingest, kpi, read, startup, dashboard, export): "
        "figures, no verdict",
        description="Run bench/<NAME>_bench.py with the arguments that follow, e.g. "
        "`bpo-kpi bench kpi --sizes 1000000`. `bpo-kpi bench kpi --help` lists its options.",
    )
    bench.add_argument("name", choices=list(BENCHMARKS), help="which benchmark")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark")
    return parser


def add_actions(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`bpo-kpi actions add|import|list|close|effect`."""
    ac = sub.add_parser(
        "actions",
        help="actions taken on a segment (retraining, policy clarification...) and their effect",
        description="Record what was done about a segment's quality and when it took effect, "
        "list and close actions, and measure an action's effect: its segment's KPI before and "
        "after, against peer segments without an action (difference in differences). Actions "
        "are kept in <db>.state.sqlite beside the database: add, import, list and close never "
        "open the database, so they work while an ingest runs.",
    )
    acts = ac.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(p: argparse.ArgumentParser, *formats: str) -> None:
        p.add_argument("--role", default="admin", help="viewer role from the configuration")
        add_format(p, *formats)
        add_common(p)

    add = acts.add_parser(
        "add",
        help="record an action; prints its id",
        description="Record an action against a segment. The segment must be within the "
        "role's scope; the date is the local day it took effect.",
    )
    add.add_argument(
        "--segment",
        required=True,
        metavar="DIM=VALUE[,DIM=VALUE...]",
        help="vendor, site, workflow, market, policy and/or reviewer_id, e.g. "
        "vendor=meridian,workflow=graphic_violence",
    )
    add.add_argument("--date", required=True, type=parse_date, help="YYYY-MM-DD")
    add.add_argument("--kind", required=True, choices=list(ACTION_KINDS))
    add.add_argument("--note", required=True, help="what was done (up to 2,000 characters)")
    add.add_argument("--owner", help="who owns it (up to 100 characters)")
    add.add_argument(
        "--source",
        help="where it came from: calibration:SESSION_ID or gap:DIM=VALUE|DIM=VALUE",
    )
    common(add, "table", "json")

    imp = acts.add_parser(
        "import",
        help="record the actions of a CSV file (all or none)",
        description="Columns date, kind, segment, note, owner, source (owner and source may "
        "be left out; any order), UTF-8 (a byte-order mark is fine), at most 10,000 rows. Every "
        "row is checked first: a bad one stops the import with its file, line and column, and "
        "nothing is stored.",
    )
    imp.add_argument("file", type=Path, metavar="FILE.csv")
    common(imp, "table", "json")

    ls = acts.add_parser(
        "list", help="the actions the role may see", description="Actions by date, then id."
    )
    ls.add_argument("--open", action="store_true", help="only open (not closed) actions")
    common(ls, "table", "json", "csv")

    cl = acts.add_parser(
        "close",
        help="mark an action closed (done; its effect can still be measured)",
        description="Mark an action closed.",
    )
    cl.add_argument("id", type=int, metavar="ID")
    cl.add_argument("--by", metavar="NAME", help="who closes it")
    common(cl, "table", "json")

    ef = acts.add_parser(
        "effect",
        help="the action's effect: before / after, interval, test, difference in differences",
        description="The segment's KPI over --days days before and after the action, the "
        "difference (after - before, in the KPI's units: 0.05 = 5 pp) with a 95%% interval and "
        "p-value clustered by day and reviewer, and the difference in differences against peer "
        "segments without an action. Only complete days count (QA audits arrive up to 3 days "
        "late): until the after window is complete the result is provisional (complete: false).",
    )
    ef.add_argument("id", type=int, metavar="ID")
    ef.add_argument("--kpi", default="quality_score", choices=list(RATE_KPIS))
    ef.add_argument("--days", type=int, default=28, help="days on each side (default: 28)")
    ef.add_argument(
        "--as-of",
        type=parse_date,
        metavar="DAY",
        help="judge with the data as of the end of this day (default: now)",
    )
    common(ef, "table", "json")
    add_engine_args(ef)


def command_function(name: str) -> Callable[[argparse.Namespace], int]:
    """The function of command `name`, importing its module (and what that module uses)."""
    module, _, function = COMMANDS[name].partition(":")
    found: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(f"bpo_kpi_cli.commands.{module}"), function
    )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default: the process's arguments), run the command, return its exit code:
    0 ok, 1 an error the command reported (one line on stderr), 2 a usage error (argparse
    exits with 2 itself; a value the query model rejects returns 2), 130 interrupted."""
    args = build_parser().parse_args(argv)
    return command_function(args.command)(args)


if __name__ == "__main__":
    raise SystemExit(main())
