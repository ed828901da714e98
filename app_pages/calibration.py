"""Calibration review: the weekly meeting with a vendor. Pick a week (or one of its sessions) and a
vendor; see agreement with intervals and a plain-language reading, rater accuracy against the
golden answer, the confusion matrix, contested items with every rater's label (and the form to
record what was agreed as an action, linked to its session), the trend with the actions as
markers, and the meeting pack of one vendor (`kpi.meeting`: the numbers, contested items with
links, last meeting's actions with their effect so far, notes; PPTX / PDF by `export.meeting`).

How the sidebar applies (calibration ratings carry no site or market, so those filters do not):
- **From / To** choose which sessions are listed (by session date) and trended.
- **Workflow** keeps those workflows' sessions.
- **Vendor** limits the vendor picker to those vendors; "All vendors" then means the raters of
  the filtered vendors. Golden (internal expert) answers always stay: they are the reference.

The page's own pickers are bound to the URL (`calibration_week`, `calibration_session`,
`calibration_vendor`, `calibration_all_items`), so a copied link reproduces the view. All
statistics come from `kpi.calibration.review`, cached by `common.call`.
"""

from __future__ import annotations

import shlex

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

from app_pages import actions_ui, common
from app_pages.text import md, plot_text
from export import meeting as meeting_export
from kpi import calibration as cal
from kpi import effect, meeting

ALL_SESSIONS = "All sessions of the week"
ALL_VENDORS = "All vendors"
STATISTICS = {
    "fleiss_kappa": "Fleiss' κ",
    "krippendorff_alpha": "Krippendorff's α",
    "gwet_ac1": "Gwet's AC1",
}
COLORS = plotly.colors.qualitative.Plotly


def pct(value: float) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.1%}"


def num(value: float) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.2f}"


def reading_sentence(row: pd.Series, who: str) -> str:
    """The headline row in words, as the meeting pack reads it, with its key parts in bold."""
    return " ".join(meeting.agreement_sentences(row, md(who), strong=lambda t: f"**{t}**"))


def summary_table(
    frame: pd.DataFrame, with_session: bool, everyone: str
) -> tuple[pd.DataFrame, dict]:
    """Display columns of a calibration summary (values stay numbers; formats are config).

    The summary's `all` row (every selected rater) is labelled `everyone`.
    """
    cols = ["session_id", "workflow"] if with_session else []
    cols += ["vendor", "items", "raters", "ratings", "accuracy", "accuracy_low", "accuracy_high"]
    for name in STATISTICS:
        cols += [name, f"{name}_low", f"{name}_high", f"{name}_reading"]
    out = frame[cols].copy()
    out["vendor"] = out["vendor"].replace({"all": everyone})
    config: dict = {
        "session_id": "Session",
        "workflow": "Workflow",
        "vendor": "Vendor",
        "items": "Items",
        "raters": "Raters",
        "ratings": "Ratings",
        "accuracy": st.column_config.NumberColumn("Accuracy", format="percent"),
        "accuracy_low": st.column_config.NumberColumn("Accuracy low", format="percent"),
        "accuracy_high": st.column_config.NumberColumn("Accuracy high", format="percent"),
    }
    for name, label in STATISTICS.items():
        config[name] = st.column_config.NumberColumn(label, format="%.3f")
        config[f"{name}_low"] = st.column_config.NumberColumn(f"{label} low", format="%.3f")
        config[f"{name}_high"] = st.column_config.NumberColumn(f"{label} high", format="%.3f")
        config[f"{name}_reading"] = f"{label} reading"
    return out, config


def record_action(selected: pd.DataFrame, vendor: str, key: str, label: str) -> None:
    """The action form for what a review agreed: segment the vendor (when one is picked) and the
    workflow of the session it comes from (picked here when the view pools several), source
    `calibration:<session>`."""
    if vendor != ALL_VENDORS:  # the sessions the vendor's raters rated
        selected = selected[[vendor in vs for vs in selected["rater_vendors"]]]
    sessions = list(selected["session_id"])
    if not sessions:
        return
    chosen = sessions[0]
    if len(sessions) > 1:
        chosen = st.selectbox(
            "Session the action comes from", sessions, key=f"{key}_session", format_func=md,
            help="The action is recorded against this session's workflow and linked to it.",
        )  # fmt: skip
    workflow = str(selected.loc[selected["session_id"] == chosen, "workflow"].iat[0])
    segment = {"workflow": workflow}
    if vendor != ALL_VENDORS:
        segment = {"vendor": vendor, **segment}
    actions_ui.action_form(segment, f"calibration:{chosen}", key=key, label=label)


def _effect(action: actions_ui.Action) -> effect.Effect:
    """An action's effect on the pack's KPI, cached as the actions' effect panel caches it."""
    return common.call(effect.action_effect, action, meeting.DEFAULT_KPI, meeting.DEFAULT_DAYS)


def meeting_command(pack: meeting.MeetingPack) -> str:
    """The CLI command that writes this pack (values quoted: they come from the data)."""
    role = common.context().role
    what = " ".join(f"--session {shlex.quote(s)}" for s in pack.session_ids)
    return (
        f"bpo-kpi meeting {what} --vendor {shlex.quote(pack.vendor)}"
        + (f" --role {shlex.quote(role)}" if role != "admin" else "")
        + " --notes-file notes.txt --out pack.pptx"
    )


def meeting_pack_tab(review: cal.Review, selected: pd.DataFrame, vendor: str) -> None:
    """The meeting pack of the selection for one vendor: agreement, contested items with every
    rater's label and link, last meeting's actions with their effect so far, this meeting's
    notes and agreed actions, and the PPTX / PDF downloads (`kpi.meeting`, `export.meeting`)."""
    st.subheader("Meeting pack")
    if vendor == ALL_VENDORS:
        common.empty_state("Pick a vendor above: a meeting pack is for one vendor's raters.")
        return
    gw = common.engine()
    try:
        content = meeting.meeting_content(
            gw, session=tuple(selected["session_id"]), vendor=vendor, review=review
        )
    except meeting.MeetingError as exc:
        common.empty_state(md(exc))
        return
    pack = meeting.with_actions(content, gw, actions_ui.load_actions(), effect_of=_effect)
    st.caption(
        f"For the meeting with **{md(vendor)}** about {md(pack.title)}: the numbers above, the "
        "contested items, what was agreed last time and whether it worked, and this meeting's "
        "notes, as a deck (PPTX) or PDF."
    )

    st.markdown("##### Agreement")
    rows = []
    for rec in pack.agreement.to_dict("records"):
        show = pct if rec["statistic"] == "accuracy" else num
        rows.append(
            {
                "statistic": rec["label"],
                "value": show(rec["value"]),
                "interval": f"{show(rec['low'])} – {show(rec['high'])}",
                "kind": rec["interval"],
                "reading": rec["reading"] or "–",
            }
        )
    common.dataframe(
        pd.DataFrame(rows), key="meeting_agreement", hide_index=True,
        column_config={"statistic": "Statistic", "value": "Value", "interval": "95% interval",
                       "kind": "Interval", "reading": "Reading"},
    )  # fmt: skip
    st.markdown(" ".join(md(s) for s in pack.sentences))
    if len(pack.sessions) > 1:
        table, config = summary_table(review.by_session, with_session=True, everyone=vendor)
        common.dataframe(
            table.drop(columns=["vendor"]), key="meeting_sessions", hide_index=True,
            column_config=config,
        )  # fmt: skip

    st.markdown("##### Contested items")
    st.markdown(
        f"**{len(pack.contested)} of {pack.items_total} items contested** (majority differs "
        f"from the golden answer, or below {pack.threshold:.0%} of the raters), least agreement "
        "first, with every rater's label and the policy they cited."
    )
    st.caption(md(pack.rationale_note))
    columns = ["session_id", "item_id", "golden_label", "golden_policy", "majority_label",
               "agreement_share", "raters", "votes"]  # fmt: skip
    config = {
        "session_id": "Session", "item_id": "Item", "golden_label": "Golden label",
        "golden_policy": "Golden policy", "majority_label": "Majority label",
        "agreement_share": st.column_config.NumberColumn("Majority share", format="percent"),
        "raters": "Raters",
        "votes": st.column_config.TextColumn("Every rater's label (policy): raters",
                                             width="large"),
    }  # fmt: skip
    if pack.item_url_template:
        columns.append("item_url")
        config["item_url"] = st.column_config.LinkColumn("Link", display_text="open item")
    if not pack.contested.empty:
        common.dataframe(
            pack.contested[columns], key="meeting_contested", hide_index=True,
            column_config=config,
        )  # fmt: skip

    st.markdown("##### Last meeting's actions and their effect so far")
    since = f"{pack.since:%d %b %Y}" if pack.since else "the last meeting"
    st.caption(
        f"Actions about {md(vendor)} in {md(', '.join(pack.workflows))} from earlier "
        f"calibration sessions, or dated since {since}; effect on "
        f"{md(common.label(pack.kpi).lower())}, {pack.days} days before against {pack.days} "
        "days after, and against peer segments without an action (95% intervals)."
    )
    if pack.previous.empty:
        common.empty_state(f"No action recorded since {since}.")
    else:
        shown = pack.previous[["id", "date", "kind", "segment", "note", "owner", "status"]].copy()
        texts = [meeting.effect_texts(r, pack.kpi) for r in pack.previous.to_dict("records")]
        shown["before_after"] = [t[0] for t in texts]
        shown["difference"] = [t[1] for t in texts]
        shown["did"] = [t[2] for t in texts]
        shown["effect_note"] = pack.previous["effect_note"]
        common.dataframe(
            shown, key="meeting_previous", hide_index=True,
            column_config={
                "id": st.column_config.NumberColumn("#", format="%d"), "date": "Date",
                "kind": "Kind", "segment": "Segment", "note": "Note", "owner": "Owner",
                "status": "Status", "before_after": "Before → after",
                "difference": "Difference (95%)", "did": "Against peers (95%)",
                "effect_note": "Effect",
            },
        )  # fmt: skip
        by_id = {a.id: a for a in pack.previous_actions}
        with st.expander("An action's effect in detail"):
            chosen = st.selectbox(
                "Action", list(by_id), key="meeting_effect_action",
                format_func=lambda i: md(actions_ui.action_title(by_id[i])),
            )  # fmt: skip
            actions_ui.effect_panel(by_id[int(chosen)], key="meeting_effect")

    st.markdown("##### This meeting")
    notes_key = "meeting_notes|" + "|".join([vendor, *pack.session_ids])
    notes = st.text_area(
        "Notes", key=notes_key, height=160, max_chars=20_000,
        placeholder="What was discussed and agreed: goes into the PPTX / PDF as typed.",
        help="Kept while this page is open and written into the downloads; record what was "
        "agreed as an action to keep it.",
    )  # fmt: skip
    record_action(selected, vendor, key="meeting_action", label="Record an agreed action")
    if not pack.agreed.empty:
        common.dataframe(
            pack.agreed[["id", "date", "kind", "segment", "note", "owner", "status"]],
            key="meeting_agreed", hide_index=True,
            column_config={"id": st.column_config.NumberColumn("#", format="%d")},
        )  # fmt: skip
    final = pack.with_notes(notes)
    logged = common.export_logger()
    names = {fmt: meeting_export.file_name(final, fmt) for fmt in meeting_export.FORMATS}
    row = st.container(horizontal=True, gap="small")
    row.download_button(
        "PPTX", lambda: logged(names["pptx"], meeting_export.render(final, "pptx")),
        file_name=names["pptx"], mime=meeting_export.MIME["pptx"], key="meeting_pptx",
        on_click="ignore", type="primary", icon=":material/download:",
    )  # fmt: skip
    has_pdf = meeting_export.soffice() is not None
    row.download_button(
        "PDF", lambda: logged(names["pdf"], meeting_export.render(final, "pdf")),
        file_name=names["pdf"], mime=meeting_export.MIME["pdf"], key="meeting_pdf",
        on_click="ignore", icon=":material/download:", disabled=not has_pdf,
        help=None if has_pdf else "PDF needs LibreOffice on the server: install it "
        "(apt-get install libreoffice-impress) or download the PPTX.",
    )  # fmt: skip
    if not has_pdf:
        st.caption("PDF needs LibreOffice on the server (not installed): choose PPTX.")
    st.code(meeting_command(final), language="bash")


# --- selection ---------------------------------------------------------------------------------

st.title("Calibration review")
f = common.filters()
workflows = f.where.get("workflow", ())
vendor_filter = f.where.get("vendor", ())
choices = common.call(cal.session_choices, f.start, f.end, tuple(workflows), tuple(vendor_filter))
st.caption(
    f"Sessions held {f.start:%d %b %Y} – {f.end:%d %b %Y}"
    + (f" · workflows: {', '.join(map(md, workflows))}" if workflows else "")
    + (f" · vendors: {', '.join(map(md, vendor_filter))}" if vendor_filter else "")
    + ". Site and market filters do not apply to calibration."
)
if choices.empty:
    common.empty_state(
        "No calibration session in this window for these filters. Widen the dates in the sidebar."
    )
    st.stop()

weeks = list(dict.fromkeys(choices["week"]))  # newest first
c1, c2, c3 = st.columns([1, 2, 1])
week = c1.selectbox(
    "Week",
    weeks,
    index=0,
    key="calibration_week",
    bind="query-params",
    help="ISO week of the session date (Monday to Sunday).",
)
in_week = choices[choices["week"] == week].sort_values(["session_date", "session_id"])
session = c2.selectbox(
    "Session",
    [ALL_SESSIONS, *in_week["session_id"]],
    key="calibration_session",
    bind="query-params",
    help="One session, or every session of the week pooled.",
)
selected = in_week if session == ALL_SESSIONS else in_week[in_week["session_id"] == session]
vendor_options = sorted({v for vs in selected["rater_vendors"] for v in vs})
vendor = c3.selectbox(
    "Vendor",
    [ALL_VENDORS, *vendor_options],
    key="calibration_vendor",
    bind="query-params",
    help="Whose raters to review; golden answers always stay as the reference.",
)
vendors = (vendor,) if vendor != ALL_VENDORS else tuple(vendor_filter)
trend_sessions = choices[choices["workflow"].isin(set(selected["workflow"]))]["session_id"]

# Sections are tabs; only the chosen one runs and is drawn (on_change=rerun makes tabs lazy):
# each plotly chart or table grid costs ~0.2-0.3 s to draw in a browser without a GPU, and the
# trend's bootstrap over every session of the workflows is only computed when it is looked at.
# The tab is in the URL (`calibration_view`).
top = st.container()
tabs = st.tabs(
    [
        "Agreement by vendor",
        "Rater accuracy",
        "Confusion matrix",
        "Contested items",
        "Trend across sessions",
        "Meeting pack",
    ],
    key="calibration_view",
    bind="query-params",
    on_change="rerun",
)
if not tabs[4].open:
    trend_sessions = trend_sessions.iloc[:0]
with top:
    with st.spinner("Computing agreement statistics (bootstrap intervals)…"):
        review = common.call(
            cal.review, tuple(selected["session_id"]), vendors, tuple(trend_sessions)
        )
    if review.empty:
        common.empty_state("No ratings by these vendors' raters in this selection.")
        st.stop()

    who = vendor if vendor != ALL_VENDORS else (", ".join(vendor_filter) or ALL_VENDORS)
    what = (
        f"{len(selected)} sessions of week {md(week)}"
        if session == ALL_SESSIONS
        else f"session {md(session)}"
    )
    in_selection = ", ".join(map(md, sorted(set(selected["workflow"]))))
    st.markdown(f"Reviewing **{what}** ({in_selection}) · raters: **{md(who)}**")

    # --- headline ---------------------------------------------------------------------------------

    head = review.overall[review.overall["vendor"] == "all"].iloc[0]
    m = st.columns(4)
    m[0].metric(
        "Accuracy vs golden",
        pct(head["accuracy"]),
        help=f"95% interval clustered by item and rater {pct(head['accuracy_low'])} – "
        f"{pct(head['accuracy_high'])}",
    )
    for col, (name, label) in zip(m[1:], STATISTICS.items(), strict=True):
        col.metric(
            label,
            num(head[name]),
            help=f"95% bootstrap interval {num(head[f'{name}_low'])} – "
            f"{num(head[f'{name}_high'])}; {head[f'{name}_reading']}",
        )
    st.markdown(reading_sentence(head, who))


with tabs[0]:
    if tabs[0].open:
        st.subheader("Agreement by vendor")
        table, config = summary_table(review.overall, with_session=False, everyone=who)
        st.caption(
            "Pooled over the selection (a week's items counted together, each keyed by its "
            "session); 95% intervals: clustered by item and by rater for accuracy (ratings of "
            "the same items and raters are not independent), item bootstrap for the agreement "
            "statistics."
        )
        common.dataframe(table, hide_index=True, column_config=config)
        if len(selected) > 1:
            st.subheader("By session")
            st.caption(
                f"Each session's own statistics ({md(who)}); pick a session to compare its vendors."
            )
            table, config = summary_table(review.by_session, with_session=True, everyone=who)
            common.dataframe(table.drop(columns=["vendor"]), hide_index=True, column_config=config)

with tabs[1]:
    if tabs[1].open:
        # --- raters -------------------------------------------------------------------------------

        st.subheader("Rater accuracy against the golden answer")
        raters = review.raters
        fig = go.Figure()
        for i, (name, part) in enumerate(raters.groupby("vendor", sort=True)):
            fig.add_trace(
                go.Bar(
                    x=part["rater_id"].map(plot_text),
                    y=part["accuracy"],
                    name=plot_text(name),
                    marker_color=COLORS[i % len(COLORS)],
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": part["accuracy_high"] - part["accuracy"],
                        "arrayminus": part["accuracy"] - part["accuracy_low"],
                    },
                    hovertemplate="%{x}: %{y:.1%}<extra>%{fullData.name}</extra>",
                )
            )
        fig.update_xaxes(
            categoryorder="array", categoryarray=list(raters["rater_id"].map(plot_text))
        )
        fig.add_hline(
            y=float(head["accuracy"]), line_dash="dot", annotation_text="selection accuracy"
        )
        fig.update_layout(
            yaxis_tickformat=".0%",
            yaxis_title="Accuracy (95% CI)",
            xaxis_title="Rater",
            barmode="overlay",
            height=360,
            margin={"t": 20},
        )
        st.plotly_chart(fig, key="calibration_raters_chart")
        common.dataframe(
            raters[
                [
                    "vendor",
                    "rater_id",
                    "judged",
                    "correct",
                    "accuracy",
                    "accuracy_low",
                    "accuracy_high",
                ]
            ],
            hide_index=True,
            column_config={
                "vendor": "Vendor",
                "rater_id": "Rater",
                "judged": "Ratings with a golden answer",
                "correct": "Correct",
                "accuracy": st.column_config.NumberColumn("Accuracy", format="percent"),
                "accuracy_low": st.column_config.NumberColumn("Low (95%)", format="percent"),
                "accuracy_high": st.column_config.NumberColumn("High (95%)", format="percent"),
            },
        )

with tabs[2]:
    if tabs[2].open:
        # --- confusion ----------------------------------------------------------------------------

        st.subheader("Confusion matrix: golden answer × rater label")
        conf = review.confusion
        if conf.empty:
            common.empty_state("No rating in this selection has a golden answer.")
        else:
            heat = go.Figure(
                go.Heatmap(
                    z=conf.to_numpy(),
                    x=[plot_text(c) for c in conf.columns],
                    y=[plot_text(i) for i in conf.index],
                    colorscale="Blues",
                    text=conf.to_numpy(),
                    texttemplate="%{text}",
                    hovertemplate="golden %{y}, rated %{x}: %{z}<extra></extra>",
                )
            )
            heat.update_layout(
                xaxis_title="Rater label",
                yaxis_title="Golden label",
                height=360,
                yaxis_autorange="reversed",
                margin={"t": 20},
            )
            st.plotly_chart(heat, key="calibration_confusion_chart")
            common.dataframe(conf.rename_axis(index="Golden \\ rated", columns=None))

with tabs[3]:
    if tabs[3].open:
        # --- contested items ----------------------------------------------------------------------

        st.subheader("Contested items")
        items = review.items
        n_contested = int(items["contested"].sum())
        st.markdown(
            f"**{n_contested} of {len(items)} items contested**: the raters' majority label "
            f"differs from the golden answer, or fewer than {review.threshold:.0%} of the raters "
            "chose it. Contested items come first, least agreement first: candidates for policy "
            "clarification."
        )
        show_all = st.toggle("Show every item", key="calibration_all_items", bind="query-params")
        shown = items if show_all else items[items["contested"]]
        common.dataframe(
            shown[
                [
                    "session_id",
                    "item_id",
                    "golden_label",
                    "golden_policy",
                    "majority_label",
                    "agreement_share",
                    "raters",
                    "contested",
                    "labels",
                ]
            ],
            hide_index=True,
            column_config={
                "session_id": "Session",
                "item_id": "Item",
                "golden_label": "Golden label",
                "golden_policy": "Golden policy",
                "majority_label": "Majority label",
                "agreement_share": st.column_config.NumberColumn(
                    "Majority share", format="percent"
                ),
                "raters": "Raters",
                "contested": "Contested",
                "labels": st.column_config.TextColumn("Every rater's label", width="large"),
            },
        )
        record_action(selected, vendor, key="calibration_items_action", label="Record an action")

with tabs[4]:
    if tabs[4].open:
        # --- trend --------------------------------------------------------------------------------

        st.subheader("Trend across sessions")
        trend = review.trend
        st.caption(
            f"Every session of {in_selection} from "
            f"{f.start:%d %b} to {f.end:%d %b %Y}, raters: {md(who)}. Error bars: 95% bootstrap "
            "intervals of Fleiss' κ."
        )
        tfig = go.Figure()
        for workflow, part in trend.groupby("workflow", sort=True):
            tfig.add_trace(
                go.Scatter(
                    x=part["session_date"],
                    y=part["fleiss_kappa"],
                    mode="lines+markers",
                    name=plot_text(workflow),
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": part["fleiss_kappa_high"] - part["fleiss_kappa"],
                        "arrayminus": part["fleiss_kappa"] - part["fleiss_kappa_low"],
                    },
                    customdata=np.column_stack(
                        [part["session_id"].map(plot_text), part["accuracy"]]
                    ),
                    hovertemplate="%{customdata[0]}<br>κ %{y:.2f}, accuracy %{customdata[1]:.1%}"
                    "<extra></extra>",
                )
            )
        for upper, band in cal.LANDIS_KOCH:
            tfig.add_hline(
                y=upper,
                line_dash="dot",
                line_color="gray",
                opacity=0.4,
                annotation_text=band,
                annotation_position="bottom right",
            )
        tfig.update_layout(
            yaxis_title="Fleiss' κ", xaxis_title="Session date", height=380, margin={"t": 20}
        )
        # Actions about these workflows (and the vendors reviewed) in the window, as markers.
        where = {"workflow": sorted(set(selected["workflow"]))}
        if vendors:
            where["vendor"] = list(vendors)
        marked = actions_ui.actions_in_view(where=where, start=f.start, end=f.end)
        tfig = actions_ui.action_markers(tfig, marked)
        st.plotly_chart(tfig, key="calibration_trend_chart")
        if marked:
            st.caption(actions_ui.markers_caption(marked, "on the Meeting pack tab"))
        table, config = summary_table(trend, with_session=True, everyone=who)
        table.insert(0, "session_date", trend["session_date"])
        config["session_date"] = st.column_config.DateColumn("Date")
        common.dataframe(table.drop(columns=["vendor"]), hide_index=True, column_config=config)

with tabs[5]:
    if tabs[5].open:
        # --- meeting pack -------------------------------------------------------------------------

        meeting_pack_tab(review, selected, vendor)
