"""Signing keys: creation, file modes, rotation, retention, reload."""

from __future__ import annotations

import time
from pathlib import Path

from mcp_auth.reference.issuer.keys import ROTATION_LEAD, KeyStore
from mcp_auth.reference.jose import load_jwks, parse_compact, verify_signature


def test_first_start_creates_both_algs(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys", retention=360)
    created = store.ensure()
    assert sorted(k.alg for k in created) == ["ES256", "Ed25519"]
    assert store.ensure() == []
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    for path in (tmp_path / "keys").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600
    jwks = store.jwks()
    assert len(jwks["keys"]) == 2
    for jwk in jwks["keys"]:
        assert "d" not in jwk and jwk["use"] == "sig" and jwk["kid"] and jwk["alg"]


def test_rotation_publishes_first_then_switches(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys", retention=360)
    store.ensure()
    old = store.current("ES256")
    token = store.sign({"typ": "mcpa+jwt"}, {"x": 1}, "ES256")
    start = int(time.time())
    new = store.rotate(now=start)
    new_es = next(k for k in new if k.alg == "ES256")
    # Published at once, used for signing only after the lead time (MCPA-DSC-008).
    kids = {k["kid"] for k in store.jwks(now=start)["keys"]}
    assert kids == {old.kid, *(k.kid for k in new), *(k.kid for k in store.all_keys())}
    assert store.current("ES256", now=start).kid == old.kid
    switch = start + ROTATION_LEAD
    assert store.current("ES256", now=switch).kid == new_es.kid
    # The retired key stays published until everything it signed has expired (DSC-004).
    assert old.kid in {k["kid"] for k in store.jwks(now=switch + 359)["keys"]}
    assert old.kid not in {k["kid"] for k in store.jwks(now=switch + 361)["keys"]}
    jws = parse_compact(token, max_length=10_000)
    key = load_jwks(store.jwks(now=switch)).select(old.kid, "ES256")
    verify_signature(jws, key.key, "ES256")


def test_compromised_rotation_removes_at_once(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys", retention=360)
    store.ensure()
    old = {k.kid for k in store.all_keys()}
    new = store.rotate(compromised=True)
    kids = {k["kid"] for k in store.jwks()["keys"]}
    assert kids == {k.kid for k in new} and not kids & old
    assert store.current("Ed25519").kid in kids


def test_other_process_rotation_is_seen(tmp_path: Path) -> None:
    server = KeyStore(tmp_path / "keys", retention=360)
    server.ensure()
    before = server.current("Ed25519").kid
    KeyStore(tmp_path / "keys", retention=360).rotate(compromised=True)  # another process
    assert server.current("Ed25519").kid != before
