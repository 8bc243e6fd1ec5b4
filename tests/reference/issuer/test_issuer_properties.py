"""Hypothesis properties: attenuation is monotonic; revocation cascades.

An independent oracle (the exchange rules of CONTRACT.md section 3) predicts each
exchange's outcome; the issuer must agree, and every token it issues must be no wider,
no longer-lived and no deeper than the token it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mcp_auth.reference.issuer.client import IssuerClient, IssuerError
from mcp_auth.reference.issuer.status_list import bit_is_set
from mcp_auth.reference.jose import parse_compact

from .conftest import MODEL, RESOURCE, TOOL_RESOURCES, World
from .helpers import decode_claims

SCOPE_UNIVERSE = ("a", "b", "c", "d")
TOOLX = "https://toolx.test/mcp"
RESOURCES = (*TOOL_RESOURCES, RESOURCE, TOOLX)
EXCHANGERS = ("tool-1", "tool-2", "tool-3", "tool-x", "api")
REGISTERED = dict(zip(EXCHANGERS, (*TOOL_RESOURCES, TOOLX, RESOURCE), strict=True))
PROPS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def depth(act: dict[str, Any] | None) -> int:
    n = 0
    while act is not None:
        n, act = n + 1, act.get("act")
    return n


@dataclass
class Step:
    exchanger: str
    resource: str
    scope: tuple[str, ...] | None


grant_strategy = st.fixed_dictionaries(
    {
        "scopes": st.lists(st.sampled_from(SCOPE_UNIVERSE), min_size=1, unique=True),
        "resources": st.lists(st.sampled_from(RESOURCES), min_size=1, unique=True),
        "tools": st.lists(st.sampled_from(EXCHANGERS), unique=True),
        "max_depth": st.integers(1, 5),
        "max_token_lifetime": st.integers(30, 300),
    }
)
step_strategy = st.builds(
    Step,
    exchanger=st.sampled_from(EXCHANGERS),
    resource=st.sampled_from((*RESOURCES, "https://nowhere.test/")),
    scope=st.one_of(
        st.none(), st.lists(st.sampled_from(SCOPE_UNIVERSE), min_size=1, unique=True).map(tuple)
    ),
)


def clients(world: World) -> dict[str, IssuerClient]:
    return {cid: world.client(cid) for cid in ("agent", *EXCHANGERS)}


def oracle(grant: dict[str, Any], subject: dict[str, Any], step: Step) -> str | None:
    """The expected error of an exchange (None = success), in the contract's check order."""
    if REGISTERED[step.exchanger] != subject["aud"]:
        return "invalid_request:not_audience"
    if step.exchanger not in grant["tools"]:
        return "invalid_request:tool_not_allowed"
    if depth(subject["act"]) + 1 > min(grant["max_depth"], 5):
        return "invalid_request:depth_exceeded"
    if step.resource not in grant["resources"]:
        return "invalid_target"
    if step.scope is not None and not set(step.scope) <= set(subject["scope"].split()):
        return "invalid_scope"
    return None


@PROPS
@given(
    grant_spec=grant_strategy,
    steps=st.lists(step_strategy, max_size=7),
    follow_audience=st.lists(st.booleans(), min_size=7, max_size=7),
)
def test_no_exchange_sequence_widens_extends_or_deepens(
    world: World, grant_spec: dict[str, Any], steps: list[Step], follow_audience: list[bool]
) -> None:
    grant = world.admin_grant(
        scopes=list(grant_spec["scopes"]), **{k: v for k, v in grant_spec.items() if k != "scopes"}
    )
    by_id = clients(world)
    first = by_id["agent"].issue(grant["grant_id"], grant["resources"][0], MODEL)
    token = first.access_token
    claims = decode_claims(token)
    assert set(claims["scope"].split()) <= set(grant["scopes"])
    assert claims["exp"] <= grant["expires_at"]
    assert claims["exp"] - claims["iat"] <= grant["max_token_lifetime"]
    for drawn, follow in zip(steps, follow_audience, strict=False):
        step = drawn
        if follow:  # usually let the audience itself try, so chains get deep
            owner = [c for c, r in REGISTERED.items() if r == claims["aud"]]
            if owner:
                step = Step(owner[0], step.resource, step.scope)
        expected = oracle(grant, claims, step)
        scope = " ".join(step.scope) if step.scope is not None else None
        try:
            result = by_id[step.exchanger].exchange(token, step.resource, scope=scope)
        except IssuerError as exc:
            got = exc.error if exc.mcpa_error is None else f"{exc.error}:{exc.mcpa_error}"
            assert got == expected, (step, exc)
            event(f"refused {exc.error}")
            continue
        event(f"exchanged to depth {depth(claims['act']) + 1}")
        assert expected is None, step
        new = decode_claims(result.access_token)
        assert set(new["scope"].split()) <= set(claims["scope"].split())  # never grows
        assert new["exp"] <= claims["exp"]  # never extends
        assert depth(new["act"]) == depth(claims["act"]) + 1 <= min(grant["max_depth"], 5)
        assert new["act"]["act"] == claims["act"]
        assert new["client_id"] == step.exchanger == new["act"]["sub"]
        assert new["cnf"]["jkt"] == by_id[step.exchanger].jkt
        assert new["aud"] == step.resource in grant["resources"]
        assert new["status"] == claims["status"] and new["grant_id"] == grant["grant_id"]
        token, claims = result.access_token, new


def build_tree(
    world: World, by_id: dict[str, IssuerClient], grant_id: str, shape: list[int]
) -> list[tuple[str, str, str | None]]:
    """(token, holder, parent_jti) for a tree: each entry of ``shape`` picks a parent."""
    root = by_id["agent"].issue(grant_id, TOOL_RESOURCES[0], MODEL).access_token
    made: list[tuple[str, str, str | None]] = [(root, "agent", None)]
    for pick in shape:
        parent, _, _ = made[pick % len(made)]
        aud = decode_claims(parent)["aud"]
        exchanger = next(c for c, r in REGISTERED.items() if r == aud)
        if depth(decode_claims(parent)["act"]) >= 5:
            continue
        target = (
            TOOL_RESOURCES[(TOOL_RESOURCES.index(aud) + 1) % 3]
            if aud in TOOL_RESOURCES
            else TOOL_RESOURCES[0]
        )
        child = by_id[exchanger].exchange(parent, target).access_token
        made.append((child, exchanger, decode_claims(parent)["jti"]))
    return made


def exchangeable(world: World, by_id: dict[str, IssuerClient], token: str) -> bool:
    aud = decode_claims(token)["aud"]
    exchanger = next(c for c, r in REGISTERED.items() if r == aud)
    try:
        by_id[exchanger].exchange(token, RESOURCE)
    except IssuerError as exc:  # an unacceptable subject token (RFC 8693 section 2.2.2)
        assert exc.error == "invalid_request" and exc.mcpa_error is not None
        return False
    return True


@PROPS
@given(shape=st.lists(st.integers(0, 20), max_size=6))
def test_grant_revocation_stops_everything_derived(world: World, shape: list[int]) -> None:
    grant = world.admin_grant(tools=list(EXCHANGERS))
    by_id = clients(world)
    tree = build_tree(world, by_id, grant["grant_id"], shape)
    for token, holder, _ in tree:
        assert by_id[holder].introspect(token)["active"] is True
    assert world.http.delete(f"/grants/{grant['grant_id']}", headers=world.admin).status_code == 204
    lst = parse_compact(
        world.http.get(urlsplit(grant["status_list"]["uri"]).path).text, max_length=100_000
    ).payload
    for token, holder, _ in tree:
        assert by_id[holder].introspect(token) == {"active": False}
        idx = decode_claims(token)["status"]["mcpa_grant_list"]["idx"]
        assert bit_is_set(lst["status_list"]["lst"], idx)
        assert not exchangeable(world, by_id, token)
    try:
        by_id["agent"].issue(grant["grant_id"], TOOL_RESOURCES[0], MODEL)
        raise AssertionError("issued under a revoked grant")
    except IssuerError as exc:
        assert exc.error == "invalid_grant"


@PROPS
@given(shape=st.lists(st.integers(0, 20), min_size=1, max_size=6), victim=st.integers(0, 20))
def test_token_revocation_cascades_to_descendants_only(
    world: World, shape: list[int], victim: int
) -> None:
    grant = world.admin_grant(tools=list(EXCHANGERS))
    by_id = clients(world)
    tree = build_tree(world, by_id, grant["grant_id"], shape)
    token, holder, _ = tree[victim % len(tree)]
    by_id[holder].revoke(token)
    revoked = {decode_claims(token)["jti"]}
    for child, _, parent in tree:  # tree is in creation order: parents before children
        if parent in revoked:
            revoked.add(decode_claims(child)["jti"])
    for child, owner, _ in tree:
        active = by_id[owner].introspect(child)["active"]
        assert active is (decode_claims(child)["jti"] not in revoked)
