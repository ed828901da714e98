"""Actions on the dashboard (issue 15): record one against a segment, see the actions that touch
a view as markers on its trend charts, list them, close one, and see its effect.

Actions live in the state file beside the database (`kpi.actions`, `bpo_kpi.state`), written by
the dashboard and by the CLI (`bpo-kpi actions add`), also while an ingest runs. They are read
through `common.call` like every other kpi/ result, keyed by the state file's identity (size and
modification time of the file and its write-ahead log), so an action recorded anywhere shows at
the next rerun; `kpi.actions.load` keeps only what the viewer's role may see.

**Who may record.** Every role, within its scope: `kpi.actions.add` refuses a segment the
viewer's role could not see (a vendor liaison records its own vendor's retraining, never
another vendor's; a role that may not see reviewers names no reviewer), and the form adds a
restricted role's single vendor, workflow or market to the segment it offers. Closing works
the same way: only actions the role sees can be closed.

Helpers for pages (Calibration review imports them too):

- `action_form(segment, source, key)`: the "Record an action" form for a segment;
- `actions_in_view(filters)`: the actions touching a view's filters and dates;
- `action_markers(fig, actions, row, col)`: each action as a dotted line on a trend chart;
- `effect_panel(action, key)`: its effect before / after and against peers (`kpi.effect`);
- `actions_table(actions, key)`: a table of actions, one picked for its effect and to close.

Every text of an action (note, owner, segment values, source) is the user's: shown through
`md()` in Markdown and `plot_text()` in plotly.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages import common
from app_pages.text import md, plot_text
from bpo_kpi.state import state_path
from kpi import actions, effect
from kpi.actions import ACTION_KINDS, SEGMENT_DIMENSIONS, Action
from kpi.catalog import KPIS

KIND_LABELS = {kind: kind.replace("_", " ").capitalize() for kind in ACTION_KINDS}
EFFECT_KPIS = effect.rate_kpis()  # the KPIs an effect is measured on: shares
NOTE_CHARS = 200  # of a note, in a chart's hover label
WRAP = 70  # characters per hover line
# Okabe-Ito reddish purple (colour-blind safe; differs from the blue and vermillion series of
# the Quality charts); closed actions in light grey. Open and closed also differ in symbol.
OPEN_COLOUR, CLOSED_COLOUR = "#A5508A", "#B4B4B4"
LEGEND_GROUP = "actions"


# --- words ------------------------------------------------------------------------------------


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def dimension_label(dim: str) -> str:
    return common.DIMENSION_LABELS.get(dim, dim)


def segment_words(segment: Mapping[str, str]) -> str:
    """A segment as plain text ("Vendor northwind · Workflow hate_speech"), for tables,
    selectbox options and (through `plot_text`) charts."""
    return " · ".join(f"{dimension_label(d)} {v}" for d, v in segment.items())


def segment_md(segment: Mapping[str, str]) -> str:
    """A segment as Markdown: its values (the user's or the data's) as text."""
    return " · ".join(f"{dimension_label(d)} **{md(v)}**" for d, v in segment.items())


def gap_source(segment: Mapping[str, str]) -> str:
    """The source link of an action recorded from a quality gap (`kpi.actions.check_source`)."""
    return "gap:" + "|".join(f"{d}={v}" for d, v in segment.items())


def source_words(source: str) -> str:
    """Where an action came from, as plain text: "quality gap Vendor x · Workflow y",
    "calibration session s", or the source as stored."""
    kind, _, rest = source.partition(":")
    if kind == "gap" and rest:
        parts = dict(p.partition("=")[::2] for p in rest.split("|"))
        return "quality gap " + segment_words(parts)
    if kind == "calibration" and rest:
        return f"calibration session {rest}"
    return source


def action_title(action: Action) -> str:
    """One line naming an action, plain text (selectbox options, messages through md)."""
    closed = "" if action.is_open else " (closed)"
    return (
        f"#{action.id} · {action.date:%d %b %Y} · {kind_label(action.kind)} · "
        f"{segment_words(action.segment)}{closed}"
    )


def change_text(kpi: str, value: float | None) -> str:
    """A change of a KPI in its own unit with a sign: shares in percentage points."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    unit = KPIS[kpi].unit
    if unit == "share":
        return f"{value * 100:+.1f} pp"
    if unit == "minutes":
        return f"{value:+,.0f} min"
    if unit == "count":
        return f"{value:+,.0f}"
    return f"{value:+.2f}"


def interval_text(kpi: str, low: float | None, high: float | None) -> str:
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "no interval"
    return f"95% {change_text(kpi, low)} to {change_text(kpi, high)}"


def p_text(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "no test"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


# --- reading ----------------------------------------------------------------------------------


def state_stamp() -> str:
    """The state file's identity (sizes and modification times of the file and its write-ahead
    log): changes with every write, by this dashboard or by the CLI, so cached lists of
    actions are not served past a change."""
    path = state_path(common.db_path())
    parts = []
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            stat = p.stat()
        except OSError:
            parts.append("-")
            continue
        parts.append(f"{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def _load(engine: Any, db: str, include_closed: bool, stamp: str) -> list[Action]:
    """`kpi.actions.load`, with the state file's stamp as part of the cache key."""
    return actions.load(engine, db, include_closed=include_closed)


def load_actions(include_closed: bool = True) -> list[Action]:
    """The actions the viewer's role may see, by date then id (cached until the state file
    changes)."""
    db = str(common.context().db)
    return common.call(_load, db, include_closed, state_stamp())


def actions_in_view(
    f: common.Filters | None = None,
    *,
    where: Mapping[str, Sequence[str]] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    include_closed: bool = True,
) -> list[Action]:
    """The actions touching a view (`kpi.actions.touching` its filters) dated within its dates
    (default: the sidebar's filters and dates; `start` / `end` None = open-ended when `f` is
    None)."""
    if f is not None:
        where = f.where if where is None else where
        start = f.start if start is None else start
        end = f.end if end is None else end
    found = actions.touching(load_actions(include_closed), where or {})
    return [
        a for a in found if (start is None or a.date >= start) and (end is None or a.date <= end)
    ]


TOAST = "_actions_toast"


def _toast() -> None:
    """The message of the last recorded or closed action (after the rerun that shows it)."""
    message = st.session_state.pop(TOAST, None)
    if message:
        st.toast(message, icon=":material/task_alt:")


# --- recording --------------------------------------------------------------------------------


def scoped_segment(segment: Mapping[str, str]) -> dict[str, str]:
    """`segment` (its action dimensions, catalog order) with a restricted role's one allowed
    value of each dimension it restricts and the segment does not name: an action of a vendor
    liaison is its vendor's (`kpi.actions.add` refuses a segment outside the role's scope)."""
    out = {d: str(segment[d]) for d in SEGMENT_DIMENSIONS if segment.get(d)}
    for dim, allowed in common.engine().scope.restrictions().items():
        if dim not in out and len(allowed) == 1:
            out[dim] = str(allowed[0])
    return {d: out[d] for d in SEGMENT_DIMENSIONS if d in out}


def action_form(
    segment: Mapping[str, str],
    source: str | None,
    key: str,
    label: str = "Record an action",
) -> None:
    """A popover with a form recording an action against `segment` (the viewer may drop
    dimensions from it to record a broader one), with its kind, date (default: today in the
    reporting time zone), owner (default: the viewer) and a note (required). `source` links it
    to where it came from (`gap:...`, `calibration:<session>`). Widget keys start with `key`."""
    ctx = common.context()
    if st.session_state.pop(f"_{key}_recorded", False):
        # An empty note after a recorded action (set through the Session State API, so the
        # browser's field is emptied too); the other fields keep their choices for the next.
        st.session_state[f"{key}_note"] = ""
    _toast()
    segment = scoped_segment(segment)
    if not segment:
        return
    # All of the segment's dimensions, picked afresh whenever the segment changes (another gap
    # or cell under the same form), through the Session State API so the browser follows.
    dims_key, shown_key = f"{key}_dims", f"_{key}_segment"
    if st.session_state.get(shown_key) != segment or dims_key not in st.session_state:
        st.session_state[dims_key] = list(segment)
        st.session_state[shown_key] = dict(segment)
    with (
        st.popover(label, icon=":material/add_task:"),
        st.form(f"{key}_form", border=False),
    ):
        st.caption(f"Segment: {segment_md(segment)}")
        dims = st.multiselect(
            "Segment", list(segment), key=dims_key,
            format_func=lambda d: f"{dimension_label(d)}: {segment[d]}",
            help="Drop a dimension to record the action for the broader segment (e.g. the "
            "whole vendor × workflow rather than one of its markets).",
        )  # fmt: skip
        kind = st.selectbox("Kind", ACTION_KINDS, format_func=kind_label, key=f"{key}_kind")
        date = st.date_input(
            "Took effect on", value=common.local_today(), key=f"{key}_date",
            help=f"The local day ({common.config().reporting_timezone}) from which it applies: "
            "the effect compares the days before it with the days from it.",
        )  # fmt: skip
        owner = st.text_input(
            "Owner", value=ctx.who, max_chars=actions.MAX_OWNER_CHARS, key=f"{key}_owner"
        )
        note = st.text_area(
            "Note", max_chars=actions.MAX_NOTE_CHARS, key=f"{key}_note",
            placeholder="What was agreed or done (required)",
        )  # fmt: skip
        submitted = st.form_submit_button("Record", type="primary", icon=":material/save:")
    if not submitted:
        return
    chosen = {d: segment[d] for d in segment if d in dims}
    if not chosen:
        st.error("Keep at least one dimension of the segment.")
        return
    if not note.strip():
        st.error("Write a note: what was agreed or done.")
        return
    try:
        added = actions.add(
            ctx.db, date=date, kind=str(kind), segment=chosen, note=note,
            owner=owner.strip() or None, source=source, engine=common.engine(), by=ctx.who,
        )  # fmt: skip
    except (ValueError, OSError) as exc:  # ActionError / StateError are ValueErrors
        st.error(md(exc))
        return
    st.session_state[f"_{key}_recorded"] = True
    st.session_state[TOAST] = f"Action #{added.id} recorded"
    st.rerun()


# --- on charts --------------------------------------------------------------------------------


def _axes(fig: go.Figure, row: int | None, col: int | None) -> tuple[str, str]:
    """The x and y axis ids ("x2", "y2") of a subplot, or of a figure without subplots."""
    if row is None or col is None:
        return "x", "y"
    sub = fig.get_subplot(row, col)
    return (
        sub.xaxis.plotly_name.replace("axis", ""),
        sub.yaxis.plotly_name.replace("axis", ""),
    )


def _overlay_axis(fig: go.Figure, x: str, y: str) -> str:
    """A hidden y axis over axis `y` with the range 0..1, for markers at the top of the plot
    whatever its data's range; the existing one when made before."""
    layout = fig.layout
    for name in layout:
        axis = layout[name]
        if (
            name.startswith("yaxis")
            and getattr(axis, "overlaying", None) == y
            and axis.visible is False
            and tuple(axis.range or ()) == (0, 1)
        ):
            return "y" + name[len("yaxis") :]
    used = [int(n[len("yaxis") :] or 1) for n in layout if n.startswith("yaxis")]
    n = max([1, *used]) + 1
    fig.update_layout(
        {
            f"yaxis{n}": {
                "overlaying": y, "anchor": x, "range": [0, 1], "visible": False,
                "fixedrange": True, "showgrid": False, "zeroline": False,
            }
        }
    )  # fmt: skip
    return f"y{n}"


def hover_text(action: Action) -> str:
    """An action's hover label: kind and date, the note (cut, wrapped), owner and segment; every
    text of the user's escaped for plotly."""
    note = action.note if len(action.note) <= NOTE_CHARS else action.note[: NOTE_CHARS - 1] + "…"
    lines = textwrap.wrap(" ".join(note.split()), WRAP) or [""]
    state = "" if action.is_open else " · closed"
    head = f"<b>{plot_text(kind_label(action.kind))}</b> · {action.date:%d %b %Y}{state}"
    tail = f"{plot_text(action.owner or 'no owner')} · {plot_text(segment_words(action.segment))}"
    return "<br>".join([head, *map(plot_text, lines), tail])


def action_markers(
    fig: go.Figure,
    shown: Iterable[Action],
    row: int | None = None,
    col: int | None = None,
    y: float | None = None,
) -> go.Figure:
    """Each action as a dotted vertical line at its date and a ▼ marker at the top of the plot
    (of subplot `row`, `col`) whose hover label is its kind, date, note, owner and segment;
    closed actions in grey. `y`: the markers' height on the plot's own y axis instead of its
    top. One legend entry, "Actions", per figure. The x axis is a date axis (the actions'
    dates; a trend's period starts)."""
    items = list(shown)
    if not items:
        return fig
    xref, yref = _axes(fig, row, col)
    cell: dict[str, Any] = {} if row is None else {"row": row, "col": col}
    for action in items:
        fig.add_vline(
            x=action.date.isoformat(), line_dash="dot", line_width=1, opacity=0.8,
            line_color=OPEN_COLOUR if action.is_open else CLOSED_COLOUR, **cell,
        )  # fmt: skip
    marker_axis = yref if y is not None else _overlay_axis(fig, xref, yref)
    legend = not any(getattr(t, "legendgroup", None) == LEGEND_GROUP for t in fig.data)
    fig.add_scatter(
        x=[a.date.isoformat() for a in items], y=[1.0 if y is None else y] * len(items),
        xaxis=xref, yaxis=marker_axis, mode="markers", name="Actions", legendgroup=LEGEND_GROUP,
        showlegend=legend, cliponaxis=False,
        marker={
            "symbol": ["triangle-down" if a.is_open else "triangle-down-open" for a in items],
            "size": 11, "color": [OPEN_COLOUR if a.is_open else CLOSED_COLOUR for a in items],
            "line": {"width": 1.5, "color": [
                OPEN_COLOUR if a.is_open else CLOSED_COLOUR for a in items]},
        },
        hovertext=[hover_text(a) for a in items], hovertemplate="%{hovertext}<extra></extra>",
        customdata=[a.id for a in items],
    )  # fmt: skip
    return fig


def markers_caption(shown: Sequence[Action], listed: str = "under Actions") -> str:
    """A caption line saying what the markers are (empty without actions); `listed`: where
    their effect is shown."""
    if not shown:
        return ""
    n = len(shown)
    return (
        f"▼ and dotted lines: {n} {'action' if n == 1 else 'actions'} touching these filters "
        f"(hover for the note; grey: closed). Their effect is {listed}."
    )


def actions_line(shown: Sequence[Action], leave_out: Iterable[str] = (), limit: int = 3) -> str:
    """The newest actions as one line of Markdown ("2 actions in the window: 16 Nov Retraining
    (Workflow x) · ..."), where a chart has no room for markers (the Overview's sparklines);
    `leave_out`: segment dimensions the context already names. Empty without actions."""
    if not shown:
        return ""
    skip = set(leave_out)
    newest = sorted(shown, key=lambda a: (a.date, a.id), reverse=True)
    parts = []
    for a in newest[:limit]:
        rest = {d: v for d, v in a.segment.items() if d not in skip}
        where = f" ({md(segment_words(rest))})" if rest else ""
        closed = "" if a.is_open else ", closed"
        parts.append(f"{a.date:%d %b} {md(kind_label(a.kind))}{where}{closed}")
    more = f" · and {len(newest) - limit} more" if len(newest) > limit else ""
    n = len(newest)
    return (
        f":material/flag: {n} {'action' if n == 1 else 'actions'} in the window: "
        + " · ".join(parts)
        + more
    )


# --- effect ------------------------------------------------------------------------------------


def _effect(
    engine: Any, action: Action, kpi: str, days: int, others: list[Action]
) -> effect.Effect:
    """`kpi.effect.action_effect`, with the other actions (which rule peers out) given: the
    engine reads the replica, beside which there is no state file."""
    return effect.action_effect(engine, action, kpi, days, actions=others)


def effect_of(
    action: Action, kpi: str = "quality_score", days: int = effect.DEFAULT_DAYS
) -> effect.Effect:
    """The effect of `action` (cached by data version, role and the recorded actions, which
    decide the peers)."""
    return common.call(_effect, action, kpi, days, load_actions())


def _metric(
    col: Any, label: str, value: str, lines: Sequence[str], help: str | None = None
) -> None:
    col.metric(label, value, help=help)
    col.caption("  \n".join(lines))


def effect_panel(action: Action, key: str) -> effect.Effect | None:
    """The effect of `action` on a KPI chosen here (rates), over a number of days each side
    (default 28): before → after, the change with its 95% interval and test, and the change
    against peer segments without an action (difference in differences), complete or
    provisional, with the library's note (`kpi.effect.action_effect`)."""
    left, right = st.columns(2)
    kpi = left.selectbox(
        "KPI", EFFECT_KPIS, format_func=common.label, key=f"{key}_kpi",
        index=EFFECT_KPIS.index("quality_score") if "quality_score" in EFFECT_KPIS else 0,
    )  # fmt: skip
    days = right.number_input(
        "Days each side", min_value=1, max_value=effect.MAX_DAYS, value=effect.DEFAULT_DAYS,
        step=7,
        key=f"{key}_days",
        help="The windows before the action's date and from it, of this many days each.",
    )  # fmt: skip
    try:
        found = effect_of(action, str(kpi), int(days))
    except ValueError as exc:  # ActionError: e.g. no data for the segment
        st.error(md(exc))
        return None
    c = st.columns(4)
    dates = "{:%d %b} – {:%d %b %Y}"
    _metric(
        c[0], "Before", common.fmt(kpi, found.before),
        [dates.format(found.before_start, found.before_end)],
    )  # fmt: skip
    through = found.complete_through
    if found.complete or through is None or through >= found.after_end:
        after_dates = [dates.format(found.after_start, found.after_end)]
    elif through < found.after_start:
        after_dates = [f"from {found.after_start:%d %b %Y}: no complete day yet"]
    else:
        after_dates = [
            dates.format(found.after_start, through) + " so far",
            f":material/hourglass_top: provisional (to {found.after_end:%d %b})",
        ]
    _metric(c[1], "After", common.fmt(kpi, found.after), after_dates)
    _metric(
        c[2], "Change", change_text(kpi, found.difference),
        [interval_text(kpi, found.difference_low, found.difference_high), p_text(found.p_value)],
        help="After − before, in the KPI's own unit (percentage points for a rate), with a 95% "
        "interval and a two-proportion test.",
    )  # fmt: skip
    peers = len(found.peers)
    peer_change = (
        None
        if found.peer_before is None or found.peer_after is None
        else found.peer_after - found.peer_before
    )
    unit = dimension_label(found.peer_dimension or "").lower() or "segment"
    peer_line = (
        f"{peers} peer {unit}{'' if peers == 1 else 's'}: {common.fmt(kpi, found.peer_before)} "
        f"→ {common.fmt(kpi, found.peer_after)} ({change_text(kpi, peer_change)})"
        if peers
        else f"no peer {unit} to compare with"
    )
    _metric(
        c[3], "Change against peers", change_text(kpi, found.did),
        [interval_text(kpi, found.did_low, found.did_high), p_text(found.did_p_value), peer_line],
        help="Difference in differences: the segment's change minus the change of peer "
        "segments without an action over the same windows, so a change that happened "
        "everywhere is not credited to the action.",
    )  # fmt: skip
    # The library's note says what the numbers rest on, and why one is missing or provisional.
    verdict = ":green[✔ complete:]" if found.complete else ":material/hourglass_top:"
    st.markdown(f"{verdict} {md(found.note)}")
    return found


# --- the list ----------------------------------------------------------------------------------


def actions_frame(shown: Sequence[Action]) -> pd.DataFrame:
    """Actions as a table, newest first (plain text: a table shows no markup)."""
    rows = [
        {
            "id": a.id,
            "date": a.date,
            "kind": kind_label(a.kind),
            "segment": segment_words(a.segment),
            "owner": a.owner or "",
            "note": a.note,
            "source": source_words(a.source) if a.source else "",
            "status": "open" if a.is_open else f"closed {a.closed_at:%d %b %Y}",
        }
        for a in sorted(shown, key=lambda a: (a.date, a.id), reverse=True)
    ]
    columns = ["id", "date", "kind", "segment", "owner", "note", "source", "status"]
    return pd.DataFrame(rows, columns=columns)


def actions_table(shown: Sequence[Action], key: str) -> Action | None:
    """The actions as a table (newest first); the one picked (a row, or the list under it) is
    shown with its effect (`effect_panel`) and a button to close it. Returns it."""
    _toast()
    if not shown:
        st.caption("No action touches these filters yet.")
        return None
    frame = actions_frame(shown)
    event = common.dataframe(
        frame, key=f"{key}_table", hide_index=True, on_select="rerun",
        selection_mode="single-row",
        column_config={
            "id": st.column_config.NumberColumn("#", format="%d", width="small"),
            "note": st.column_config.TextColumn("note", width="large"),
        },
    )  # fmt: skip
    by_id = {a.id: a for a in shown}
    ids = [int(i) for i in frame["id"]]
    rows = event["selection"]["rows"] if event else []
    row = int(rows[0]) if rows else None
    pick = f"{key}_pick"
    if row is not None and row < len(ids) and st.session_state.get(f"_{key}_row") != row:
        st.session_state[pick] = ids[row]  # a newly selected row picks its action
    st.session_state[f"_{key}_row"] = row
    if st.session_state.get(pick) not in by_id:
        st.session_state.pop(pick, None)
    chosen = st.selectbox(
        "Action", ids, key=pick, format_func=lambda i: action_title(by_id[i]),
        help="Select a row of the table, or pick one here, for its effect.",
    )  # fmt: skip
    action = by_id[int(chosen)]
    with st.container(border=True, key=f"{key}_detail"):
        head = st.columns([4, 1], vertical_alignment="center")
        head[0].markdown(
            f"**#{action.id} {md(kind_label(action.kind))}** · {action.date:%d %b %Y} · "
            f"{segment_md(action.segment)} · owner {md(action.owner or '–')}"
            + (f" · from {md(source_words(action.source))}" if action.source else "")
        )
        if action.is_open:
            if head[1].button("Close action", key=f"{key}_close", icon=":material/done_all:"):
                close(action)
        else:
            head[1].caption(f"Closed {action.closed_at:%d %b %Y}")
        st.caption(md(action.note))
        effect_panel(action, key=f"{key}_effect")
    return action


def close(action: Action) -> None:
    """Close `action` as the viewer (an error message when it cannot be)."""
    ctx = common.context()
    try:
        actions.close(ctx.db, action.id, by=ctx.who, engine=common.engine())
    except (ValueError, OSError) as exc:
        st.error(md(exc))
        return
    st.session_state[TOAST] = f"Action #{action.id} closed"
    st.rerun()
