"""Where the external test vectors are, and how a test reads them.

The default is the copy vendored in ``tests/vectors/`` (upstream, commit and license in each
folder's ``SOURCE.md``), so a fresh clone needs nothing beside it. ``MCP_AUTH_VECTORS``
points at another folder with the same layout (e.g. a newer upstream checkout).

A missing file never becomes a collection error: ``read_json``/``read_text`` fail the
running test with a message naming the path, and ``cases`` (for ``parametrize``) turns a
missing file into one placeholder case, which ``fail_if_missing`` fails at set-up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

VENDORED = Path(__file__).resolve().parent / "vectors"
ENV = "MCP_AUTH_VECTORS"


def root() -> Path:
    """The vectors folder in use: ``MCP_AUTH_VECTORS`` if set, else the vendored copy."""
    override = os.environ.get(ENV)
    return Path(override) if override else VENDORED


class MissingVectorsError(Exception):
    """A vector file is not where the tests look for it."""


def _missing(what: str) -> MissingVectorsError:
    if os.environ.get(ENV):
        hint = f"{ENV}={root()} lacks it; unset {ENV} to use the vendored copy in {VENDORED}"
    else:
        hint = "the vendored copy is incomplete; restore tests/vectors/ from git"
    return MissingVectorsError(f"{what} not found: {hint}")


def _locate(parts: Sequence[str]) -> Path:
    path = root().joinpath(*parts)
    if not path.is_file():
        raise _missing(f"test vector file {path}")
    return path


def read_text(*parts: str) -> str:
    """The text of a vector file; fails the calling test if it is missing."""
    try:
        path = _locate(parts)
    except MissingVectorsError as exc:
        message = str(exc)
    else:
        return path.read_text("utf-8")
    pytest.fail(message, pytrace=False)  # outside the except: one message, no chained one


def read_json(*parts: str) -> Any:
    """A vector file parsed as JSON; fails the calling test if it is missing."""
    return json.loads(read_text(*parts))


@dataclass(frozen=True)
class Missing:
    """The placeholder parameter a ``cases`` list holds when its file is missing."""

    message: str


def cases(build: Callable[[], Iterable[Sequence[Any]]], width: int) -> list[Any]:
    """``pytest.param`` sets from ``build()``, or one failing placeholder if a file is missing.

    ``build`` reads files with ``load``/``paths`` (below) and returns tuples of ``width``
    values. The placeholder fails at set-up through ``fail_if_missing`` (an autouse fixture
    in the test module), so the rest of the session is collected and runs.
    """
    try:
        return [pytest.param(*values) for values in build()]
    except MissingVectorsError as exc:
        missing = Missing(str(exc))
        return [pytest.param(*([missing] * width), id="vector-file-missing")]


def load(*parts: str) -> Any:
    """Parse a vector file at collection time (inside a ``cases`` builder only)."""
    return json.loads(_locate(parts).read_text("utf-8"))


def paths(pattern: str, *parts: str) -> list[Path]:
    """``glob`` for collection time (inside a ``cases`` builder only)."""
    folder = root().joinpath(*parts)
    found = sorted(folder.glob(pattern))
    if not found:
        raise _missing(f"test vector files {folder / pattern}")
    return found


def fail_if_missing(request: pytest.FixtureRequest) -> None:
    """Fail the test (at set-up) if one of its parameters is a ``Missing`` placeholder."""
    callspec = getattr(request.node, "callspec", None)
    for value in callspec.params.values() if callspec is not None else ():
        if isinstance(value, Missing):
            pytest.fail(value.message, pytrace=False)
