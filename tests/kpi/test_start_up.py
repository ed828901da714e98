"""What a CLI query imports (issue 16 item 1): `bpo-kpi kpis`, the gap table and the decision
drill-down import no SciPy, statsmodels or other slow library they do not use (SciPy and
statsmodels alone took 0.8-1 s of a 2 s command). A structural check on a fresh process, not
a timing: the timings are in bench/ and the README's Performance section.

Each command also prints what the library returns for the same query (into a pipe: compact
JSON, one line), so the check cannot pass on a command that failed or printed nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bpo_kpi.config import load_config
from kpi import gaps, monitor
from kpi.compute import kpi_table, records
from kpi.gateway import Gateway
from kpi.query import KpiQuery

ROOT = Path(__file__).resolve().parents[2]
# Imported only where they are used: the statistics of a reviewer drill, calibration and
# action effects (SciPy, statsmodels), the dashboard, decks, workbooks, notifications, Spark.
SLOW = ("scipy", "statsmodels", "sklearn", "formulaic", "patsy", "plotly", "streamlit",
        "pptx", "openpyxl", "matplotlib", "apprise", "pyspark", "sqlglot")  # fmt: skip
# ... and for `bpo-kpi kpis`, `gaps` (but its reviewer drill-downs), `scorecard`, `runs`,
# `rejects`, `warnings` and `alerts`, also these: their tables are numpy columns
# (`kpi.columns`).
TABLE = ("pandas", "pyarrow")

PROBE = """
import contextlib, io, json, sys
from bpo_kpi_cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
columns = sys.argv[1] in (
    "kpis", "gaps", "scorecard", "runs", "rejects", "warnings", "alerts"
) and "reviewers" not in sys.argv
slow = set(%r) | (set(%r) if columns else set())
loaded = sorted({m.partition(".")[0] for m in sys.modules} & slow)
print(json.dumps({"code": code, "stdout": out.getvalue(), "slow": loaded}))
""" % (SLOW, TABLE)  # noqa: UP031


def assert_same_records(got: list[dict], want: list[dict]) -> None:
    """The CLI's records equal the library's: text, counts and nulls exactly, measured numbers
    to 1e-9 (DuckDB's parallel sums may differ in the last bits between two runs)."""
    want = json.loads(json.dumps(want))
    assert [sorted(r) for r in got] == [sorted(r) for r in want]
    for mine, theirs in zip(got, want, strict=True):
        for key, value in theirs.items():
            if isinstance(value, float):
                assert mine[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
            else:
                assert mine[key] == value, key


def run_cli(*argv: str) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def common(kpi_data) -> list[str]:
    return ["--db", str(kpi_data.db), "--config", str(kpi_data.config_file)]


def test_kpis_imports_no_slow_library_and_prints_the_table(kpi_data, common) -> None:
    """`bpo-kpi kpis` builds its table on numpy columns (`kpi.columns`): not even pandas and
    pyarrow (~0.3 s of a process) are imported, in any output format."""
    as_of = kpi_data.as_of.isoformat()
    query = ("kpis", "--by", "vendor,workflow", "--period", "week", "--as-of", as_of)
    got = run_cli(*query, "--format", "json", *common)
    assert got["code"] == 0
    assert got["slow"] == []
    # Not a terminal: one compact line, the records the library computes.
    assert got["stdout"].count("\n") == 1 and ", " not in got["stdout"]
    with Gateway(kpi_data.db, config=kpi_data.config) as gw:
        frame = kpi_table(
            gw, KpiQuery(by=("vendor", "workflow"), period="week"), as_of=kpi_data.as_of
        )
    want = records(frame)
    assert len(want) > 3
    assert_same_records(json.loads(got["stdout"]), want)
    # CSV as pandas writes the library's table, and the aligned text: also without pandas.
    csv = run_cli(*query, "--format", "csv", *common)
    assert csv["code"] == 0 and csv["slow"] == []
    assert csv["stdout"] == frame.to_csv(index=False)
    text = run_cli(*query, *common)
    assert text["code"] == 0 and text["slow"] == []
    lines = text["stdout"].splitlines()
    assert lines[0].split()[:4] == ["vendor", "workflow", "period_start", "decisions"]
    first = lines[1].split()
    assert first[:4] == [*frame.loc[0, ["vendor", "workflow"]], str(frame["period_start"][0]),
                         str(frame["decisions"][0])]  # fmt: skip


def test_gaps_and_the_decision_drill_import_no_slow_library(kpi_data, common) -> None:
    """Nor pandas: the gap table and the decision drill-down are numpy columns too; the
    drill's times keep their time of day and offset in JSON."""
    table = run_cli("gaps", "--format", "json", *common)
    assert table["code"] == 0 and table["slow"] == []
    with Gateway(kpi_data.db, config=kpi_data.config) as gw:
        want = records(gaps.quality_gaps(gw, KpiQuery()))
        # The worst vendor's audited errors.
        vendor = next(r["vendor"] for r in want if r["dimensions"] == "vendor")
        segment = {"vendor": vendor}
        rows = records(gaps.audited_decisions(gw, segment, KpiQuery()))
    assert_same_records(json.loads(table["stdout"]), want)
    drill = run_cli("gaps", "--segment", f"vendor={segment['vendor']}", "--drill", "decisions",
                    "--format", "json", *common)  # fmt: skip
    assert drill["code"] == 0 and drill["slow"] == []
    assert len(rows) > 0
    assert json.loads(drill["stdout"]) == json.loads(json.dumps(rows))
    assert rows[0]["audited_at"].endswith("+00:00") and "T" in rows[0]["audited_at"]


def test_the_probe_sees_a_slow_import(kpi_data, common) -> None:
    """The reviewer drill tests with SciPy: the probe reports it (the check above can fail)."""
    with Gateway(kpi_data.db, config=kpi_data.config) as gw:
        vendor = kpi_table(gw, KpiQuery(by=("vendor",)))["vendor"].iloc[0]
    got = run_cli("gaps", "--segment", f"vendor={vendor}", "--drill", "reviewers", *common)
    assert got["code"] == 0 and "scipy" in got["slow"]


def test_ingest_reports_import_no_pandas(kpi_data, common) -> None:
    """`runs`, `rejects` and `warnings` read numpy columns: the records the Data health page's
    DataFrames hold, times with their time of day."""
    from kpi import health

    with Gateway(kpi_data.db, config=kpi_data.config) as gw:
        want = {
            "runs": records(health.ingest_runs(gw, 200)),
            "rejects": records(health.rejected_rows(gw, None, 1000)),
            "warnings": records(health.ingest_warnings(gw, None, 1000)),
        }
    assert len(want["runs"]) >= 2 and "T" in want["runs"][0]["started_at"]
    for command, rows in want.items():
        got = run_cli(command, "--format", "json", *common)
        assert got["code"] == 0 and got["slow"] == [], command
        assert json.loads(got["stdout"]) == json.loads(json.dumps(rows)), command


def test_scorecard_imports_no_pandas(kpi_data, common) -> None:
    """The scorecard is numpy columns too: the records of the Vendor comparison page's frame
    (counts and ranks as whole numbers), and its aligned text."""
    from kpi.compare import vendor_comparison

    as_of = kpi_data.as_of.isoformat()
    got = run_cli("scorecard", "--as-of", as_of, "--format", "json", *common)
    assert got["code"] == 0 and got["slow"] == []
    with Gateway(kpi_data.db, config=kpi_data.config) as gw:
        want = records(vendor_comparison(gw, KpiQuery(), as_of=kpi_data.as_of))
    assert len(want) > 20
    assert_same_records(json.loads(got["stdout"]), want)
    text = run_cli("scorecard", "--as-of", as_of, *common)
    assert text["code"] == 0 and text["slow"] == []
    assert text["stdout"].splitlines()[0].split() == ["KPI", "Vendor", "Value", "Target",
                                                       "Status", "Rank"]  # fmt: skip


def test_alerts_import_no_pandas_and_scipy_only_for_a_test_that_can_fire(
    kpi_data, common, tmp_path
) -> None:
    """`bpo-kpi alerts` computes and prints the alert list on numpy columns: the records of the
    library's DataFrame (`kpi.monitor.alerts`, the dashboard's), without pandas. SciPy (the
    exact tests) is imported only when a segment's excess reaches `monitor.min_impact`: with
    a floor nothing reaches, the same list comes without it."""
    as_of = kpi_data.as_of
    quiet = tmp_path / "quiet.toml"
    quiet.write_text(
        kpi_data.config_file.read_text(encoding="utf-8") + "[monitor]\nmin_impact = 1e9\n",
        encoding="utf-8",
    )
    runs, kinds = [], []
    for config_file in (kpi_data.config_file, quiet):
        argv = ("alerts", "--as-of", as_of.isoformat(), "--format", "json")
        got = run_cli(*argv, "--db", str(kpi_data.db), "--config", str(config_file))
        assert got["code"] == 0
        assert not {"pandas", "pyarrow"} & set(got["slow"])
        with Gateway(kpi_data.db, config=load_config(config_file)) as gw:
            start, day = monitor.alert_window(gw)
            frame = monitor.alerts(gw, KpiQuery(start=start, end=day), day, as_of=as_of)
        want = records(frame)
        assert len(want) > 0
        assert_same_records(json.loads(got["stdout"]), want)
        runs.append(got["slow"])
        kinds.append(set(frame["kind"]))
    # The default run tested segments (and alerted some); the quiet one needed no test.
    assert runs == [["scipy"], []]
    assert kinds[0] & {"quality_gap", "critical_errors", "sla_breach"}
    assert not kinds[1] & {"quality_gap", "critical_errors", "sla_breach"}
    text = run_cli("alerts", "--as-of", as_of.isoformat(), *common)
    assert text["code"] == 0 and not {"pandas", "pyarrow"} & set(text["slow"])
    lines = text["stdout"].splitlines()
    assert lines[0].startswith(f"alerts for {day:%a %d %b %Y}")
    assert lines[2].split()[:2] == ["severity", "alert"]
