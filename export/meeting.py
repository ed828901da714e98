"""A calibration meeting pack (`kpi.meeting.MeetingPack`) as a PPTX deck (python-pptx) or a PDF
(that deck converted by LibreOffice).

Slides: title (vendor, sessions, dates); agreement (the page's headline statistics with their
intervals and Landis–Koch readings, and its reading in sentences; per session too when a week
has several); contested items with every rater's label and cited policy (as many slides as
they need); last meeting's actions with their effect so far; this meeting's notes and agreed
actions. Every slide carries a footer naming the pack, the role and when it was made.

Text from data (ids, labels, notes) is plain text in text frames and table cells, never markup;
the only hyperlinks are item links made from the configured `calibration.item_url_template`
(`kpi.meeting.item_link`). The deck has no chart, so no embedded workbook a spreadsheet could
run a formula from. Sizes follow `export.slides`' conservative fitting estimate, and tables are
split across slides by the estimated height of their wrapped rows.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_AUTO_SIZE
from pptx.slide import Slide
from pptx.util import Emu, Inches, Pt

from export.safety import xml_text
from export.slides import (
    CELL_PAD_H,
    CELL_PAD_W,
    GLYPH_EM,
    GREY,
    LINE_EM,
    MARGIN,
    WIDTH,
    Cell,
    SlideDeck,
    fitting_size,
    lines_needed,
    optional_float,
    text_height,
)
from kpi.catalog import KPIS
from kpi.compute import records
from kpi.meeting import MeetingPack, effect_basis, effect_texts
from kpi.snapshot import version

FORMATS = ("pptx", "pdf")  # the documents (the dashboard's downloads); `render` also writes json
MIME = {
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "pdf": "application/pdf",
    "json": "application/json",
}
BODY_TOP = 1.2  # inches: below the title
BODY_BOTTOM = 6.85  # inches: above the footer
LIGHT = RGBColor(0xBF, 0xBF, 0xBF)
PDF_TIMEOUT_SECONDS = 300


class PdfUnavailable(RuntimeError):
    """PDF needs LibreOffice, which is not installed (or could not convert)."""


def _text(value: Any, limit: int | None = None) -> str:
    """Text from data as a slide shows it: XML-safe, line breaks kept as spaces where one line
    is needed, shortened with an ellipsis past `limit`."""
    text = xml_text("" if value is None or (isinstance(value, float) and math.isnan(value))
                    else str(value))  # fmt: skip
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def _one_line(value: Any, limit: int | None = None) -> str:
    return _text(" ".join(str("" if value is None else value).split()), limit)


def row_height(cells: Sequence[Cell], widths: Sequence[float], size: float) -> float:
    """A table row's estimated height in inches (its tallest cell, wrapped)."""
    pairs = zip(cells, widths, strict=True)
    lines = max(lines_needed(c.text, w - CELL_PAD_W, size) for c, w in pairs)
    return (lines * LINE_EM * size) / 72 + CELL_PAD_H + 0.02


def paginate(
    rows: Sequence[Sequence[Cell]], widths: Sequence[float], size: float, height: float,
    header: Sequence[str],
) -> list[list[Sequence[Cell]]]:  # fmt: skip
    """Rows split into pages whose estimated height (with the header row) fits `height`."""
    head = row_height([Cell(h) for h in header], widths, size)
    pages: list[list[Sequence[Cell]]] = [[]]
    used = head
    for row in rows:
        h = row_height(row, widths, size)
        if pages[-1] and used + h > height:
            pages.append([])
            used = head
        pages[-1].append(row)
        used += h
    return pages


class MeetingDeck(SlideDeck):
    def __init__(self, pack: MeetingPack) -> None:
        super().__init__(
            _one_line(
                f"bpo-kpi {version()} · calibration meeting pack · {pack.vendor} · {pack.title} · "
                f"role {pack.role} · generated {pack.generated_at:%Y-%m-%d %H:%M} UTC",
                220,
            )
        )
        self.pack = pack

    # --- building blocks -------------------------------------------------------------------

    def slide(self, title: str, size: int = 26) -> Slide:
        text = _one_line(title, 80)
        return super().slide(text, size if len(text) <= 60 else 22)

    def paragraphs(
        self, slide: Slide, texts: Sequence[str], top: float, height: float,
        sizes: Sequence[int] = (20, 18, 16, 14, 12, 11, 10), bullet: bool = False,
        color: RGBColor | None = None,
    ) -> float:  # fmt: skip
        """A text box of `texts` at the largest size that fits; returns the height used
        (inches, by the estimate). Texts must fit at the smallest size (callers split them)."""
        shown = [("• " if bullet else "") + t for t in texts]
        size = fitting_size(shown, self.width_in, height, sizes) or min(sizes)
        return self.text_box(slide, shown, top, height, size, color)

    def paged_table(
        self, title: str, intro: Sequence[str], header: Sequence[str],
        rows: Sequence[Sequence[Cell]], widths: Sequence[float], size: float,
        right: Sequence[int] = (),
    ) -> None:  # fmt: skip
        """`rows` on as many slides as they need, `intro` above the table on the first."""
        intro_h = 0.0
        if intro:
            size_i = fitting_size(list(intro), self.width_in, 1.4, (14, 12, 11, 10)) or 10
            intro_h = text_height(intro, self.width_in, size_i) + 0.15
        body = BODY_BOTTOM - BODY_TOP
        first = paginate(rows, widths, size, body - intro_h, header)
        pages = first[:1]
        rest = [r for page in first[1:] for r in page]
        if rest:
            pages += paginate(rest, widths, size, body, header)
        for n, page in enumerate(pages, 1):
            part = f" ({n}/{len(pages)})" if len(pages) > 1 else ""
            slide = self.slide(title + part)
            top = BODY_TOP
            if n == 1 and intro:
                self.paragraphs(slide, intro, top, intro_h, sizes=(14, 12, 11, 10))
                top += intro_h
            if page:
                self.table(slide, header, page, widths, top, size, right)

    # --- slides ----------------------------------------------------------------------------

    def title_slide(self) -> None:
        p = self.pack
        slide = self.slide(f"Calibration meeting: {_one_line(p.vendor, 50)}")
        days = sorted(set(p.sessions["session_date"]))
        when = (f"{days[0]:%d %b %Y}" if len(days) == 1
                else f"{days[0]:%d %b} – {days[-1]:%d %b %Y}")  # fmt: skip
        lines = [
            f"{_one_line(p.title, 120)} · {when}",
            f"Raters of {_one_line(p.vendor, 60)} · workflows "
            f"{_one_line(', '.join(p.workflows), 150)}",
        ]
        for rec in p.sessions.head(8).to_dict("records"):
            lines.append(
                f"Session {_one_line(rec['session_id'], 60)}: {rec['session_date']:%a %d %b %Y}, "
                f"{_one_line(rec['workflow'], 40)}, {int(rec['items'])} items"
            )
        if len(p.sessions) > 8:
            lines.append(f"… and {len(p.sessions) - 8} more sessions")
        lines.append(
            f"Role {_one_line(p.role, 40)} · generated {p.generated_at:%d %b %Y %H:%M} UTC"
        )
        self.paragraphs(slide, lines, top=1.6, height=5.0, sizes=(22, 20, 18, 16, 14, 12))

    def agreement_slide(self) -> None:
        p = self.pack
        slide = self.slide("Agreement among raters and with the golden answer")
        rows = []
        for rec in p.agreement.to_dict("records"):
            share = rec["statistic"] == "accuracy"
            value = _pct(rec["value"]) if share else _num(rec["value"])
            low = _pct(rec["low"]) if share else _num(rec["low"])
            high = _pct(rec["high"]) if share else _num(rec["high"])
            reading = _one_line(rec["reading"]) or "–"
            rows.append([Cell(rec["label"]), Cell(value), Cell(f"{low} – {high}"),
                         Cell(rec["interval"]), Cell(reading)])  # fmt: skip
        widths = [3.2, 1.4, 2.3, 3.0, 2.4]
        header = ["Statistic", "Value", "95% interval", "Interval", "Reading"]
        self.table(slide, header, rows, widths, BODY_TOP, 16, right=(1, 2))
        top = BODY_TOP + sum(row_height(r, widths, 16) for r in [[Cell(h) for h in header],
                                                                  *rows]) + 0.3  # fmt: skip
        texts = [_text(s) for s in p.sentences]
        self.paragraphs(slide, texts, top, BODY_BOTTOM - top, sizes=(18, 16, 14, 13, 12, 11, 10))

    def sessions_slide(self) -> None:
        p = self.pack
        by = p.review.by_session
        if len(p.sessions) < 2 or by.empty:
            return
        by = by[by["vendor"] == "all"]
        rows = []
        for rec in by.to_dict("records"):
            rows.append([
                Cell(_one_line(rec["session_id"], 60)), Cell(_one_line(rec["workflow"], 40)),
                Cell(f"{int(rec['items'])}"), Cell(f"{int(rec['raters'])}"),
                Cell(_pct(rec["accuracy"])),
                Cell(f"{_num(rec['fleiss_kappa'])} ({_num(rec['fleiss_kappa_low'])} – "
                     f"{_num(rec['fleiss_kappa_high'])})"),
                Cell(_one_line(rec["fleiss_kappa_reading"])),
            ])  # fmt: skip
        self.paged_table(
            "Agreement by session",
            [f"Each session's own statistics for {_one_line(p.vendor, 60)}'s raters; 95% "
             "intervals: clustered by item and rater for accuracy, item bootstrap for Fleiss' κ."],
            ["Session", "Workflow", "Items", "Raters", "Accuracy", "Fleiss' κ (95%)", "Reading"],
            rows, [3.4, 2.2, 0.9, 0.9, 1.3, 2.4, 1.2], 12, right=(2, 3, 4, 5),
        )  # fmt: skip

    def contested_slides(self) -> None:
        p = self.pack
        items = p.contested
        intro = [
            f"{len(items)} of {p.items_total} items contested: the raters' majority label differs "
            f"from the golden answer, or fewer than {p.threshold:.0%} of the raters chose it. "
            "Least agreement first. Votes: label · cited policy (raters): rater ids.",
        ]
        if not p.has_rationale:
            intro.append(_text(p.rationale_note))
        if p.item_url_template:
            intro.append("Item ids link to the item in the review tool.")
        if items.empty:
            slide = self.slide("Contested items")
            self.paragraphs(slide, [*intro, "No contested item in this selection."], BODY_TOP,
                            3.0, sizes=(16, 14, 12))  # fmt: skip
            return
        several = len(p.sessions) > 1
        header = ["Session", "Item"] if several else ["Item"]
        header += ["Golden", "Majority", "Every rater's label"]
        widths = [1.9, 2.1] if several else [2.6]
        widths += [1.9, 1.4]
        widths.append(round(self.width_in - sum(widths), 3))
        rows = []
        for rec in items.to_dict("records"):
            row = [Cell(_one_line(rec["session_id"], 80))] if several else []
            golden = _one_line(rec["golden_label"]) or "–"
            if rec["golden_policy"] is not None and not pd.isna(rec["golden_policy"]):
                golden += f" · {_one_line(rec['golden_policy'], 60)}"
            row += [
                Cell(_one_line(rec["item_id"], 120), link=rec["item_url"] or None),
                Cell(golden),
                Cell(f"{_one_line(rec['majority_label'])} ({rec['agreement_share']:.0%} of "
                     f"{int(rec['raters'])})"),
                Cell(_text(rec["votes"]).replace("; ", "\n")),
            ]  # fmt: skip
            rows.append(row)
        self.paged_table("Contested items", intro, header, rows, widths, 11)

    def actions_slides(self) -> None:
        p = self.pack
        since = f"{p.since:%d %b %Y}" if p.since else "the last meeting"
        intro = [
            f"Actions about {_one_line(p.vendor, 60)} ({_one_line(', '.join(p.workflows), 120)}) "
            f"from earlier calibration sessions, or dated since {since}, and their effect so far "
            f"on {_kpi_label(p.kpi)}: {p.days} days before against {p.days} days after the "
            "action; 'vs peers' is the difference in differences against segments without an "
            "action (95% intervals).",
        ]
        if p.previous.empty:
            slide = self.slide("Last meeting's actions and their effect")
            self.paragraphs(slide, [*intro, f"No action recorded since {since}."], BODY_TOP, 3.0,
                            sizes=(16, 14, 12))  # fmt: skip
            return
        rows = []
        for rec in p.previous.to_dict("records"):
            before_after, diff, did = (t.replace(" (", "\n(", 1) for t in effect_texts(rec, p.kpi))
            status = _one_line(rec["status"])
            if rec["owner"]:
                status += f" · {_one_line(rec['owner'], 40)}"
            rows.append([
                Cell(f"#{rec['id']} {rec['date']:%d %b %Y}\n{_kind(rec['kind'])}"),
                Cell(_one_line(rec["segment"], 200)),
                Cell(_text(rec["note"], 400)),
                Cell(status),
                Cell(before_after), Cell(diff), Cell(did),
                Cell(_text(effect_basis(rec, p.kpi), 240)),
            ])  # fmt: skip
        header = ["Date · kind", "Segment", "Note", "Status · owner", "Before → after",
                  "Difference (95%)", "vs peers (95%)", "Basis"]  # fmt: skip
        widths = [1.35, 1.6, 2.7, 1.1, 1.3, 1.45, 1.45, 1.383]
        self.paged_table("Last meeting's actions and their effect", intro, header, rows,
                         widths, 10)  # fmt: skip

    def notes_slides(self) -> None:
        p = self.pack
        notes = [_text(line) for line in p.notes.replace("\r\n", "\n").split("\n")]
        while notes and not notes[-1].strip():
            notes.pop()
        agreed = []
        for rec in p.agreed.to_dict("records"):
            owner = f" (owner {_one_line(rec['owner'], 40)})" if rec["owner"] else ""
            agreed.append(
                f"#{rec['id']} {rec['date']:%d %b %Y} · {_kind(rec['kind'])} · "
                f"{_one_line(rec['segment'], 120)}{owner}: {_one_line(rec['note'], 300)}"
            )
        title = "This meeting: notes and agreed actions"
        if not notes:
            slide = self.slide(title)
            self.paragraphs(slide, ["Notes:"], BODY_TOP, 0.5, sizes=(16,))
            room = slide.shapes.add_textbox(MARGIN, Inches(BODY_TOP + 0.5),
                                            Emu(WIDTH - 2 * MARGIN), Inches(3.2))  # fmt: skip
            room.line.color.rgb = LIGHT
            room.text_frame.word_wrap = True
            room.text_frame.auto_size = MSO_AUTO_SIZE.NONE  # keep the room, however empty
            hint = room.text_frame.paragraphs[0]
            hint.text = "(room for this meeting's notes)"
            hint.font.size = Pt(12)
            hint.font.color.rgb = GREY
            top = BODY_TOP + 3.9
            texts = (["Agreed actions:", *agreed] if agreed
                     else ["Agreed actions: none recorded yet."])  # fmt: skip
            self.paragraphs(slide, texts, top, BODY_BOTTOM - top, sizes=(14, 12, 11, 10, 9))
            return
        texts = ["Notes:", *[n if n.strip() else " " for n in notes], " "]
        texts += ["Agreed actions:", *agreed] if agreed else ["Agreed actions: none recorded."]
        # Split into slides whose text fits at 12 pt by the estimate.
        height = BODY_BOTTOM - BODY_TOP
        pages: list[list[str]] = [[]]
        for text in texts:
            for piece in _pieces(text, self.width_in, 12, height):
                if pages[-1] and fitting_size([*pages[-1], piece], self.width_in, height,
                                              (12,)) is None:  # fmt: skip
                    pages.append([])
                pages[-1].append(piece)
        for n, page in enumerate(pages, 1):
            part = f" ({n}/{len(pages)})" if len(pages) > 1 else ""
            slide = self.slide(title + part)
            self.paragraphs(slide, page, BODY_TOP, height, sizes=(12,))

    def build(self) -> bytes:
        self.title_slide()
        self.agreement_slide()
        self.sessions_slide()
        self.contested_slides()
        self.actions_slides()
        self.notes_slides()
        return self.save()


def _pieces(text: str, width_in: float, size: int, height: float) -> list[str]:
    """`text` cut into pieces that each fit a box (a very long note paragraph)."""
    per_line = max(1, int(width_in * 72 / (GLYPH_EM * size)))
    max_lines = max(1, int((height * 72) / (LINE_EM * size + 0.4 * size)) - 1)
    chunk = per_line * max_lines
    return [text[i : i + chunk] for i in range(0, len(text), chunk)] or [text]


def _pct(value: Any) -> str:
    v = optional_float(value)
    return "–" if v is None else f"{v:.1%}"


def _num(value: Any) -> str:
    v = optional_float(value)
    return "–" if v is None else f"{v:.2f}"


def _kind(kind: Any) -> str:
    return _one_line(kind).replace("_", " ")


def _kpi_label(kpi: str) -> str:
    return KPIS[kpi].label.lower() if kpi in KPIS else kpi


def pptx_bytes(pack: MeetingPack) -> bytes:
    """The pack as a PPTX deck."""
    return MeetingDeck(pack).build()


def soffice() -> str | None:
    """LibreOffice's command, if installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def pdf_from_pptx(pptx: bytes, timeout: float = PDF_TIMEOUT_SECONDS) -> bytes:
    """A PPTX converted to PDF by LibreOffice (`soffice --headless --convert-to pdf`), in a
    folder and LibreOffice profile of its own (conversions running at the same time do not
    share a profile, which LibreOffice does not allow). PdfUnavailable without LibreOffice."""
    command = soffice()
    if command is None:
        raise PdfUnavailable(
            "PDF needs LibreOffice to convert the deck, and it is not installed (`soffice` not "
            "found): install it (Debian/Ubuntu: apt-get install libreoffice-impress), or "
            "choose PPTX"
        )
    with tempfile.TemporaryDirectory(prefix="bpo-kpi-pdf-") as tmp:
        folder = Path(tmp)
        source = folder / "pack.pptx"
        source.write_bytes(pptx)
        try:
            run = subprocess.run(
                [command, "--headless", "--norestore",
                 f"-env:UserInstallation={(folder / 'profile').as_uri()}",
                 "--convert-to", "pdf", "--outdir", str(folder), str(source)],
                capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise PdfUnavailable(
                f"LibreOffice did not convert the deck within {timeout:.0f} s; choose PPTX"
            ) from None
        pdf = folder / "pack.pdf"
        if not pdf.exists():
            detail = " ".join((run.stderr or run.stdout or "").split())[:300]
            raise PdfUnavailable(
                f"LibreOffice could not convert the deck to PDF (exit {run.returncode}"
                + (f": {detail}" if detail else "")
                + "); choose PPTX"
            )
        return pdf.read_bytes()


def as_dict(pack: MeetingPack) -> dict[str, Any]:
    """The pack as a JSON-ready document (`bpo-kpi meeting --format json`): every number as a
    number, empty values null, contested items with each rater's label and policy."""
    headline = records(pd.DataFrame([pack.headline]))[0]
    labels: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in records(pack.rater_labels):
        key = (str(rec["session_id"]), str(rec["item_id"]))
        labels.setdefault(key, []).append(
            {k: rec[k] for k in ("rater_id", "vendor", "label", "policy")}
        )
    contested = []
    for rec in records(pack.contested):
        rec["rater_labels"] = labels.get((str(rec["session_id"]), str(rec["item_id"])), [])
        contested.append(rec)
    sessions = pack.sessions.drop(columns=["rater_vendors"], errors="ignore")
    return {
        "vendor": pack.vendor,
        "title": pack.title,
        "week": pack.week,
        "role": pack.role,
        "generated_at": pack.generated_at.isoformat(timespec="seconds"),
        "sessions": records(sessions),
        "workflows": list(pack.workflows),
        "agreement": headline,
        "agreement_reading": list(pack.sentences),
        "by_session": records(pack.review.by_session) if len(pack.sessions) > 1 else [],
        "contested_threshold": pack.threshold,
        "items": pack.items_total,
        "contested": contested,
        "rationale": pack.rationale_note if not pack.has_rationale else None,
        "kpi": pack.kpi,
        "days": pack.days,
        "actions_since": pack.since.isoformat() if pack.since else None,
        "last_meeting": pack.last_meeting.isoformat() if pack.last_meeting else None,
        "previous_actions": records(pack.previous),
        "agreed_actions": records(pack.agreed),
        "notes": pack.notes,
    }


def json_bytes(pack: MeetingPack) -> bytes:
    return (json.dumps(as_dict(pack), indent=2, ensure_ascii=False, default=str) + "\n").encode()


def render(pack: MeetingPack, fmt: str) -> bytes:
    """The pack as `fmt` (pptx, pdf or json) bytes."""
    if fmt == "pptx":
        return pptx_bytes(pack)
    if fmt == "pdf":
        return pdf_from_pptx(pptx_bytes(pack))
    if fmt == "json":
        return json_bytes(pack)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def file_name(pack: MeetingPack, fmt: str) -> str:
    """A download's file name: calibration-meeting_<vendor>_<session or week>.<fmt>, safe for
    any system."""
    what = pack.week if pack.title.startswith("week") and pack.week else pack.session_ids[0]
    name = f"calibration-meeting_{pack.vendor}_{what}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100] + f".{fmt}"
