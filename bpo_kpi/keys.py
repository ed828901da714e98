"""The pseudonym key: the secret mixed into reviewer pseudonyms for restricted roles.

A restricted role (a vendor, workflow or market scope, or no reviewer access; see
`Role.restricted`) sees reviewers as `r-` plus 8 hex digits of `md5(key || id)`. Without a
secret key anyone who can guess ids (a vendor knows its own reviewers') could hash them and
decode every pseudonym, so such a role does not start without one. Where the key comes from,
first found wins:

1. the `BPO_KPI_PSEUDONYM_KEY` environment variable;
2. the configuration's `pseudonym_key` (kept out of shared files, preferably);
3. the key file: `BPO_KPI_PSEUDONYM_KEY_FILE`, else the configuration's `pseudonym_key_file`,
   else `~/.config/bpo-kpi/pseudonym.key` (`$XDG_CONFIG_HOME` if set). When it does not exist
   and a restricted role needs a key, it is created with 32 random bytes (hex), readable by
   its owner only, and the creation is said on stderr once; when it cannot be created, the
   error says where the key can be given instead.

The key must stay the same for as long as pseudonyms are to stay the same (the dashboard, the
CLI and exports of one team must all read the same one): on a team server keep the file on
the persistent volume (the Docker image sets `BPO_KPI_PSEUDONYM_KEY_FILE=/data/pseudonym.key`).
Unrestricted roles see real ids and never need it.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from bpo_kpi.config import Config, ConfigError

KEY_ENV = "BPO_KPI_PSEUDONYM_KEY"
KEY_FILE_ENV = "BPO_KPI_PSEUDONYM_KEY_FILE"
MIN_KEY_CHARS = 16


class MissingKey(ConfigError):
    """A restricted role needs a pseudonym key and none could be found or created."""


def key_file(config: Config) -> Path:
    """Where the key file is (whether or not it exists)."""
    named = os.environ.get(KEY_FILE_ENV) or config.pseudonym_key_file
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "bpo-kpi" / "pseudonym.key"


def _how_to_set(path: Path) -> str:
    return (
        f"set {KEY_ENV} (at least {MIN_KEY_CHARS} characters, e.g. from `python -c "
        f"'import secrets; print(secrets.token_hex(32))'`), or {KEY_FILE_ENV} / "
        f"`pseudonym_key_file` to a writable place (tried {path})"
    )


def pseudonym_key(config: Config, restricted: bool) -> str:
    """The pseudonym key for a role (`restricted`: see `Role.restricted`); "" for an
    unrestricted role without a key (it never uses one). Raises `MissingKey` when a restricted
    role has none and none can be created."""
    given = os.environ.get(KEY_ENV) or config.pseudonym_key
    if given:
        if restricted and len(given) < MIN_KEY_CHARS:
            raise MissingKey(
                f"the pseudonym key is {len(given)} characters long; a restricted role needs "
                f"at least {MIN_KEY_CHARS} (a short key can be guessed)"
            )
        return given
    path = key_file(config)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        if not restricted:
            return ""
        raise MissingKey(f"cannot read the pseudonym key file {path}: {exc}; "
                         + _how_to_set(path)) from exc  # fmt: skip
    if text:
        if restricted and len(text) < MIN_KEY_CHARS:
            raise MissingKey(f"{path} holds a key of {len(text)} characters; at least "
                             f"{MIN_KEY_CHARS} are needed")  # fmt: skip
        return text
    if not restricted:
        return ""
    return _create(path)


def _create(path: Path) -> str:
    key = secrets.token_hex(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it meanwhile (or left it empty)
        text = path.read_text(encoding="utf-8").strip()
        if len(text) < MIN_KEY_CHARS:
            raise MissingKey(f"{path} holds no usable key; delete it or "
                             + _how_to_set(path)) from None  # fmt: skip
        return text
    except OSError as exc:
        raise MissingKey(
            f"a restricted role needs a pseudonym key and none is set: {_how_to_set(path)} "
            f"({exc.strerror or exc})"
        ) from exc
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    print(
        f"note: created the pseudonym key {path} (readable by you only); keep it, and use the "
        "same one wherever pseudonyms must match",
        file=sys.stderr,
    )
    return key
