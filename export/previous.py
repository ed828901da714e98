"""Earlier snapshots, read back for `--compare-to`, and the snapshots archive.

A previous snapshot is any export that holds the tables as data: a JSON export, or a CSV or
Parquet export (folder or `.zip`). An *archive* is a folder where `bpo-kpi export --archive
DIR` keeps every snapshot it wrote as JSON (`<period>_<content hash>.json`); comparing with an
archive takes the newest snapshot there of the same period, scope and filters (one with other
numbers: an identical one restates nothing)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from export.tables import json_bytes
from kpi.snapshot import TABLES, Snapshot, table_records

Tables = dict[str, list[dict[str, Any]]]


class PreviousSnapshot:
    def __init__(self, source: str, manifest: dict[str, Any], tables: Tables) -> None:
        self.source, self.manifest, self.tables = source, manifest, tables


def load(path: Path, like: Snapshot | None = None) -> PreviousSnapshot:
    """The snapshot at `path` (a JSON export, a CSV/Parquet folder or zip, or an archive
    folder, from which the newest snapshot like `like` is taken)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--compare-to {path}: no such file or folder")
    if path.is_dir() and not (path / "manifest.json").exists():
        return _from_archive(path, like)
    if path.is_dir():
        return _from_files(str(path), {p.name: p.read_bytes() for p in path.iterdir()})
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                files = {n: archive.read(n) for n in archive.namelist()}
        except zipfile.BadZipFile as exc:
            raise ValueError(f"--compare-to {path}: not a readable zip ({exc})") from None
        return _from_files(str(path), files)
    return _from_json(str(path), path.read_bytes())


def _from_json(source: str, data: bytes) -> PreviousSnapshot:
    try:
        doc = json.loads(data.decode("utf-8"))
        manifest, tables = doc["manifest"], doc["tables"]
        return PreviousSnapshot(source, manifest, {name: t["rows"] for name, t in tables.items()})
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(
            f"--compare-to {source}: not a bpo-kpi JSON snapshot ({type(exc).__name__}: {exc}); "
            "give a JSON, CSV or Parquet export of `bpo-kpi export`, or an --archive folder"
        ) from None


def _from_files(source: str, files: dict[str, bytes]) -> PreviousSnapshot:
    if "manifest.json" not in files:
        raise ValueError(f"--compare-to {source}: no manifest.json, not a bpo-kpi export")
    manifest = json.loads(files["manifest.json"].decode("utf-8"))
    tables: Tables = {}
    for name in TABLES:
        if f"{name}.parquet" in files:
            frame = pd.read_parquet(io.BytesIO(files[f"{name}.parquet"]))
        elif f"{name}.csv" in files:
            frame = pd.read_csv(io.BytesIO(files[f"{name}.csv"]), keep_default_na=False,
                                na_values=[""])  # fmt: skip
        else:
            continue
        tables[name] = table_records(frame)
    return PreviousSnapshot(source, manifest, tables)


def _same_view(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["period"]["label"] == b["period"]["label"] and a["scope"] == b["scope"]


def _from_archive(folder: Path, like: Snapshot | None) -> PreviousSnapshot:
    found: list[tuple[str, Path, PreviousSnapshot]] = []
    for path in sorted(folder.glob("*.json")):
        try:
            snap = _from_json(str(path), path.read_bytes())
        except ValueError:
            continue  # not a snapshot: skipped
        if like is not None and not _same_view(snap.manifest, like.manifest):
            continue
        if like is not None and snap.manifest.get("content_hash") == like.content_hash:
            continue
        found.append((str(snap.manifest.get("archived_at", "")), path, snap))
    if not found:
        raise ValueError(
            f"--compare-to {folder}: the archive holds no earlier snapshot of this period, "
            "scope and filters"
        )
    return max(found, key=lambda item: (item[0], item[1].name))[2]


def archive(snapshot: Snapshot, folder: Path) -> Path:
    """Keep `snapshot` in the archive `folder` (as its JSON export, stamped with when it was
    archived); the same content is kept once."""
    folder.mkdir(parents=True, exist_ok=True)
    label = "".join(c if c.isalnum() or c in "-_." else "_" for c in snapshot.period.label)
    path = folder / f"{label}_{snapshot.content_hash[:16]}.json"
    if not path.exists():
        doc = json.loads(json_bytes(snapshot))
        doc["manifest"]["archived_at"] = snapshot.generated_at.isoformat()
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
