"""Text from outside (a file, the database or the URL: vendor, site, market, workflow and policy
values, ids, comments, file names, drill paths, error messages that quote them) made inert for
the two renderers of the dashboard that read markup in text.

- **Streamlit Markdown** (`md`): `st.markdown`, `st.caption`, `st.info` / `warning` / `error` /
  `success`, and the labels of metrics, buttons, expanders, tabs, radio options and every other
  widget. Streamlit has no helper of its own for this. GitHub-flavoured Markdown makes
  `**x**`, `[text](url)`, `![p](url)` (the browser fetches it), a bare `https://…` and
  `<…>` markup; Streamlit adds `:red[…]` colour directives, `$…$` LaTeX, `:material/icon:`,
  `:emoji:` and `:streamlit:`. Every ASCII punctuation character is escaped with a backslash
  (`export.safety.markdown_text`), which defeats all that is parsed from the source. Icons and
  emoji are found later, in the parsed text (where the backslashes are gone), so each colon
  is also followed by a zero-width word joiner (U+2060): `:name:` never forms again. The
  same joiner after `@` and inside `www.` stops GitHub's autolinks of e-mail addresses and
  `www.` names, which the renderer makes even from escaped text.
  Line breaks become spaces (a value cannot start a heading, list or quote of its own).
- **plotly** (`plot_text`): titles, axis and tick labels, legend entries, hover labels, annotations
  and text on marks read a subset of HTML (`<a href>` is a clickable link, `<br>`, `<b>`...).
  `&`, `<` and `>` become entities, which plotly shows as the characters.

Only the data part of a text is escaped; the markup around it is ours:
`st.markdown(f"**{md(vendor)}** · {n} decisions")`; `code_span` shows a value as code.
"""

from __future__ import annotations

import html
import re

from export.safety import markdown_text

WORD_JOINER = "\u2060"
_BACKTICKS = re.compile(r"`+")


_WWW = re.compile(r"(?i)(w)(ww\\\.)")


def md(value: object) -> str:
    """`value` (None: empty) as literal text inside Streamlit Markdown or a widget label."""
    text = markdown_text("" if value is None else str(value))
    text = text.replace("\\:", "\\:" + WORD_JOINER)
    # GitHub-flavoured autolinks survive backslash escapes (checked in Chromium): an e-mail
    # address became a mailto link and `www.x.com` a link to it. A word joiner after `@` and
    # inside `www.` keeps them text.
    text = text.replace("\\@", "\\@" + WORD_JOINER)
    return _WWW.sub(lambda m: m.group(1) + WORD_JOINER + m.group(2), text)


def plot_text(value: object) -> str:
    """`value` (None: empty) as literal text in a plotly title, label, legend or hover text."""
    return html.escape("" if value is None else str(value), quote=False)


def code_span(value: object) -> str:
    """`value` as an inline code span (shown as typed, in a fixed-width font): fenced by more
    backticks than any run inside it, line breaks as spaces."""
    text = " ".join(str(value).splitlines())
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    return f"{fence} {text} {fence}"
