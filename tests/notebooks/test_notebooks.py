"""The analyst notebooks run headless against a freshly generated database and show the numbers
the data implies.

`notebooks/weekly_calibration.ipynb` is executed with nbclient (kernel python3) against
`generate(seed=42, decisions=30_000)` ingested into a temporary database named by `BPO_KPI_DB`;
its outputs are checked against pandas computations on the generated calibration frame.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest import ingest_files
from kpi.agreement import fleiss_kappa
from kpi.calibration import landis_koch
from sample_data import generate, load_canonical

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "weekly_calibration.ipynb"
CONFIG = Config()
PLOTLY = "application/vnd.plotly.v1+json"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    root = tmp_path_factory.mktemp("notebook_db")
    data = generate(seed=42, decisions=30_000)
    db = root / "bpo_kpi.duckdb"
    load_canonical(data, root / "files", db, config=CONFIG)
    return data.calibration_ratings, db


def execute(db: Path, parameters: str | None = None) -> nbformat.NotebookNode:
    """Run the notebook in a python3 kernel (cwd notebooks/, BPO_KPI_DB=db); `parameters` is
    code injected after the parameters cell, as papermill does."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    if parameters:
        at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(parameters))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BPO_KPI_DB", str(db))
        mp.delenv("BPO_KPI_CONFIG", raising=False)
        mp.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        client = NotebookClient(
            nb,
            kernel_name="python3",
            timeout=180,
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        )
        client.execute()
    return nb


def outputs(nb: nbformat.NotebookNode, cell_id: str) -> list[dict[str, Any]]:
    return next(c for c in nb.cells if c.get("id") == cell_id)["outputs"]


def text(nb: nbformat.NotebookNode, cell_id: str) -> str:
    """Printed text, plain-text results and markdown of a cell, joined."""
    parts = []
    for out in outputs(nb, cell_id):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] in ("execute_result", "display_data"):
            data = out["data"]
            parts.append(data.get("text/markdown") or data.get("text/plain", ""))
    return "\n".join(parts)


def line_with(block: str, *needles: str) -> str:
    hits = [ln for ln in block.splitlines() if all(n in ln for n in needles)]
    assert len(hits) == 1, (needles, block)
    return hits[0]


def iso_week(day: Any) -> str:
    year, week, _ = pd.Timestamp(day).isocalendar()
    return f"{year}-W{week:02d}"


def expected_items(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per item: majority (ties by label name), share, golden label/policy, contested."""
    gold = frame[frame["is_golden"]].set_index(["session_id", "item_id"])[["label", "policy"]]
    raters = frame[~frame["is_golden"]]
    counts = raters.groupby(["session_id", "item_id", "label"]).size().rename("n").reset_index()
    counts = counts.sort_values(["session_id", "item_id", "n", "label"], ascending=[1, 1, 0, 1])
    top = counts.drop_duplicates(["session_id", "item_id"]).set_index(["session_id", "item_id"])
    out = pd.DataFrame(
        {
            "majority": top["label"],
            "share": top["n"] / raters.groupby(["session_id", "item_id"]).size(),
        }
    ).join(gold.rename(columns={"label": "golden", "policy": "golden_policy"}))
    out["contested"] = (out["majority"] != out["golden"]) | (out["share"] < threshold)
    return out


@pytest.fixture(scope="module")
def week_run(database) -> tuple[pd.DataFrame, str, nbformat.NotebookNode]:
    """The default run (latest week, every workflow and vendor) and that week's ratings."""
    frame, db = database
    week = iso_week(frame["session_date"].max())
    in_week = frame[frame["session_date"].map(iso_week) == week]
    return in_week, week, execute(db)


def test_notebook_is_committed_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    source = "\n".join(c.source for c in code)
    assert "import duckdb" not in source and "SELECT" not in source  # kpi/ only, no SQL
    assert any(c.cell_type == "markdown" and "How to read this" in c.source for c in nb.cells)


def test_database_path_comes_from_the_environment(monkeypatch, tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    monkeypatch.delenv("BPO_KPI_DB", raising=False)
    scope: dict[str, Any] = {}
    exec(cell.source, scope)
    assert scope["DB_PATH"] == Path("bpo_kpi.duckdb")
    monkeypatch.setenv("BPO_KPI_DB", str(tmp_path / "x.duckdb"))
    exec(cell.source, scope)
    assert scope["DB_PATH"] == tmp_path / "x.duckdb"


def test_no_cell_errored(week_run):
    _, _, nb = week_run
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    errors = [o for c in code for o in c.outputs if o["output_type"] == "error"]
    assert not errors
    assert not any(o.get("name") == "stderr" for c in code for o in c.outputs)


def test_latest_week_and_summary(week_run):
    in_week, week, nb = week_run
    rated = in_week[~in_week["is_golden"]]
    sessions = sorted(rated["session_id"].unique())
    assert week == "2026-W47" and len(sessions) == 6
    assert (
        f"Week {week}: 6 sessions, {rated['item_id'].nunique()} items, "
        f"{rated['rater_id'].nunique()} raters, {len(rated)} ratings"
    ) in text(nb, "week")
    summary = text(nb, "summary")
    for session in sessions:
        part = rated[rated["session_id"] == session]
        long = pd.DataFrame(
            {"item": part["item_id"], "rater": part["rater_id"], "label": part["label"]}
        )
        kappa = fleiss_kappa(long)
        line = line_with(summary, session, " all ")
        assert f"{kappa:.3f} [" in line, (session, kappa, line)
        assert landis_koch(kappa) in line
    # Per-vendor rows follow each session's `all` row.
    vendors = rated.groupby("session_id")["vendor"].nunique().sum()
    assert sum(1 for ln in summary.splitlines() if "cal-" in ln) == len(sessions) + vendors


def test_contested_items(week_run):
    in_week, week, nb = week_run
    want = expected_items(in_week, CONFIG.contested_agreement)
    contested = want[want["contested"]]
    hs2 = want[want["golden_policy"] == "HS2_dehumanization"]
    assert len(hs2) == 3 and hs2["contested"].all()  # seed 42, week 2026-W47
    assert f"{len(contested)} of {len(want)} items contested in week {week}" in text(
        nb, "contested-policies"
    )
    policies = line_with(text(nb, "contested-policies"), "HS2_dehumanization")
    assert "hate_speech" in policies and "1.0" in policies
    table = text(nb, "contested")
    for _, item in contested.index:
        assert item in table
    assert table.count("HS2_dehumanization") == len(hs2)
    reading = text(nb, "reading")
    assert (
        f"**Policy clarification: `HS2_dehumanization` (hate_speech)**: {len(hs2)} of "
        f"{len(hs2)} items contested (100%)" in reading
    )
    assert "policy question, not a coaching one" in reading


def test_rater_accuracy_and_confusion(week_run):
    in_week, _, nb = week_run
    gold = in_week[in_week["is_golden"]][["session_id", "item_id", "label"]]
    judged = in_week[~in_week["is_golden"]].merge(
        gold, on=["session_id", "item_id"], suffixes=("", "_golden")
    )
    room = (judged["label"] == judged["label_golden"]).mean()
    assert f"pooled accuracy {room:.1%}" in text(nb, "raters")
    worst = judged.assign(ok=judged["label"] == judged["label_golden"]).groupby("rater_id")["ok"]
    assert worst.mean().idxmin() in text(nb, "raters")
    crosstab = pd.crosstab(judged["label_golden"], judged["label"])
    crosstab.index.name, crosstab.columns.name = "golden", "label"
    assert crosstab.to_string() in text(nb, "confusion")


def test_trend_figure(week_run, database):
    frame, _ = database
    _, week, nb = week_run
    figures = [o["data"][PLOTLY] for o in outputs(nb, "trend") if PLOTLY in o.get("data", {})]
    assert len(figures) == 1
    fig = figures[0]
    if isinstance(fig, str):
        fig = json.loads(fig)
    weeks = sorted(frame["session_date"].map(iso_week).unique())
    last8 = frame[frame["session_date"].map(iso_week).isin(weeks[-8:]) & ~frame["is_golden"]]
    workflows = sorted(last8["workflow"].unique())
    assert len(fig["data"]) == 2 * len(workflows)
    assert sorted({t["name"] for t in fig["data"]}) == workflows
    accuracy = [t for t in fig["data"] if t.get("showlegend")]
    assert sum(len(t["x"]) for t in accuracy) == last8["session_id"].nunique() == 48
    assert week in fig["layout"]["title"]["text"]
    assert "week-over-week" in [c.get("id") for c in nb.cells]
    assert "hate_speech" in text(nb, "week-over-week")


def test_vendor_and_workflow_filters(database):
    frame, db = database
    params = 'VENDOR = "meridian"\nWORKFLOW = "hate_speech"\nWEEK = "2026-W45"\nN_BOOT = 100\n'
    nb = execute(db, params + "TREND_BOOT = 20")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o["output_type"] == "error"]
    mine = frame[
        (frame["session_date"].map(iso_week) == "2026-W45")
        & (frame["workflow"] == "hate_speech")
        & (frame["vendor"] == "meridian")
    ]
    assert (
        f"Week 2026-W45: 1 session, {mine['item_id'].nunique()} items, "
        f"{mine['rater_id'].nunique()} raters, {len(mine)} ratings (vendor meridian)"
    ) in text(nb, "week")
    summary = text(nb, "summary")
    assert "meridian" not in summary  # one `all` row: the vendor's raters only
    long = pd.DataFrame(
        {"item": mine["item_id"], "rater": mine["rater_id"], "label": mine["label"]}
    )
    assert f"{fleiss_kappa(long):.3f} [" in line_with(summary, "cal-2026-W45-hate_speech")
    assert "only one vendor is shown" in text(nb, "reading")
