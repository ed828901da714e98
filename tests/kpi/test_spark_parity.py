"""The same KPI definitions give the same KPI tables on DuckDB and on Spark (kpi.engines).

Seeded sample data is ingested into DuckDB the ordinary way, published to Parquet with
`export_tables`, and `kpi_table` runs once through the DuckDB gateway and once through a
`SparkEngine` (the same SQL text transpiled by sqlglot) for a range of cuts, a non-UTC reporting
time zone and a scoped role. Counts must be identical and floats equal to 1e-9.

One local Spark session (2 cores, 4 shuffle partitions, no UI) serves the whole file.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bpo_kpi.config import Config, Role
from bpo_kpi.db import connect
from bpo_kpi_cli.main import main
from ingest import ingest_files
from kpi import compute
from kpi.compute import kpi_table
from kpi.engines import EXPORT_TABLES, SparkEngine, export_tables, spark_session, to_spark_sql
from kpi.gateway import Gateway
from kpi.query import KpiQuery, Scope
from kpi.sql import bounds, kappa_sql, source_sql
from sample_data.generate import generate
from sample_data.writers import write_canonical

pytestmark = pytest.mark.spark

UTC = dt.UTC
AS_OF = dt.datetime(2026, 11, 23, tzinfo=UTC)  # the snapshot: midnight after the data's end
ROLES = {
    "admin": Role(),
    "latam_lead": Role(
        vendors=["meridian", "tessera"],
        workflows=["hate_speech", "graphic_violence", "harassment"],
        markets=["es_MX", "pt_BR", "hi_IN", "ar_SA"],
        see_reviewers=False,
    ),
}
CONFIG = Config(roles=ROLES)
NY_CONFIG = Config(reporting_timezone="America/New_York", roles=ROLES)


@dataclass(frozen=True)
class Published:
    db: Path
    parquet: Path


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    session = spark_session(
        "local[2]",
        **{
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "2",
            # Small data: adaptive re-planning costs more than it saves (~30% here).
            "spark.sql.adaptive.enabled": "false",
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    root = tmp_path_factory.mktemp("spark_parity")
    data = generate(seed=7, decisions=20_000, weeks=6)
    files = write_canonical(data, root / "raw")
    db = root / "kpi.duckdb"
    con = connect(db)
    try:
        for kind, file in files.items():
            ingest_files(con, kind, [file], config=CONFIG)  # type: ignore[arg-type]
    finally:
        con.close()
    out = root / "parquet"
    written = export_tables(db, out)
    # Every table a reader may query (kpi.scope.POLICY): analyses beyond KPI tables need them.
    assert sorted(written) == sorted(EXPORT_TABLES)
    assert {"audit_facts", "calibration_ratings", "decisions"} <= set(written)
    return Published(db, out)


def _both(
    published: Published,
    spark: Any,
    query: KpiQuery,
    config: Config,
    role: str,
    as_of: dt.datetime,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    with Gateway(published.db, config=config, role=role) as gw:
        duck = kpi_table(gw, query, as_of=as_of)
    with SparkEngine(published.parquet, config=config, role=role, spark=spark) as engine:
        on_spark = kpi_table(engine, query, as_of=as_of)
    return duck, on_spark


def assert_same_table(duck: pd.DataFrame, on_spark: pd.DataFrame) -> None:
    assert list(on_spark.columns) == list(duck.columns)
    assert len(duck) > 0 and len(on_spark) == len(duck)
    ints = [c for c in duck.columns if pd.api.types.is_integer_dtype(duck[c])]
    assert "decisions" in ints and "audits" in ints
    for col in ints:  # counts: exactly
        pd.testing.assert_series_equal(on_spark[col], duck[col], check_exact=True)
    pd.testing.assert_frame_equal(on_spark, duck, check_exact=False, rtol=1e-9, atol=1e-9)


CASES = {
    "overall": (KpiQuery(), CONFIG, "admin", AS_OF),
    "by_vendor": (KpiQuery(by=("vendor",)), CONFIG, "admin", AS_OF),
    "vendor_workflow_week": (
        KpiQuery(by=("vendor", "workflow"), period="week"),
        CONFIG,
        "admin",
        AS_OF,
    ),
    "site_day_filtered": (
        KpiQuery(
            by=("site",),
            period="day",
            where={"workflow": ("hate_speech", "graphic_violence"), "market": ("es_MX", "de_DE")},
            start=dt.date(2026, 10, 20),
            end=dt.date(2026, 11, 10),
        ),
        CONFIG,
        "admin",
        dt.datetime(2026, 11, 5, 12, 30, tzinfo=UTC),  # backlog cut before the window's end
    ),
    # US daylight saving time ends on 2026-11-01: a 25-hour local day inside the window.
    "new_york_day_dst": (
        KpiQuery(
            by=("vendor",), period="day", start=dt.date(2026, 10, 28), end=dt.date(2026, 11, 4)
        ),
        NY_CONFIG,
        "admin",
        AS_OF,
    ),
    "new_york_week": (KpiQuery(by=("workflow",), period="week"), NY_CONFIG, "admin", AS_OF),
    "new_york_quarter": (KpiQuery(by=("vendor",), period="quarter"), NY_CONFIG, "admin", AS_OF),
    "scoped_role_reviewers": (
        KpiQuery(by=("vendor", "reviewer_id"), period="week"),
        CONFIG,
        "latam_lead",
        AS_OF,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_kpi_table_is_the_same_on_duckdb_and_spark(
    published: Published, spark: Any, case: str
) -> None:
    query, config, role, as_of = CASES[case]
    duck, on_spark = _both(published, spark, query, config, role, as_of)
    assert_same_table(duck, on_spark)
    assert duck["decisions"].sum() > 0 and duck["audits"].sum() > 0
    if role != "admin":
        assert set(duck["vendor"]) <= {"meridian", "tessera"}
        assert duck["reviewer_id"].str.fullmatch(r"r-[0-9a-f]{8}").all()


@pytest.mark.parametrize("case", ["site_day_filtered", "new_york_week"])
def test_period_slices_are_the_same_on_duckdb_and_spark(
    published: Published, spark: Any, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quantile sources queried in small period slices (as at tens of millions of rows) give
    the table the unsliced query gives, on both engines."""
    query, config, role, as_of = CASES[case]
    whole, _ = _both(published, spark, query, config, role, as_of)
    monkeypatch.setattr(compute, "QUANTILE_SLICE_ROWS", 500)
    with Gateway(published.db, config=config, role=role) as gw:
        b = bounds(query, config.reporting_timezone, as_of)
        assert len(compute._period_slices(gw, "decisions", query, b)) >= 3
    duck, on_spark = _both(published, spark, query, config, role, as_of)
    assert_same_table(duck, on_spark)
    pd.testing.assert_frame_equal(duck, whole, check_exact=False, rtol=1e-12, atol=1e-12)


def test_scoped_views_match_the_gateway(published: Published, spark: Any) -> None:
    """The Spark views apply the role's scope exactly as the gateway's views do."""
    sql = (
        "SELECT vendor, workflow, market, count(*) AS n, count(DISTINCT reviewer_id) AS reviewers,"
        " min(reviewer_id) AS first_reviewer, count(comment) AS comments, "
        "count(*) FILTER (WHERE is_error) AS errors "
        "FROM audit_facts GROUP BY ALL ORDER BY ALL"
    )
    with Gateway(published.db, config=CONFIG, role="latam_lead") as gw:
        duck = gw.frame(sql)
    with SparkEngine(published.parquet, config=CONFIG, role="latam_lead", spark=spark) as engine:
        on_spark = engine.frame(sql)
    assert len(duck) > 0 and (duck["comments"] == 0).all()
    assert set(duck["market"]) <= set(ROLES["latam_lead"].markets)
    pd.testing.assert_frame_equal(on_spark, duck, check_dtype=False)


def test_keyed_pseudonyms_and_hidden_text_match_the_gateway(
    published: Published, spark: Any
) -> None:
    """With a pseudonym key, both engines write the same keyed pseudonyms (Spark used to write
    the plain md5 of the id, which anyone can reverse by hashing guessed ids) and hide the
    same texts, in every table a restricted role can read."""
    import hashlib

    keyed = CONFIG.model_copy(update={"pseudonym_key": "s3cret-key-0123456789"})
    queries = {
        "audit_facts": "SELECT audit_id, reviewer_id, comment FROM audit_facts ORDER BY audit_id",
        "decisions": "SELECT decision_id, reviewer_id FROM decisions ORDER BY decision_id",
        "calibration_ratings": "SELECT session_id, item_id, rater_id FROM calibration_ratings "
        "ORDER BY ALL",
        "rejected_rows": "SELECT count(*) AS n, count(raw) AS raws FROM rejected_rows",
    }
    with Gateway(published.db, config=keyed, role="latam_lead") as gw:
        duck = {name: gw.frame(sql) for name, sql in queries.items()}
    with Gateway(published.db, config=keyed, role="admin") as gw:
        real = gw.frame("SELECT DISTINCT reviewer_id FROM decisions")
    with SparkEngine(published.parquet, config=keyed, role="latam_lead", spark=spark) as engine:
        on_spark = {name: engine.frame(sql) for name, sql in queries.items()}
    for name in queries:
        a, b = on_spark[name], duck[name]
        if "comment" in b:  # hidden on both (None on one side, NaN on the other)
            assert a["comment"].isna().all() and b["comment"].isna().all()
            a, b = a.drop(columns="comment"), b.drop(columns="comment")
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    pseudonyms = set(duck["decisions"]["reviewer_id"])
    assert pseudonyms and all(p.startswith("r-") and len(p) == 10 for p in pseudonyms)
    # Not the unkeyed md5 of any real id; the keyed one of some.
    unkeyed = {"r-" + hashlib.md5(r.encode()).hexdigest()[:8] for r in real["reviewer_id"]}
    assert not pseudonyms & unkeyed
    keyed_ids = {
        "r-" + hashlib.md5(("s3cret-key-0123456789" + r).encode()).hexdigest()[:8]
        for r in real["reviewer_id"]
    }
    assert pseudonyms <= keyed_ids


def test_transpiled_sql_rewrites_what_sqlglot_gets_wrong() -> None:
    query = KpiQuery(
        by=("vendor",), period="week", where={"site": ("a",)}, start=dt.date(2026, 1, 5)
    )
    scope = Scope(vendors=("meridian",))
    b = bounds(query, "UTC", AS_OF)
    measures = ["decisions", "sla_met", "tat_p50", "tat_p90", "tat_mean", "handle_minutes_p90"]
    text, params = source_sql("decisions", measures, query, scope, "UTC", [], b)
    spark_sql = to_spark_sql(text)
    assert "UNIX_TIMESTAMP" not in spark_sql  # whole seconds: epoch() keeps microseconds
    assert "UNIX_MICROS(decided_at) / 1e6" in spark_sql
    # UTC has a fixed offset: periods come from the epoch (no per-row zone conversion).
    assert "TIMESTAMP_MICROS(UNIX_MICROS(decided_at) + :tz_offset_us)" in spark_sql
    berlin, _ = source_sql("decisions", measures, query, scope, "Europe/Berlin", [], b)
    assert "FROM_UTC_TIMESTAMP(decided_at, :tz)" in to_spark_sql(berlin)  # DST: full conversion
    assert "PERCENTILE(" in spark_sql and "PERCENTILE_CONT" not in spark_sql
    assert "q_tat_p50[0] AS tat_p50" in spark_sql and "q_tat_p50[1] AS tat_p90" in spark_sql
    assert "$" not in spark_sql and all(f":{name}" in spark_sql for name in params)
    audits, _ = source_sql("audits", ["actioning_audits"], query, scope, "UTC", ["remove"], b)
    assert "ARRAY_CONTAINS(:actioning, decision)" in to_spark_sql(audits)
    kappa, _ = kappa_sql(query, scope, "UTC", b)
    assert "IS NOT DISTINCT FROM" in to_spark_sql(kappa) or "<=>" in to_spark_sql(kappa)


def test_cli_publish_then_kpis_on_spark(
    published: Published,
    spark: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BPO_KPI_CONFIG", raising=False)
    out = tmp_path / "published"
    assert main(["publish", "--db", str(published.db), "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {f"{t}.parquet" for t in EXPORT_TABLES}
    capsys.readouterr()
    common = ["kpis", "--by", "vendor", "--period", "month", "--as-of", AS_OF.isoformat()]
    assert main([*common, "--db", str(published.db), "--format", "json"]) == 0
    duck = json.loads(capsys.readouterr().out)
    args = [*common, "--engine", "spark", "--parquet", str(out), "--format", "json"]
    assert main(args) == 0
    on_spark = json.loads(capsys.readouterr().out)
    assert len(duck) == len(on_spark) > 0
    for a, b in zip(duck, on_spark, strict=True):
        assert a.keys() == b.keys()
        for key, value in a.items():
            if isinstance(value, float):
                assert math.isclose(b[key], value, rel_tol=1e-9, abs_tol=1e-9), key
            else:
                assert b[key] == value, key
    # The engine found the test's Spark session running and left it running.
    assert spark.sparkContext._jsc is not None
    assert main(["kpis", "--engine", "spark", "--parquet", str(tmp_path / "nowhere")]) == 1


@pytest.mark.parametrize("config", [CONFIG, NY_CONFIG], ids=["utc", "new_york"])
def test_time_keys_and_tat_functions_are_the_same_on_duckdb_and_spark(
    published: Published, spark: Any, config: Config
) -> None:
    """kpi_table's arrival weekday/hour keys (decision, audit and kappa queries) and kpi.tat's
    own queries give the same frames on both engines (New York: daylight saving time)."""
    from kpi import tat

    window = KpiQuery(by=("vendor",), start=dt.date(2026, 10, 26), end=dt.date(2026, 11, 8))
    calls = {
        "time_of_week": lambda e: tat.time_of_week(e, window, AS_OF),
        "audit_kpis_by_weekday": lambda e: kpi_table(
            e, KpiQuery(kpis=("audits", "quality_score", "cohen_kappa")), AS_OF,
            time_keys=("weekday",),
        ),
        "histogram": lambda e: tat.tat_histogram(e, window),
        "due_time_sources": lambda e: tat.due_time_sources(e, window),
        "backlog_ageing": lambda e: tat.backlog_ageing(e, window, AS_OF),
    }  # fmt: skip
    with (
        Gateway(published.db, config=config) as gw,
        SparkEngine(published.parquet, config=config, spark=spark) as engine,
    ):
        for name, call in calls.items():
            duck, on_spark = call(gw), call(engine)
            assert len(duck) > 0, name
            pd.testing.assert_frame_equal(
                on_spark, duck, check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-9,
                obj=name,
            )  # fmt: skip


def _same(on_spark: pd.DataFrame, duck: pd.DataFrame, name: str) -> None:
    """Equal frames, whichever engine: NaN and None are the same empty value, floats to 1e-9,
    datetimes as instants."""

    def norm(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.reset_index(drop=True).copy()
        for col in out.columns:
            series = out[col]
            if pd.api.types.is_datetime64_any_dtype(series):
                out[col] = pd.to_datetime(series, utc=True)
            elif pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
                out[col] = series.astype("float64")
            else:
                out[col] = (
                    series.astype(object)
                    .where(series.notna(), None)
                    .map(
                        lambda v: list(v) if hasattr(v, "tolist") and not isinstance(v, str) else v
                    )
                )
        return out

    pd.testing.assert_frame_equal(
        norm(on_spark), norm(duck), check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-9,
        obj=name,
    )  # fmt: skip


KEYED = CONFIG.model_copy(update={"pseudonym_key": "another-s3cret-0123456789"})


@pytest.mark.parametrize(("config", "role"), [(CONFIG, "admin"), (KEYED, "latam_lead")],
                         ids=["admin", "scoped_keyed"])  # fmt: skip
def test_every_analysis_is_the_same_on_duckdb_and_spark(
    published: Published, spark: Any, config: Config, role: str
) -> None:
    """Quality gaps and their drill-downs, the daily monitor and its alerts, calibration
    review, vendor comparison, data health and the data summary: each analysis gives the same
    frame on both engines, for the admin and for a scoped role with a pseudonym key."""
    from kpi import calibration, compare, disputes, gaps, health, monitor
    from kpi.data_summary import database_summary

    window = KpiQuery(start=dt.date(2026, 10, 1), end=dt.date(2026, 11, 22))
    day = dt.date(2026, 11, 20)
    segment = {"vendor": "meridian", "workflow": "graphic_violence"}
    calls: dict[str, Any] = {
        "gaps": lambda e: gaps.quality_gaps(e, window, min_audits=10),
        "reviewer_outliers": lambda e: gaps.reviewer_outliers(e, segment, window),
        "error_types": lambda e: gaps.error_types(e, segment, window),
        "audited_decisions": lambda e: gaps.audited_decisions(e, segment, window),
        "monitor_daily": lambda e: monitor.daily(e, window, day),
        "alerts": lambda e: monitor.alerts(e, window, day, as_of=AS_OF),
        "calibration_ratings": lambda e: calibration.ratings(e),
        "calibration_sessions": lambda e: calibration.sessions(e),
        "vendor_comparison": lambda e: compare.vendor_comparison(e, window),
        "dispute_table": lambda e: disputes.dispute_table(
            e, window.model_copy(update={"by": ("vendor",)}), AS_OF
        ),
        "pending_disputes": lambda e: disputes.pending_disputes(e, window, AS_OF, 1.0),
        "ingest_runs": lambda e: health.ingest_runs(e),
        "unfinished_runs": lambda e: health.unfinished_runs(e),
        "rejected_rows": lambda e: health.rejected_rows(e),
        "warnings": lambda e: health.ingest_warnings(e),
        "vendor_integrity": lambda e: health.vendor_integrity(e),
        "edits_after_audit": lambda e: health.edits_after_audit(e),
        "orphan_audits": lambda e: health.orphan_audits(e),
        "freshness": lambda e: health.freshness(e, AS_OF),
        "qa_coverage_adequacy": lambda e: health.qa_coverage_adequacy(e, window),
        "implausible_values": lambda e: health.implausible_values(e),
        "summary": lambda e: pd.DataFrame([vars(database_summary(e, AS_OF))]),
    }
    with (
        Gateway(published.db, config=config, role=role) as gw,
        SparkEngine(published.parquet, config=config, role=role, spark=spark) as engine,
    ):
        nonempty = []
        for name, call in calls.items():
            duck, on_spark = call(gw), call(engine)
            _same(on_spark, duck, name)
            nonempty.append(len(duck) > 0)
        # The review of one calibration session (pure pandas over the same ratings).
        ratings = calibration.ratings(gw)
        session = ratings["session_id"].iloc[0]
        one = ratings[ratings["session_id"] == session]
        _same(calibration.items(calibration.ratings(engine, [session]), 0.6),
              calibration.items(one, 0.6), "calibration_items")  # fmt: skip
    assert sum(nonempty) >= 12  # most analyses have rows on this data


@pytest.mark.parametrize(("config", "role"), [(CONFIG, "admin"), (KEYED, "latam_lead")],
                         ids=["admin", "scoped_keyed"])  # fmt: skip
def test_export_snapshot_is_the_same_on_duckdb_and_spark(
    published: Published, spark: Any, config: Config, role: str
) -> None:
    """`bpo-kpi export` on either engine: every table of the snapshot equal, the manifest's
    lineage equal, and so the same content hash."""
    from kpi import snapshot
    from kpi.periods import parse_period

    period = parse_period("2026-W46")
    with (
        Gateway(published.db, config=config, role=role) as gw,
        SparkEngine(published.parquet, config=config, role=role, spark=spark) as engine,
    ):
        duck, on_spark = snapshot.build(gw, period), snapshot.build(engine, period)
    for name in snapshot.TABLES:
        _same(on_spark.tables[name], duck.tables[name], name)
    assert len(duck.tables["kpis_by_vendor"]) >= 1
    for key in ("period", "scope", "data_as_of", "freshness", "ingest_runs", "config_hash"):
        assert on_spark.manifest[key] == duck.manifest[key], key
    assert on_spark.content_hash == duck.content_hash


def test_ordered_lists_are_sorted_on_spark() -> None:
    """sqlglot drops the ORDER BY of `list(x ORDER BY x)` for Spark: it is rewritten into
    array_sort (outside a FILTER), and any other order is refused rather than lost."""
    sql = to_spark_sql(
        "SELECT list(DISTINCT v ORDER BY v) FILTER (WHERE x > 1) AS a, list(r ORDER BY r) AS b "
        "FROM t"
    )
    assert "ARRAY_SORT(COLLECT_LIST(DISTINCT v) FILTER(WHERE x > 1)) AS a" in sql
    assert "ARRAY_SORT(COLLECT_LIST(r)) AS b" in sql
    with pytest.raises(ValueError, match="only a list ordered by its own values"):
        to_spark_sql("SELECT list(v ORDER BY w) FROM t")


def test_cli_analyses_on_spark_print_what_duckdb_prints(
    published: Published,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`bpo-kpi gaps`, `alerts` and `calibration` with `--engine spark` print the same JSON as on
    the database."""
    monkeypatch.delenv("BPO_KPI_CONFIG", raising=False)
    out = tmp_path / "published"
    assert main(["publish", "--db", str(published.db), "--out", str(out)]) == 0
    commands = [
        ["gaps", "--from", "2026-10-01", "--to", "2026-11-22", "--min-audits", "10"],
        ["gaps", "--segment", "vendor=meridian,workflow=graphic_violence", "--drill",
         "error-types"],
        ["alerts", "--day", "2026-11-20", "--as-of", AS_OF.isoformat()],
        ["calibration", "--bootstrap", "50"],
    ]  # fmt: skip
    for command in commands:
        capsys.readouterr()
        assert main([*command, "--db", str(published.db), "--format", "json"]) == 0, command
        duck = json.loads(capsys.readouterr().out)
        spark_args = [*command, "--engine", "spark", "--parquet", str(out), "--format", "json"]
        assert main(spark_args) == 0, command
        on_spark = json.loads(capsys.readouterr().out)
        assert len(duck) == len(on_spark) > 0, command
        for a, b in zip(duck, on_spark, strict=True):
            assert a.keys() == b.keys()
            for key in a:
                if isinstance(a[key], float) and isinstance(b[key], float):
                    assert math.isclose(a[key], b[key], rel_tol=1e-9, abs_tol=1e-9), (command, key)
                else:
                    assert a[key] == b[key], (command, key)


def test_the_dashboard_runs_on_spark_from_configuration(
    published: Published, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `[engine] kind = "spark"` the dashboard reads the published Parquet files: the
    Overview shows the very tiles it shows on DuckDB, and the Quality page renders."""
    import shutil

    from streamlit.testing.v1 import AppTest

    out = tmp_path / "published"
    export_tables(published.db, out)
    app = Path(__file__).resolve().parents[2] / "app.py"
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(published.db, db)

    def overview(config_text: str) -> AppTest:
        cfg = tmp_path / "engine.toml"
        cfg.write_text(config_text)
        monkeypatch.setenv("BPO_KPI_CONFIG", str(cfg))
        monkeypatch.setenv("BPO_KPI_DB", str(db))
        at = AppTest.from_file(str(app), default_timeout=300)
        at.run()
        assert not at.exception, at.exception
        return at

    on_duckdb = overview("")
    on_spark = overview(f'[engine]\nkind = "spark"\nparquet = "{out}"\nspark_master = "local[2]"\n')
    tiles = [(m.label, m.value) for m in on_duckdb.metric]
    assert tiles, "the Overview shows tiles"
    assert [(m.label, m.value) for m in on_spark.metric] == tiles
    on_spark.switch_page("app_pages/quality.py")
    on_spark.run()
    assert not on_spark.exception, on_spark.exception
