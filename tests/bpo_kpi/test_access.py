"""Roles: the built-in admin, sign-in rules (identity claims -> role), the pseudonym key of
restricted roles, and the access log."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest

from bpo_kpi.access import Identity, role_for
from bpo_kpi.config import Config, ConfigError, load_config
from bpo_kpi.keys import KEY_ENV, KEY_FILE_ENV, MissingKey, pseudonym_key
from bpo_kpi.state import StateStore
from kpi.query import Scope

RULES = {
    "roles": {"nw": {"vendors": ["northwind"], "see_reviewers": False}, "qa": {}},
    "auth": {
        "rules": [
            {"email": "Ana@Platform.example", "role": "admin"},
            {"email_domain": "northwind.example", "role": "nw"},
            {"group": "qa-leads", "role": "qa"},
        ]
    },
}


def _who(**claims: object) -> Identity:
    return Identity.from_claims({"sub": "s1", **claims})


# --- the built-in admin -----------------------------------------------------------------------


def test_defining_roles_keeps_the_operators_admin_role(tmp_path: Path) -> None:
    file = tmp_path / "team.toml"
    file.write_text('[roles.northwind_liaison]\nvendors = ["northwind"]\n')
    config = load_config(file)
    assert list(config.roles) == ["admin", "northwind_liaison"]
    assert not config.roles["admin"].restricted
    assert config.roles["northwind_liaison"].restricted
    # and the CLI's role (admin unless --role says otherwise) is there, unrestricted
    from bpo_kpi_cli.main import build_parser

    args = build_parser().parse_args(["kpis", "--config", str(file)])
    scope = Scope.for_role(config, args.role)
    assert scope.role == "admin" and scope.restrictions() == {} and scope.see_reviewers


def test_admin_cannot_be_narrowed(tmp_path: Path) -> None:
    file = tmp_path / "team.toml"
    file.write_text('[roles.admin]\nvendors = ["northwind"]\n')
    with pytest.raises(ConfigError, match="built-in unrestricted role"):
        load_config(file)


def test_auth_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="not one of roles"):
        Config.model_validate({"auth": {"rules": [{"email": "a@b.c", "role": "nobody"}]}})
    with pytest.raises(ValueError, match="exactly one of"):
        Config.model_validate({"auth": {"rules": [{"role": "admin"}]}})
    with pytest.raises(ValueError, match="not a domain"):
        Config.model_validate({"auth": {"rules": [{"email_domain": "x@y", "role": "admin"}]}})


# --- sign-in rules ----------------------------------------------------------------------------


def test_claims_map_to_roles_first_match_wins() -> None:
    auth = Config.model_validate(RULES).auth
    assert role_for(auth, _who(email="ana@platform.example", email_verified=True)) == "admin"
    assert role_for(auth, _who(email="NORA@Northwind.Example", email_verified=True)) == "nw"
    # the group rule, whatever the e-mail
    assert role_for(auth, _who(email="x@else.example", email_verified=True,
                               groups=["staff", "qa-leads"])) == "qa"  # fmt: skip
    assert role_for(auth, _who(groups="qa-leads")) == "qa"  # a single group as a string
    # a verified northwind address that is also a QA lead: the earlier rule wins
    assert role_for(auth, _who(email="n@northwind.example", email_verified=True,
                               groups=["qa-leads"])) == "nw"  # fmt: skip


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "eve@elsewhere.example", "email_verified": True},
        {"email": "ana@platform.example"},  # not said to be verified
        {"email": "ana@platform.example", "email_verified": False},
        {"email": "ana@platform.example", "email_verified": "false"},
        {"email": "n@evil-northwind.example", "email_verified": True},
        {"email": "n@northwind.example.evil.com", "email_verified": True},
        {"email": "n@sub.northwind.example", "email_verified": True},
        {"groups": ["QA-LEADS"]},  # groups compare exactly
        {"groups": {"qa-leads": True}},  # not a list of names
        {},
    ],
)
def test_no_rule_no_role(claims: dict[str, object]) -> None:
    assert role_for(Config.model_validate(RULES).auth, _who(**claims)) is None


def test_unverified_addresses_count_only_when_the_provider_never_verifies() -> None:
    lax = Config.model_validate({**RULES, "auth": {**RULES["auth"],
                                                   "require_verified_email": False}})  # fmt: skip
    assert role_for(lax.auth, _who(email="ana@platform.example")) == "admin"


def test_who_is_the_email_else_the_subject() -> None:
    assert _who(email=" Ana@X.example ").who == "ana@x.example"
    assert _who().who == "s1"


# --- the pseudonym key ------------------------------------------------------------------------


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    return tmp_path / "cfg" / "bpo-kpi" / "pseudonym.key"


def test_a_restricted_role_gets_a_key_created_once_readable_by_its_owner(
    no_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert pseudonym_key(Config(), restricted=False) == ""  # an admin needs none
    assert not no_key.exists()
    key = pseudonym_key(Config(), restricted=True)
    assert len(key) == 64 and no_key.read_text().strip() == key
    assert stat.S_IMODE(no_key.stat().st_mode) == 0o600
    assert "created the pseudonym key" in capsys.readouterr().err
    assert pseudonym_key(Config(), restricted=True) == key  # the same one next time
    assert pseudonym_key(Config(), restricted=False) == key


def test_the_key_comes_from_the_environment_first(
    no_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "from-the-environment-123")
    config = Config(pseudonym_key="from-the-configuration")
    assert pseudonym_key(config, restricted=True) == "from-the-environment-123"
    monkeypatch.delenv(KEY_ENV)
    assert pseudonym_key(config, restricted=True) == "from-the-configuration"
    assert not no_key.exists()
    with pytest.raises(MissingKey, match="at least 16"):
        pseudonym_key(Config(pseudonym_key="short"), restricted=True)


def test_a_key_that_cannot_be_created_says_how_to_set_one(
    no_key: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    monkeypatch.setenv(KEY_FILE_ENV, str(blocked / "pseudonym.key"))
    with pytest.raises(MissingKey, match=f"set {KEY_ENV}"):
        pseudonym_key(Config(), restricted=True)


def test_a_restricted_gateway_does_not_start_without_a_key(
    no_key: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kpi.gateway import Gateway

    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    monkeypatch.setenv(KEY_FILE_ENV, str(blocked / "pseudonym.key"))
    config = Config.model_validate(RULES)
    with pytest.raises(MissingKey):
        Gateway(tmp_path / "x.duckdb", config=config, role="nw")


# --- the access log ---------------------------------------------------------------------------


def test_the_access_log_keeps_events_newest_first(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    with StateStore(db) as store:
        store.log_access("ana@platform.example", "admin", "sign_in", now=at)
        store.log_access("ana@platform.example", "admin", "view", "Overview",
                         "vendor=northwind", now=at + dt.timedelta(minutes=1))  # fmt: skip
        store.log_access("eve@x.example", None, "denied", now=at + dt.timedelta(minutes=2))
        store.log_access("x" * 500, "admin", "export", "Export", "a\x00b" + "y" * 5000,
                         now=at + dt.timedelta(minutes=3))  # fmt: skip
        rows = store.access_log()
    assert [r[3] for r in rows] == ["export", "denied", "view", "sign_in"]
    assert rows[2][1:] == ("ana@platform.example", "admin", "view", "Overview",
                           "vendor=northwind")  # fmt: skip
    assert rows[0][0] == at + dt.timedelta(minutes=3)
    assert len(rows[0][1]) == 100 and len(rows[0][5]) == 2000 and "\x00" not in rows[0][5]
    with StateStore(db) as store:
        assert len(store.access_log(since=at + dt.timedelta(minutes=2))) == 2
        with pytest.raises(ValueError, match="unknown access event"):
            store.log_access("a", "admin", "hack")  # type: ignore[arg-type]


def test_an_alert_state_file_of_the_previous_version_gains_the_access_log(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "x.duckdb"
    with StateStore(db) as store:
        store.acknowledge("k", "bo", "known", now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    con = sqlite3.connect(store.path)
    con.execute("DROP TABLE access_log")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    with StateStore(db) as store:
        store.log_access("ana", "admin", "sign_in")
        assert len(store.access_log()) == 1
        assert store.history("k")[0][:3] == ("acknowledge", "bo", "known")


# --- bpo-kpi serve: safe defaults (the refusals happen before Streamlit starts) ---------------


def _serve(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from bpo_kpi_cli.main import main

    code = main(["serve", *args])
    return code, capsys.readouterr().err


def test_serve_refuses_other_addresses_without_sign_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.streamlit/secrets.toml
    monkeypatch.chdir(tmp_path)
    code, err = _serve(["--db", str(tmp_path / "x.duckdb"), "--address", "0.0.0.0"], capsys)
    assert code != 0
    assert "no sign-in is configured" in err and "--allow-no-sign-in" in err


def test_serve_with_sign_in_takes_roles_from_rules_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n')
    code, err = _serve(["--db", str(tmp_path / "x.duckdb"), "--secrets", str(secrets),
                        "--role", "admin"], capsys)  # fmt: skip
    assert code != 0 and "--role is for single-user mode" in err
    code, err = _serve(["--db", str(tmp_path / "x.duckdb"), "--secrets",
                        str(tmp_path / "missing.toml")], capsys)  # fmt: skip
    assert code != 0 and "missing.toml does not exist" in err
    secrets.write_text("[auth\n")
    code, err = _serve(["--db", str(tmp_path / "x.duckdb"), "--secrets", str(secrets)], capsys)
    assert code != 0 and "not a readable secrets file" in err


def test_serve_as_a_restricted_role_needs_a_key(
    no_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    monkeypatch.setenv(KEY_FILE_ENV, str(blocked / "pseudonym.key"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "team.toml"
    config.write_text('[roles.nw]\nvendors = ["northwind"]\n')
    code, err = _serve(["--db", str(tmp_path / "x.duckdb"), "--config", str(config),
                        "--role", "nw"], capsys)  # fmt: skip
    assert code != 0 and f"set {KEY_ENV}" in err
