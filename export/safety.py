"""Text from outside (comments, ids, vendor words, file names) made safe for the places an export
puts it.

- **Spreadsheets** run a cell that starts with `=`, `+`, `-`, `@` (and, in some, a tab or a
  carriage return) as a formula: `=HYPERLINK(...)` in a comment becomes a clickable link,
  `=cmd|...` worse. Such a *text* cell is neutralised the way OWASP recommends, with a leading
  apostrophe in CSV, and as an explicit text cell with Excel's quote prefix in XLSX (shown as
  written, never run). Numbers are never touched: a number column stays numbers.
- **XML** (XLSX, PPTX) cannot hold most control characters; they are replaced by U+FFFD rather
  than failing the export.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


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
