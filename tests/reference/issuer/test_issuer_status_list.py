"""The grant-indexed status list (draft-ietf-oauth-status-list)."""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_auth.reference.issuer import grants
from mcp_auth.reference.issuer.status_list import bit_is_set, encode_bits
from mcp_auth.reference.jose import b64url_decode, load_jwks, parse_compact, verify_signature
from mcp_auth.schemas import validate

from .conftest import ISSUER, World, grant_request
from .helpers import decode_claims


@settings(max_examples=50, deadline=None)
@given(st.sets(st.integers(0, 2**17 - 1), max_size=40), st.integers(0, 2**17 - 1))
def test_bits_lsb_first(indices: set[int], probe: int) -> None:
    lst = encode_bits(sorted(indices))
    assert bit_is_set(lst, probe) == (probe in indices)


def test_layout_matches_contract() -> None:
    data = zlib.decompress(b64url_decode(encode_bits([0, 9])))
    assert len(data) == 2**17 // 8
    assert data[0] == 0b00000001 and data[1] == 0b00000010


def fetch(world: World) -> dict:
    response = world.http.get("/status/1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/statuslist+jwt")
    jws = parse_compact(response.text, max_length=100_000)
    assert jws.header["typ"] == "statuslist+jwt"
    keys = load_jwks(world.http.get("/jwks").json())
    key = keys.select(jws.header["kid"], jws.header["alg"])
    verify_signature(jws, key.key, jws.header["alg"])
    return jws.payload


def test_status_token(world: World) -> None:
    claims = fetch(world)
    validate("status-list-token-claims", claims)
    assert claims["sub"] == f"{ISSUER}/status/1"
    assert 0 < claims["ttl"] <= 60
    assert claims["status_list"]["bits"] == 1


def test_revocation_sets_grant_bit_at_once(world: World) -> None:
    token = world.issue()
    idx = decode_claims(token)["status"]["mcpa_grant_list"]["idx"]
    assert not bit_is_set(fetch(world)["status_list"]["lst"], idx)
    world.http.delete(f"/grants/{world.grant_id}", headers=world.admin)
    assert bit_is_set(fetch(world)["status_list"]["lst"], idx)


def test_unknown_list_is_404(world: World) -> None:
    assert world.http.get("/status/2").status_code == 404


def test_indices_random_and_unique(world: World) -> None:
    made = [grants.create_grant(world.ctx.db, grant_request(), active=True) for _ in range(200)]
    indices = [g.status_idx for g in made]
    assert len(set(indices)) == len(indices)
    assert max(indices) > 2**12  # drawn from the whole range, not sequential


def test_status_cache_control_within_ttl(world: World) -> None:
    response = world.http.get("/status/1")
    assert response.headers["cache-control"] == "max-age=0"
