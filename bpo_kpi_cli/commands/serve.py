"""`serve` (the Streamlit dashboard on a database) and `demo` (sample data, ingested, served).

The demo's data end yesterday in the reporting time zone (`--end` chooses another day), the
vendor samples moved to end then too, so the Overview opens on a whole, ordinary day.

Launching Streamlit is the shell's work: it runs the main script shipped in the package
(`app_pages/streamlit_app/app.py`, with the dashboard's Streamlit settings beside it), so a
regular install serves as a clone does, from whatever folder it is started in.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from app_pages.streamlit_app import SCRIPT as APP
from bpo_kpi.access import ALLOW_NO_SIGN_IN_ENV, ROLE_ENV
from bpo_kpi.config import ADMIN_ROLE, CONFIG_ENV, load_config
from bpo_kpi.db import DB_ENV, connect, default_db_path
from bpo_kpi.keys import pseudonym_key
from bpo_kpi_cli.output import EXIT_OK, command, progress
from sample_data import generate, load_canonical, load_raw_samples


@command
def cmd_demo(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    db = args.db or default_db_path()
    report = progress(False)
    con = connect(db)
    try:
        existing = con.execute("SELECT count(*) FROM decisions").fetchone()[0]  # type: ignore[index]
        if existing and not args.force:
            report(f"{db} already holds {existing:,} decisions; serving it (--force regenerates)")
        else:
            end = args.end or yesterday(config.reporting_timezone)
            report(
                f"generating {args.decisions:,} decisions, {args.weeks} weeks to {end}, "
                f"seed {args.seed}"
            )
            data = generate(seed=args.seed, decisions=args.decisions, weeks=args.weeks, end=end)
            load_canonical(data, args.data_dir, con, config=config, progress=report)
            # The vendor samples move to the same last day (their files' copies go here).
            samples = Path(args.data_dir) / "vendor_samples"
            load_raw_samples(con, config=config, progress=report, end=end, work_dir=samples)
            report(f"database ready: {db}")
    finally:
        con.close()
    if args.no_serve:
        return EXIT_OK
    return serve(Path(db), args.config, args.port)


def yesterday(timezone: str) -> dt.date:
    """The last complete day in `timezone` (the demo's data end there by default, so the
    Overview's monitored day is a whole day of data)."""
    return dt.datetime.now(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


@command
def cmd_serve(args: argparse.Namespace) -> int:
    db = args.db or default_db_path()
    if not Path(db).exists():
        print(f"note: {db} does not exist yet; the dashboard explains how to load data")
    return serve(
        Path(db), args.config, args.port, role=args.role, address=args.address,
        secrets=args.secrets, allow_no_sign_in=args.allow_no_sign_in,
    )  # fmt: skip


LOOPBACK = ("localhost", "127.0.0.1", "::1")


def secrets_files(secrets: Path | None) -> list[Path]:
    """The secrets files Streamlit will read: `secrets` if given, else its defaults (the
    user's `~/.streamlit/secrets.toml`, then the working directory's)."""
    if secrets is not None:
        return [secrets]
    return [Path.home() / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml"]


def sign_in_configured(files: Sequence[Path]) -> bool:
    """Whether any of `files` has an `[auth]` section (Streamlit's OIDC sign-in)."""
    import tomllib

    for file in files:
        try:
            if "auth" in tomllib.loads(file.read_text(encoding="utf-8")):
                return True
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{file}: not a readable secrets file ({exc})") from exc
    return False


def serve(
    db: Path,
    config: Path | None,
    port: int,
    role: str | None = None,
    *,
    address: str = "localhost",
    secrets: Path | None = None,
    allow_no_sign_in: bool = False,
) -> int:
    """Run the dashboard on `db` until it stops; returns Streamlit's exit code.

    Sign-in is on when the secrets Streamlit reads have an `[auth]` section; without it the
    dashboard is single-user (`role` for everyone) and serves a loopback `address` only,
    unless `allow_no_sign_in` (then with a warning)."""
    env = {**os.environ, DB_ENV: str(db.resolve())}
    # A bad file or an unknown role fails here, with the field named, not in the browser.
    loaded = load_config(config)
    if config:
        env[CONFIG_ENV] = str(Path(config).resolve())
    if role and role not in loaded.roles:
        raise ValueError(f"unknown role {role!r}; configured roles: {', '.join(loaded.roles)}")
    if secrets is not None and not Path(secrets).is_file():
        raise ValueError(f"secrets file {secrets} does not exist")
    flags = ["--server.address", address]
    if secrets is not None:
        flags += ["--secrets.files", str(Path(secrets).resolve())]
    signed_in = sign_in_configured(secrets_files(secrets))
    where = f"http://{'localhost' if address in LOOPBACK else address}:{port}"
    if signed_in:
        if role:
            raise ValueError(
                "--role is for single-user mode; with sign-in each viewer's role comes from "
                "the configuration's [auth] rules"
            )
        if not loaded.auth.rules:
            print("warning: sign-in is configured but the configuration has no [auth] rules: "
                  "every viewer will see 'No access'", file=sys.stderr)  # fmt: skip
        # Restricted roles need the pseudonym key: made (or its absence reported) now.
        if any(loaded.roles[r.role].restricted for r in loaded.auth.rules):
            pseudonym_key(loaded, restricted=True)
        print(f"starting the dashboard with sign-in on {where}", flush=True)
    else:
        role = role or ADMIN_ROLE
        if loaded.roles[role].restricted:
            pseudonym_key(loaded, restricted=True)
        env[ROLE_ENV] = role
        if address not in LOOPBACK:
            if not allow_no_sign_in:
                raise ValueError(
                    f"no sign-in is configured, so the dashboard serves this computer only; "
                    f"to serve {address}, configure sign-in (an [auth] section in "
                    "~/.streamlit/secrets.toml or --secrets FILE, and [auth] rules in the "
                    "configuration) or add --allow-no-sign-in"
                )
            print(f"warning: serving {address} without sign-in: everyone who can reach port "
                  f"{port} sees the data of role '{role}'", file=sys.stderr)  # fmt: skip
            env[ALLOW_NO_SIGN_IN_ENV] = "1"
        print(f"starting the dashboard in single-user mode (no sign-in, role '{role}') on "
              f"{where}", flush=True)  # fmt: skip
    return run_streamlit(streamlit_command(APP, port, flags), env)


def run_streamlit(command: list[str], env: dict[str, str]) -> int:
    """Run Streamlit in place of this process (POSIX), so a stop signal (Ctrl-C, `docker
    stop`, a test's terminate) reaches the server itself and leaves nothing behind; elsewhere
    as a child whose exit code is returned."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(command[0], command, env)
    return subprocess.call(command, env=env)


def streamlit_command(app: Path, port: int, extra_flags: Sequence[str] = ()) -> list[str]:
    """The command that serves the Streamlit script `app` on `port`, with `extra_flags`
    (Streamlit options such as `--server.address`, which override its config files).

    It runs in the caller's working directory, whose `.streamlit/` (settings, secrets.toml)
    Streamlit reads; the `.streamlit/config.toml` beside `app` is read over it."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
        *extra_flags,
    ]  # fmt: skip
