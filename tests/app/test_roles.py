"""A viewer's role limits what every page shows: the scope is applied by the query gateway, so
filter lists, KPI tables and drill-downs all stay inside it."""

from __future__ import annotations

import pytest

from bpo_kpi.config import Config
from kpi.gateway import Gateway

ROLES_TOML = """
[roles.northwind_liaison]
vendors = ["northwind"]
see_reviewers = false
"""


@pytest.fixture
def liaison(sample_db, monkeypatch, tmp_path):
    config = tmp_path / "roles.toml"
    config.write_text(ROLES_TOML)
    monkeypatch.setenv("BPO_KPI_CONFIG", str(config))
    monkeypatch.setenv("BPO_KPI_ROLE", "northwind_liaison")
    return sample_db


def test_filters_and_vendor_table_stay_in_scope(liaison, run_page) -> None:
    at = run_page("app_pages/vendors.py")
    assert not at.exception
    assert at.sidebar.multiselect(key="vendor").options == ["northwind"]
    assert any(
        "Single-user mode" in c.value and "northwind\\_liaison" in c.value
        for c in at.sidebar.caption
    )
    with Gateway(liaison, config=Config(), role="admin") as gw:
        all_vendors = set(gw.frame("SELECT DISTINCT vendor FROM decisions")["vendor"])
    assert len(all_vendors) == 4
    shown = " ".join(str(df.value.to_csv()) for df in at.dataframe)
    for other in all_vendors - {"northwind"}:
        assert other not in shown


def test_reviewers_are_pseudonymised_in_the_drill_down(liaison, run_page) -> None:
    at = run_page(
        "app_pages/quality.py",
        {"drill": ["cell:northwind|hate_speech", "policy:(all)", "error_type:(all)"]},
    )
    assert not at.exception
    reviewers = at.dataframe(key="quality_reviewers").value
    assert len(reviewers) > 0
    ids = reviewers.iloc[:, 0].astype(str)
    assert ids.str.match(r"^r-[0-9a-f]{8}$").all()
    with Gateway(liaison, config=Config(), role="admin") as gw:
        real = set(gw.frame("SELECT DISTINCT reviewer_id FROM decisions")["reviewer_id"])
    assert not set(ids) & real


def test_unknown_role_is_explained_not_a_traceback(sample_db, monkeypatch, run_page) -> None:
    monkeypatch.setenv("BPO_KPI_ROLE", "nobody")
    at = run_page()
    assert not at.exception
    assert "unknown role 'nobody'" in at.error[0].value


@pytest.fixture
def served_on(monkeypatch):
    """`served_on(address)`: the app believes Streamlit listens on `address`."""
    from streamlit import config as st_config

    before = st_config.get_option("server.address")

    def serve(address: str) -> None:
        st_config.set_option("server.address", address)

    yield serve
    st_config.set_option("server.address", before)


def test_without_sign_in_another_address_is_refused(sample_db, run_page, served_on, monkeypatch):
    served_on("0.0.0.0")
    at = run_page()
    assert not at.exception
    assert any("serves only this computer" in e.value for e in at.error)
    assert not at.dataframe and not at.metric  # no data at all
    monkeypatch.setenv("BPO_KPI_ALLOW_NO_SIGN_IN", "1")  # `bpo-kpi serve --allow-no-sign-in`
    at = run_page()
    assert not at.error and at.title[0].value == "Overview"
    served_on("127.0.0.1")
    monkeypatch.delenv("BPO_KPI_ALLOW_NO_SIGN_IN")
    assert not run_page().error
