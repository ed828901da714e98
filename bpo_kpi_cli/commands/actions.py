"""`bpo-kpi actions`: record actions taken on a segment (add, import, close), list them, and
measure their effect (`kpi.actions`, `kpi.effect`).

add, import, list and close read and write only the state file beside the database
(`bpo_kpi.state`): they never open the DuckDB file, so they work while an ingest holds it. The
role's scope comes from the configuration alone. `effect` reads the data through the gateway
(a replica while an ingest writes) or Spark.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from bpo_kpi.config import Config, load_config
from bpo_kpi.db import default_db_path
from bpo_kpi.state import state_path
from bpo_kpi_cli.commands.read import engine
from bpo_kpi_cli.output import EXIT_OK, UsageError, command, emit
from kpi import actions
from kpi.columns import object_array
from kpi.query import Scope

if TYPE_CHECKING:
    from kpi import effect  # imported by `actions effect` (statsmodels): `list` needs none

LIST_COLUMNS = ["id", "date", "kind", "segment", "note", "owner", "source", "status",
                "created_at", "closed_at"]  # fmt: skip


def _db(args: argparse.Namespace) -> Path:
    return Path(args.db or default_db_path())


def _scope(args: argparse.Namespace, config: Config) -> Scope:
    return Scope.for_role(config, args.role)


def _record(action: actions.Action) -> dict[str, object]:
    return {
        "id": action.id,
        "date": action.date.isoformat(),
        "kind": action.kind,
        "segment": actions.segment_text(action.segment),
        "note": action.note,
        "owner": action.owner,
        "source": action.source,
        "status": "open" if action.is_open else "closed",
        "created_at": action.created_at.isoformat(),
        "closed_at": action.closed_at.isoformat() if action.closed_at else None,
    }


def _writable(db: Path) -> None:
    """Actions are kept beside an existing database (as alert state is)."""
    if not db.is_file() and not state_path(db).is_file():
        raise FileNotFoundError(f"database {db} does not exist (actions are kept beside it)")


@command
def cmd_actions(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    db = _db(args)
    if args.action == "add":
        _writable(db)
        added = actions.add(
            db,
            date=args.date,
            kind=args.kind,
            segment=args.segment,
            note=args.note,
            owner=args.owner,
            source=args.source,
            engine=_scope(args, config),
            config=config,
            by=args.owner,
        )
        print(json.dumps({"id": added.id}) if args.fmt == "json" else added.id)
    elif args.action == "import":
        _writable(db)
        done = actions.import_csv(db, args.file, engine=_scope(args, config), config=config)
        if args.fmt == "json":
            print(json.dumps({"ids": [a.id for a in done]}))
        else:
            print(f"imported {len(done):,} actions from {args.file} "
                  f"(ids {done[0].id}-{done[-1].id})")  # fmt: skip
    elif args.action == "list":
        found = actions.load(_scope(args, config), db, include_closed=not args.open)
        rows = [_record(a) for a in found]
        if args.fmt == "json":
            print(json.dumps(rows, indent=2, ensure_ascii=False))
        else:
            table = {c: object_array([r[c] for r in rows]) for c in LIST_COLUMNS}
            if args.fmt == "table":  # one line per action, empty cells blank
                table = {
                    c: object_array(["" if v is None else _one_line(v) for v in values])
                    for c, values in table.items()
                }
            emit(table, args.fmt)
    elif args.action == "close":
        actions.get(_scope(args, config), db, args.id)  # the role must see it
        closed = actions.close(db, args.id, by=args.by)
        if args.fmt == "json":
            print(json.dumps(_record(closed), indent=2, ensure_ascii=False))
        else:
            print(f"closed action {closed.id} ({closed.closed_at:%Y-%m-%d %H:%M} UTC)")
    elif args.action == "effect":
        from kpi import effect

        with engine(args, config) as gw:
            action = actions.get(gw, db, args.id)
            result = effect.action_effect(
                gw,
                action,
                kpi=args.kpi,
                days=args.days,
                as_of=args.as_of,
                actions=actions.load(gw, db),
            )
        if args.fmt == "json":
            print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        else:
            _print_effect(result)
    else:  # pragma: no cover - argparse allows only the above
        raise UsageError(f"unknown actions command {args.action!r}")
    return EXIT_OK


def _one_line(value: object) -> object:
    return re.sub(r"\s+", " ", value) if isinstance(value, str) else value


def _print_effect(result: effect.Effect) -> None:
    record = result.as_dict()
    note = record.pop("note")
    record["peers"] = "; ".join(actions.segment_text(p) for p in result.peers) or None
    record["segment"] = actions.segment_text(result.segment)
    width = max(len(k) for k in record)
    for key, value in record.items():
        shown = "" if value is None else f"{value:.4f}" if isinstance(value, float) else value
        print(f"{key:<{width}}  {shown}")
    print()
    print(note)
