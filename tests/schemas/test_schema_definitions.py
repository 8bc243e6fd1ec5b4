"""The schemas themselves: valid 2020-12, named by $id, described, every $ref resolvable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from mcp_auth import schemas

NAMES = [
    "actor-hop",
    "audit-event",
    "badge-endpoint",
    "client-assertion-claims",
    "conformance-report",
    "conformance-target",
    "delegation-token-claims",
    "delegation-token-header",
    "dpop-proof-claims",
    "dpop-proof-header",
    "error-response",
    "grant",
    "grant-create-request",
    "introspection-response",
    "issuer-metadata",
    "requirements-catalog",
    "resource-metadata",
    "status-list-token-claims",
    "token-request-exchange",
    "token-request-grant",
    "token-response",
]
# Our own closed objects refuse unknown members; objects of other RFCs allow extensions.
# The delegation token header is closed because the spec fixes it to exactly alg, typ, kid.
CLOSED = {
    "audit-event",
    "delegation-token-header",
    "badge-endpoint",
    "conformance-report",
    "conformance-target",
    "grant-create-request",
    "requirements-catalog",
}
REQ_ID_PATTERN = "^MCPA-(GEN|TOK|GRT|CLA|ISS|XCH|VER|REV|AUD|DSC|CNF|SEC)-[0-9]{3}$"


def walk(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema (dict) of a schema with its JSON pointer."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}/{i}")


def test_names_are_the_fixed_list() -> None:
    assert schemas.names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_is_a_valid_2020_12_schema(name: str) -> None:
    schema = schemas.load(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", NAMES)
def test_id_matches_file_name(name: str) -> None:
    assert schemas.load(name)["$id"] == f"https://mcp-auth.dev/schemas/draft-01/{name}.schema.json"


@pytest.mark.parametrize("name", NAMES)
def test_schema_and_every_property_described(name: str) -> None:
    schema = schemas.load(name)
    assert schema["title"].strip() and schema["description"].strip()
    for where, node in walk(schema):
        props = node.get("properties")
        if isinstance(props, dict) and not where.endswith("/properties"):
            for prop, sub in props.items():
                # Conditional branches (if/then) restate constraints of described members.
                if any(k in where for k in ("/if", "/then", "/else", "/oneOf", "/anyOf")):
                    continue
                assert isinstance(sub, dict) and sub.get("description"), f"{where}/{prop}"


@pytest.mark.parametrize("name", NAMES)
def test_additional_properties_policy_is_deliberate(name: str) -> None:
    policy = schemas.load(name)["additionalProperties"]
    assert (policy is False) == (name in CLOSED), policy


@pytest.mark.parametrize("name", NAMES)
def test_every_ref_is_relative_and_resolves(name: str) -> None:
    schema = schemas.load(name)
    resolver = schemas.registry().resolver(base_uri=schema["$id"])
    for where, node in walk(schema):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert "://" not in ref, f"{name}{where}: absolute $ref {ref}"
            resolver.lookup(ref)  # raises Unresolvable


def test_requirement_id_pattern_everywhere() -> None:
    catalog = schemas.load("requirements-catalog")
    assert catalog["$defs"]["requirement-id"]["pattern"] == REQ_ID_PATTERN
    report = schemas.load("conformance-report")
    assert report["$defs"]["requirement-id"]["$ref"].startswith("requirements-catalog.schema.json")


def test_unknown_ref_is_never_fetched() -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$ref": "https://mcp-auth.dev/schemas/draft-01/nowhere.schema.json"}  # fmt: skip
    validator = Draft202012Validator(schema, registry=schemas.registry())
    with pytest.raises(Unresolvable):
        validator.validate({})


def test_validate_names_the_failing_path() -> None:
    claims = {"iss": "https://issuer.example", "aud": ["https://api.files.example/"]}
    with pytest.raises(schemas.SchemaValidationError) as info:
        schemas.validate("delegation-token-claims", claims)
    assert info.value.schema == "delegation-token-claims"
    assert info.value.path == "$"  # the missing required members come first
    hop = {"sub": "files-tool", "actor_type": "robot"}
    with pytest.raises(schemas.SchemaValidationError, match=r"actor-hop: \$\.actor_type: "):
        schemas.validate("actor-hop", hop)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://issuer.example", True),
        ("urn:ietf:params:oauth:token-type:access_token", True),
        ("files", False),
        ("https://issuer.example/a b", False),
    ],
)
def test_uri_format_is_checked_offline(value: str, ok: bool) -> None:
    errors = list(schemas.validator("resource-metadata").iter_errors({"resource": value}))
    assert any(e.json_path == "$.resource" for e in errors) is not ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("2026-11-18T11:06:52.208Z", True), ("2026-11-18T11:06:52.208+01:00", True),
     ("2026-13-18T11:06:52.208Z", False), ("2026-11-18 11:06:52Z", False)],
)  # fmt: skip
def test_date_time_format_is_checked(value: str, ok: bool) -> None:
    errors = list(schemas.validator("conformance-report").iter_errors({"started_at": value}))
    assert any(e.json_path == "$.started_at" for e in errors) is not ok
