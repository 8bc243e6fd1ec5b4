"""The grant-indexed status list (draft-ietf-oauth-status-list)."""

from __future__ import annotations

import re
import time
import zlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mcp_auth.reference.issuer import grants
from mcp_auth.reference.issuer.app import create_app
from mcp_auth.reference.issuer.settings import Settings
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


def fetch(world: World, path: str | None = None) -> dict:
    response = world.http.get(path or world.status_path)
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
    assert claims["sub"] == f"{ISSUER}{world.status_path}"
    assert re.fullmatch(r"/status/[A-Za-z0-9_-]{22}", world.status_path)
    assert 0 < claims["ttl"] <= 60
    assert claims["status_list"]["bits"] == 1


def test_revocation_sets_grant_bit_at_once(world: World) -> None:
    token = world.issue()
    idx = decode_claims(token)["status"]["mcpa_grant_list"]["idx"]
    assert not bit_is_set(fetch(world)["status_list"]["lst"], idx)
    world.http.delete(f"/grants/{world.grant_id}", headers=world.admin)
    assert bit_is_set(fetch(world)["status_list"]["lst"], idx)


def test_unknown_list_is_404(world: World) -> None:
    for path in ("/status/1", "/status/2", "/status/" + "A" * 300):
        response = world.http.get(path)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_indices_random_and_unique(world: World) -> None:
    made = [grants.create_grant(world.ctx.db, grant_request(), active=True) for _ in range(200)]
    indices = [g.status_idx for g in made]
    assert len(set(indices)) == len(indices)
    assert max(i for i in indices if i is not None) > 2**12  # the whole range, not in order


def test_status_cache_control_within_ttl(world: World) -> None:
    response = world.http.get(world.status_path)
    claims = parse_compact(response.text, max_length=100_000).payload
    match = re.fullmatch(r"public, max-age=(\d+)", response.headers["cache-control"])
    assert match is not None
    assert 0 <= int(match.group(1)) <= claims["ttl"] // 2  # MCPA-REV-011
    assert response.headers["etag"].startswith('"')


def test_many_requests_build_once_and_a_revocation_rebuilds(world: World) -> None:
    """Regression (issue 14 finding 4): GET /status/{id} no longer rebuilds every time."""
    signed = world.ctx.signed_lists
    world.http.get(world.status_path)
    builds, signatures = signed.builds, signed.signatures
    started = time.monotonic()
    for _ in range(50):
        world.http.get(world.status_path)
    assert signed.builds == builds  # no query of the grants, whatever the rate
    assert signed.signatures - signatures <= time.monotonic() - started + 1  # <= 1 per second
    for _ in range(3):  # the pair may straddle a re-signing second
        etag = world.http.get(world.status_path).headers["etag"]
        not_modified = world.http.get(world.status_path, headers={"If-None-Match": etag})
        if not_modified.status_code == 304:
            break
    assert not_modified.status_code == 304 and not not_modified.content
    token = world.issue()
    idx = decode_claims(token)["status"]["mcpa_grant_list"]["idx"]
    world.http.delete(f"/grants/{world.grant_id}", headers=world.admin)
    after = world.http.get(world.status_path, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    assert bit_is_set(
        parse_compact(after.text, max_length=100_000).payload["status_list"]["lst"], idx
    )
    assert signed.builds == builds + 1


def test_held_list_is_re_signed_each_second_without_a_rebuild(world: World) -> None:
    """MCPA-REV-019: never more than a second old, so a 1 s max_status_age still works."""
    signed = world.ctx.signed_lists
    list_id = world.status_path.rsplit("/", 1)[1]
    held = signed.get(list_id, now=10_000)
    builds, signatures = signed.builds, signed.signatures
    assert held is not None and signed.get(list_id, now=10_000) is held
    later = signed.get(list_id, now=10_001)
    assert later is not None and later.iat == 10_001 and later.token != held.token
    assert (signed.builds, signed.signatures) == (builds, signatures + 1)  # bits reused
    assert later.max_age(world.settings, 10_011) == 20  # until ttl / 2, <= ttl (MCPA-REV-011)


def test_retired_list_answers_404_and_is_not_signed(tmp_path: Path) -> None:
    """MCPA-REV-017/018: with 8-entry lists, the first list retires once its grants are over."""
    settings = Settings(data_dir=tmp_path / "d", issuer_url=ISSUER, status_list_size=8)
    app = create_app(settings)
    ctx = app.state.ctx
    with TestClient(app, base_url=ISSUER) as http:
        made = [
            grants.create_grant(ctx.db, grant_request(expires_in=50), active=True, now=1_000)
            for _ in range(8)
        ]
        later = grants.create_grant(ctx.db, grant_request(), active=True)
        first = made[0].status_list_id
        assert first is not None and {g.status_list_id for g in made} == {first}
        assert later.status_list_id != first
        assert http.get(f"/status/{first}").status_code == 404  # long past 1 050 + margin
        assert (
            ctx.db.query_one("SELECT retired_at FROM status_lists WHERE list_id = ?", (first,))[0]
            is not None
        )
        builds = ctx.signed_lists.builds
        assert http.get(f"/status/{first}").json()["error"] == "not_found"
        assert ctx.signed_lists.builds == builds
        assert http.get(f"/status/{later.status_list_id}").status_code == 200
    ctx.db.close()
