"""The deck rendered as a reader sees it: LibreOffice turns it into a PDF, pdftoppm into page
images (kept in tests/export/deck_pages/ to look at), and pdftotext's word boxes show that every
text stays on its slide and clear of the footer (text fits its boxes)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from export_testkit import PERIOD
from PIL import Image, ImageStat
from pptx import Presentation

PAGES = Path(__file__).resolve().parent / "deck_pages"
Cli = Callable[..., tuple[int, str, str]]
WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)
PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)


def _render(deck: Path, out: Path) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is needed (.ci/run installs libreoffice-impress)"
    run = subprocess.run(
        [soffice, "--headless", f"-env:UserInstallation=file://{out}/lo-profile",
         "--convert-to", "pdf", "--outdir", str(out), str(deck)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    pdf = out / (deck.stem + ".pdf")
    assert pdf.exists(), run.stdout + run.stderr
    return pdf


def _check_pages(pdf: Path, slides: int, name: str) -> None:
    target = PAGES / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(target / "page")], check=True,
                   timeout=300)  # fmt: skip
    images = sorted(target.glob("page-*.png"))
    assert len(images) == slides
    for image in images:
        stat = ImageStat.Stat(Image.open(image).convert("L"))
        assert stat.stddev[0] > 10, f"{image.name} is blank"
    layout = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True,
                            text=True, check=True, timeout=300).stdout  # fmt: skip
    pages = PAGE.findall(layout)
    assert len(pages) == slides
    for number, (width, height, body) in enumerate(pages, 1):
        w, h = float(width), float(height)
        words = [
            (float(a), float(b), float(c), float(d), t) for a, b, c, d, t in WORD.findall(body)
        ]
        assert words, f"page {number} has no text"
        footer = [x for x in words if x[1] > 0.92 * h]
        rest = [x for x in words if x[1] <= 0.92 * h]
        assert footer and footer[0][4] == "bpo-kpi", f"page {number}: no lineage footer"
        top_of_footer = min(x[1] for x in footer)
        for x0, y0, x1, y1, text in words:
            assert x0 >= 0 and x1 <= w and y0 >= 0 and y1 <= h, f"page {number}: {text!r} off"
        for _, _, _, y1, text in rest:
            assert y1 <= top_of_footer, f"page {number}: {text!r} runs into the footer"


def test_deck_renders_and_text_fits(cli: Cli, export_db: Path, tmp_path: Path) -> None:
    for name, extra in (("full", ()), ("vendor_qbr", ("--vendor", "meridian"))):
        deck = tmp_path / f"{name}.pptx"
        code, _, err = cli("export", "--db", export_db, "--period", PERIOD, "--format", "pptx",
                           "--out", deck, "--quiet", *extra)  # fmt: skip
        assert code == 0, err
        slides = len(Presentation(str(deck)).slides)
        assert slides >= 10
        _check_pages(_render(deck, tmp_path), slides, name)
