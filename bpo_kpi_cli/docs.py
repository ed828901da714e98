"""Generated README sections: the configuration reference and the KPI catalog.

`python -m bpo_kpi_cli.docs` rewrites them in README.md; a test fails when they are stale.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from bpo_kpi.config import config_reference
from kpi.catalog import KPIS

README = Path(__file__).resolve().parent.parent / "README.md"


def kpi_reference() -> str:
    lines = [
        "| KPI | label | unit | better | definition | target key |",
        "|---|---|---|---|---|---|",
    ]
    for k in KPIS.values():
        better = {"higher": "higher", "lower": "lower", "neutral": ""}[k.direction]
        interval = f" Output also has `_low` / `_high` ({k.interval_method})." if k.interval else ""
        lines.append(
            f"| `{k.name}` | {k.label} | {k.unit} | {better} | {k.definition}{interval} | "
            f"{'`' + k.target + '`' if k.target else ''} |"
        )
    return "\n".join(lines)


SECTIONS = {"config": config_reference, "kpis": kpi_reference}


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(
            rf"(<!-- BEGIN GENERATED {name} -->\n).*?(<!-- END GENERATED {name} -->)", re.S
        )

        def replace(m: re.Match[str], make: Callable[[], str] = make) -> str:
            return m.group(1) + make() + "\n" + m.group(2)

        text = pattern.sub(replace, text)
    return text


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if new != text:
        README.write_text(new, encoding="utf-8")
        print("README.md updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
