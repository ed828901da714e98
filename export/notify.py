"""Alerts that leave the tool: notifications of the day's new alerts (e-mail, Slack, Teams, a
JSON webhook... through apprise), the daily digest, the alerts' status (acknowledged, snoozed)
and the exit status that cron and CI act on. `bpo-kpi alerts --notify` parses and prints; what
to send, how it reads, where its links point and what the exit status is are decided here.

- **What is sent.** For each target (an apprise URL: `mailto://…`, `slack://…`,
  `workflows://…`, `json://host:port/path`…), one message with the day's alerts that are
  neither acknowledged nor snoozed (`bpo_kpi.state`) nor already sent to that target, most
  severe first; nothing when there are none. An alert is marked sent to a target only once the
  target accepted the message, so a failed delivery is tried again by the next run. An alert
  whose key has no day (data not fresh, QA coverage, edits after audit) is sent again when it
  comes back after a monitored day without it (`StateStore.was_sent` with a day).
- **How it reads.** Each alert: severity, the kind's label, the segment, the period, the
  monitor's message, a link to the dashboard's Overview filtered to the alert's vendor and
  workflow (and the run's other filters) with the window as From / To, and the alert's key (to
  acknowledge it). Sent as plain text (apprise `body_format=TEXT`): apprise escapes it for
  targets that read HTML or Markdown, so a vendor named `<img src=x onerror=…>` or `**x**`
  arrives as those characters, never as markup (Slack: `&`, `<`, `>` as entities, no `mrkdwn`;
  Teams: Markdown escaped). Services that show Markdown in a text apprise passes on unchanged
  (Discord, Mattermost, Guilded, Zulip, Revolt: `MARKDOWN_AS_IS`) get the data text escaped
  for Markdown here, in the alerts and in the digest (whose HTML apprise turns into their
  text). A `json://` / `jsons://` target receives
  apprise's JSON payload whose `message` is a JSON document (`alerts_document`): every alert's
  fields and link, for programs.
- **Digest** (`digest_html`): one HTML page of the day, e-mail-style: the per-vendor KPI tiles
  (value, target status, change since yesterday) and the whole alert list with each alert's
  status and link; every data text through `html.escape`. Sent once per day, filters and target.
- **Exit status** (`exit_status`): 0 no alerts that are neither acknowledged nor snoozed (or
  only info ones: an unusually low error rate is worth a look, not a page), 1 the worst is a
  warning, 2 at least one critical, 3 a target could not be reached (the others were sent).
  These overlap the command line's own codes (1 an error, 2 a usage error), which keep printing
  one `error: …` line on stderr: a caller tells them apart by that line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from bpo_kpi.config import Config
from bpo_kpi.state import AlertStatus, StateError, StateStore, check_key
from export.safety import markdown_text
from kpi import alerting
from kpi import columns as cols
from kpi.catalog import FILTER_DIMENSIONS, KPIS
from kpi.columns import Columns, is_empty
from kpi.compute import records
from kpi.targets import STATUS_WORDS, format_value, interval_text, min_shown, status

EXIT_NO_ALERTS, EXIT_WARNINGS, EXIT_CRITICAL, EXIT_UNDELIVERED = 0, 1, 2, 3
JSON_SCHEMES = ("json", "jsons")  # apprise's generic JSON webhook (http, https)
# Services that render Markdown in a message that apprise passes on as it gets it (a TEXT
# body, or the text of an HTML one): data text is escaped for Markdown before it is sent.
MARKDOWN_AS_IS = ("discord", "guilded", "mmost", "mmosts", "zulip", "revolt")
SEVERITY_WORDS = {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"}
SEVERITY_COLOURS = {"critical": "#b3261e", "warning": "#a15c00", "info": "#1a5fb4"}
# Dashboard query parameters besides the filter dimensions (app_pages.common.sidebar keys).
FROM_PARAM, TO_PARAM = "from", "to"


if TYPE_CHECKING:
    from typing import TypeAlias

    import pandas as pd

    # The alert list: `kpi.monitor.alerts`' DataFrame (the dashboard), or the CLI's numpy
    # columns (`kpi.alerting.alert_columns`) where only statuses and the exit code are needed.
    AlertList: TypeAlias = pd.DataFrame | Columns


# --- status of alerts -------------------------------------------------------------------------


def check_alert_key(key: str) -> str:
    """An alert key to acknowledge or snooze: stored-key rules (`bpo_kpi.state.check_key`) and
    a kind the monitor raises (`kind|segment[|day]`, as `bpo-kpi alerts` prints it)."""
    key = check_key(key)
    kind = key.partition("|")[0]
    if kind not in alerting.ALERT_KINDS or "|" not in key:
        kinds = ", ".join(alerting.ALERT_KINDS)
        raise StateError(
            f"{key!r} is not an alert key: it starts with the alert's kind ({kinds}), then "
            "'|' and the segment, as in the key column of `bpo-kpi alerts --format json`"
        )
    return key


def snooze_until(value: dt.date | dt.datetime, timezone: str) -> dt.datetime:
    """`--until` as an instant: a day means its start (midnight) in the reporting time zone,
    so "until Monday" shows the alert again on Monday; a time without a zone is UTC."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.combine(value, dt.time(), tzinfo=ZoneInfo(timezone))


def status_text(status: AlertStatus | None, timezone: str = "UTC") -> str:
    """An alert's status in words: "new", "acknowledged by NAME: REASON" or "snoozed until
    2026-11-24 00:00 CET by NAME: REASON" (the instant in the reporting time zone)."""
    if status is None:
        return "new"
    reason = " ".join(status.reason.split())  # one line in tables
    if status.state == "acknowledged" or status.until is None:
        return f"acknowledged by {status.by}: {reason}"
    until = status.until.astimezone(ZoneInfo(timezone))
    return f"snoozed until {until:%Y-%m-%d %H:%M %Z} by {status.by}: {reason}"


def with_status(
    frame: AlertList, statuses: Mapping[str, AlertStatus], timezone: str = "UTC"
) -> AlertList:
    """The alert list with a `status` column (`status_text`) after its columns."""
    out = frame.copy()
    out["status"] = cols.object_array(
        [status_text(statuses.get(k), timezone) for k in frame["key"]]
    )
    return out


def open_alerts(frame: pd.DataFrame, statuses: Mapping[str, AlertStatus]) -> pd.DataFrame:
    """The alerts neither acknowledged nor snoozed (`statuses` holds only the active ones)."""
    return frame[~frame["key"].isin(list(statuses))]


def exit_status(frame: AlertList, statuses: Mapping[str, AlertStatus]) -> int:
    """0 when no open alert (or info ones only), 1 when the worst open alert is a warning, 2
    when one is critical; acknowledged and snoozed alerts do not count."""
    severities = {
        s for s, k in zip(frame["severity"], frame["key"], strict=True) if k not in statuses
    }
    if "critical" in severities:
        return EXIT_CRITICAL
    if "warning" in severities:
        return EXIT_WARNINGS
    return EXIT_NO_ALERTS


# --- links ------------------------------------------------------------------------------------


def _present(value: Any) -> bool:
    return not is_empty(value)


def dashboard_link(
    dashboard_url: str,
    where: Mapping[str, Sequence[str]],
    start: dt.date,
    day: dt.date,
    vendor: Any = None,
    workflow: Any = None,
) -> str:
    """The dashboard's Overview (its default page, at the root) with the sidebar's filters in
    its URL query parameters (`app_pages.common.sidebar`: `from`, `to` and one per filter
    dimension, repeated for several values): `start` – `day` as From – To, the alert's vendor
    and workflow, and the run's other filters. Values are URL-encoded."""
    own = {"vendor": vendor, "workflow": workflow}
    params: list[tuple[str, str]] = [(FROM_PARAM, start.isoformat()), (TO_PARAM, day.isoformat())]
    for dim in FILTER_DIMENSIONS:
        if _present(own.get(dim)):
            params.append((dim, str(own[dim])))
        else:
            params += [(dim, str(v)) for v in where.get(dim, ())]
    return f"{dashboard_url.rstrip('/')}/?{urlencode(params)}"


def describe_filters(where: Mapping[str, Sequence[str]], markdown: bool = False) -> str:
    """The filters in words; `markdown`: their values escaped for Markdown."""
    parts = [
        f"{dim}: {', '.join(_text(v, markdown) for v in values)}"
        for dim, values in where.items()
        if values
    ]
    return "; ".join(parts) or "no filters"


def _text(value: Any, markdown: bool = False) -> str:
    """Data text as it is, or (`markdown`) escaped for a service that renders Markdown."""
    text = "" if value is None else str(value)
    return markdown_text(text) if markdown else text


# --- message bodies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What every message of a run shares: the monitored day, its window, the filters, the
    dashboard's URL and the reporting time zone."""

    day: dt.date
    start: dt.date
    where: Mapping[str, Sequence[str]]
    dashboard_url: str
    timezone: str = "UTC"
    config: Config = field(default_factory=Config)  # its monitor settings (min_kappa_audits)

    def link(self, alert: Mapping[str, Any]) -> str:
        return dashboard_link(
            self.dashboard_url,
            self.where,
            self.start,
            self.day,
            alert.get("vendor"),
            alert.get("workflow"),
        )

    @property
    def window(self) -> str:
        return f"{self.start:%d %b} – {self.day:%d %b %Y}"


def counts_text(frame: pd.DataFrame) -> str:
    """ "1 critical, 2 warning" (severities present only)."""
    counts = alerting.alert_counts(frame)
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"


def alerts_title(frame: pd.DataFrame, ctx: Context) -> str:
    word = "alert" if len(frame) == 1 else "alerts"
    return f"bpo-kpi: {len(frame)} new {word} ({counts_text(frame)}) for {ctx.day:%a %d %b %Y}"


def alerts_text(frame: pd.DataFrame, ctx: Context, markdown: bool = False) -> str:
    """The alerts as plain text: a heading, then per alert its severity, kind label, segment,
    period, message, dashboard link and key. Data text is left as it is (the body is sent as
    TEXT, which apprise escapes for HTML and Markdown targets), or with `markdown` escaped for
    Markdown (for `MARKDOWN_AS_IS` services, which apprise does not escape for)."""
    lines = [
        f"{len(frame)} new {'alert' if len(frame) == 1 else 'alerts'} for {ctx.day:%a %d %b %Y} "
        f"(window {ctx.window}; {describe_filters(ctx.where, markdown)})",
        "",
    ]
    for i, rec in enumerate(frame.to_dict("records"), start=1):
        when = alerting.describe_period(rec["start"], rec["end"])
        lines += [
            f"{i}. {SEVERITY_WORDS.get(rec['severity'], rec['severity'])} · "
            f"{alerting.ALERT_KINDS.get(rec['kind'], rec['kind'])} · "
            f"{_text(rec['segment'], markdown)} · {when}",
            f"   {_text(rec['message'], markdown)}",
            f"   Dashboard: {ctx.link(rec)}",  # URL-encoded: nothing in it reads as markup
            f"   Key: {_text(rec['key'], markdown)}",
            "",
        ]
    lines.append(
        "Acknowledge or snooze one: bpo-kpi alerts --ack KEY --by NAME --reason TEXT "
        "(or --snooze KEY --until YYYY-MM-DD ...)"
    )
    return "\n".join(lines)


def alerts_document(frame: pd.DataFrame, ctx: Context) -> dict[str, Any]:
    """The alerts for programs (a JSON webhook's message): the day, window and filters, counts
    per severity, and every alert's fields (`kpi.monitor.ALERT_COLUMNS`, JSON-ready) with its
    kind's `label` and its dashboard `link`."""
    alerts = []
    for rec, raw in zip(records(frame), frame.to_dict("records"), strict=True):
        kind = str(rec["kind"])
        alerts.append({**rec, "label": alerting.ALERT_KINDS.get(kind, kind), "link": ctx.link(raw)})
    return {
        "source": "bpo-kpi",
        "day": ctx.day.isoformat(),
        "window": {"from": ctx.start.isoformat(), "to": ctx.day.isoformat()},
        "filters": {dim: list(values) for dim, values in ctx.where.items() if values},
        "counts": alerting.alert_counts(frame),
        "alerts": alerts,
    }


def _e(value: Any, markdown: bool = False) -> str:
    """Data text for HTML: escaped, quotes included; with `markdown` also escaped for the
    Markdown an HTML body becomes for some services (`MARKDOWN_AS_IS`)."""
    return html.escape(_text(value, markdown), quote=True)


_CELL = "padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top;text-align:left"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table of cells already made safe (escaped text or our own markup)."""
    th = "".join(f'<th style="{_CELL}">{h}</th>' for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{c}</td>' for c in row) + "</tr>" for row in rows
    )
    return f'<table style="border-collapse:collapse;font-size:13px"><tr>{th}</tr>{body}</table>'


def tiles_html(tiles: pd.DataFrame, markdown: bool = False, config: Config | None = None) -> str:
    """`kpi.monitor.vendor_snapshot` as a vendor x KPI table: what the Overview's tile leads
    with (`kpi.monitor.tile_lead`: the day's value, or the window's when the day rests on too
    few; a kappa with its interval and n, none on too few audits), its target status (or
    "provisional") and the change since yesterday in words."""
    from kpi import monitor  # with pandas: the digest's tiles are a DataFrame

    config = config or Config()
    if tiles.empty:
        return "<p>No decisions, audits or backlog for these filters on this day.</p>"
    kpis = list(dict.fromkeys(tiles["kpi"]))
    rows = []
    for vendor, group in tiles.groupby("vendor", dropna=False, sort=False):
        by_kpi = {rec["kpi"]: rec for rec in group.to_dict("records")}
        cells = [f"<b>{_e(monitor.group_label(vendor), markdown)}</b>"]
        for kpi in kpis:
            rec = by_kpi.get(kpi)
            if rec is None:
                cells.append("–")
                continue
            lead = monitor.tile_lead(rec, config)
            value = None if math.isnan(lead.value) else lead.value
            target = None if is_empty(rec["target"]) else float(rec["target"])
            state = status(kpi, None if lead.too_few else value, target)
            verdict = STATUS_WORDS.get(state, state) or "no target"
            if target is not None and state in ("met", "missed"):
                verdict += f" ({format_value(kpi, target)})"
            if rec["provisional"]:
                verdict = "provisional: audits still arriving"
            change = monitor.change_text(
                kpi,
                float(rec["change_yesterday"]),
                float(rec["p_yesterday"]),
                bool(rec["significant_yesterday"]),
                monitor.COMPARISON_TEXT["yesterday"],
                bool(rec["provisional"]),
            )
            if KPIS[kpi].unit == "kappa" or lead.too_few:
                shown = interval_text(kpi, value, lead.low, lead.high, lead.n,
                                      min_shown(config, kpi))  # fmt: skip
            else:
                shown = format_value(kpi, value)
            if not lead.day:
                shown += f" (window, {monitor.basis_text(kpi, lead.n)}; the day: too few)"
            cells.append(
                f"<b>{_e(shown)}</b><br>"
                f'<span style="color:#555">{_e(verdict)}<br>{_e(change)}</span>'
            )
        rows.append(cells)
    head = ["Vendor", *(_e(KPIS[k].label) for k in kpis)]
    return _table(head, rows)


def alerts_html(
    frame: pd.DataFrame,
    statuses: Mapping[str, AlertStatus],
    ctx: Context,
    markdown: bool = False,
) -> str:
    """The alert list as an HTML table (as the Overview words it) with status and link;
    `markdown`: data text also escaped for Markdown (see `_e`)."""
    if frame.empty:
        return "<p>No alerts for this day and these filters.</p>"
    table = alerting.readable_alert_columns(frame)
    readable = [dict(zip(table, row, strict=True)) for row in zip(*table.values(), strict=True)]
    rows = []
    for rec, raw in zip(readable, frame.to_dict("records"), strict=True):
        colour = SEVERITY_COLOURS.get(raw["severity"], "#000")
        rows.append(
            [
                f'<b style="color:{colour}">{_e(rec["severity"])}</b>',
                _e(rec["alert"]),
                _e(raw["segment"], markdown),
                _e(rec["when"]),
                _e(rec["value"]),
                _e(rec["limit"]),
                _e(rec["details"], markdown),
                _e(status_text(statuses.get(raw["key"]), ctx.timezone), markdown),
                f'<a href="{_e(ctx.link(raw))}">open</a>',
            ]
        )
    head = ["Severity", "Alert", "Segment", "When", "Value", "Limit", "Details", "Status", ""]
    return _table(head, rows)


def digest_title(frame: pd.DataFrame, ctx: Context) -> str:
    return f"bpo-kpi digest for {ctx.day:%a %d %b %Y}: {counts_text(frame)}"


def digest_html(
    tiles: pd.DataFrame,
    frame: pd.DataFrame,
    statuses: Mapping[str, AlertStatus],
    ctx: Context,
    markdown: bool = False,
) -> str:
    """The daily digest, one HTML document (inline styles, as e-mail needs): heading, window,
    filters and counts, a link to the Overview, the vendor tiles and the alert list. Every text
    from data is escaped (`html.escape`); the only markup is ours. `markdown`: data text is
    also escaped for Markdown (for `MARKDOWN_AS_IS` services, which get the HTML as text)."""
    opened = open_alerts(frame, statuses)
    parked = len(frame) - len(opened)
    overview = dashboard_link(ctx.dashboard_url, ctx.where, ctx.start, ctx.day)
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"></head>',
        '<body style="font-family:Arial,Helvetica,sans-serif;color:#222">',
        f"<h2>bpo-kpi daily digest: {_e(f'{ctx.day:%A %d %b %Y}')}</h2>",
        f"<p>Window {_e(ctx.window)} · {_e(describe_filters(ctx.where, markdown))} · "
        f'<a href="{_e(overview)}">open the Overview</a></p>',
        f"<p><b>{len(frame)}</b> alerts ({_e(counts_text(frame))})"
        + (f"; {parked} acknowledged or snoozed" if parked else "")
        + "</p>",
        f"<h3>Vendors on {_e(f'{ctx.day:%a %d %b}')}</h3>",
        tiles_html(tiles, markdown, ctx.config),
        "<h3>Alerts</h3>",
        alerts_html(frame, statuses, ctx, markdown),
        "</body></html>",
    ]
    return "\n".join(parts)


# --- targets and delivery ---------------------------------------------------------------------


@dataclass
class Target:
    """A notification target: its apprise URL (never printed or stored), what may be shown of it
    (apprise's privacy form: passwords and tokens masked) and its id in the state store."""

    url: str = field(repr=False)
    shown: str
    id: str
    scheme: str

    @property
    def wants_json(self) -> bool:
        return self.scheme in JSON_SCHEMES

    @property
    def renders_markdown(self) -> bool:
        """A service that shows Markdown in what apprise passes on unescaped."""
        return self.scheme in MARKDOWN_AS_IS


def check_urls(urls: Sequence[str]) -> dict[str, str]:
    """Every notification URL (the same one twice counts once) -> what may be shown of it
    (apprise's privacy form). ValueError for one apprise cannot send to, naming it by position
    and scheme, never by its text: it may hold a password."""
    import apprise  # 0.2 s to import: only when something is sent

    shown: dict[str, str] = {}
    for i, url in enumerate(dict.fromkeys(u.strip() for u in urls), start=1):
        scheme = urlsplit(url).scheme.lower()
        services = apprise.Apprise()
        if not url or not services.add(url) or len(services) != 1:
            raise ValueError(
                f"--notify URL #{i} ({scheme + '://…' if scheme else 'no scheme'}) is not one "
                "apprise can send to (see its URL formats: mailto://, slack://, workflows://, "
                "json://HOST:PORT/PATH …)"
            )
        shown[url] = services[0].url(privacy=True).partition("?")[0]
    return shown


def prepare_targets(urls: Sequence[str], store: StateStore) -> list[Target]:
    """The targets of `urls` (checked by `check_urls`), with their ids in `store`."""
    return [
        Target(url=url, shown=shown, id=store.target_id(url), scheme=urlsplit(url).scheme.lower())
        for url, shown in check_urls(urls).items()
    ]


def _send(target: Target, title: str, body: str, kind: str, html_body: bool = False) -> str | None:
    """Send one message (plain text, or HTML for the digest); None when the target accepted it,
    else why not (apprise's last warning, which names the host, not credentials)."""
    import apprise

    services = apprise.Apprise()
    services.add(target.url)
    with apprise.LogCapture(level=logging.WARNING) as log:
        ok = services.notify(
            body=body,
            title=title,
            body_format=apprise.NotifyFormat.HTML if html_body else apprise.NotifyFormat.TEXT,
            notify_type=apprise.NotifyType(kind),
        )
    if ok:
        return None
    said = [ln.split(" - ", 2)[-1].strip() for ln in log.getvalue().splitlines() if ln.strip()]
    return said[-1] if said else "the service did not accept the message"


def _notify_type(frame: pd.DataFrame) -> str:
    severities = set(frame["severity"])
    if "critical" in severities:
        return "failure"
    return "warning" if "warning" in severities else "info"


@dataclass
class Delivery:
    """What happened at one target: alerts sent (by key), skipped (already sent, acknowledged,
    snoozed), the digest, and the error if the target did not accept a message."""

    target: str
    sent: list[str] = field(default_factory=list)
    sent_counts: str = ""
    already_sent: int = 0
    acknowledged: int = 0
    snoozed: int = 0
    digest: str | None = None  # "sent", "already sent", "failed" (with --digest)
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What the command prints for this target."""
        skipped = [
            f"{n} {what}"
            for n, what in (
                (self.already_sent, "already sent"),
                (self.acknowledged, "acknowledged"),
                (self.snoozed, "snoozed"),
            )
            if n
        ]
        if self.sent:
            word = "alert" if len(self.sent) == 1 else "alerts"
            head = f"sent {len(self.sent)} {word} ({self.sent_counts})"
        else:
            head = "nothing new to send" if not self.errors else "nothing sent"
        text = f"notify {self.target}: {head}" + (
            f"; skipped {', '.join(skipped)}" if skipped else ""
        )
        out = [text]
        if self.digest is not None:
            out.append(f"notify {self.target}: digest {self.digest}")
        out += [f"error: notify {self.target}: {e}" for e in self.errors]
        return out


def scope_label(where: Mapping[str, Sequence[str]]) -> str:
    """The filters as text that identifies them (sorted), for the digest's sent mark; a hash
    of that text when it is long."""
    text = "; ".join(f"{d}={','.join(sorted(map(str, v)))}" for d, v in sorted(where.items()) if v)
    return text if len(text) <= 200 else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def notify(
    targets: Sequence[Target],
    frame: pd.DataFrame,
    statuses: Mapping[str, AlertStatus],
    store: StateStore,
    ctx: Context,
    tiles: pd.DataFrame | None = None,
    now: dt.datetime | None = None,
) -> list[Delivery]:
    """Send each target the alerts of `frame` that are open (not in `statuses`) and not yet sent
    to it, as one message; with `tiles` (`kpi.monitor.vendor_snapshot`), also the day's digest
    once. Marks what each target accepted as sent; returns what happened per target."""
    deliveries = []
    digest_key = f"digest|{ctx.day.isoformat()}|{scope_label(ctx.where)}"
    for target in targets:
        done = Delivery(target.shown)
        new_rows: list[int] = []
        still_open: list[str] = []
        for i, rec in enumerate(frame[["key", "kind"]].to_dict("records")):
            status = statuses.get(rec["key"])
            if status is not None:
                if status.state == "acknowledged":
                    done.acknowledged += 1
                else:
                    done.snoozed += 1
                continue
            episode_day = None if rec["kind"] in alerting.DAY_KINDS else ctx.day
            if store.was_sent(rec["key"], target.id, episode_day):
                done.already_sent += 1
                still_open.append(rec["key"])
            else:
                new_rows.append(i)
        new = frame.iloc[new_rows]
        if len(new):
            if target.wants_json:
                body = json.dumps(alerts_document(new, ctx), ensure_ascii=False, indent=1)
            else:
                body = alerts_text(new, ctx, markdown=target.renders_markdown)
            error = _send(target, alerts_title(new, ctx), body, _notify_type(new))
            if error is None:
                done.sent = list(new["key"])
                done.sent_counts = counts_text(new)
            else:
                done.errors.append(error)
        if done.sent or still_open:  # still open: the same episode goes on (see was_sent)
            store.mark_sent([*done.sent, *still_open], target.id, ctx.day, now)
        if tiles is not None:
            if store.was_sent(digest_key, target.id):
                done.digest = "already sent"
            else:
                error = _send(
                    target,
                    digest_title(frame, ctx),
                    digest_html(tiles, frame, statuses, ctx, markdown=target.renders_markdown),
                    _notify_type(open_alerts(frame, statuses)),
                    html_body=True,
                )
                if error is None:
                    done.digest = "sent"
                    store.mark_sent(digest_key, target.id, ctx.day, now)
                else:
                    done.digest = "failed"
                    done.errors.append(f"digest: {error}")
        deliveries.append(done)
    return deliveries


def delivery_status(deliveries: Sequence[Delivery], alerts_status: int) -> int:
    """The command's exit status: `EXIT_UNDELIVERED` when a target did not accept a message,
    else the alerts' (`exit_status`)."""
    return EXIT_UNDELIVERED if any(d.errors for d in deliveries) else alerts_status
