"""The calibration meeting pack as files (`bpo-kpi meeting`, export/meeting.py): the PPTX opens
with python-pptx and holds the session, the vendor, the Calibration review's numbers, every
contested item and the notes, with item links only from the configured template; the PDF has a
page per slide; the deck rendered by LibreOffice keeps its text on its slides (page images in
tests/export/deck_pages/meeting_pack/ to look at); a vendor-scoped role's pack names no other
vendor."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat
from pptx import Presentation

from bpo_kpi.config import load_config
from export import meeting as writer
from kpi import actions
from kpi import calibration as cal
from kpi.gateway import Gateway
from kpi.meeting import item_link

Cli = Callable[..., tuple[int, str, str]]
SESSION = "cal-2026-W47-hate_speech"
WEEK = "2026-W47"
VENDOR = "meridian"
OTHERS = ("apex_bpo", "northwind", "tessera", "internal")
TEMPLATE = "https://review.example.com/items/{item_id}"
PAGES = Path(__file__).resolve().parent / "deck_pages" / "meeting_pack"
WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)
PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)
NOTES = (
    "Agreed: HS2 examples get a second review.\n"
    '=HYPERLINK("https://evil.example","click") stays text\n'
    "**bold** [link](https://evil.example) <b>tag</b>"
)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "team.toml"
    path.write_text(
        f'[calibration]\nitem_url_template = "{TEMPLATE}"\n'
        f'[roles.{VENDOR}_liaison]\nvendors = ["{VENDOR}"]\n',
        encoding="utf-8",
    )
    return path


def texts_and_links(path: Path) -> tuple[list[str], list[str], list[str]]:
    """(slide titles, every text of every shape and table cell, every hyperlink address)."""
    titles, texts, links = [], [], []

    def frame(tf: Any) -> None:
        for p in tf.paragraphs:
            texts.append(p.text)
            links.extend(r.hyperlink.address for r in p.runs if r.hyperlink.address)

    for slide in Presentation(str(path)).slides:
        first = True
        for shape in slide.shapes:
            assert shape.click_action.hyperlink.address is None
            if shape.has_text_frame:
                if first:
                    titles.append(shape.text_frame.text)
                    first = False
                frame(shape.text_frame)
            if shape.has_table:
                for row in shape.table.rows:
                    for cell in row.cells:
                        frame(cell.text_frame)
    return titles, texts, links


def review_of(db: Path, config: Path, sessions: list[str]) -> cal.Review:
    with Gateway(db, config=load_config(config)) as gw:
        return cal.review(gw, sessions, (VENDOR,))


def test_the_deck_holds_the_reviews_numbers_items_and_notes(
    cli: Cli, export_db: Path, config_file: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES, encoding="utf-8")
    deck = tmp_path / "pack.pptx"
    code, out, err = cli("meeting", "--db", export_db, "--config", config_file, "--session",
                         SESSION, "--vendor", VENDOR, "--notes-file", notes, "--out", deck,
                         "--quiet")  # fmt: skip
    assert code == 0, err
    assert str(deck) in out
    review = review_of(export_db, config_file, [SESSION])
    head = review.overall[review.overall["vendor"] == "all"].iloc[0]
    contested = review.items[review.items["contested"]]
    assert len(contested) > 0

    titles, texts, links = texts_and_links(deck)
    text = "\n".join(texts)
    assert titles[0] == f"Calibration meeting: {VENDOR}"
    assert SESSION in text
    assert f"{head['accuracy']:.1%}" in texts
    assert f"{head['accuracy_low']:.1%} – {head['accuracy_high']:.1%}" in texts
    for name in ("fleiss_kappa", "krippendorff_alpha", "gwet_ac1"):
        assert f"{head[name]:.2f}" in texts, name
        assert f"{head[f'{name}_low']:.2f} – {head[f'{name}_high']:.2f}" in texts, name
        assert head[f"{name}_reading"] in texts
    assert f"{len(contested)} of {len(review.items)} items contested" in text
    for item in contested["item_id"]:
        assert item in texts, item
    # Every rater's label of each contested item, as "label (n): raters".
    for labels in contested["labels"]:
        for pair in labels.split("; "):
            rater, _, label = pair.partition(": ")
            assert rater in text and label in text
    for line in NOTES.splitlines():
        assert line in texts  # as typed: no markup, no formula, no link
    # Links: exactly the contested items', from the template, and nothing from the notes.
    assert sorted(links) == sorted(item_link(TEMPLATE, i) for i in contested["item_id"])
    assert not any("evil" in link for link in links)
    assert any(t.startswith("Contested items") for t in titles)
    assert titles[-1].startswith("This meeting: notes and agreed actions")

    # The same pack as JSON: the review's numbers, every rater's label.
    code, out, err = cli("meeting", "--db", export_db, "--config", config_file, "--session",
                         SESSION, "--vendor", VENDOR, "--out", "-", "--quiet")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    for name in ("accuracy", "fleiss_kappa", "fleiss_kappa_low", "gwet_ac1_high"):
        assert doc["agreement"][name] == pytest.approx(float(head[name]))
    assert [c["item_id"] for c in doc["contested"]] == list(contested["item_id"])
    for c, labels in zip(doc["contested"], contested["labels"], strict=True):
        assert "; ".join(f"{r['rater_id']}: {r['label']}" for r in c["rater_labels"]) == labels
        assert c["item_url"] == item_link(TEMPLATE, c["item_id"])
    assert doc["rationale"] and "no rationale" in doc["rationale"]


@pytest.fixture
def with_actions(export_db: Path) -> Iterator[Path]:
    """The export database with actions about meridian: from last week's session, since, and
    one agreed at this meeting."""
    hs = {"vendor": VENDOR, "workflow": "hate_speech"}
    actions.add(export_db, date=dt.date(2026, 11, 10), kind="policy_clarification", segment=hs,
                note="Clarified HS2: dehumanising comparisons count as HS2, with examples.",
                owner="ana", source="calibration:cal-2026-W46-hate_speech")  # fmt: skip
    actions.add(export_db, date=dt.date(2026, 11, 13), kind="retraining",
                segment={"vendor": VENDOR, "workflow": "graphic_violence"},
                note="Retraining of the Bogotá team on GV2.", owner="bo")  # fmt: skip
    actions.add(export_db, date=dt.date(2026, 11, 17), kind="guideline_update", segment=hs,
                note="=cmd|' /C calc'!A0 update the HS2 examples", owner="ana",
                source=f"calibration:{SESSION}")  # fmt: skip
    yield export_db


def _render_pages(pdf: Path, slides: int) -> list[Path]:
    shutil.rmtree(PAGES, ignore_errors=True)
    PAGES.mkdir(parents=True)
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(PAGES / "page")], check=True,
                   timeout=300)  # fmt: skip
    images = sorted(PAGES.glob("page-*.png"))
    assert len(images) == slides
    for image in images:
        stat = ImageStat.Stat(Image.open(image).convert("L"))
        assert stat.stddev[0] > 10, f"{image.name} is blank"
    return images


def _text_fits(pdf: Path, slides: int) -> None:
    layout = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True,
                            text=True, check=True, timeout=300).stdout  # fmt: skip
    pages = PAGE.findall(layout)
    assert len(pages) == slides
    for number, (width, height, body) in enumerate(pages, 1):
        w, h = float(width), float(height)
        words = [(float(a), float(b), float(c), float(d), t) for a, b, c, d, t in
                 WORD.findall(body)]  # fmt: skip
        assert words, f"page {number} has no text"
        footer = [x for x in words if x[1] > 0.92 * h]
        rest = [x for x in words if x[1] <= 0.92 * h]
        assert footer and footer[0][4] == "bpo-kpi", f"page {number}: no footer"
        top_of_footer = min(x[1] for x in footer)
        for x0, y0, x1, y1, text in words:
            assert x0 >= 0 and x1 <= w and y0 >= 0 and y1 <= h, f"page {number}: {text!r} off"
        for _, _, _, y1, text in rest:
            assert y1 <= top_of_footer, f"page {number}: {text!r} runs into the footer"


def test_pdf_has_a_page_per_slide_and_the_text_fits(
    cli: Cli, with_actions: Path, config_file: Path, tmp_path: Path
) -> None:
    long_notes = "\n".join(
        f"{i}. Item discussed at length: the raters disagreed on whether the comparison is "
        "dehumanising; the golden answer stands, the guideline gets an example." for i in range(40)
    )  # fmt: skip
    common = ("meeting", "--db", with_actions, "--config", config_file, "--week", WEEK,
              "--vendor", VENDOR, "--notes", long_notes, "--quiet")  # fmt: skip
    deck, pdf = tmp_path / "pack.pptx", tmp_path / "pack.pdf"
    code, _, err = cli(*common, "--out", deck)
    assert code == 0, err
    code, _, err = cli(*common, "--out", pdf)
    assert code == 0, err
    assert pdf.read_bytes().startswith(b"%PDF")
    titles, texts, _ = texts_and_links(deck)
    slides = len(titles)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1)) == slides  # type: ignore[union-attr]
    # Long tables and notes go on as many slides as they need.
    assert any(re.fullmatch(r"Contested items \(1/\d+\)", t) for t in titles), titles
    assert any(re.fullmatch(r"This meeting: notes and agreed actions \(2/\d+\)", t)
               for t in titles), titles  # fmt: skip
    assert "Agreement by session" in titles
    text = "\n".join(texts)
    assert "Clarified HS2" in text and "Retraining of the Bogotá team" in text
    assert "=cmd|' /C calc'!A0 update the HS2 examples" in text  # agreed, as typed
    assert "39. Item discussed at length" in text
    _text_fits(pdf, slides)
    _render_pages(pdf, slides)


def test_pdf_without_libreoffice_says_what_to_do(
    cli: Cli, export_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "soffice", lambda: None)
    out = tmp_path / "pack.pdf"
    code, _, err = cli("meeting", "--db", export_db, "--session", SESSION, "--vendor", VENDOR,
                       "--out", out, "--quiet", "--bootstrap", "20")  # fmt: skip
    assert code == 1
    assert err.startswith("error: PDF needs LibreOffice") and "choose PPTX" in err
    assert not out.exists()


def test_a_vendor_roles_pack_names_no_other_vendor(
    cli: Cli, with_actions: Path, config_file: Path, tmp_path: Path
) -> None:
    role = ("--role", f"{VENDOR}_liaison")
    base = ("meeting", "--db", with_actions, "--config", config_file, "--week", WEEK,
            "--vendor", VENDOR, *role, "--quiet", "--bootstrap", "50")  # fmt: skip
    deck = tmp_path / "pack.pptx"
    code, _, err = cli(*base, "--out", deck)
    assert code == 0, err
    _, texts, _ = texts_and_links(deck)
    code, out, err = cli(*base, "--out", "-")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["role"] == f"{VENDOR}_liaison"
    assert {r["vendor"] for c in doc["contested"] for r in c["rater_labels"]} == {VENDOR}
    with Gateway(with_actions, config=load_config(config_file)) as gw:
        every = cal.ratings(gw, session_ids=[s["session_id"] for s in doc["sessions"]])
    others = every[every["vendor"].isin(OTHERS)]
    assert len(others) > 0
    for blob in ("\n".join(texts), out):
        for name in OTHERS:
            assert name not in blob, name
        for rater in set(others["rater_id"]):
            assert rater not in blob, rater
    # Another vendor's meeting is not this role's to make.
    code, _, err = cli("meeting", "--db", with_actions, "--config", config_file, "--week", WEEK,
                       "--vendor", "northwind", *role, "--out", tmp_path / "x.pptx")  # fmt: skip
    assert code == 1 and "northwind" in err
