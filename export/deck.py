"""A snapshot as a stakeholder deck (PPTX, python-pptx): every number comes from the snapshot's
tables, charts are native and editable (their data sits in the chart's own workbook), and every
slide carries the lineage footer.

Slides: title; executive summary (the snapshot's sentences); vendor scorecard against targets;
quality trend with the target line; SLA attainment by vendor with the target; TAT p90 by
priority against the SLA; top quality gaps; calibration (kappa with interval and reading,
contested items); appendix: KPI definitions and lineage.

Fitting text (`export.slides`' estimate): a text box gets the largest size at which its text
fits, tables are split across slides by rows, and long cells are shortened with an ellipsis.
Restated values (`--compare-to`) carry a dagger and a note.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.slide import Slide
from pptx.util import Emu, Inches

from export.safety import csv_text, xml_text
from export.slides import GREY, MARGIN, WIDTH, Cell, SlideDeck, fitting_size, optional_float
from kpi.catalog import KPIS
from kpi.snapshot import Snapshot, restated_cells
from kpi.targets import format_value, interval_text

GREEN, RED = RGBColor(0x1B, 0x7F, 0x3B), RGBColor(0xB0, 0x1E, 0x23)
SCORECARD_KPIS = ("quality_score", "sla_attainment", "qa_coverage", "cohen_kappa")
ROWS_PER_SLIDE = 12
TABLE_ROW_IN = 0.4  # inches per table row
RESTATED = "†"


def _text(value: Any, limit: int = 80) -> str:
    """Text from data as a slide shows it: XML-safe, shortened with an ellipsis."""
    text = xml_text("" if value is None else str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(value: Any) -> str:
    """A chart category or series name: also stored in the chart's workbook, where a leading
    `=` would make a formula."""
    return str(csv_text(_text(value, 60)))


class Deck(SlideDeck):
    def __init__(self, snapshot: Snapshot, restated: set[tuple[str, tuple[Any, ...], str]]):
        m = snapshot.manifest
        super().__init__(
            f"bpo-kpi {m['bpo_kpi_version']} · {snapshot.period.label} · role "
            f"{m['scope']['role']} · data as of {str(m['data_as_of'])[:16].replace('T', ' ')} UTC"
            f" · config {m['config_hash']} · content {snapshot.content_hash[:16]}"
        )
        self.s = snapshot
        self.restated = restated

    # --- building blocks -------------------------------------------------------------------

    def slide(self, title: str, size: int = 26) -> Slide:
        return super().slide(_text(title, 90), size)

    def paragraphs(
        self, slide: Slide, texts: Sequence[str], top: float = 1.2, height: float = 5.6,
        sizes: Sequence[int] = (20, 18, 16, 14, 12, 11, 10), bullet: bool = True,
    ) -> None:  # fmt: skip
        shown = [("• " if bullet else "") + _text(t, 600) for t in texts]
        size = fitting_size(shown, self.width_in, height, sizes)
        while size is None and len(shown) > 1:  # too much text: keep what fits, say so
            shown = [*shown[:-2], "… (more in the snapshot's summary table)"]
            size = fitting_size(shown, self.width_in, height, sizes)
        self.text_box(slide, shown, top, height, size or min(sizes))

    def grid(
        self, slide: Slide, header: Sequence[str], rows: Sequence[Sequence[str]],
        widths: Sequence[float], top: float = 1.2, size: int = 12,
        colors: Sequence[Sequence[RGBColor | None]] | None = None, text_cols: int = 1,
    ) -> None:  # fmt: skip
        """A table of texts; the first `text_cols` columns are text (left), the rest numbers
        (right); `colors` gives each cell's text colour (None: the default)."""
        cells = [
            [Cell(text, color=colors[i][j] if colors else None) for j, text in enumerate(row)]
            for i, row in enumerate(rows)
        ]
        right = range(text_cols, len(header))
        self.table(slide, header, cells, widths, top, size, right=right, row_in=TABLE_ROW_IN)

    def mark(self, table: str, key: tuple[Any, ...], column: str, text: str) -> str:
        return text + RESTATED if (table, key, column) in self.restated else text

    # --- slides --------------------------------------------------------------------------------

    def title_slide(self) -> None:
        s, m = self.s, self.s.manifest
        slide = self.slide("Content review vendors: KPI review")
        scope = m["scope"]
        who = ", ".join(scope["filters"].get("vendor", [])) or "all vendors in scope"
        lines = [
            f"{s.period.label}: {s.period.start:%d %b %Y} – {s.period.end:%d %b %Y} "
            f"({m['period']['time_zone']})",
            f"{who} · role {scope['role']}",
            f"Generated {s.generated_at:%d %b %Y %H:%M} UTC from data as of "
            f"{str(m['data_as_of'])[:16].replace('T', ' ')} UTC",
        ]
        if self.restated:
            lines.append(f"{RESTATED} marks a value restated since the previous snapshot.")
        self.paragraphs(slide, lines, top=2.2, height=3.5, sizes=(24, 20, 18), bullet=False)

    def summary_slide(self) -> None:
        slide = self.slide("Executive summary")
        self.paragraphs(slide, list(self.s.tables["summary"]["sentence"]))

    def restated_slide(self) -> None:
        changes = self.s.restated
        if changes is None:
            return
        was = self.s.compared_with or {}
        slide = self.slide("Restated since the previous snapshot")
        if changes.empty:
            self.paragraphs(slide, [f"No number changed since {was.get('source', 'it')}."],
                            bullet=False)  # fmt: skip
            return
        intro = (f"{len(changes)} number(s) changed since the snapshot of "
                 f"{str(was.get('data_as_of', '?'))[:16].replace('T', ' ')} "
                 f"(content {str(was.get('content_hash', ''))[:16]}); marked {RESTATED} "
                 "in this deck. Late QA audits restate quality scores.")  # fmt: skip
        self.paragraphs(slide, [intro], top=1.1, height=0.9, sizes=(14, 12, 11), bullet=False)
        rows = []
        for rec in changes.head(12).to_dict("records"):
            rows.append([_text(rec["table"], 24), _text(rec["key"], 50), _text(rec["column"], 28),
                         _number(rec["column"], rec["before"]),
                         _number(rec["column"], rec["after"])])  # fmt: skip
        self.grid(slide, ["Table", "Row", "Value", "Before", "Now"], rows,
                   [2.2, 4.6, 2.6, 1.4, 1.4], top=2.1, size=11, text_cols=3)  # fmt: skip

    def scorecard_slides(self) -> None:
        card = self.s.tables["scorecard"]
        if card.empty:
            slide = self.slide("Vendor scorecard")
            self.paragraphs(slide, ["No vendor has decisions in this period."], bullet=False)
            return
        cells = card.set_index(["vendor", "workflow", "kpi"])
        pairs = card[["vendor", "workflow"]].drop_duplicates().to_records(index=False).tolist()
        header = ["Vendor", "Workflow", *(KPIS[k].label for k in SCORECARD_KPIS)]
        chunks = [pairs[i : i + ROWS_PER_SLIDE] for i in range(0, len(pairs), ROWS_PER_SLIDE)]
        for n, chunk in enumerate(chunks, 1):
            part = f" ({n}/{len(chunks)})" if len(chunks) > 1 else ""
            slide = self.slide(f"Vendor scorecard against targets{part}")
            rows, colors = [], []
            for vendor, workflow in chunk:
                row = [_text(vendor, 24), _text(workflow, 24)]
                color: list[RGBColor | None] = [None, None]
                for kpi in SCORECARD_KPIS:
                    key = (vendor, workflow, kpi)
                    if key not in cells.index:
                        row.append("–")
                        color.append(None)
                        continue
                    rec = cells.loc[key]
                    mark = {"met": " ✔", "missed": " ✘"}.get(str(rec["status"]), "")
                    value, n_ = optional_float(rec["value"]), optional_float(rec["n"])
                    if rec["status"] == "too few":
                        text = f"too few (n={int(n_ or 0):,})"
                    elif KPIS[kpi].unit == "kappa":  # its basis matters: interval and n
                        low, high = optional_float(rec["low"]), optional_float(rec["high"])
                        text = interval_text(kpi, value, low, high, n_).removeprefix("κ ")
                    else:
                        text = format_value(kpi, value)
                    text += mark
                    row.append(self.mark("scorecard", key, "value", text))
                    color.append({"met": GREEN, "missed": RED}.get(str(rec["status"])))
                rows.append(row)
                colors.append(color)
            self.grid(slide, header, rows, [2.2, 2.0, 1.8, 1.8, 1.8, 2.6], colors=colors,
                       text_cols=2)  # fmt: skip
            legend = ("✔ meets / ✘ misses its target (the workflow's, with the vendor's "
                      "overrides); – no data; kappa with its 95% interval and n (audits), too few "
                      "under the configured minimum. Definitions in the appendix.")  # fmt: skip
            self.text_box(slide, [legend], top=6.5, height=0.4, size=11, color=GREY)

    def quality_trend_slide(self) -> None:
        trend = self.s.tables["weekly_trend"]
        trend = trend[trend["audits"] > 0] if "audits" in trend else trend
        slide = self.slide("Quality score by week, with the target")
        if trend.empty:
            self.paragraphs(slide, ["No QA audits in these weeks."], bullet=False)
            return
        weeks = sorted(trend["period_start"].unique())
        data = CategoryChartData()
        data.categories = [f"{w:%d %b}" for w in weeks]
        for vendor, group in trend.groupby("vendor", sort=True):
            values = group.set_index("period_start")["quality_score"]
            data.add_series(_label(vendor), [optional_float(values.get(w)) for w in weeks],
                            number_format="0.0%")  # fmt: skip
        target = _quality_target(self.s)
        data.add_series("Target", [target] * len(weeks), number_format="0.0%")
        chart = _add_chart(slide, XL_CHART_TYPE.LINE_MARKERS, data)
        _share_axis(chart, float(trend["quality_score"].min()), target)

    def sla_slide(self) -> None:
        table = self.s.tables["kpis_by_vendor"]
        slide = self.slide("SLA attainment by vendor, against the target")
        table = table[table["sla_attainment"].notna()] if len(table) else table
        if table.empty:
            self.paragraphs(slide, ["No decisions with a due time in this period."], bullet=False)
            return
        target = _default_target(self.s, "sla_attainment")
        data = CategoryChartData()
        data.categories = [_label(v) for v in table["vendor"]]
        data.add_series("SLA attainment", [optional_float(v) for v in table["sla_attainment"]],
                        number_format="0.0%")  # fmt: skip
        data.add_series("Target", [target] * len(table), number_format="0.0%")
        chart = _add_chart(slide, XL_CHART_TYPE.COLUMN_CLUSTERED, data)
        chart.plots[0].has_data_labels = True
        chart.plots[0].data_labels.number_format = "0.0%"
        chart.plots[0].data_labels.number_format_is_linked = False
        _share_axis(chart, float(table["sla_attainment"].min()), target)

    def tat_slide(self) -> None:
        table = self.s.tables["tat_by_priority"]
        slide = self.slide("TAT p90 by priority, against the SLA (hours)")
        table = table[table["tat_p90"].notna() & table["priority"].notna()] if len(table) else table
        if table.empty:
            self.paragraphs(slide, ["No decided decisions in this period."], bullet=False)
            return
        priorities = sorted(table["priority"].astype(str).unique())
        data = CategoryChartData()
        data.categories = [_label(p) for p in priorities]
        for vendor, group in table.groupby("vendor", sort=True):
            values = group.set_index(group["priority"].astype(str))["tat_p90"]
            data.add_series(_label(vendor), [_hours(values.get(p)) for p in priorities],
                            number_format="#,##0.0")  # fmt: skip
        sla = table.groupby(table["priority"].astype(str))["sla_minutes"].first()
        data.add_series("SLA", [_hours(sla.get(p)) for p in priorities], number_format="#,##0.0")
        chart = _add_chart(slide, XL_CHART_TYPE.COLUMN_CLUSTERED, data)
        chart.value_axis.has_title = True
        chart.value_axis.axis_title.text_frame.text = "hours"

    def gaps_slide(self) -> None:
        found = self.s.tables["quality_gaps"]
        slide = self.slide("Top quality gaps")
        if found.empty:
            self.paragraphs(
                slide,
                ["No segment's error rate is above its target with 95 % confidence in this "
                 "period (segments of vendor, site, workflow and market with 20+ audits)."],
                bullet=False,
            )  # fmt: skip
            return
        header = ["Segment", "Audits", "Errors", "Error rate", "95 % from", "Target",
                  "Excess errors"]  # fmt: skip
        rows = []
        for rec in found.head(10).to_dict("records"):
            key = (rec["segment"],)
            rows.append([
                _text(rec["segment"], 70), f"{int(rec['audits']):,}", f"{int(rec['errors']):,}",
                self.mark("quality_gaps", key, "error_rate", f"{rec['error_rate']:.1%}"),
                f"{rec['error_rate_low']:.1%}", f"{rec['target_error_rate']:.1%}",
                f"{rec['excess_errors']:,.1f}",
            ])  # fmt: skip
        self.grid(slide, header, rows, [5.3, 1.0, 1.0, 1.2, 1.2, 1.0, 1.6], size=11)

    def calibration_slide(self) -> None:
        overall = self.s.tables["calibration"]
        slide = self.slide("Calibration: agreement and contested items")
        if overall.empty:
            self.paragraphs(slide, ["No calibration session was held in this period."],
                            bullet=False)  # fmt: skip
            return
        header = ["Raters of", "Raters", "Items", "Fleiss' κ (95 %)", "Reading",
                  "Accuracy vs golden"]  # fmt: skip
        rows = []
        for rec in overall.head(6).to_dict("records"):
            rows.append([
                _text(rec["vendor"], 24), f"{int(rec['raters']):,}", f"{int(rec['items']):,}",
                f"{rec['fleiss_kappa']:.2f} ({rec['fleiss_kappa_low']:.2f} – "
                f"{rec['fleiss_kappa_high']:.2f})",
                _text(rec["fleiss_kappa_reading"]), f"{rec['accuracy']:.1%}",
            ])  # fmt: skip
        self.grid(slide, header, rows, [2.2, 1.2, 1.2, 2.8, 1.9, 2.3], size=12)
        contested = self.s.tables["contested_items"]
        top = 1.4 + 0.4 * (len(rows) + 1)
        if contested.empty:
            texts = ["No contested item: raters agreed on every item above the threshold."]
        else:
            texts = [f"{len(contested)} contested item(s) (rater agreement below the "
                     "configured threshold), first ones:"]  # fmt: skip
            for rec in contested.head(6).to_dict("records"):
                texts.append(
                    f"{_text(rec['session_id'], 30)} / {_text(rec['item_id'], 30)}: majority "
                    f"{_text(rec['majority_label'], 30)} ({rec['agreement_share']:.0%} of "
                    f"{int(rec['raters'])}), golden {_text(rec['golden_label'], 30)}"
                )
        self.paragraphs(slide, texts, top=top, height=6.8 - top, sizes=(14, 12, 11, 10, 9))

    def definitions_slides(self) -> None:
        defs = self.s.tables["definitions"]
        per = 7
        chunks = [defs.iloc[i : i + per] for i in range(0, len(defs), per)]
        for n, part in enumerate(chunks, 1):
            slide = self.slide(f"Appendix: KPI definitions ({n}/{len(chunks)})")
            rows = [
                [_text(r["label"], 40), r["unit"], r["better"] or "", _text(r["definition"], 330)]
                for r in part.to_dict("records")
            ]
            self.grid(slide, ["KPI", "Unit", "Better", "Definition"], rows,
                       [2.4, 1.0, 1.0, 7.9], size=9, text_cols=4)  # fmt: skip

    def lineage_slide(self) -> None:
        m = self.s.manifest
        slide = self.slide("Appendix: lineage")
        scope = m["scope"]
        runs = m["ingest_runs"]
        lines = [
            f"Period {m['period']['label']} ({m['period']['start']} – {m['period']['end']}, "
            f"{m['period']['time_zone']}); trend from {m['period']['trend_from']}.",
            f"Scope: role {scope['role']}; vendors {', '.join(scope['vendors']) or 'all'}; "
            f"filters {_filters(scope['filters'])}; "
            f"reviewer ids {scope['reviewer_ids']}.",
            f"Generated {self.s.generated_at.isoformat(timespec='seconds')}; numbers as of "
            f"{m['data_as_of']}; configuration hash {m['config_hash']}; bpo-kpi "
            f"{m['bpo_kpi_version']}.",
            f"Content hash (SHA-256 of every table): {m['content_hash']}.",
            "Freshness: " + "; ".join(
                f"{_text(f['vendor'], 24)} last decision {str(f['last_decided_at'])[:16]}"
                for f in m["freshness"]
            ) + ".",
            f"{len(runs)} ingest run(s) behind these numbers:",
        ]  # fmt: skip
        for run in runs[:8]:
            sha = (run.get("sha256") or "")[:16]
            name = _text(str(run["file"]).rsplit("/", 1)[-1], 40)
            lines.append(f"run {run['run_id']} · {run['kind']} · {name} · sha256 {sha}…")
        if len(runs) > 8:
            lines.append(f"… and {len(runs) - 8} more (the manifest lists all).")
        self.paragraphs(slide, lines, sizes=(14, 12, 11, 10, 9))

    def build(self) -> bytes:
        self.title_slide()
        self.summary_slide()
        self.restated_slide()
        self.scorecard_slides()
        self.quality_trend_slide()
        self.sla_slide()
        self.tat_slide()
        self.gaps_slide()
        self.calibration_slide()
        self.definitions_slides()
        self.lineage_slide()
        return self.save()


def _filters(filters: dict[str, list[str]]) -> str:
    return "; ".join(f"{k}={','.join(v)}" for k, v in filters.items()) or "none"


def _add_chart(slide: Slide, kind: Any, data: CategoryChartData) -> Any:
    """A native chart filling the slide's body; python-pptx's type hints name the frame's
    chart as the return value, so the frame is typed Any here."""
    frame: Any = slide.shapes.add_chart(
        kind,
        MARGIN,
        Inches(1.2),
        Emu(WIDTH - 2 * MARGIN),
        Inches(5.6),
        data,  # type: ignore[arg-type]
    )
    chart = frame.chart
    chart.has_legend = True
    chart.legend.position = XL_LEGEND_POSITION.BOTTOM
    chart.legend.include_in_layout = False
    return chart


def _share_axis(chart: Any, low: float, target: float) -> None:
    """A percent value axis from just below the lowest value or the target, to 100 %."""
    chart.value_axis.tick_labels.number_format = "0%"
    chart.value_axis.tick_labels.number_format_is_linked = False
    chart.value_axis.minimum_scale = max(0.0, math.floor(min(low, target) * 20) / 20 - 0.05)
    chart.value_axis.maximum_scale = 1.0


def _number(column: str, value: Any) -> str:
    v = optional_float(value)
    if v is None:
        return "–"
    kpi = column.removesuffix("_low").removesuffix("_high")
    if kpi in KPIS:
        return format_value(kpi, v)
    return f"{v:,.4g}"


def _hours(value: Any) -> float | None:
    v = optional_float(value)
    return None if v is None else v / 60.0


def _default_target(snapshot: Snapshot, kpi: str) -> float:
    card = snapshot.tables["scorecard"]
    values = card.loc[card["kpi"] == kpi, "target"].dropna()
    return float(values.mode().iat[0]) if len(values) else math.nan


def _quality_target(snapshot: Snapshot) -> float:
    return _default_target(snapshot, "quality_score")


def pptx_bytes(snapshot: Snapshot) -> bytes:
    restated = set() if snapshot.restated is None else restated_cells(snapshot.restated)
    return Deck(snapshot, restated).build()
