"""The data directory as the commands see it: who may create one, and one-line refusals.

Only ``serve``, ``init`` and ``demo seed`` may create a data directory (``open_or_create``);
every other command works on an existing one (``open_existing``) and refuses a missing
directory, or one without an issuer database, with one line (``CliError``): a mistyped
``--data-dir`` never becomes a new issuer with fresh keys and admin token.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mcp_auth.command_errors import CliError

from .app import DataDir, open_data_dir
from .settings import Settings

EXIT_DATA_DIR = 2


def _check_not_file(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise CliError(
            f"--data-dir {path} is a file, not a directory: give the issuer's data directory",
            EXIT_DATA_DIR,
        )


def require(settings: Settings) -> None:
    """``CliError`` unless the data directory exists and holds an issuer database."""
    path = settings.data_dir
    _check_not_file(path)
    if not path.is_dir():
        raise CliError(
            f"no issuer data directory at {path}: check --data-dir (or $MCP_AUTH_DATA_DIR), "
            f"or create one with `mcp-auth init --data-dir {path}`",
            EXIT_DATA_DIR,
        )
    if not settings.db_path.is_file():
        raise CliError(
            f"{path} holds no issuer database ({settings.db_path.name}): check --data-dir, "
            f"or create one with `mcp-auth init --data-dir {path}`",
            EXIT_DATA_DIR,
        )


def prepare(settings: Settings) -> None:
    """``CliError`` unless the data directory exists or can be created (it is created)."""
    path = settings.data_dir
    _check_not_file(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CliError(
            f"cannot create --data-dir {path}: a file is in the way of one of its parents",
            EXIT_DATA_DIR,
        ) from None
    except OSError as exc:
        raise CliError(
            f"cannot create --data-dir {path}: {exc.strerror or exc}; give a directory you "
            "can write to",
            EXIT_DATA_DIR,
        ) from None


def _open(settings: Settings) -> DataDir:
    try:
        return open_data_dir(settings)
    except sqlite3.Error as exc:
        raise CliError(
            f"cannot open the issuer database {settings.db_path}: {exc}; check --data-dir",
            EXIT_DATA_DIR,
        ) from None
    except RuntimeError as exc:  # a schema newer than this issuer
        raise CliError(f"{settings.db_path}: {exc}", EXIT_DATA_DIR) from None
    except OSError as exc:
        where = exc.filename if exc.filename is not None else settings.data_dir
        raise CliError(
            f"cannot use the data directory {settings.data_dir}: {exc.strerror or exc}: {where}",
            EXIT_DATA_DIR,
        ) from None


def open_existing(settings: Settings) -> DataDir:
    """Open an existing data directory; ``CliError`` for a missing one."""
    require(settings)
    return _open(settings)


def open_or_create(settings: Settings) -> DataDir:
    """Open the data directory, creating it (database, keys, admin token) when missing."""
    prepare(settings)
    return _open(settings)
