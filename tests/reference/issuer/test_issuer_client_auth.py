"""private_key_jwt client authentication (MCPA-CLA-001..005)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mcp_auth.reference.errors import InvalidClient
from mcp_auth.reference.issuer.client_auth import bearer_credential, verify_assertion
from mcp_auth.reference.jose import (
    b64url_encode,
    generate_private_key,
    private_key_from_jwk,
    public_jwk,
    sign_compact,
)

from .conftest import ISSUER, World


def assertion(
    world: World,
    client_id: str = "agent",
    *,
    header: dict[str, Any] | None = None,
    key: Any = None,
    alg: str = "ES256",
    **claims: Any,
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER,
        "iat": now,
        "exp": now + 60,
        "jti": f"j-{time.perf_counter_ns()}",
    }
    body.update(claims)
    for name in ("exp", "iat", "nbf"):  # "+N" / "-N": relative to now, at run time
        value = body.get(name)
        if isinstance(value, str) and value[:1] in "+-" and value[1:].isdigit():
            body[name] = now + int(value)
    body = {k: v for k, v in body.items() if v is not None}
    jwk = world.keys[client_id]
    hdr = {"kid": jwk["kid"], **(header or {})}
    hdr = {k: v for k, v in hdr.items() if v is not None}
    return sign_compact(hdr, body, key or private_key_from_jwk(jwk), alg)


def check(world: World, token: str) -> None:
    verify_assertion(world.ctx.db, token, ISSUER)


def test_valid_audiences(world: World) -> None:
    check(world, assertion(world))
    check(world, assertion(world, aud=[ISSUER]))  # an array whose sole element (rfc7523bis)
    check(world, assertion(world, header={"kid": None}))  # single key, no kid
    check(world, assertion(world, iat=None))


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "tool-1"},
        {"sub": "tool-1"},
        {"iss": None},
        {"aud": "https://other.test"},
        {"aud": None},
        {"aud": []},
        {"aud": [ISSUER, ISSUER]},
        {"aud": ["https://other.test", ISSUER]},
        # rfc7523bis: the token endpoint URL, or any other endpoint URL, is never an audience
        {"aud": f"{ISSUER}/token"},
        {"aud": [f"{ISSUER}/token"]},
        {"aud": f"{ISSUER}/revoke"},
        {"aud": f"{ISSUER}/introspect"},
        {"aud": f"{ISSUER}/grants"},
        {"aud": f"{ISSUER}/"},
        {"exp": "+305"},
        {"exp": None},
        {"exp": "soon"},
        {"exp": 1},
        {"exp": "+3600"},
        {"iat": "+600"},
        {"iat": "-1000", "exp": "+10"},
        {"jti": None},
        {"jti": ""},
        {"nbf": "+600"},
        {"exp": True},
    ],
)
def test_bad_claims(world: World, claims: dict[str, Any]) -> None:
    with pytest.raises(InvalidClient) as info:
        check(world, assertion(world, **claims))
    assert info.value.status == 401
    assert info.value.description == "client authentication failed"


@pytest.mark.parametrize("typ", ["mcpa+jwt", "application/DPoP+JWT", "statuslist+jwt"])
def test_other_mcp_auth_jwt_types_refused(world: World, typ: str) -> None:
    with pytest.raises(InvalidClient) as info:
        check(world, assertion(world, header={"typ": typ}))
    assert info.value.requirement == "MCPA-CLA-010"
    check(world, assertion(world, header={"typ": "JWT"}))


def test_unknown_client(world: World) -> None:
    world.keys["ghost"] = world.keys["agent"]
    with pytest.raises(InvalidClient):
        check(world, assertion(world, "ghost"))


def test_wrong_key_and_unknown_kid(world: World) -> None:
    with pytest.raises(InvalidClient):
        check(world, assertion(world, key=generate_private_key("ES256")))
    with pytest.raises(InvalidClient):
        check(world, assertion(world, header={"kid": "nope"}))


@pytest.mark.parametrize(
    "extra", [{"jku": "https://x"}, {"x5u": "https://x"}, {"crit": ["b64"]}, {"x5c": ["AA"]}]
)
def test_forbidden_headers(world: World, extra: dict[str, Any]) -> None:
    with pytest.raises(InvalidClient):
        check(world, assertion(world, header=extra))


def test_embedded_jwk_not_trusted(world: World) -> None:
    key = generate_private_key("ES256")
    token = assertion(world, key=key, header={"jwk": public_jwk(key)})
    with pytest.raises(InvalidClient):
        check(world, token)


def test_alg_none_and_hmac(world: World) -> None:
    def unsigned(alg: str) -> str:
        hdr = b64url_encode(f'{{"alg":"{alg}","kid":"{world.keys["agent"]["kid"]}"}}'.encode())
        now = int(time.time())
        body = b64url_encode(
            f'{{"iss":"agent","sub":"agent","aud":"{ISSUER}","exp":{now + 60},"jti":"x"}}'.encode()
        )
        return f"{hdr}.{body}.{b64url_encode(b'x' * 32)}"

    for alg in ("none", "HS256", "RS256", "ES384"):
        with pytest.raises(InvalidClient):
            check(world, unsigned(alg))


def test_replay_refused(world: World) -> None:
    token = assertion(world, jti="fixed")
    check(world, token)
    with pytest.raises(InvalidClient) as info:
        check(world, token)
    assert info.value.requirement == "MCPA-CLA-003"
    # The same jti from another client is a different assertion.
    check(world, assertion(world, "agent-2", jti="fixed"))


def test_oversized_and_garbage(world: World) -> None:
    for token in ("", "x" * 5000, "a.b", "a.b.c", None, 5):
        with pytest.raises(InvalidClient):
            verify_assertion(world.ctx.db, token, ISSUER)


def test_bearer_credential() -> None:
    assert bearer_credential("Bearer abc") == "abc"
    assert bearer_credential("bearer abc") == "abc"
    assert bearer_credential("Basic abc") is None
    assert bearer_credential("Bearer") is None
    assert bearer_credential(None) is None
