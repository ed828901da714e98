"""A changed configuration takes effect at the next page run or CLI call: targets at once; SLA
minutes, error types and severity rules (stored with the data at ingest) after `bpo-kpi
recompute`, with the pending recompute said on the dashboard and the CLI until then."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bpo_kpi_cli.main import main

QUALITY_PAGE = "app_pages/quality.py"


def _cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def _write(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    # A later modification time even on a coarse clock: the dashboard keys on it.
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_a_new_target_shows_at_the_next_page_run(
    sample_db: Path, run_page: Callable[..., AppTest], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    config = tmp_path / "team.toml"
    _write(config, "[targets.default]\nquality = 0.90\n")
    monkeypatch.setenv("BPO_KPI_CONFIG", str(config))
    at = run_page(QUALITY_PAGE)
    assert not at.exception
    assert any("(90.0%)" in m.value for m in at.markdown)
    _write(config, "[targets.default]\nquality = 0.99\n")
    at.run()
    assert not at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert "(99.0%)" in text and "(90.0%)" not in text
    assert not at.warning  # targets need no recompute


def test_a_changed_sla_waits_for_recompute_and_says_so(
    sample_db: Path, run_page: Callable[..., AppTest], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    config = tmp_path / "team.toml"
    _write(config, "[targets.default]\nsla_minutes = { p2 = 600 }\n")
    monkeypatch.setenv("BPO_KPI_CONFIG", str(config))
    args = ["--db", sample_db, "--config", config]
    code, before, err = _cli("kpis", *args, "--kpis", "sla_attainment", "--format", "csv")
    assert code == 0 and "bpo-kpi recompute" in err
    at = run_page(QUALITY_PAGE)
    assert any("bpo-kpi recompute" in w.value for w in at.warning)

    code, out, _ = _cli("recompute", *args)
    assert code == 0 and "derived again" in out
    code, after, err = _cli("kpis", *args, "--kpis", "sla_attainment", "--format", "csv")
    assert code == 0 and "recompute" not in err
    # p2 items now have 10 h instead of 24 h: fewer of them meet the SLA.
    assert float(after.splitlines()[1].split(",")[0]) < float(before.splitlines()[1].split(",")[0])
    code, out, _ = _cli("recompute", *args)
    assert code == 0 and "already match" in out
    at = run_page(QUALITY_PAGE)
    assert not any("recompute" in w.value for w in at.warning)
