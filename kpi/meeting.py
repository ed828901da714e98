"""The calibration meeting pack: what the weekly meeting with one vendor looks at, for one
session (or every session of an ISO week) — built from the same analyses as the Calibration
review page, so every number in the pack is the page's number.

- **Agreement**: `kpi.calibration.review` of the sessions for the vendor's raters (golden
  answers stay as the reference): accuracy against the golden answer with its interval,
  Fleiss' κ, Krippendorff's α and Gwet's AC1 with their item-bootstrap intervals and
  Landis–Koch readings, per session too when a week has several; and the page's reading in
  plain sentences.
- **Contested items** (the review's `items`, contested ones, least agreement first) with every
  rater's label, and the policy a rater cited where the data has one. Calibration ratings
  carry no rationale or comment column (`bpo_kpi.db.CALIBRATION_COLUMNS`; nor does any ingest
  mapping), so there is no rationale to show: the pack says so (`RATIONALE_NOTE`). Each item
  links to the review tool when the configuration gives `calibration.item_url_template`
  (`item_link`: the id URL-encoded, so it cannot change the link's host or path).
- **Last meeting's actions** (`kpi.actions`) with their effect so far (`kpi.effect`), and the
  actions agreed at this meeting (those whose source is one of its sessions). Which actions
  count as the last meeting's is `previous_actions`'s rule.
- **Notes**: this meeting's notes, as typed (plain text), carried into the export.

Reads go through the engine (the viewer's scope applies: a vendor-scoped role's pack holds
its own raters and items only) and the state file beside the database (actions). No SQL here:
queries are `kpi.calibration`'s.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import pandas as pd

from kpi import actions as act
from kpi import calibration as cal
from kpi import effect as eff
from kpi.catalog import KPIS
from kpi.monitor import audit_based
from kpi.periods import parse_period
from kpi.targets import format_value

PLACEHOLDER = "{item_id}"
DEFAULT_KPI = "quality_score"
DEFAULT_DAYS = 28
LOOKBACK_DAYS = 7  # "the previous week": the least span whose actions count as last meeting's
RATIONALE_NOTE = (
    "The calibration data has no rationale or comment field (calibration ratings carry session, "
    "item, rater, vendor, label and policy), so the pack shows each rater's label and the policy "
    "they cited, without a rationale."
)
STATISTICS = {
    "fleiss_kappa": "Fleiss' κ",
    "krippendorff_alpha": "Krippendorff's α",
    "gwet_ac1": "Gwet's AC1",
}
ACTION_COLUMNS = [
    "id", "date", "kind", "segment", "note", "owner", "source", "status", "kpi", "before",
    "after", "difference", "difference_low", "difference_high", "did", "did_low", "did_high",
    "complete", "n_before", "n_after", "peers", "after_end", "complete_through", "effect_note",
]  # fmt: skip
CONTESTED_COLUMNS = [
    "session_id", "item_id", "workflow", "golden_label", "golden_policy", "majority_label",
    "agreement_share", "raters", "votes", "labels", "item_url",
]  # fmt: skip

Db = str | os.PathLike[str]
EffectOf = Callable[[act.Action], Any]


class MeetingError(ValueError):
    """A pack that cannot be made as asked (no such session or week for the vendor, both or
    neither of session and week); the message says what to give instead."""


def item_link(template: str | None, item_id: object) -> str | None:
    """The item's link from `calibration.item_url_template` (None without one): `{item_id}`
    replaced by the id URL-encoded with nothing kept (`/`, `?`, `#`, `@`, `:` encoded too), and
    an id of only dots (`.` or `..`, a path step) written as `%2E`, so whatever the id, the link
    keeps the template's host and path.

    >>> item_link("https://r.example.com/items/{item_id}", "../../x?y=<z>#w")
    'https://r.example.com/items/..%2F..%2Fx%3Fy%3D%3Cz%3E%23w'
    >>> item_link("https://r.example.com/items/{item_id}", "..")
    'https://r.example.com/items/%2E%2E'
    """
    if not template or item_id is None or (isinstance(item_id, float) and math.isnan(item_id)):
        return None
    encoded = quote(str(item_id), safe="")
    if encoded and set(encoded) == {"."}:
        encoded = encoded.replace(".", "%2E")
    return template.replace(PLACEHOLDER, encoded, 1)


@dataclass(frozen=True)
class MeetingPack:
    """One calibration meeting's content (see the module docstring).

    - `sessions`: the sessions reviewed (`kpi.calibration.session_choices` rows: session_id,
      session_date, week, workflow, items, raters, rater_vendors), by date.
    - `review`: the `kpi.calibration.Review` the page shows for them and the vendor.
    - `headline`: the review's row of every selected rater (`overall`, vendor `all`); `agreement`
      the same as one row per statistic (statistic, label, value, low, high, interval, reading).
    - `contested`: contested items (`CONTESTED_COLUMNS`), least agreement first: `votes` groups
      the raters by label (and cited policy), `labels` lists every rater's label as the page
      does, `item_url` the item's link (None without a template). `rater_labels`: every rating
      of the vendor's raters on those items (session_id, item_id, rater_id, label, policy).
    - `previous` / `agreed`: actions (`ACTION_COLUMNS`: the action, its status and its effect so
      far) of the last meeting and of this one; `previous_actions`/`agreed_actions` the
      `kpi.actions.Action` records, `effects` each previous action's `kpi.effect.Effect` (None
      where it could not be computed: `effect_note` says why).
    """

    vendor: str
    title: str  # "session cal-2026-W47-hate_speech" or "week 2026-W47"
    week: str | None
    sessions: pd.DataFrame
    workflows: tuple[str, ...]
    review: cal.Review
    headline: pd.Series
    agreement: pd.DataFrame
    sentences: tuple[str, ...]
    contested: pd.DataFrame
    rater_labels: pd.DataFrame
    items_total: int
    threshold: float
    item_url_template: str
    has_rationale: bool
    rationale_note: str
    role: str
    generated_at: dt.datetime
    since: dt.date | None = None  # actions dated from here count as the last meeting's
    last_meeting: dt.date | None = None  # date of the latest earlier session
    previous: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ACTION_COLUMNS))
    agreed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ACTION_COLUMNS))
    previous_actions: tuple[act.Action, ...] = ()
    agreed_actions: tuple[act.Action, ...] = ()
    effects: dict[int, Any] = field(default_factory=dict)
    kpi: str = DEFAULT_KPI
    days: int = DEFAULT_DAYS
    notes: str = ""

    @property
    def session_ids(self) -> tuple[str, ...]:
        """The sessions the vendor's raters rated (the review may hold others: the page's)."""
        return tuple(self.sessions["session_id"])

    @property
    def first_day(self) -> dt.date:
        return min(self.sessions["session_date"])

    @property
    def meeting_day(self) -> dt.date:
        """The day of the (last) session reviewed."""
        return max(self.sessions["session_date"])

    @property
    def source(self) -> str:
        """The `source` of an action agreed at this meeting: its (first) session."""
        return f"calibration:{self.session_ids[0]}"

    def with_notes(self, notes: str | None) -> MeetingPack:
        return replace(self, notes=notes or "")


# --- the content ---------------------------------------------------------------------------


def resolve_sessions(
    engine: Any,
    *,
    session: str | Sequence[str] | None = None,
    week: str | None = None,
    vendor: str,
    workflows: Sequence[str] = (),
) -> tuple[pd.DataFrame, str | None]:
    """The sessions of a pack (`session_choices` rows, by date) and the ISO week asked for.

    `session`: one session id, or several (the page passes the sessions it shows, as they are);
    `week`: `2026-W47`, every session of that week (in `workflows`, empty: any) that the
    vendor's raters rated. Exactly one of the two.
    """
    if (session is None or session == () or session == []) == (week is None):
        raise MeetingError("give a session (--session ID) or an ISO week (--week 2026-W47)")
    if week is not None:
        try:
            period = parse_period(week.strip())
        except ValueError as exc:
            raise MeetingError(str(exc)) from None
        if period.kind != "week":
            raise MeetingError(f"{week!r} is not an ISO week: use e.g. 2026-W47")
        found = cal.session_choices(engine, period.start, period.end, tuple(workflows), (vendor,))
        if found.empty:
            raise MeetingError(
                f"no calibration session in week {period.label} was rated by {vendor}'s raters"
                + (f" in {', '.join(workflows)}" if workflows else "")
            )
        return found.sort_values(["session_date", "session_id"]).reset_index(drop=True), (
            period.label
        )
    ids = (session,) if isinstance(session, str) else tuple(session or ())
    ids = tuple(dict.fromkeys(ids))
    # The vendor's raters and vendors per session; a session given that they did not rate
    # stays (as the page shows it: it adds nothing to their numbers) with no raters.
    rated = cal.session_choices(engine, None, None, tuple(workflows), (vendor,))
    rated = rated[rated["session_id"].isin(ids)]
    if rated.empty or len(rated) < len(ids):
        every = cal.session_choices(engine, None, None, tuple(workflows), ())
        missing = [s for s in ids if s not in set(every["session_id"])]
        if missing:
            raise MeetingError(f"no calibration session {missing[0]!r} (see `bpo-kpi calibration`)")
        if rated.empty:
            found = every[every["session_id"].isin(ids)]
            there = sorted({v for vs in found["rater_vendors"] for v in vs})
            raise MeetingError(
                f"{vendor}'s raters did not rate session {', '.join(ids)} (vendors there: "
                f"{', '.join(there) or 'none'})"
            )
        others = every[
            every["session_id"].isin(ids) & ~every["session_id"].isin(rated["session_id"])
        ]
        others = others.assign(raters=0, rater_vendors=[()] * len(others))
        rated = pd.concat([rated, others], ignore_index=True)
    order = {s: i for i, s in enumerate(ids)}
    found = rated.assign(_order=rated["session_id"].map(order)).sort_values("_order")
    return found.drop(columns="_order").reset_index(drop=True), None


def _pct(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):.1%}"


def _num(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):.2f}"


def format_change(kpi: str, value: float | None) -> str:
    """A change of `kpi` in its own units, signed: shares in percentage points (0.05 is
    `+5.0 pp`), minutes as minutes, others with two decimals.

    >>> format_change("quality_score", 0.05), format_change("tat_p90", -12.0)
    ('+5.0 pp', '-12 min')
    """
    if value is None or pd.isna(value):
        return "–"
    unit = KPIS[kpi].unit if kpi in KPIS else None
    if unit == "share":
        return f"{round(value * 100, 1) + 0.0:+.1f} pp"  # + 0.0: no "-0.0"
    if unit == "minutes":
        return f"{round(value) + 0.0:+,.0f} min"
    if unit == "count":
        return f"{round(value) + 0.0:+,.0f}"
    return f"{round(value, 2) + 0.0:+.2f}"


def effect_texts(rec: Any, kpi: str) -> tuple[str, str, str]:
    """An action row's effect as text: (`before → after`, the difference with its 95%
    interval, the difference in differences with its interval); `–` where there is none."""

    def value(name: str) -> float | None:
        v = rec.get(name) if hasattr(rec, "get") else None
        return None if v is None or pd.isna(v) else float(v)

    def change(name: str) -> str:
        v = value(name)
        if v is None:
            return "–"
        low, high = value(f"{name}_low"), value(f"{name}_high")
        if low is None or high is None:
            return format_change(kpi, v)
        return f"{format_change(kpi, v)} ({format_change(kpi, low)} to {format_change(kpi, high)})"

    before_after = f"{format_value(kpi, value('before'))} → {format_value(kpi, value('after'))}"
    return before_after, change("difference"), change("did")


def effect_basis(rec: Any, kpi: str = DEFAULT_KPI) -> str:
    """What an action row's effect rests on, in a few words: the audits (or decisions) before
    and after, the peers, and whether the after window is complete (else how far it goes);
    without numbers, the effect's own note (why there are none)."""
    get = rec.get if hasattr(rec, "get") else (lambda _: None)

    def given(name: str) -> Any:
        v = get(name)
        return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v

    if given("before") is None or given("after") is None:
        return str(given("effect_note") or "no effect computed")
    parts = []
    if given("n_before") is not None and given("n_after") is not None:
        basis = "audits" if audit_based(kpi) else "decisions"
        parts.append(f"{int(given('n_before')):,} → {int(given('n_after')):,} {basis}")
    if given("peers") is not None:
        n = int(given("peers"))
        parts.append(f"{n} peer{'s' if n != 1 else ''}")
    if given("complete"):
        parts.append("complete")
    else:
        through, end = given("complete_through"), given("after_end")
        day = min(through, end) if through is not None and end is not None else through
        parts.append(f"so far (to {day:%d %b})" if day is not None else "so far")
    return "; ".join(parts)


def agreement_rows(head: pd.Series) -> pd.DataFrame:
    """The headline statistics one per row: accuracy (its interval clustered by item and rater,
    `kpi.calibration.accuracy`), then each agreement statistic (item-bootstrap interval) with
    its Landis–Koch reading."""
    rows = [
        {
            "statistic": "accuracy",
            "label": "Accuracy vs golden",
            "value": head["accuracy"],
            "low": head["accuracy_low"],
            "high": head["accuracy_high"],
            "interval": "95% clustered by item and rater",
            "reading": "",
        }
    ]
    for name, label in STATISTICS.items():
        rows.append(
            {
                "statistic": name,
                "label": label,
                "value": head[name],
                "low": head[f"{name}_low"],
                "high": head[f"{name}_high"],
                "interval": "95% item bootstrap",
                "reading": head[f"{name}_reading"],
            }
        )
    return pd.DataFrame(rows)


def agreement_sentences(
    head: pd.Series, who: str, strong: Callable[[str], str] = str
) -> tuple[str, ...]:
    """The headline row of a calibration review in words (Landis & Koch bands for the agreement
    statistics), as the Calibration page and the meeting pack read it. `strong` marks the parts
    a reader looks for first (the page makes them bold; plain text leaves them as they are);
    `who` is taken as given, so a page escapes it for its markup first."""
    items = f"{int(head['items'])} items"
    first = (
        f"{strong(who)} rated {strong(items)} "
        f"({int(head['ratings']):,} ratings by {int(head['raters'])} raters) and matched the "
        f"golden answer on {strong(_pct(head['accuracy']))} of the ratings (95% CI "
        f"{_pct(head['accuracy_low'])} – {_pct(head['accuracy_high'])})."
    )
    kappa, low, high = head["fleiss_kappa"], head["fleiss_kappa_low"], head["fleiss_kappa_high"]
    second = (
        f"Agreement among raters beyond chance is {strong(cal.landis_koch(kappa))} (Fleiss' κ "
        f"{_num(kappa)}, 95% CI {_num(low)} – {_num(high)}"
    )
    lo_band, hi_band = cal.landis_koch(low), cal.landis_koch(high)
    if not pd.isna(low) and lo_band != hi_band:
        second += f"; plausibly anywhere from {lo_band} to {hi_band}"
    third = (
        f"Krippendorff's α {_num(head['krippendorff_alpha'])} "
        f"({head['krippendorff_alpha_reading']}), Gwet's AC1 {_num(head['gwet_ac1'])} "
        f"({head['gwet_ac1_reading']}). Bands (Landis & Koch): below 0 poor, to 0.20 slight, "
        "to 0.40 fair, to 0.60 moderate, to 0.80 substantial, above almost perfect."
    )
    return first, second + ").", third


def _votes(part: pd.DataFrame) -> str:
    """Raters grouped by the label (and policy) they chose, most chosen first:
    `remove · hs_2 (3): r1, r2, r3; approve (1): r4`."""
    part = part.assign(policy=part["policy"].where(part["policy"].notna(), None))
    groups = []
    for (label, policy), g in part.groupby(["label", "policy"], dropna=False, sort=True):
        answer = str(label) if policy is None or pd.isna(policy) else f"{label} · {policy}"
        groups.append((-len(g), answer, sorted(map(str, g["rater_id"]))))
    groups.sort()
    return "; ".join(f"{answer} ({-n}): {', '.join(raters)}" for n, answer, raters in groups)


def contested_items(
    review: cal.Review, ratings: pd.DataFrame, template: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(contested items with votes and links, every rating of the selected raters on them)."""
    items = review.items
    if items.empty:
        return pd.DataFrame(columns=CONTESTED_COLUMNS), pd.DataFrame(
            columns=["session_id", "item_id", "rater_id", "label", "policy"]
        )
    contested = items[items["contested"]].reset_index(drop=True)
    raters = ratings[~ratings["is_golden"]]
    keys = set(zip(contested["session_id"], contested["item_id"], strict=True))
    mask = [k in keys for k in zip(raters["session_id"], raters["item_id"], strict=True)]
    rater_labels = (
        raters[mask][["session_id", "item_id", "rater_id", "vendor", "label", "policy"]]
        .sort_values(["session_id", "item_id", "rater_id"])
        .reset_index(drop=True)
    )
    by_item = {k: g for k, g in rater_labels.groupby(["session_id", "item_id"], sort=False)}
    contested["votes"] = [
        _votes(by_item[(s, i)]) if (s, i) in by_item else ""
        for s, i in zip(contested["session_id"], contested["item_id"], strict=True)
    ]
    contested["item_url"] = [item_link(template, i) for i in contested["item_id"]]
    return contested[CONTESTED_COLUMNS], rater_labels


def meeting_content(
    engine: Any,
    *,
    session: str | Sequence[str] | None = None,
    week: str | None = None,
    vendor: str,
    workflows: Sequence[str] = (),
    review: cal.Review | None = None,
    n_boot: int = cal.REVIEW_N_BOOT,
) -> MeetingPack:
    """The pack without actions (`meeting_pack` adds them): sessions, agreement and contested
    items. `review`: the page's own review of the same sessions and vendor, to reuse (checked)."""
    vendor = str(vendor)
    sessions, asked_week = resolve_sessions(
        engine, session=session, week=week, vendor=vendor, workflows=workflows
    )
    ids = tuple(sessions["session_id"])
    if review is None:
        review = cal.review(engine, ids, (vendor,), n_boot=n_boot)
    elif tuple(review.sessions) != ids or tuple(review.vendors) != (vendor,):
        raise ValueError("the review given is not of these sessions and this vendor")
    if review.empty:
        raise MeetingError(f"no ratings by {vendor}'s raters in {', '.join(ids)}")
    head = review.overall[review.overall["vendor"] == "all"].iloc[0]
    sessions = sessions[sessions["raters"] > 0].reset_index(drop=True)  # the vendor's
    ratings = cal.keep_vendors(cal.ratings(engine, session_ids=ids), (vendor,))
    template = engine.config.calibration.item_url_template
    contested, rater_labels = contested_items(review, ratings, template)
    weeks = sorted(set(sessions["week"]))
    if asked_week is not None:
        title = f"week {asked_week}"
    elif len(sessions) == 1:
        title = f"session {sessions['session_id'].iat[0]}"
    else:
        title = (
            f"{len(sessions)} sessions of week{'s' if len(weeks) > 1 else ''} {', '.join(weeks)}"
        )
    return MeetingPack(
        vendor=vendor,
        title=title,
        week=asked_week or (weeks[0] if len(weeks) == 1 else None),
        sessions=sessions,
        workflows=tuple(sorted(set(sessions["workflow"]))),
        review=review,
        headline=head,
        agreement=agreement_rows(head),
        sentences=agreement_sentences(head, vendor),
        contested=contested,
        rater_labels=rater_labels,
        items_total=len(review.items),
        threshold=review.threshold,
        item_url_template=template,
        has_rationale=False,
        rationale_note=RATIONALE_NOTE,
        role=engine.scope.role,
        generated_at=dt.datetime.now(dt.UTC),
    )


# --- actions -------------------------------------------------------------------------------


def _about(action: act.Action, vendor: str, workflows: Sequence[str]) -> bool:
    """An action about this vendor's meeting: compatible with the vendor and the workflows
    (`kpi.actions.touching`) and naming at least one of them (an action on a market alone is
    not this meeting's)."""
    if not act.touching([action], {"vendor": [vendor], "workflow": list(workflows)}):
        return False
    return "vendor" in action.segment or "workflow" in action.segment


def _session_of(action: act.Action) -> str | None:
    source = action.source or ""
    return source.removeprefix("calibration:") if source.startswith("calibration:") else None


def previous_actions(
    pack: MeetingPack, found: Sequence[act.Action], earlier: pd.DataFrame
) -> tuple[list[act.Action], list[act.Action], dt.date, dt.date | None]:
    """(last meeting's actions, this meeting's, since, last meeting's day) among `found`.

    This meeting's: from one of its sessions (`source` `calibration:<session>`). The last
    meeting's: about this vendor and these workflows (`_about`), not this meeting's, and either
    - from an earlier calibration session of these workflows that the vendor's raters rated
      (`earlier`), still open or dated since the last meeting; or
    - dated from the last meeting's day (the latest earlier session; at the latest a week
      before this meeting's first session) to this meeting's day.
    """
    mine = set(pack.session_ids)
    earlier_ids = set(earlier["session_id"]) if len(earlier) else set()
    last = max(earlier["session_date"]) if len(earlier) else None
    week_before = pack.first_day - dt.timedelta(days=LOOKBACK_DAYS)
    since = min(last, week_before) if last is not None else week_before
    agreed, previous = [], []
    for a in found:
        if not _about(a, pack.vendor, pack.workflows):
            continue
        session = _session_of(a)
        if session in mine:
            agreed.append(a)
        elif (session in earlier_ids and (a.is_open or a.date >= since)) or (
            since <= a.date <= pack.meeting_day
        ):
            previous.append(a)
    return previous, agreed, since, last


def _status(action: act.Action) -> str:
    if action.closed_at is None:
        return "open"
    return f"closed {action.closed_at:%Y-%m-%d}"


def action_rows(
    found: Sequence[act.Action], effects: dict[int, Any], kpi: str, notes: dict[int, str]
) -> pd.DataFrame:
    """Actions as rows (`ACTION_COLUMNS`), with their effect where one was computed."""
    rows = []
    for a in found:
        e = effects.get(a.id)
        row: dict[str, Any] = {
            "id": a.id,
            "date": a.date,
            "kind": a.kind,
            "segment": ", ".join(f"{d}={v}" for d, v in a.segment.items()),
            "note": a.note,
            "owner": a.owner,
            "source": a.source,
            "status": _status(a),
            "kpi": kpi,
        }
        for name in ("before", "after", "difference", "difference_low", "difference_high",
                     "did", "did_low", "did_high"):  # fmt: skip
            row[name] = getattr(e, name, None) if e is not None else None
        row["complete"] = getattr(e, "complete", None) if e is not None else None
        for name in ("n_before", "n_after", "after_end", "complete_through"):
            row[name] = getattr(e, name, None) if e is not None else None
        peers = getattr(e, "peers", None) if e is not None else None
        row["peers"] = len(peers) if peers is not None else None
        row["effect_note"] = getattr(e, "note", None) if e is not None else notes.get(a.id, "")
        rows.append(row)
    return pd.DataFrame(rows, columns=ACTION_COLUMNS)


def with_actions(
    pack: MeetingPack,
    engine: Any,
    found: Sequence[act.Action],
    *,
    as_of: dt.date | None = None,
    kpi: str = DEFAULT_KPI,
    days: int = DEFAULT_DAYS,
    effect_of: EffectOf | None = None,
) -> MeetingPack:
    """`pack` with the last meeting's actions (and their effect so far) and this meeting's.

    `found`: the actions the viewer may see (`kpi.actions.load`); `effect_of(action)` computes
    an effect (default `kpi.effect.action_effect(engine, action, kpi, days, as_of)`; the page
    passes a cached one). An effect that cannot be computed leaves its numbers empty and says
    why in `effect_note`: the pack is still made.
    """
    if effect_of is None:
        eff.check_kpi(kpi)  # a wrong KPI or window is the caller's error, not each action's
        if not isinstance(days, int) or not 1 <= days <= eff.MAX_DAYS:
            raise ValueError(f"days must be a whole number from 1 to {eff.MAX_DAYS}, not {days!r}")

        def effect_of(a: act.Action) -> Any:
            # the other actions (peers with one of their own are left out) come from the same
            # state file, not from beside the engine's file (the dashboard's is the replica)
            return eff.action_effect(engine, a, kpi=kpi, days=days, as_of=as_of, actions=found)

    earlier = cal.session_choices(
        engine, None, pack.first_day - dt.timedelta(days=1), pack.workflows, (pack.vendor,)
    )
    previous, agreed, since, last = previous_actions(pack, found, earlier)
    effects: dict[int, Any] = {}
    notes: dict[int, str] = {}
    for a in previous:
        try:
            effects[a.id] = effect_of(a)
        except Exception as exc:  # noqa: BLE001  (a pack is still made; the reason is shown)
            notes[a.id] = f"effect not computed: {exc}"
    return replace(
        pack,
        since=since,
        last_meeting=last,
        previous=action_rows(previous, effects, kpi, notes),
        agreed=action_rows(agreed, {}, kpi, {}),
        previous_actions=tuple(previous),
        agreed_actions=tuple(agreed),
        effects=effects,
        kpi=kpi,
        days=days,
    )


def meeting_pack(
    engine: Any,
    db: Db,
    *,
    session: str | Sequence[str] | None = None,
    week: str | None = None,
    vendor: str,
    as_of: dt.date | None = None,
    workflows: Sequence[str] = (),
    notes: str = "",
    kpi: str = DEFAULT_KPI,
    days: int = DEFAULT_DAYS,
    review: cal.Review | None = None,
    effect_of: EffectOf | None = None,
    n_boot: int = cal.REVIEW_N_BOOT,
) -> MeetingPack:
    """The calibration meeting pack of `session` (one id, or the ids the page shows) or ISO
    `week` for `vendor`'s raters, with the actions recorded in `db`'s state file that the
    engine's role may see; `as_of`: the day effects are measured to (default: the effect's
    own). See the module docstring."""
    pack = meeting_content(
        engine, session=session, week=week, vendor=vendor, workflows=workflows, review=review,
        n_boot=n_boot,
    )  # fmt: skip
    found = act.load(engine, db, include_closed=True)
    pack = with_actions(pack, engine, found, as_of=as_of, kpi=kpi, days=days, effect_of=effect_of)
    return pack.with_notes(notes)
