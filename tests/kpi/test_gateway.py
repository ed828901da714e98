"""The query gateway: access scope per role, pseudonymised reviewers, bound values, and the CLI.

Uses the session database of conftest.py (roles: admin, meridian_lead = vendor meridian only,
privacy = no reviewer ids / comments).
"""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest
from pydantic import ValidationError

from bpo_kpi_cli.main import main
from kpi.catalog import KPIS, output_columns
from kpi.compute import kpi_table
from kpi.gateway import Gateway
from kpi.query import KpiQuery

EVIL = ["x' OR 1=1 --", "meridian' OR 'a'='a", "'; DROP TABLE decisions; --", 'a"b', "%", "*"]
PSEUDONYM = re.compile(r"^r-[0-9a-f]{8}$")


@pytest.fixture(scope="module")
def admin(kpi_data):
    with Gateway(kpi_data.db, config=kpi_data.config) as gw:
        yield gw


@pytest.fixture(scope="module")
def lead(kpi_data):
    with Gateway(kpi_data.db, config=kpi_data.config, role="meridian_lead") as gw:
        yield gw


@pytest.fixture(scope="module")
def privacy(kpi_data):
    with Gateway(kpi_data.db, config=kpi_data.config, role="privacy") as gw:
        yield gw


# --- vendor scope ------------------------------------------------------------------------------

VENDOR_TABLES = {
    "decisions": {"meridian"},
    "audit_facts": {"meridian"},
    "calibration_ratings": {"meridian"},  # golden answers: see the next test
    "ingest_runs": {"meridian"},  # not the `internal` vendor's (the golden answers' file)
}
# Rows a vendor owns (a golden answer is the reference, owned by no vendor the role sees).
OWNED = {"calibration_ratings": "NOT coalesce(is_golden, false)"}


@pytest.mark.parametrize("table", list(VENDOR_TABLES))
@pytest.mark.parametrize("prefix", ["", "main.", "temp.main."])
def test_scoped_role_sees_exactly_its_vendors_rows(table, prefix, lead, admin):
    allowed = VENDOR_TABLES[table]
    owned = OWNED.get(table, "true")
    seen = lead.frame(
        f"SELECT vendor, count(*) AS n FROM {prefix}{table} WHERE {owned} GROUP BY ALL"
    )
    assert set(seen["vendor"]) == allowed  # no NULL vendor either (multi-vendor ingest runs)
    full = admin.frame(
        f"SELECT vendor, count(*) AS n FROM {table} WHERE vendor IN (SELECT unnest($v)) "
        f"AND {owned} GROUP BY ALL",
        {"v": sorted(allowed)},
    )
    assert dict(zip(seen["vendor"], seen["n"], strict=True)) == dict(
        zip(full["vendor"], full["n"], strict=True)
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM decisions WHERE vendor IN ('pacifica', 'rheinwerk')",
        "SELECT count(*) FROM main.decisions WHERE vendor <> 'meridian'",
        "SELECT count(*) FROM main.audit_facts WHERE vendor = 'pacifica' OR vendor IS NULL",
        "SELECT count(*) FROM main.calibration_ratings WHERE vendor = 'pacifica'",
        "SELECT count(*) FROM main.ingest_runs WHERE vendor IS DISTINCT FROM 'meridian'",
        "SELECT count(*) FROM main.calibration_ratings WHERE vendor IS DISTINCT FROM 'meridian' "
        "AND NOT is_golden",
        "WITH d AS (SELECT * FROM main.decisions) SELECT count(*) FROM d "
        "WHERE vendor = 'rheinwerk'",
        "SELECT count(*) FROM main.qa_audits q JOIN main.decisions d USING (decision_id) "
        "WHERE d.vendor <> 'meridian'",
    ],
)
def test_scoped_role_cannot_name_its_way_out(sql, lead, admin):
    assert lead.scalar(sql) == 0
    assert admin.scalar(sql) > 0  # the query does find rows when unscoped


def test_golden_answers_are_only_the_reference_for_a_vendor_role(lead, admin):
    from kpi import calibration as cal

    mine = cal.ratings(lead)
    gold = mine[mine["is_golden"]]
    assert len(gold) > 0
    # The reference only: no vendor, rater or run of the `internal` vendor's.
    assert gold[["vendor", "rater_id"]].isna().all().all()
    assert lead.scalar("SELECT count(run_id) FROM calibration_ratings WHERE is_golden") == 0
    # ...for exactly the items meridian's raters rated, with the golden label.
    everyone = cal.ratings(admin)
    rated = everyone[(everyone["vendor"] == "meridian") & ~everyone["is_golden"]]
    items = set(zip(rated["session_id"], rated["item_id"], strict=True))
    assert set(zip(gold["session_id"], gold["item_id"], strict=True)) == items
    truth = everyone[everyone["is_golden"]].set_index(["session_id", "item_id"])["label"]
    shown = gold.set_index(["session_id", "item_id"])["label"]
    assert shown.to_dict() == truth.loc[list(items)].to_dict()
    # The internal vendor's own (non-golden) raters are not visible at all.
    assert set(mine.loc[~mine["is_golden"], "vendor"]) == {"meridian"}
    assert "internal" not in set(cal.sessions(lead)["vendors"].explode().dropna())
    # Accuracy against the golden answer is the admin's number for meridian.
    a = cal.summary(mine, n_boot=10).set_index(["session_id", "vendor"])["accuracy"]
    b = cal.summary(cal.keep_vendors(everyone, ["meridian"]), n_boot=10)
    b = b.set_index(["session_id", "vendor"])["accuracy"]
    pd.testing.assert_series_equal(a.sort_index(), b.loc[a.index].sort_index())


def test_scoped_qa_audits_and_rejects(kpi_data, lead, admin):
    d, a = kpi_data.decisions, kpi_data.audits
    meridian = set(d.loc[d["vendor"] == "meridian", "decision_id"])
    expected = set(a.loc[a["decision_id"].isin(meridian), "audit_id"])
    seen = set(lead.frame("SELECT audit_id FROM main.qa_audits")["audit_id"])
    assert seen == expected  # orphans (no vendor) and other vendors' audits hidden
    rejects = lead.frame("SELECT r.raw FROM rejected_rows r")
    assert len(rejects) == 1 and "bad-meridian" in rejects["raw"][0]
    assert len(admin.frame("SELECT * FROM rejected_rows")) == 3


def test_scoped_kpis_equal_the_admin_numbers_for_that_vendor(kpi_data, lead, admin):
    query = KpiQuery(
        by=("vendor", "workflow"),
        period="week",
        kpis=("decisions", "backlog", "audits", "quality_score", "tat_p90"),
    )
    mine = kpi_table(lead, query, as_of=kpi_data.as_of)
    everyone = kpi_table(admin, query, as_of=kpi_data.as_of)
    assert set(mine["vendor"]) == {"meridian"}
    pd.testing.assert_frame_equal(
        mine, everyone[everyone["vendor"] == "meridian"].reset_index(drop=True)
    )
    other = kpi_table(lead, KpiQuery(where={"vendor": ("pacifica",)}), as_of=kpi_data.as_of)
    assert other.empty


def test_unknown_role_is_refused(kpi_data):
    with pytest.raises(PermissionError, match="intern"):
        Gateway(kpi_data.db, config=kpi_data.config, role="intern")


# --- privacy -----------------------------------------------------------------------------------


def test_privacy_role_sees_pseudonyms_and_no_comments(kpi_data, privacy, admin):
    real = set(kpi_data.decisions["reviewer_id"])
    for table in ("decisions", "main.decisions", "audit_facts", "main.audit_facts"):
        sql = f"SELECT DISTINCT reviewer_id FROM {table} WHERE reviewer_id IS NOT NULL"
        ids = set(privacy.frame(sql)["reviewer_id"])  # orphan audits have no reviewer
        assert ids and all(PSEUDONYM.match(i) for i in ids), table
        assert not ids & real
    for table in ("audit_facts", "qa_audits", "main.qa_audits"):
        assert privacy.scalar(f"SELECT count(comment) FROM {table}") == 0
        assert privacy.scalar(f"SELECT count(*) FROM {table}") > 0
    assert admin.scalar("SELECT count(comment) FROM qa_audits") > 0
    raters = set(privacy.frame("SELECT DISTINCT rater_id FROM calibration_ratings")["rater_id"])
    assert all(PSEUDONYM.match(r) for r in raters)
    assert privacy.scalar("SELECT count(raw) FROM rejected_rows") == 0
    # one pseudonym per reviewer, the same in every table
    pairs = admin.frame("SELECT decision_id, reviewer_id FROM decisions").merge(
        privacy.frame("SELECT decision_id, reviewer_id AS alias FROM decisions"), on="decision_id"
    )
    assert pairs.groupby("reviewer_id")["alias"].nunique().eq(1).all()
    assert pairs.groupby("alias")["reviewer_id"].nunique().eq(1).all()
    facts = privacy.frame("SELECT DISTINCT decision_id, reviewer_id AS alias FROM audit_facts")
    merged = facts.merge(pairs, on="decision_id", suffixes=("", "_d"))
    assert (merged["alias"] == merged["alias_d"]).all()


def test_privacy_kpis_by_reviewer_are_the_same_numbers(kpi_data, privacy, admin):
    query = KpiQuery(by=("reviewer_id",))
    hidden = kpi_table(privacy, query, as_of=kpi_data.as_of)
    shown = kpi_table(admin, query, as_of=kpi_data.as_of)
    alias = dict(
        admin.frame("SELECT decision_id, reviewer_id FROM decisions")
        .merge(privacy.frame("SELECT decision_id, reviewer_id AS a FROM decisions"))
        .drop_duplicates("reviewer_id")[["reviewer_id", "a"]]
        .itertuples(index=False)
    )
    shown["reviewer_id"] = shown["reviewer_id"].map(alias)
    key = ["reviewer_id"]
    pd.testing.assert_frame_equal(
        hidden.sort_values(key).reset_index(drop=True),
        shown.sort_values(key).reset_index(drop=True),
    )


# --- bound values ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", EVIL)
@pytest.mark.parametrize("dim", ["vendor", "reviewer_id", "policy"])
def test_filter_values_are_bound(value, dim, kpi_data, admin):
    frame = kpi_table(admin, KpiQuery(by=(dim,), where={dim: (value,)}), as_of=kpi_data.as_of)
    assert frame.empty
    assert list(frame.columns) == [dim, *output_columns()]
    assert admin.scalar("SELECT count(*) FROM decisions WHERE vendor = $v", {"v": value}) == 0
    assert admin.scalar("SELECT count(*) FROM decisions") == len(kpi_data.decisions)


def test_filter_value_with_quotes_mixed_with_a_real_one(kpi_data, admin):
    both = KpiQuery(by=("vendor",), where={"vendor": ("meridian", EVIL[1])}, kpis=("decisions",))
    frame = kpi_table(admin, both, as_of=kpi_data.as_of)
    d = kpi_data.decisions
    assert frame.to_dict("records") == [
        {
            "vendor": "meridian",
            "decisions": int(((d["vendor"] == "meridian") & d["decided_at"].notna()).sum()),
        }
    ]


@pytest.mark.parametrize(
    "spec",
    [
        {"by": ("vendor; DROP TABLE decisions",)},
        {"where": {"vendor = vendor OR 1": ("x",)}},
        {"kpis": ("decisions); --",)},
        {"period": "week'"},
    ],
)
def test_query_names_are_validated(spec):
    with pytest.raises(ValidationError):
        KpiQuery(**spec)


# --- CLI ---------------------------------------------------------------------------------------


def _cli_json(capsys, *args: str) -> list[dict]:
    capsys.readouterr()
    assert main(["kpis", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _equal(cli: object, table: object) -> bool:
    if cli is None:
        return table is None or (isinstance(table, float) and math.isnan(table))
    if isinstance(cli, str):
        return cli == table
    return math.isclose(float(cli), float(table), rel_tol=1e-12, abs_tol=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize("role", ["admin", "meridian_lead"])
def test_cli_json_keys_are_kpi_names_and_numbers_match(role, kpi_data, capsys):
    records = _cli_json(
        capsys,
        "--db",
        str(kpi_data.db),
        "--config",
        str(kpi_data.config_file),
        "--by",
        "vendor",
        "--as-of",
        kpi_data.as_of.isoformat(),
        "--role",
        role,
    )
    with Gateway(kpi_data.db, config=kpi_data.config, role=role) as gw:
        frame = kpi_table(gw, KpiQuery(by=("vendor",)), as_of=kpi_data.as_of)
    assert len(records) == len(frame) == (3 if role == "admin" else 1)
    for rec, row in zip(records, frame.to_dict("records"), strict=True):
        assert list(rec) == ["vendor", *output_columns()]
        assert set(KPIS) <= set(rec)
        bad = {k: (rec[k], row[k]) for k in rec if not _equal(rec[k], row[k])}
        assert not bad


def test_cli_week_period_with_filters_matches(kpi_data, capsys):
    records = _cli_json(
        capsys,
        "--db",
        str(kpi_data.db),
        "--config",
        str(kpi_data.config_file),
        "--by",
        "workflow",
        "--period",
        "week",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-15",
        "--where",
        "vendor=meridian,pacifica",
        "--as-of",
        kpi_data.as_of.isoformat(),
    )
    query = KpiQuery(
        by=("workflow",),
        period="week",
        start="2026-03-02",
        end="2026-03-15",
        where={"vendor": ("meridian", "pacifica")},
    )
    with Gateway(kpi_data.db, config=kpi_data.config) as gw:
        frame = kpi_table(gw, query, as_of=kpi_data.as_of)
    assert len(records) == len(frame) > 0
    for rec, row in zip(records, frame.to_dict("records"), strict=True):
        assert rec["period_start"] == row["period_start"].isoformat()
        assert all(_equal(rec[k], row[k]) for k in output_columns()), rec


def test_pseudonyms_are_keyed_so_guessed_ids_do_not_reverse_them(kpi_data, admin):
    import hashlib

    real = sorted(admin.frame("SELECT DISTINCT reviewer_id FROM decisions")["reviewer_id"])
    keyed = kpi_data.config.model_copy(update={"pseudonym_key": "s3cret-pseudonym-key"})
    with Gateway(kpi_data.db, config=keyed, role="privacy") as gw:
        shown = set(gw.frame("SELECT DISTINCT reviewer_id FROM decisions")["reviewer_id"])
    unkeyed_guess = {"r-" + hashlib.md5(r.encode()).hexdigest()[:8] for r in real}
    keyed_answer = {
        "r-" + hashlib.md5(("s3cret-pseudonym-key" + r).encode()).hexdigest()[:8] for r in real
    }
    assert shown == keyed_answer
    assert not shown & unkeyed_guess
