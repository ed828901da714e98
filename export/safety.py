"""Text from outside (comments, ids, vendor words, file names) made safe for the places an export
puts it.

- **Spreadsheets** run a cell that starts with `=`, `+`, `-`, `@` (and, in some, a tab or a
  carriage return) as a formula: `=HYPERLINK(...)` in a comment becomes a clickable link,
  `=cmd|...` worse. Such a *text* cell is neutralised the way OWASP recommends, with a leading
  apostrophe in CSV, and as an explicit text cell with Excel's quote prefix in XLSX (shown as
  written, never run). Numbers are never touched: a number column stays numbers.
- **XML** (XLSX, PPTX) cannot hold most control characters; they are replaced by U+FFFD rather
  than failing the export.
- **Markdown** (a chat message that renders it) turns `**x**`, `[text](url)`, `![p](url)`, a
  bare `https://…` or a leading `# ` into markup: `markdown_text` escapes every ASCII
  punctuation character with a backslash (CommonMark allows that for each of them, and shows
  the character itself) and makes line breaks spaces, so the text arrives as typed.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def csv_text(value: Any) -> Any:
    """A CSV cell: text that a spreadsheet would run gets a leading apostrophe."""
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value


def xml_text(text: str) -> str:
    """Text an XML document can hold: control characters become U+FFFD."""
    return _XML_ILLEGAL.sub("\ufffd", text)


def markdown_text(text: str) -> str:
    """`text` as literal text inside Markdown: every ASCII punctuation character escaped with a
    backslash (no emphasis, link, image, autolink, code, HTML, heading, list or table can
    start), line breaks as one space (no new block)."""
    return _ASCII_PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", text))
