"""JSON Schemas (draft 2020-12) for every MCP-Auth protocol object, shipped as package data.

``validator(name)`` builds a validator whose relative ``$ref`` values resolve against an
in-memory registry of our own schemas only: nothing is ever fetched over the network, and an
unknown reference fails instead. Format checking is on, with small offline checkers for the
formats our schemas use (``uri``, ``uri-reference``, ``date-time``) so that results do not
depend on which optional jsonschema extras happen to be installed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

# jsonschema ships no type information (types-jsonschema is not a dependency).
from jsonschema import (  # type: ignore[import-untyped,unused-ignore]
    Draft202012Validator,
    FormatChecker,
)
from jsonschema.exceptions import best_match  # type: ignore[import-untyped,unused-ignore]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mcp_auth import SPEC_VERSION

BASE_URI = f"https://mcp-auth.dev/schemas/{SPEC_VERSION}/"

__all__ = [
    "BASE_URI",
    "SchemaValidationError",
    "load",
    "names",
    "registry",
    "validate",
    "validator",
]


class SchemaValidationError(ValueError):
    """An instance does not match an MCP-Auth schema; ``path`` is the failing JSON path."""

    def __init__(self, schema: str, path: str, message: str) -> None:
        super().__init__(f"{schema}: {path}: {message}")
        self.schema = schema
        self.path = path
        self.message = message


@cache
def load(name: str) -> dict[str, Any]:
    """Return the schema ``name`` (file name without ``.schema.json``)."""
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def names() -> list[str]:
    """All schema names shipped with the package."""
    suffix = ".schema.json"
    return sorted(
        p.name[: -len(suffix)]
        for p in resources.files(__name__).iterdir()
        if p.name.endswith(suffix)
    )


# RFC 3986 section 3: scheme ":" hier-part, no whitespace or characters never allowed in a URI.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]*$")
_URI_REFERENCE = re.compile(r"^[^\s<>\"{}|\\^`]*$")
# RFC 3339 section 5.6 date-time (upper-case T and Z, as our schemas use them).
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _matches(pattern: re.Pattern[str]) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        return not isinstance(value, str) or pattern.match(value) is not None

    return check


@cache
def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    checker.checks("uri")(_matches(_URI))
    checker.checks("uri-reference")(_matches(_URI_REFERENCE))
    checker.checks("date-time")(_is_date_time)
    return checker


@cache
def registry() -> Registry[Any]:
    """A registry holding every MCP-Auth schema under its ``$id`` (and nothing else)."""
    return Registry().with_resources(
        (BASE_URI + f"{name}.schema.json", Resource.from_contents(load(name), DRAFT202012))
        for name in names()
    )


def validator(name: str) -> Draft202012Validator:
    """A format-checking 2020-12 validator for schema ``name``, resolving ``$ref`` offline."""
    return Draft202012Validator(load(name), registry=registry(), format_checker=_format_checker())


def validate(name: str, instance: object) -> None:
    """Validate ``instance`` against schema ``name``.

    Raises :class:`SchemaValidationError` naming the JSON path of the most relevant failure.
    """
    error = best_match(validator(name).iter_errors(instance))
    if error is not None:
        raise SchemaValidationError(name, error.json_path, error.message)
