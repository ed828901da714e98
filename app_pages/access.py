"""Who is looking: sign-in, the viewer's role, and the access log.

**Two modes**, decided per server by whether Streamlit's secrets (`.streamlit/secrets.toml`,
`~/.streamlit/secrets.toml`, or the file `bpo-kpi serve --secrets` names) hold an `[auth]`
section:

- **Sign-in** (a team server). Every session signs in with the OIDC provider (`st.login`);
  the identity token's claims get a role through the configuration's `[auth]` rules
  (`bpo_kpi.access.role_for`), decided again on every run, so a changed rule applies at the
  viewer's next click. Until signed in a session sees the sign-in page; signed in without a
  matching rule, a "no access" page with sign-out. Neither touches the database.
- **Single-user** (no `[auth]`). The role is `BPO_KPI_ROLE` (default `admin`), chosen by
  whoever started the server. The dashboard then serves only a loopback address: started on
  another interface (`server.address` not localhost / 127.0.0.1 / ::1) it shows an error and
  no data unless `BPO_KPI_ALLOW_NO_SIGN_IN=1` (what `bpo-kpi serve --allow-no-sign-in` sets,
  after a warning).

**Access log.** Sign-in, denial, every change of page or filters (the page and its URL
parameters) and every download or export are appended to the state file beside the database
(`bpo_kpi.state`); admins (an unrestricted role) read it on Data health.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from app_pages.text import md
from bpo_kpi.access import ALLOW_NO_SIGN_IN_ENV, ROLE_ENV, Identity, role_for
from bpo_kpi.config import ADMIN_ROLE, Config
from bpo_kpi.state import AccessEvent, StateError, StateStore

LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Viewer:
    who: str  # e-mail or subject when signed in; "<os user> (single-user)" otherwise
    role: str
    signed_in: bool


def sign_in_configured() -> bool:
    """Whether Streamlit's secrets configure OIDC sign-in (an `[auth]` section)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all (Streamlit raises on access)
        return False


def _claims() -> dict[str, Any]:
    return {k: v for k, v in st.user.to_dict().items() if k != "tokens"}


def viewer(config: Config, db: Path) -> Viewer:
    """This session's viewer; renders the sign-in, no-access or refusal page and stops the
    run when there is none."""
    if not sign_in_configured():
        return _single_user(config)
    if not st.user.is_logged_in:
        _sign_in_page()
        st.stop()
    identity = Identity.from_claims(_claims(), config.auth.groups_claim)
    role = role_for(config.auth, identity)
    if role is None:
        _log_once(db, "denied", identity.who, None)
        _no_access_page(identity)
        st.stop()
    _log_once(db, "sign_in", identity.who, role)
    return Viewer(identity.who, role, signed_in=True)


def _single_user(config: Config) -> Viewer:
    address = (st.get_option("server.address") or "").strip().strip("[]")
    if address not in LOOPBACK and os.environ.get(ALLOW_NO_SIGN_IN_ENV) != "1":
        st.title("bpo-kpi")
        st.error(
            "This dashboard has no sign-in configured, so it serves only this computer "
            "(localhost), and it was started on another address. Configure sign-in (an "
            "`[auth]` section in `.streamlit/secrets.toml` and `[auth]` rules in the "
            "configuration; see the README), or start it with `bpo-kpi serve` on localhost.",
            icon=":material/lock:",
        )
        st.stop()
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (containers)
        user = "local"
    return Viewer(f"{user} (single-user)", os.environ.get(ROLE_ENV) or ADMIN_ROLE, False)


def _sign_in_page() -> None:
    st.title("bpo-kpi")
    st.write("Vendor KPIs for Trust & Safety. Sign in with your organisation's account to see "
             "the numbers your role allows.")  # fmt: skip
    st.button("Sign in", type="primary", icon=":material/login:", on_click=st.login)


def _no_access_page(identity: Identity) -> None:
    st.title("No access")
    st.error(
        f"You are signed in as {md(identity.who)}, but no role of this dashboard is given to "
        "that account, so it shows no data. Ask the dashboard's administrator for access "
        "(they map accounts, e-mail domains or groups to roles in the configuration's "
        "`[auth]` rules).",
        icon=":material/block:",
    )
    st.button("Sign out", on_click=st.logout, icon=":material/logout:")


def sidebar_identity(v: Viewer) -> None:
    """Who is signed in, with which role, and sign-out (in the sidebar)."""
    with st.sidebar:
        if v.signed_in:
            st.caption(f"Signed in as {md(v.who)} · role **{md(v.role)}**")
            st.button("Sign out", on_click=_sign_out, icon=":material/logout:", type="tertiary")
        else:
            st.caption(f"Single-user mode (no sign-in) · role **{md(v.role)}**")


def _sign_out() -> None:
    ctx = st.session_state.get("_ctx")
    if ctx is not None:
        log(ctx.db, ctx.who, ctx.role, "sign_out")
    st.session_state.pop("_access_logged", None)
    st.logout()


# --- access log -------------------------------------------------------------------------------


def log(
    db: Path, who: str, role: str | None, event: AccessEvent, page: str | None = None,
    detail: str | None = None,
) -> None:  # fmt: skip
    """Append an access event to the state file beside `db`; a log that cannot be written is
    said on the page (the viewer's work goes on)."""
    try:
        with StateStore(db) as store:
            store.log_access(who, role, event, page, detail)
    except (StateError, OSError) as exc:
        st.toast(f"The access log could not be written: {exc}", icon=":material/warning:")


def _log_once(db: Path, event: AccessEvent, who: str, role: str | None) -> None:
    """Sign-in and denial: once per browser session (and again if the role changed)."""
    mark = (event, who, role)
    if st.session_state.get("_access_logged") != mark:
        st.session_state["_access_logged"] = mark
        log(db, who, role, event)


def log_view(db: Path, who: str, role: str, page: str, params: Mapping[str, Any]) -> None:
    """A page view: logged when the page or its URL parameters changed since the last one."""
    detail = "&".join(
        f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in sorted(params.items())
    )
    mark = (page, detail, role)
    if st.session_state.get("_access_last_view") != mark:
        st.session_state["_access_last_view"] = mark
        log(db, who, role, "view", page, detail or None)


def access_log(db: Path, limit: int = 500) -> list[tuple[Any, ...]]:
    """The newest access events (for Data health; admins only)."""
    try:
        with StateStore(db) as store:
            return store.access_log(limit)
    except (StateError, OSError):
        return []
