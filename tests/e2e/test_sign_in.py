"""Sign-in end to end: `bpo-kpi serve` with Streamlit's OIDC sign-in against a local OpenID
provider (oidc-provider-mock, started here), driven by headless Chromium.

Three people use one server: Nora (northwind.example e-mail: the Northwind liaison role, no
reviewer ids), Mel (in the `meridian-leads` group: Meridian's lead) and Eve (no rule matches).
Each sees only their own scope; Eve sees a "no access" page and no data; sign-out works; the
access log (Data health, for admins) records who signed in, was denied, viewed and exported.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import browser
import oidc_provider_mock as oidc
import pytest

from bpo_kpi.config import load_config
from bpo_kpi.state import StateStore
from kpi.gateway import Gateway

pytestmark = pytest.mark.browser


CONFIG = """
[roles.northwind_liaison]
vendors = ["northwind"]
see_reviewers = false

[roles.meridian_lead]
vendors = ["meridian"]

[[auth.rules]]
email_domain = "northwind.example"
role = "northwind_liaison"

[[auth.rules]]
group = "meridian-leads"
role = "meridian_lead"

[[auth.rules]]
email = "ana@platform.example"
role = "admin"
"""

USERS = {
    "nora": {"email": "nora@northwind.example", "email_verified": True, "groups": ["vendors"]},
    "mel": {"email": "mel@meridian.example", "email_verified": True,
            "groups": ["meridian-leads"]},
    "eve": {"email": "eve@elsewhere.example", "email_verified": True, "groups": []},
    # an unverified address in an admin's name gets nothing
    "mallory": {"email": "ana@platform.example", "email_verified": False},
    "ana": {"email": "ana@platform.example", "email_verified": True},
    # an identity that is Markdown: shown as text, not as a link or an image
    "trudy": {"email": "**x**![p](https://evil.example/p.png)[y](https://evil.example)"
                       "@www.evil.example", "email_verified": True},
}  # fmt: skip


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    users = [oidc.User(sub=sub, claims=claims) for sub, claims in USERS.items()]
    with oidc.run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def signed_in_server(
    provider: str, e2e_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("sign_in")
    db = root / "team.duckdb"
    db.write_bytes(e2e_db.read_bytes())
    config = root / "team.toml"
    config.write_text(CONFIG)
    port = browser._free_port()
    url = f"http://localhost:{port}"
    secrets_file = root / "secrets.toml"  # outside the repository, as it must be
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "bpo-kpi"\n'
        f'client_secret = "{secrets.token_hex(16)}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    cli = Path(sys.executable).with_name("bpo-kpi")
    command = [str(cli), "serve", "--db", str(db), "--config", str(config), "--port", str(port),
               "--secrets", str(secrets_file)]  # fmt: skip
    key = {"BPO_KPI_PSEUDONYM_KEY": "e2e-pseudonym-key-0123456789"}
    with browser.serving(command, url, env=key, cwd=root) as served:
        yield served, db


def _vendors(db: Path) -> set[str]:
    with Gateway(db, config=load_config(), role="admin") as gw:
        return set(gw.frame("SELECT DISTINCT vendor FROM decisions")["vendor"])


def _sign_in(chromium: Any, url: str, sub: str) -> Any:
    """A fresh browser context (its own cookies) signed in as `sub`; returns its page."""
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.get_by_role("button", name="Sign in").click(timeout=60_000)
    page.wait_for_url("**/oauth2/authorize**", timeout=30_000)
    page.locator(f'button[name="sub"][value="{sub}"]').click()
    page.wait_for_url(f"{url}/**", timeout=30_000)
    return page


def _sign_out(page: Any, url: str) -> None:
    """Sign out in the sidebar: Streamlit forgets the identity and sends the browser to the
    provider's end-session page, which comes back to the app: the sign-in page again."""
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/oauth2/end_session**", timeout=30_000)
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{url}/**", timeout=30_000)
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    assert "Signed in as" not in page.locator("body").inner_text()


def test_two_viewers_in_one_server_see_only_their_scope(
    signed_in_server: tuple[str, Path], chromium: Any, screenshot: Any
) -> None:
    url, db = signed_in_server
    everyone = _vendors(db)
    assert {"northwind", "meridian"} <= everyone
    nora = _sign_in(chromium, url, "nora")
    mel = _sign_in(chromium, url, "mel")
    try:
        for page, own, role in ((nora, "northwind", "northwind"), (mel, "meridian", "meridian")):
            page.get_by_text("Signed in as").first.wait_for(timeout=60_000)
            page.get_by_role("heading", name="Overview").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            text = page.locator("body").inner_text()
            assert role in text  # the role is named in the sidebar
            assert own in text
            for other in everyone - {own}:
                assert other not in text.lower(), f"{own}'s viewer sees {other}"
            # the vendor filter offers the own vendor only
            page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first.click()
            options = page.locator('[role="option"]').all_inner_texts()
            page.keyboard.press("Escape")
            assert options == [own], options
            # the signed-in account is text, not a mailto link
            assert page.locator('[data-testid="stSidebar"] a[href^="mailto:"]').count() == 0
        screenshot(nora, "sign_in_northwind_overview")
    finally:
        nora.context.close()
        mel.context.close()


def test_an_unmapped_viewer_sees_no_data_and_can_sign_out(
    signed_in_server: tuple[str, Path], chromium: Any, screenshot: Any
) -> None:
    url, db = signed_in_server
    for sub in ("eve", "mallory", "trudy"):
        page = _sign_in(chromium, url, sub)
        try:
            page.get_by_role("heading", name="No access").wait_for(timeout=60_000)
            # The page's last element: the message above it is drawn by then (on a busy
            # machine the heading came alone, and the text read was just "No access").
            page.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
            text = page.locator("body").inner_text()
            for vendor in _vendors(db):
                assert vendor not in text.lower()
            assert "Overview" not in text  # no navigation either
            # the account is named as text: no mailto, web link or image made from it
            main = page.locator('[data-testid="stMain"]')
            links = [a.get_attribute("href") or "" for a in main.locator("a").all()]
            assert [h for h in links if not h.startswith("#")] == [], links  # (heading anchors)
            assert main.locator("img").count() == 0
            if sub == "trudy":
                shown = text.replace("\u2060", "")  # (word joiners keep autolinks away)
                assert "**x**![p](https://evil.example/p.png)" in shown
            if sub == "eve":
                screenshot(page, "sign_in_no_access")
            _sign_out(page, url)
        finally:
            page.context.close()


def test_sign_out_and_the_access_log(
    signed_in_server: tuple[str, Path], chromium: Any, screenshot: Any
) -> None:
    url, db = signed_in_server
    ana = _sign_in(chromium, url, "ana")
    try:
        ana.get_by_text("Signed in as").first.wait_for(timeout=60_000)
        ana.get_by_role("link", name="Data health").click()
        ana.get_by_role("heading", name="Access log").wait_for(timeout=60_000)
        ana.wait_for_timeout(1000)
        screenshot(ana, "sign_in_access_log")
        _sign_out(ana, url)
    finally:
        ana.context.close()
    with StateStore(db) as store:
        events = store.access_log(5000)
    seen = {(who, role, event) for _, who, role, event, _, _ in events}
    assert ("nora@northwind.example", "northwind_liaison", "sign_in") in seen
    assert ("mel@meridian.example", "meridian_lead", "sign_in") in seen
    assert ("eve@elsewhere.example", None, "denied") in seen
    assert ("ana@platform.example", None, "denied") in seen  # mallory: unverified address
    assert ("ana@platform.example", "admin", "sign_in") in seen
    assert ("ana@platform.example", "admin", "sign_out") in seen
    views = {(who, page) for _, who, _, event, page, _ in events if event == "view"}
    assert ("nora@northwind.example", "Overview") in views
    assert ("ana@platform.example", "Data health") in views
