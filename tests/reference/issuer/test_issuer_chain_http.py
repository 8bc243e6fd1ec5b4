"""Small pure helpers: the chain grammar, scopes, form and JSON decoding."""

from __future__ import annotations

import pytest

from mcp_auth.reference.errors import InvalidRequest
from mcp_auth.reference.issuer import chain
from mcp_auth.reference.issuer.http import decode_form, decode_json, safe_description
from mcp_auth.reference.issuer.scopes import is_subset, parse_scope


def test_chain_grammar() -> None:
    act = chain.issuance_chain("a", "m")
    assert act == {"actor_type": "agent", "sub": "a", "mcpa_model": "m"}
    assert chain.depth(act) == 1 and chain.holder(act) == "a"  # one hop per holder
    act = chain.append_tool(chain.append_tool(act, "t1"), "t2", "m2")
    assert chain.depth(act) == 3 and chain.holder(act) == "t2"
    assert act["mcpa_model"] == "m2" and "mcpa_model" not in act["act"]
    assert chain.models(act) == ["m2", "m"]
    assert chain.hops(
        {"actor_type": "tool", "sub": "t", "act": {"actor_type": "agent"} | {"sub": "a"}}
    )
    for bad in (
        None,
        {"actor_type": "tool", "sub": "t"},
        {"actor_type": "agent", "sub": "a", "act": None},
        {"actor_type": "agent", "sub": "a", "mcpa_model": 5},
        {"actor_type": "agent", "sub": "a", "act": {"actor_type": "agent", "sub": "a"}},
        {"actor_type": "model", "sub": "m", "act": {"actor_type": "agent", "sub": "a"}},
        {"actor_type": "model", "sub": "m", "act": {"actor_type": "model", "sub": "m"}},
        {"actor_type": "model", "sub": 5, "act": {"actor_type": "agent", "sub": "a"}},
        {"actor_type": "user", "sub": "u", "act": {"actor_type": "agent", "sub": "a"}},
    ):
        assert chain.hops(bad) is None
        with pytest.raises(ValueError):
            chain.depth(bad)


def test_scopes() -> None:
    assert parse_scope("a b") == ["a", "b"]
    for bad in ("", " a", "a  b", "a a", 'a"b', "a\\b", "é"):
        assert parse_scope(bad) is None
    assert is_subset(["a"], ("a", "b")) and not is_subset(["c"], ["a"])


def test_decode_form() -> None:
    assert decode_form(b"a=1&b=%C3%A9&c=") == {"a": "1", "b": "é", "c": ""}
    for bad in (b"a=1&a=2", b"a=%ff", "a=é".encode(), b"&".join(b"p%d=1" % i for i in range(33))):
        with pytest.raises(InvalidRequest):
            decode_form(bad)


def test_decode_json() -> None:
    assert decode_json(b'{"a": [1, "x"]}') == {"a": [1, "x"]}
    for bad in (b'{"a":1,"a":2}', b"NaN", b"\xff", b"[" * 20 + b"]" * 20, b"{"):
        with pytest.raises(InvalidRequest):
            decode_json(bad)


def test_safe_description() -> None:
    assert safe_description('a "quoted" \\ é') == "a ?quoted? ? ?"
    assert len(safe_description("x" * 5000)) == 1024
