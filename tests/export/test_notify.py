"""`bpo-kpi alerts --notify / --digest / --exit-status / --ack / --snooze / --unack`
(export/notify.py, bpo_kpi/state.py), run in process against a local SMTP server (aiosmtpd) and
a local HTTP receiver started here; nothing leaves 127.0.0.1.

A small database built to have known alerts. Monitored day D = Sun 2026-11-22 (UTC), checked at
AS_OF = D+1 06:00; every decision is decided 30 min after it is enqueued (20:00 + i min), due
after 60 min.

- `calm` / spam: 20 decisions a day from D-27 to D, all on time, all audited (no error): no alert.
- `slow` / spam: the same, plus 12 items enqueued on D at 10:00, due 11:00, still pending at the
  day's end: one alert, backlog past due (a warning).
- HOSTILE / HOSTILE_WORKFLOW (a vendor named like an HTML injection, a workflow like Markdown):
  20 decisions a day up to D-3, none audited: data not fresh at AS_OF (critical) and QA coverage
  0% (warning).
"""

from __future__ import annotations

import datetime as dt
import email
import email.message
import html
import json
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from bpo_kpi.config import Config
from bpo_kpi.db import AUDIT_COLUMNS, DECISION_COLUMNS, connect
from bpo_kpi.state import MAX_SNOOZE, StateError, StateStore, state_path
from export import notify
from ingest import ingest_files
from kpi import monitor
from kpi.catalog import FILTER_DIMENSIONS
from kpi.compute import records
from kpi.gateway import Gateway
from kpi.query import KpiQuery

UTC = dt.UTC
D = dt.date(2026, 11, 22)
START = D - dt.timedelta(days=27)  # the default window: 28 days up to D
AS_OF = dt.datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_WORKFLOW = "**bold** [x](https://evil)"
DEC_COLS = [c for c, _, _ in DECISION_COLUMNS if c != "updated_at"]
AUD_COLS = [c for c, _, _ in AUDIT_COLUMNS if c != "updated_at"]


def _build() -> tuple[pd.DataFrame, pd.DataFrame]:
    decisions: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []

    def add(vendor: str, workflow: str, day: dt.date, i: int, pending: bool = False) -> None:
        hour = 10 if pending else 20
        enq = dt.datetime.combine(day, dt.time(hour), tzinfo=UTC) + dt.timedelta(minutes=i)
        row = {
            "decision_id": f"{vendor[:4]}-{day:%m%d}-{i}-{'p' if pending else 'd'}",
            "item_id": f"item-{vendor[:4]}-{day:%m%d}-{i}-{'p' if pending else 'd'}",
            "vendor": vendor,
            "site": "site-1",
            "workflow": workflow,
            "market": "en_US",
            "priority": "p1",
            "reviewer_id": f"r{i % 3}",
            "decision": None if pending else "approve",
            "policy": None,
            "enqueued_at": enq,
            "claimed_at": None if pending else enq + dt.timedelta(minutes=5),
            "decided_at": None if pending else enq + dt.timedelta(minutes=30),
            "due_at": enq + dt.timedelta(minutes=60),
        }
        decisions.append(row)
        if vendor in ("calm", "slow") and not pending:
            audits.append(
                {
                    "audit_id": f"a-{row['decision_id']}",
                    "decision_id": row["decision_id"],
                    "auditor_id": "qa-1",
                    "audited_at": row["decided_at"] + dt.timedelta(minutes=30),
                    "qa_decision": "approve",
                    "qa_policy": None,
                    "error_type": None,
                    "severity": None,
                    "dispute_status": None,
                    "comment": None,
                }
            )

    for k in range(28):
        day = START + dt.timedelta(days=k)
        for i in range(20):
            add("calm", "spam", day, i)
            add("slow", "spam", day, i)
            if day <= D - dt.timedelta(days=3):
                add(HOSTILE, HOSTILE_WORKFLOW, day, i)
    for i in range(12):
        add("slow", "spam", D, i, pending=True)
    return pd.DataFrame(decisions, columns=DEC_COLS), pd.DataFrame(audits, columns=AUD_COLS)


@pytest.fixture(scope="module")
def notify_db_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("notify")
    path = root / "notify.duckdb"
    con = connect(path)
    try:
        for kind, frame in zip(("decisions", "audits"), _build(), strict=True):
            ingest_files(con, kind, [write_csv(frame, root / f"{kind}.csv")], config=Config())
    finally:
        con.close()
    return path


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.copy()
    for col in out.columns:
        if col.endswith("_at"):
            out[col] = [None if pd.isna(v) else v.isoformat() for v in frame[col]]
    out.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def expected(notify_db_master: Path) -> dict[str, dict[str, Any]]:
    """The library's alerts for D at AS_OF, by kind (the data has one of each kind)."""
    with Gateway(notify_db_master, config=Config()) as gw:
        frame = monitor.alerts(gw, KpiQuery(start=START, end=D), D, as_of=AS_OF)
    found = {rec["kind"]: rec for rec in records(frame)}
    assert len(found) == len(frame)
    return found


@pytest.fixture
def keys(expected: dict[str, dict[str, Any]]) -> tuple[str, str, str]:
    """The keys of the stale-data, backlog and QA coverage alerts."""
    return (
        expected["stale_data"]["key"],
        expected["backlog_past_due"]["key"],
        expected["qa_coverage"]["key"],
    )


@pytest.fixture
def db(notify_db_master: Path, tmp_path: Path) -> Path:
    """A private copy: its state file (beside it) is this test's alone."""
    path = tmp_path / "db" / "notify.duckdb"
    path.parent.mkdir()
    shutil.copyfile(notify_db_master, path)
    return path


# --- local receivers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Mailbox:
    """Messages a local SMTP server received (parsed)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[email.message.EmailMessage] = []

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=kpi@example.com&to=ops@example.com"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, email.message.EmailMessage)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    box = Mailbox(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


class Hook:
    """JSON documents a local HTTP receiver got by POST, with their paths."""

    def __init__(self, port: int | None = None) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posts.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def documents(self) -> list[dict[str, Any]]:
        """The alert documents received (a digest's message is HTML, not JSON)."""
        return [json.loads(p["message"]) for _, p in self.posts if p["message"].startswith("{")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    receiver = Hook()
    yield receiver
    receiver.close()


Cli = Callable[..., tuple[int, str, str]]


def alerts(cli: Cli, db: Path, *args: Any, as_of: dt.datetime = AS_OF) -> tuple[int, str, str]:
    return cli("alerts", "--db", db, "--as-of", as_of.isoformat(), *args)


# --- notifications ------------------------------------------------------------------------------


def test_the_data_has_the_alerts_it_was_built_for(expected):
    assert {k: (r["severity"], r["vendor"]) for k, r in expected.items()} == {
        "stale_data": ("critical", HOSTILE),
        "backlog_past_due": ("warning", "slow"),
        "qa_coverage": ("warning", HOSTILE),
    }
    assert (
        HOSTILE_WORKFLOW in expected["qa_coverage"]["segment"] + expected["qa_coverage"]["message"]
    )


def expected_link(alert: dict[str, Any], day: dt.date = D) -> str:
    query = f"from={START}&to={day}&vendor={quote_plus(alert['vendor'])}"
    if alert["workflow"] is not None:
        query += f"&workflow={quote_plus(alert['workflow'])}"
    return f"http://localhost:8501/?{query}"


def test_notify_sends_each_new_alert_once_with_its_link(db, smtp, hook, cli, expected):
    code, out, err = alerts(cli, db, "--day", D, "--format", "json", "--notify", smtp.url,
                            hook.url)  # fmt: skip
    assert code == 2, err  # a critical alert is open
    listed = json.loads(out)
    assert {r["key"]: {k: v for k, v in r.items() if k != "status"} for r in listed} == {
        r["key"]: r for r in expected.values()
    }  # the library's alerts, most severe first
    assert [r["severity"] for r in listed] == ["critical", "warning", "warning"]
    assert [r["status"] for r in listed] == ["new"] * 3  # the state file exists now

    # The JSON webhook: one POST, apprise's payload, whose message is the alerts document.
    assert len(hook.posts) == 1
    path, payload = hook.posts[0]
    assert path == "/hook"
    title = "bpo-kpi: 3 new alerts (1 critical, 2 warning) for Sun 22 Nov 2026"
    assert payload["title"] == title and payload["type"] == "failure"
    doc = json.loads(payload["message"])
    assert doc["day"] == "2026-11-22" and doc["window"] == {"from": str(START), "to": str(D)}
    assert doc["counts"] == {"critical": 1, "warning": 2, "info": 0}
    for sent, row in zip(doc["alerts"], listed, strict=True):
        assert {k: sent[k] for k in row if k != "status"} == {
            k: v for k, v in row.items() if k != "status"
        }
        assert sent["label"] == monitor.ALERT_KINDS[row["kind"]]
        assert sent["link"] == expected_link(row)
    stale = doc["alerts"][0]
    assert stale["kind"] == "stale_data" and stale["vendor"] == HOSTILE  # plain data
    assert stale["link"] == (
        f"http://localhost:8501/?from={START}&to={D}&vendor="
        "%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E"
    )
    assert parse_qs(urlsplit(stale["link"]).query) == {
        "from": [str(START)], "to": [str(D)], "vendor": [HOSTILE]
    }  # fmt: skip

    # The e-mail: one plain-text message with every alert's message, link and key.
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert mail["Subject"] == title and mail["To"] == "ops@example.com"
    assert mail.get_content_type() == "text/plain"
    text = mail.get_content()
    for row in listed:
        assert row["message"] in text and f"Key: {row['key']}" in text
        assert f"Dashboard: {expected_link(row)}" in text
    assert f"1. CRITICAL · Data not fresh · vendor={HOSTILE} · now" in text

    shown = f"json://127.0.0.1:{hook.port}/hook"
    assert f"notify {shown}: sent 3 alerts (1 critical, 2 warning)\n" in err
    assert f"notify mailto://127.0.0.1:{smtp.port}/ops%40example.com: sent 3 alerts" in err

    # Again: nothing is sent twice; the exit status still says a critical alert is open.
    code, out, err = alerts(cli, db, "--day", D, "--notify", smtp.url, hook.url)
    assert code == 2
    assert len(hook.posts) == 1 and len(smtp.messages) == 1
    assert f"notify {shown}: nothing new to send; skipped 3 already sent\n" in err


def test_acknowledged_and_snoozed_alerts_are_not_sent_until_the_snooze_ends(db, hook, cli, keys):
    stale, backlog, coverage = keys
    code, out, err = alerts(cli, db, "--ack", stale, "--by", "ana", "--reason",
                            "vendor paused the feed (ticket 42)")  # fmt: skip
    assert (code, err) == (0, "")
    assert out == f"{stale}: acknowledged by ana: vendor paused the feed (ticket 42)\n"
    code, out, _ = alerts(cli, db, "--snooze", coverage, "--until", "2026-11-24", "--by",
                          "bo", "--reason", "QA sampling restarts Tuesday")  # fmt: skip
    assert code == 0
    assert out == (
        f"{coverage}: snoozed until 2026-11-24 00:00 UTC by bo: QA sampling restarts Tuesday\n"
    )

    code, out, err = alerts(cli, db, "--day", D, "--notify", hook.url)
    assert code == 1, err  # only the backlog warning is open
    assert [a["key"] for d in hook.documents() for a in d["alerts"]] == [backlog]
    assert "sent 1 alert (1 warning); skipped 1 acknowledged, 1 snoozed" in err
    lines = out.splitlines()
    assert lines[2].split() == ["severity", "alert", "vendor", "workflow", "when", "value",
                                "limit", "status", "details"]  # fmt: skip
    shown = {line.split("  ")[0]: line for line in lines[3:]}
    assert len(lines) == 6
    critical = shown["critical"]  # the status column comes before the details
    assert re.search(
        r"  acknowledged by ana: vendor paused the feed \(ticket 42\) +No new", critical
    )
    assert sum(re.search(r"  new +\S", line) is not None for line in lines[3:]) == 1
    snoozed = r"  snoozed until 2026-11-24 00:00 UTC by bo: QA sampling restarts Tuesday +\S"
    assert sum(re.search(snoozed, line) is not None for line in lines[3:]) == 1

    # The snooze is over on the 24th: the coverage alert is new again, and sent; the
    # acknowledgement holds.
    later = dt.datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    code, out, err = alerts(cli, db, "--day", D, "--notify", hook.url, "--format", "json",
                            as_of=later)  # fmt: skip
    assert code == 1
    assert [a["key"] for a in hook.documents()[-1]["alerts"]] == [coverage]
    assert {r["key"]: r["status"] for r in json.loads(out)} == {
        stale: "acknowledged by ana: vendor paused the feed (ticket 42)",
        backlog: "new",
        coverage: "new",
    }
    assert "sent 1 alert (1 warning); skipped 1 already sent, 1 acknowledged" in err

    # Cleared: the critical alert counts again (it was never sent, so it is sent now).
    code, out, _ = alerts(cli, db, "--unack", stale)
    assert out == f"{stale}: new again (was acknowledged by ana: vendor paused the feed " \
                  "(ticket 42))\n"  # fmt: skip
    code, _, err = alerts(cli, db, "--day", D, "--notify", hook.url, as_of=later)
    assert code == 2
    assert [a["key"] for a in hook.documents()[-1]["alerts"]] == [stale]


def test_exit_status_none_warnings_critical(db, cli, keys):
    code, out, err = alerts(cli, db, "--day", D, "--vendor", "calm", "--exit-status")
    assert (code, err) == (0, "")
    assert out.splitlines()[1] == "(no alerts)"
    code, out, _ = alerts(cli, db, "--day", D, "--vendor", "slow", "--exit-status")
    assert code == 1 and out.splitlines()[1] == "1 warning"
    code, out, _ = alerts(cli, db, "--day", D, "--exit-status")
    assert code == 2 and out.splitlines()[1] == "1 critical, 2 warning"
    # Without --exit-status (or --notify) the exit code stays 0, the output unchanged.
    assert alerts(cli, db, "--day", D)[0] == 0
    assert not state_path(db).exists()  # listing alone never creates the state file
    # Acknowledging the warning of `slow` leaves nothing open there.
    alerts(cli, db, "--ack", keys[1], "--by", "ana", "--reason", "queue drained at 23:00")
    assert alerts(cli, db, "--day", D, "--vendor", "slow", "--exit-status")[0] == 0
    # Errors keep their codes and `error:` line.
    code, _, err = alerts(cli, db, "--day", "2026-11-22", "--from", "2026-11-30", "--exit-status")
    assert code == 1 and err.startswith("error: --from 2026-11-30 is after --day")


def test_digest_escapes_data_text_and_is_sent_once(db, smtp, hook, cli, expected):
    code, _, err = alerts(cli, db, "--day", D, "--notify", smtp.url, hook.url, "--digest")
    assert code == 2, err
    assert len(smtp.messages) == 2 and len(hook.posts) == 2
    digest = smtp.messages[1]
    assert digest["Subject"] == "bpo-kpi digest for Sun 22 Nov 2026: 1 critical, 2 warning"
    html_part = digest.get_body(preferencelist=("html",))
    assert html_part is not None
    page = html_part.get_content()
    # Hostile text arrives as text: escaped, never as a tag, a link or emphasis.
    assert html.escape(HOSTILE) in page and "<img" not in page
    assert html.escape(HOSTILE_WORKFLOW) in page  # Markdown means nothing in HTML: as typed
    assert 'href="https://evil' not in page
    assert "<strong>" not in page and "<em>" not in page
    for alert in expected.values():
        assert f'<a href="{html.escape(expected_link(alert))}">open</a>' in page
        assert html.escape(alert["message"]) in page
    # The tiles: a row per vendor with the day's values against targets.
    assert "SLA attainment" in page and "Quality score" in page
    assert "<b>calm</b>" in page and "<b>slow</b>" in page
    # As on the Overview, a tile leads with the window's value when the day rests on too few,
    # and a kappa is not shown on too few audits (here none: the day's audits still arrive).
    assert ('<b>100.0% (window, 500 decisions with a due time; the day: too few)</b><br>'
            '<span style="color:#555">✔ meets target (95.0%)') in page  # fmt: skip
    assert "<b>too few audits (n=0)</b>" in page
    # The JSON webhook got the alerts document (hostile text as plain data) and the digest
    # (HTML, escaped).
    doc = hook.documents()[0]
    assert {a["vendor"] for a in doc["alerts"]} == {HOSTILE, "slow"}
    assert HOSTILE_WORKFLOW in json.dumps(doc, ensure_ascii=False)
    assert hook.posts[1][1]["message"].replace("\r\n", "\n") == page.replace("\r\n", "\n")
    # The plain-text e-mail is text/plain: no markup to run.
    assert smtp.messages[0].get_content_type() == "text/plain"

    code, _, err = alerts(cli, db, "--day", D, "--notify", smtp.url, hook.url, "--digest")
    assert code == 2 and len(smtp.messages) == 2 and len(hook.posts) == 2
    assert err.count("digest already sent") == 2


def test_an_alert_without_a_day_is_sent_again_after_a_gap(db, hook, cli, keys):
    """Stale data and QA coverage have no day in their key: sent once while they last (the next
    day too), again when they come back after a day without them (or without a run)."""
    stale, backlog, coverage = keys
    assert backlog.endswith(f"|{D}") and not stale.endswith(f"|{D}")

    def run(day: dt.date) -> list[str]:
        before = len(hook.posts)
        code, _, err = alerts(cli, db, "--day", day, "--from", START, "--notify", hook.url)
        assert code == 2, err
        return [a["key"] for d in hook.documents()[before:] for a in d["alerts"]]

    assert run(D) == [stale, backlog, coverage]
    # The next day: the pending items are still past due, a new day's alert; the others go on.
    next_day = D + dt.timedelta(days=1)
    assert run(next_day) == [backlog.replace(str(D), str(next_day))]
    gap = D + dt.timedelta(days=3)
    assert run(gap) == [stale, backlog.replace(str(D), str(gap)), coverage]


def test_an_unreachable_target_is_retried_by_the_next_run(db, cli, monkeypatch, keys):
    port = free_port()  # nothing listens there yet
    code, out, err = alerts(cli, db, "--day", D, "--notify", f"json://127.0.0.1:{port}/hook")
    assert code == notify.EXIT_UNDELIVERED == 3
    assert f"error: notify json://127.0.0.1:{port}/hook: " in err and "nothing sent" in err
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    receiver = Hook(port)
    try:
        code, _, err = alerts(cli, db, "--day", D, "--notify", f"json://127.0.0.1:{port}/hook")
        assert code == 2, err
        assert [a["key"] for a in receiver.documents()[0]["alerts"]] == list(keys)
    finally:
        receiver.close()


KEY = "stale_data|vendor=x"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--digest"], 2, "error: --digest is sent with --notify URL"),
        (["--snooze", KEY, "--by", "a", "--reason", "b"], 2, "--snooze needs --until"),
        (["--ack", KEY, "--by", "a"], 2, "--ack needs --by NAME and --reason TEXT"),
        (["--ack", KEY, "--by", "a", "--reason", "b", "--notify", "json://x"], 2,
         "--ack changes an alert's status; it does not go with --notify"),
        (["--by", "a"], 2, "--by and --reason go with --ack, --snooze or --unack"),
        (["--ack", "stale|x", "--by", "a", "--reason", "b"], 1, "'stale|x' is not an alert key"),
        (["--ack", KEY, "--by", "  ", "--reason", "b"], 1, "by (who acknowledges) must "
         "not be empty"),
        (["--snooze", KEY, "--until", "2026-11-20", "--by", "a", "--reason", "b"], 1,
         "snooze until 2026-11-20 00:00 UTC is not in the future (now is 2026-11-23 06:00 UTC)"),
        (["--snooze", KEY, "--until", "2027-06-01", "--by", "a", "--reason", "b"], 1,
         "is more than 90 days away; acknowledge the alert instead"),
        (["--notify", "nonsense://x", "json://user:s3cret@127.0.0.1:1/h"], 1,
         "error: --notify URL #1 (nonsense://…) is not one apprise can send to"),
    ],
)  # fmt: skip
def test_bad_options_say_why(db, cli, args, code, message):
    got, out, err = alerts(cli, db, *args)
    assert got == code and message in err and err.startswith("error: ")
    assert "s3cret" not in err
    assert not state_path(db).exists()  # nothing was recorded


def test_state_is_written_while_an_ingest_holds_the_database_and_survives_reingest(
    db, cli, tmp_path, keys
):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time\n"
         f"con = duckdb.connect({str(db)!r})\n"
         "con.execute('BEGIN'); con.execute('DELETE FROM decisions')\n"
         "print('holding', flush=True); time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        started = time.monotonic()
        code, _, err = alerts(cli, db, "--ack", keys[0], "--by", "ana", "--reason", "known")
        assert (code, err) == (0, "")
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    # A forced re-ingest of every decision leaves the state alone.
    csv = write_csv(_build()[0], tmp_path / "decisions.csv")
    code, _, err = cli("ingest", "decisions", csv, "--db", db, "--force", "--quiet")
    assert code == 0, err
    code, out, _ = alerts(cli, db, "--day", D, "--format", "json", "--exit-status")
    assert code == 1  # the critical one is acknowledged
    assert {r["key"]: r["status"] for r in json.loads(out)}[keys[0]] == "acknowledged by ana: known"


# --- the state store and the links, directly ------------------------------------------------------


def test_state_store_validates_and_keeps_no_secret(tmp_path):
    db = tmp_path / "x.duckdb"
    now = dt.datetime(2026, 11, 23, 6, tzinfo=UTC)
    with StateStore(db) as store:
        assert store.path == tmp_path / "x.duckdb.state.sqlite"
        with pytest.raises(StateError, match="reason is 1,001 characters long; at most 1,000"):
            store.acknowledge("k|a", "ana", "x" * 1001, now)
        with pytest.raises(StateError, match="contains a control character"):
            store.acknowledge("k|a", "ana\x1b[31m", "why", now)
        with pytest.raises(StateError, match="must carry a time zone"):
            store.snooze("k|a", dt.datetime(2026, 11, 24), "ana", "why", now)
        with pytest.raises(StateError, match="more than 90 days away"):
            store.snooze("k|a", now + MAX_SNOOZE + dt.timedelta(seconds=1), "ana", "why", now)
        until = now + dt.timedelta(hours=5)
        store.snooze("k|a", until, "ana", "multi\nline reason", now)
        store.acknowledge("k|b", "bo", "ok", now)
        assert set(store.statuses(["k|a", "k|b", "k|c"], now)) == {"k|a", "k|b"}
        assert set(store.statuses(["k|a", "k|b"], until)) == {"k|b"}  # snooze over
        assert store.statuses(["k|a"], now)["k|a"].until == until
        cleared = store.clear("k|b", "bo", "fixed", now)
        assert cleared is not None and cleared.state == "acknowledged"
        assert store.clear("k|b") is None
        assert [h[0] for h in store.history("k|b")] == ["acknowledge", "clear"]

        url = "json://user:s3cret-token@127.0.0.1:8765/hook"
        target = store.target_id(url)
        assert target.startswith("json:") and "s3cret" not in target
        assert store.target_id(url) == target != store.target_id(url + "2")
        store.mark_sent("k|a", target, D, now)
        assert store.was_sent("k|a", target) and not store.was_sent("k|a", "json:other")
        assert store.was_sent("k|a", target, D + dt.timedelta(days=1))
        assert not store.was_sent("k|a", target, D + dt.timedelta(days=2))
        store.mark_sent("k|a", target, D + dt.timedelta(days=2), now)
        assert store.was_sent("k|a", target, D + dt.timedelta(days=2))
    con = sqlite3.connect(db.with_name("x.duckdb.state.sqlite"))
    dump = "\n".join(con.iterdump())
    con.close()
    assert "s3cret" not in dump and "8765" not in dump and "multi\nline reason" in dump


def test_links_use_the_dashboard_sidebar_query_parameters():
    """The sidebar binds From, To and each filter dimension to a query parameter named by its
    widget key (app_pages/common.py); the links use those names."""
    source = (Path(__file__).resolve().parents[2] / "app_pages" / "common.py").read_text()
    sidebar = source[source.index("def sidebar(") :]
    assert f'key="{notify.FROM_PARAM}"' in sidebar and f'key="{notify.TO_PARAM}"' in sidebar
    assert "for dim in FILTER_DIMENSIONS:" in sidebar and "key=dim," in sidebar
    got = notify.dashboard_link(
        "https://kpi.example.com/",
        {"site": ("s 1", "s&2"), "vendor": ("a", "b")},
        START,
        D,
        vendor="v/1",
    )
    assert got == (f"https://kpi.example.com/?from={START}&to={D}&vendor=v%2F1&site=s+1&site=s%262")
    assert set(FILTER_DIMENSIONS) >= {"vendor", "site", "workflow", "market"}


def test_dashboard_url_is_configurable_and_leaves_the_config_hash_alone():
    assert Config().dashboard.url == "http://localhost:8501"
    moved = Config.model_validate({"dashboard": {"url": "https://kpi.example.com/"}})
    assert moved.dashboard.url == "https://kpi.example.com"
    assert moved.content_hash() == Config().content_hash()
    with pytest.raises(ValueError, match="not an http"):
        Config.model_validate({"dashboard": {"url": "javascript:alert(1)"}})
