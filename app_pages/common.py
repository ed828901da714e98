"""Shared dashboard plumbing: data version and gateway, cached kpi/ calls, URL-bound filters, the
drill path, and how KPI values are shown against targets.

Pages import this module and kpi/; they never build SQL or import duckdb.

- **Reading while ingest writes.** The app reads the database's read replica (`bpo_kpi.replica`),
  never the database file itself, so an ingest is never blocked by the app and the app never
  waits for an ingest. Every rerun checks the replica's version; when an ingest has committed
  (and refreshed the replica), the next rerun opens the new file and every cached result keyed
  by the old version stops being used.
- **Caching.** `call(fn, ...)` runs a kpi/ function through `st.cache_data`, keyed by the
  function, its arguments (filter values), the data version and the viewer's role.
- **Viewer role.** Per session, from sign-in (`app_pages.access`: the identity's role by the
  configuration's `[auth]` rules), or in single-user mode `BPO_KPI_ROLE` (default `admin`); the
  gateway enforces its scope in every query, so pages cannot show more than the role allows.
- **URL.** Filters are widgets bound to query parameters (`bind="query-params"`), so a copied
  link reproduces the view; the drill path is the `drill` query parameter (see `Drill`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from app_pages import access
from app_pages.text import md
from bpo_kpi import replica
from bpo_kpi.config import Config, ConfigError, load_config
from bpo_kpi.db import default_db_path
from export.tables import csv_bytes, workbook_bytes
from kpi.catalog import DIMENSION_CATALOG, FILTER_DIMENSIONS, KPIS, PERIODS
from kpi.data_summary import DataSummary, database_summary
from kpi.engines import Engine
from kpi.gateway import Gateway, QueryLimit
from kpi.monitor import DEFAULT_WINDOW_DAYS
from kpi.periods import period_of
from kpi.query import KpiQuery
from kpi.targets import STATUS_WORDS, format_value, status, target_for

DIMENSION_LABELS = {d.name: d.label for d in DIMENSION_CATALOG.values()}

T = TypeVar("T")


# --- data version, gateway, cached calls ------------------------------------------------------


def db_path() -> Path:
    return default_db_path()


@st.cache_resource(show_spinner=False, max_entries=8)
def _config(fingerprint: str) -> Config:
    return load_config()


def config_fingerprint() -> str:
    """The configuration file (BPO_KPI_CONFIG) and its size and modification time: part of
    every cache key, so an edited configuration takes effect at the next page run (targets,
    SLA lines, monitor settings) without restarting the server."""
    path = os.environ.get("BPO_KPI_CONFIG")
    if not path:
        return "defaults"
    try:
        stat = Path(path).stat()
    except OSError:
        return f"{path}:missing"  # load_config reports it
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def config() -> Config:
    return _config(config_fingerprint())


@st.cache_resource(max_entries=16, show_spinner=False)
def _gateway(db: str, version: str, role: str, config_env: str | None) -> Engine:
    settings = config().engine
    if settings.kind == "spark":  # the published Parquet files (`version`: their fingerprint)
        from kpi.engines import SparkEngine

        return SparkEngine(
            settings.parquet or "", config=config(), role=role, master=settings.spark_master
        )
    # One read-only connection per (replica file, role), shared by the role's sessions; each
    # session's thread queries on a cursor of its own (a slow query stalls no other session),
    # within the configuration's query limits. `version` is the current replica file: each
    # refresh writes a new one.
    return Gateway(version, config=config(), role=role)


_REGISTRY: dict[str, Callable[..., Any]] = {}


@st.cache_data(show_spinner=False, max_entries=1024, ttl=dt.timedelta(minutes=15))
def _cached_call(
    name: str,
    db: str,
    version: str,
    role: str,
    config_env: str | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    gw = _gateway(db, version, role, config_env)
    return _REGISTRY[name](gw, *args, **kwargs)


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(gateway, *args, **kwargs)`, cached by function, arguments, data version and role."""
    ctx = context()
    name = f"{fn.__code__.co_filename}:{fn.__qualname__}"
    _REGISTRY[name] = fn
    try:
        return _cached_call(name, str(ctx.db), ctx.version, ctx.role, ctx.config_env, args, kwargs)
    except QueryLimit as exc:  # the gateway stopped a query: say so, not a traceback
        st.error(str(exc))
        st.stop()


@dataclass
class Context:
    """What every page needs for one script run."""

    db: Path
    role: str
    config_env: str | None
    version: str
    summary: DataSummary
    who: str = "(unknown)"  # the signed-in viewer, or the single-user mode's OS user
    filters: Filters | None = None


def start() -> Context | None:
    """Who is looking (sign-in, or the single-user role: `app_pages.access`; stops the run with
    the sign-in or no-access page when nobody may), then open the current replica (refreshing
    it when the database changed); None if there is no data yet. Called by app.py per rerun."""
    db = db_path()
    viewer = access.viewer(config(), db)
    access.sidebar_identity(viewer)
    settings = config().engine
    version = parquet_version(settings.parquet) if settings.kind == "spark" else replica.ensure(db)
    if version is None:
        st.session_state.pop("_ctx", None)
        return None
    st.session_state["_table_n"] = 0  # tables without a key are numbered in page order
    ctx = Context(db, viewer.role, config_fingerprint(), version, DataSummary({}), viewer.who)
    st.session_state["_ctx"] = ctx
    try:
        ctx.summary = call(database_summary)
    except PermissionError as exc:  # an unknown BPO_KPI_ROLE: say so instead of a traceback
        st.error(f"{exc}. Set {access.ROLE_ENV} to one of the configured roles.")
        st.stop()
    except ConfigError as exc:  # a restricted role without a pseudonym key (bpo_kpi.keys)
        st.error(str(exc))
        st.stop()
    if engine().recompute_pending:  # type: ignore[attr-defined]
        st.warning(
            "The configuration's SLA minutes, error types or severity rules changed since the "
            "data was derived: due times, error categories and severities (and what rests on "
            "them) are as of the earlier settings until `bpo-kpi recompute` runs (or the next "
            "ingest). Targets and monitor settings already apply.",
            icon=":material/sync_problem:",
        )
    return ctx


def engine() -> Engine:
    """The engine of this run (the current data version, role and configuration)."""
    ctx = context()
    return _gateway(str(ctx.db), ctx.version, ctx.role, ctx.config_env)


def parquet_version(folder: str | None) -> str | None:
    """The published Parquet files' identity (names, sizes, times): a new publish changes it,
    so cached results are not served past it. None when nothing is published."""
    if not folder:
        return None
    files = sorted(Path(folder).glob("*.parquet"))
    if not files:
        return None
    return "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)


def context() -> Context:
    ctx = st.session_state.get("_ctx")
    if ctx is None:
        raise RuntimeError("app_pages.common.start() has not run (open the app via app.py)")
    return ctx


# --- filters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The sidebar's filters: local days [start, end], trend period, dimension values."""

    start: dt.date
    end: dt.date
    period: str
    where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def query(
        self,
        by: tuple[str, ...] = (),
        period: str | None = None,
        kpis: tuple[str, ...] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        where: Mapping[str, tuple[str, ...]] | None = None,
    ) -> KpiQuery:
        """A KPI query over these filters (dates and `where` can be overridden)."""
        merged = {**self.where, **(where or {})}
        return KpiQuery(
            by=by,
            period=period,
            start=start or self.start,
            end=end or self.end,
            where={k: v for k, v in merged.items() if v},
            kpis=kpis,
        )

    def single(self, dim: str) -> str | None:
        """The one value a dimension is filtered to, if exactly one."""
        values = self.where.get(dim, ())
        return values[0] if len(values) == 1 else None

    def describe(self) -> str:
        """The dates and filters as Markdown (filter values, from the data, as text)."""
        parts = [f"{self.start:%d %b %Y} – {self.end:%d %b %Y}"]
        for dim, values in self.where.items():
            if values:
                parts.append(f"{DIMENSION_LABELS[dim]}: {', '.join(map(md, values))}")
        return " · ".join(parts)


def view_link(
    page: str,
    start: dt.date,
    end: dt.date,
    where: Mapping[str, Sequence[str]] | None = None,
    drill: Sequence[tuple[str, str]] = (),
) -> str:
    """A link (relative to the app) to `page` ("quality", "overview", ...) showing these
    dates, filters and drill path: every choice is in the URL, so the link shows the same view
    tomorrow. Values are URL-encoded (they come from the data)."""
    params = list(view_params(start, end, where).items())
    flat = [(k, v) for k, vs in params for v in (vs if isinstance(vs, list) else [vs])]
    flat += [(DRILL_PARAM, f"{level}:{value}") for level, value in drill]
    return f"{page}?{urlencode(flat)}"


def view_params(
    start: dt.date, end: dt.date, where: Mapping[str, Sequence[str]] | None = None
) -> dict[str, str | list[str]]:
    """The URL query parameters of a view's dates and filters (those the sidebar reads)."""
    params: dict[str, str | list[str]] = {"from": start.isoformat(), "to": end.isoformat()}
    for dim in FILTER_DIMENSIONS:
        values = [str(v) for v in (where or {}).get(dim, ())]
        if values:
            params[dim] = values
    return params


def copy_link(page: str, f: Filters, drill: Sequence[tuple[str, str]] = ()) -> None:
    """The current view's link with its dates, shown with a copy button."""
    st.code(view_link(page, f.start, f.end, f.where, drill), language=None)


def local_today() -> dt.date:
    """Today in the reporting time zone."""
    return dt.datetime.now(ZoneInfo(config().reporting_timezone)).date()


def sidebar(summary: DataSummary) -> Filters:
    """Render the shared filters (bound to the URL) and return their values."""
    last = summary.last_day or dt.date.today()
    first = summary.first_day or last
    # Default "To": the last complete day (today, still under way, is partial: pick it to see
    # it, and the Overview says so).
    today = local_today()
    default_end = max(first, min(last, today - dt.timedelta(days=1)))
    default_start = max(first, default_end - dt.timedelta(days=DEFAULT_WINDOW_DAYS - 1))
    with st.sidebar:
        st.header("Filters")
        period = st.selectbox(
            "Trend period", PERIODS, index=0, key="period", bind="query-params",
            help="Grouping of trend charts: day, ISO week, month or calendar quarter (local days "
            "of the reporting time zone; a quarter is labelled 2026-Q4).",
        )  # fmt: skip
        start = st.date_input(
            "From", value=default_start, min_value=first, max_value=last, key="from",
            bind="query-params",
        )  # fmt: skip
        end = st.date_input(
            "To", value=default_end, min_value=first, max_value=last, key="to",
            bind="query-params",
        )  # fmt: skip
        if start > end:
            st.warning("“From” is after “To”; showing the range the other way round.")
            start, end = end, start
        where: dict[str, tuple[str, ...]] = {}
        for dim in FILTER_DIMENSIONS:
            chosen = st.multiselect(
                DIMENSION_LABELS[dim], summary.values.get(dim, ()), key=dim,
                bind="query-params", placeholder="All",
            )  # fmt: skip
            if chosen:
                where[dim] = tuple(chosen)
        st.caption(
            f"Data {first:%d %b %Y} – {last:%d %b %Y} · "
            f"{summary.counts.get('decisions', 0):,} decisions"
        )
    filters = Filters(start, end, period, where)
    context().filters = filters
    return filters


def filters() -> Filters:
    f = context().filters
    if f is None:
        raise RuntimeError("the sidebar filters have not been rendered")
    return f


# --- drill path -------------------------------------------------------------------------------

DRILL_PARAM = "drill"


def drill_path() -> list[tuple[str, str]]:
    """The drill path from the URL: repeated `drill=level:value` parameters, in order."""
    steps = []
    for raw in st.query_params.get_all(DRILL_PARAM):
        level, sep, value = raw.partition(":")
        if sep and level:
            steps.append((level, value))
    return steps


def set_drill_path(steps: list[tuple[str, str]]) -> None:
    if steps:
        st.query_params[DRILL_PARAM] = [f"{level}:{value}" for level, value in steps]
    elif DRILL_PARAM in st.query_params:
        del st.query_params[DRILL_PARAM]


def breadcrumb(
    steps: list[tuple[str, str]],
    root: str,
    labels: Mapping[str, str],
    show: Callable[[str, str], str] | None = None,
) -> None:
    """The drill path as a row of buttons; clicking one steps back to that level.

    `show(level, value)` formats a step's value (default: as stored in the URL); either is
    shown as text (a button label reads Markdown).
    """
    row = st.container(horizontal=True, gap="small", vertical_alignment="center")
    if row.button(root, key="crumb_root", type="tertiary", icon=":material/home:"):
        set_drill_path([])
        st.rerun()
    for i, (level, value) in enumerate(steps):
        shown = md(show(level, value) if show else value)
        label = f"› {labels.get(level, level)}: {shown}"
        last = i == len(steps) - 1
        if row.button(label, key=f"crumb_{i}", type="tertiary", disabled=last):
            set_drill_path(steps[: i + 1])
            st.rerun()


# --- KPI values against targets ---------------------------------------------------------------

STATUS_TEXT = {
    "met": f":green[{STATUS_WORDS['met']}]",
    "missed": f":red[{STATUS_WORDS['missed']}]",
    "no target": STATUS_WORDS["no target"],
    "no data": f":gray[{STATUS_WORDS['no data']}]",
}


def target(kpi: str, workflow: str | None = None, vendor: str | None = None) -> float | None:
    return target_for(config(), kpi, workflow, vendor)


def status_text(kpi: str, value: float | None, tgt: float | None) -> str:
    """Status in words and colour (never colour alone), with the target value."""
    s = status(kpi, value, tgt)
    text = STATUS_TEXT[s]
    if tgt is not None and s in ("met", "missed"):
        text += f" ({format_value(kpi, tgt)})"
    return text


def period_axis(starts: pd.Series, period: str | None) -> pd.Series:
    """A trend chart's x values: the periods' first days, or for quarters their names
    (`2026-Q4`, `kpi.periods`), which a date axis would show as a month."""
    if period != "quarter":
        return starts
    return starts.map(lambda d: period_of("quarter", pd.Timestamp(d).date()).label)


def fmt(kpi: str, value: Any) -> str:
    return format_value(kpi, None if value is None or pd.isna(value) else float(value))


def label(kpi: str) -> str:
    return KPIS[kpi].label


# --- tables with downloads ---------------------------------------------------------------------

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def shown_table(
    data: pd.DataFrame,
    column_config: Mapping[str, Any] | None = None,
    column_order: list[str] | None = None,
    hide_index: bool | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """A table as `st.dataframe` shows it: its index as columns unless hidden, the columns in
    `column_order`, hidden columns left out, labels from `column_config`; and the unit of each
    percent-formatted column (for the workbook's number formats)."""
    frame = data if hide_index else data.reset_index()
    if column_order is not None:
        frame = frame[[c for c in column_order if c in frame.columns]]
    config = dict(column_config or {})
    keep, names, units = [], {}, {}
    for column in frame.columns:
        spec = config.get(str(column), config.get(column))
        if spec is None and (str(column) in config or column in config):
            continue  # hidden
        keep.append(column)
        label = spec if isinstance(spec, str) else (spec or {}).get("label")
        name = str(label or column)
        names[column] = name
        fmt = (
            ((spec or {}).get("type_config") or {}).get("format")
            if isinstance(spec, dict)
            else None
        )
        if fmt == "percent":
            units[name] = "share"
    out = frame[keep].rename(columns=names)
    return out, units


def dataframe(data: pd.DataFrame, *, key: str | None = None, **kwargs: Any) -> Any:
    """`st.dataframe`, with CSV and Excel downloads of the table as shown (text that a
    spreadsheet would run as a formula is neutralised; numbers stay numbers). Streamlit's own
    CSV export is switched off (.streamlit/config.toml: client.disableDataExport) because it
    does neither."""
    shown = st.dataframe(data, key=key, **kwargs)
    n = st.session_state.get("_table_n", 0) + 1
    st.session_state["_table_n"] = n
    base = key or f"table{n}"
    frame, units = shown_table(
        data, kwargs.get("column_config"), kwargs.get("column_order"), kwargs.get("hide_index")
    )
    name = base.replace("_", "-")
    logged = export_logger()
    with st.container(horizontal=True, gap="small"):
        st.download_button(
            "CSV", lambda: logged(f"{name}.csv", csv_bytes(frame)), file_name=f"{name}.csv",
            mime="text/csv", key=f"{base}_csv", on_click="ignore", type="tertiary",
            icon=":material/download:",
        )  # fmt: skip
        st.download_button(
            "Excel", lambda: logged(f"{name}.xlsx", workbook_bytes([(name[:31], frame)], units)),
            file_name=f"{name}.xlsx", mime=XLSX_MIME, key=f"{base}_xlsx", on_click="ignore",
            type="tertiary", icon=":material/download:",
        )  # fmt: skip
    return shown


def log_view(page: str) -> None:
    """Log this page view in the access log (when the page or its URL parameters changed)."""
    ctx = context()
    st.session_state["_page_title"] = page
    access.log_view(ctx.db, ctx.who, ctx.role, page, st.query_params.to_dict())


def export_logger() -> Callable[[str, bytes], bytes]:
    """`logged(file_name, data) -> data`, recording the download in the access log: called
    when the viewer clicks (a download's data is made only then), with who, role, page and
    the current filters captured now."""
    ctx = context()
    page = st.session_state.get("_page_title")
    params = "&".join(f"{k}={v}" for k, v in sorted(st.query_params.to_dict().items()))

    def logged(file_name: str, data: bytes) -> bytes:
        access.log(ctx.db, ctx.who, ctx.role, "export", page, f"{file_name} {params}".strip())
        return data

    return logged


def empty_state(message: str) -> None:
    st.info(message, icon=":material/info:")
