"""POST /token: issuance and exchange, every error row of CONTRACT.md section 3."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mcp_auth.reference.dpop import make_dpop_proof
from mcp_auth.reference.issuer import audit
from mcp_auth.reference.issuer.client import IssuerClient, make_client_assertion
from mcp_auth.reference.issuer.metadata import (
    ACCESS_TOKEN_TYPE,
    JWT_BEARER_ASSERTION,
    MCPA_GRANT_TYPE,
    TOKEN_EXCHANGE_GRANT_TYPE,
)
from mcp_auth.reference.jose import generate_private_key, jwk_thumbprint, public_jwk
from mcp_auth.schemas import validate

from .conftest import ISSUER, MODEL, RESOURCE, SCOPES, TOOL_RESOURCES, USER, World
from .helpers import assert_error, assert_exchange_refused, decode_claims, decode_header

TOKEN_URL = f"{ISSUER}/token"


def post_token(
    world: World, client: IssuerClient, form: dict[str, str], headers: dict[str, str] | None = None
) -> Any:
    hdrs = client.token_headers() if headers is None else headers
    return world.http.post("/token", data=form, headers=hdrs)


def issue_form(world: World, client: IssuerClient | None = None, **over: Any) -> dict[str, str]:
    c = client or world.agent
    form = c.issue_form(world.grant_id, TOOL_RESOURCES[0], MODEL)
    for key, value in over.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    return form


# -- issuance: success --------------------------------------------------------------------
def test_issuance_token_content_and_response(world: World) -> None:
    response = post_token(world, world.agent, issue_form(world))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    validate("token-response", body)
    assert body["token_type"] == "DPoP"
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["grant_id"] == world.grant_id
    assert 0 < body["expires_in"] <= 300
    header = decode_header(body["access_token"])
    validate("delegation-token-header", header)
    assert header["typ"] == "mcpa+jwt" and header["alg"] in ("ES256", "Ed25519")
    assert header["kid"] in {k["kid"] for k in world.http.get("/jwks").json()["keys"]}
    claims = decode_claims(body["access_token"])
    validate("delegation-token-claims", claims)
    assert claims["iss"] == ISSUER and claims["sub"] == USER
    assert claims["aud"] == TOOL_RESOURCES[0]
    assert claims["client_id"] == "agent"
    assert claims["cnf"]["jkt"] == world.agent.jkt
    assert claims["act"] == {"actor_type": "agent", "sub": "agent", "mcpa_model": MODEL}
    assert claims["scope"].split() == list(SCOPES)
    assert claims["exp"] - claims["iat"] <= 300
    grant = world.http.get(f"/grants/{world.grant_id}", headers=world.admin).json()
    assert claims["status"]["mcpa_grant_list"] == {
        "idx": grant["status_list"]["idx"],
        "uri": f"{ISSUER}{world.status_path}",
    }


def test_issuance_narrower_scope_and_short_grant_lifetime(world: World) -> None:
    grant = world.admin_grant(max_token_lifetime=20, expires_in=10)
    tok = world.agent.issue(grant["grant_id"], TOOL_RESOURCES[0], MODEL, scope="files:read")
    claims = decode_claims(tok.access_token)
    assert claims["scope"] == "files:read"
    assert claims["exp"] <= grant["expires_at"]
    assert claims["exp"] - claims["iat"] <= 10


# -- issuance: errors, in table order ------------------------------------------------------
def test_client_auth_missing(world: World) -> None:
    form = issue_form(world, client_assertion=None, client_assertion_type=None)
    assert_error(post_token(world, world.agent, form), 401, "invalid_client")


def test_client_auth_wrong_key(world: World) -> None:
    bad = make_client_assertion("agent", world.keys["tool-1"], ISSUER)
    form = issue_form(world, client_assertion=bad)
    assert_error(post_token(world, world.agent, form), 401, "invalid_client")


def test_client_auth_replayed_assertion(world: World) -> None:
    form = issue_form(world)
    assert post_token(world, world.agent, form).status_code == 200
    assert_error(post_token(world, world.agent, form), 401, "invalid_client")


def test_client_auth_before_params(world: World) -> None:
    form = {"client_assertion_type": JWT_BEARER_ASSERTION, "client_assertion": "x.y.z"}
    assert_error(post_token(world, world.agent, form), 401, "invalid_client")


@pytest.mark.parametrize("missing", ["grant_id", "resource", "actor_model", "grant_type"])
def test_missing_params(world: World, missing: str) -> None:
    form = issue_form(world, **{missing: None})
    assert_error(post_token(world, world.agent, form), 400, "invalid_request")


def test_repeated_param(world: World) -> None:
    form = issue_form(world)
    body = "&".join(f"{k}={v}" for k, v in form.items()) + "&resource=https%3A%2F%2Fx.test"
    response = world.http.post(
        "/token",
        content=body.encode(),
        headers={
            **world.agent.token_headers(),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert_error(response, 400, "invalid_request")


def test_unsupported_requested_token_type(world: World) -> None:
    form = issue_form(world, requested_token_type="urn:ietf:params:oauth:token-type:jwt")
    assert_error(post_token(world, world.agent, form), 400, "invalid_request")


def test_unknown_grant_type(world: World) -> None:
    form = issue_form(world, grant_type="authorization_code")
    assert_error(post_token(world, world.agent, form), 400, "unsupported_grant_type")


def test_dpop_missing(world: World) -> None:
    assert_error(post_token(world, world.agent, issue_form(world), {}), 400, "invalid_dpop_proof")


def test_dpop_two_headers(world: World) -> None:
    proof = world.agent.dpop_proof("POST", TOKEN_URL)
    response = world.http.post(
        "/token", data=issue_form(world), headers=[("DPoP", proof), ("DPoP", proof)]
    )
    assert_error(response, 400, "invalid_dpop_proof")


@pytest.mark.parametrize("method,url", [("GET", TOKEN_URL), ("POST", f"{ISSUER}/revoke")])
def test_dpop_wrong_htm_htu(world: World, method: str, url: str) -> None:
    proof = world.agent.dpop_proof(method, url)
    response = post_token(world, world.agent, issue_form(world), {"DPoP": proof})
    assert_error(response, 400, "invalid_dpop_proof")


def test_dpop_stale(world: World) -> None:
    proof = make_dpop_proof(
        world.agent.dpop_key, world.agent.dpop_jwk, "POST", TOKEN_URL, iat=int(time.time()) - 600
    )
    response = post_token(world, world.agent, issue_form(world), {"DPoP": proof})
    assert_error(response, 400, "invalid_dpop_proof")


def test_dpop_replayed(world: World) -> None:
    proof = world.agent.dpop_proof("POST", TOKEN_URL)
    assert post_token(world, world.agent, issue_form(world), {"DPoP": proof}).status_code == 200
    response = post_token(world, world.agent, issue_form(world), {"DPoP": proof})
    assert_error(response, 400, "invalid_dpop_proof")


def test_unknown_grant(world: World) -> None:
    form = issue_form(world, grant_id="nope")
    assert_error(post_token(world, world.agent, form), 400, "invalid_grant")


def test_other_clients_grant(world: World) -> None:
    form = issue_form(world, world.other_agent)
    assert_error(post_token(world, world.other_agent, form), 400, "invalid_grant")


@pytest.mark.parametrize("action", ["pending", "revoked", "denied", "expired"])
def test_grant_not_active(world: World, action: str) -> None:
    from mcp_auth.reference.issuer import grants

    if action == "pending":
        grant = world.agent.create_grant(world.grant_body(client_id=None) | {})
    else:
        grant = world.admin_grant()
    gid = grant["grant_id"]
    if action == "revoked":
        grants.transition(world.ctx.db, gid, "revoke")
    elif action == "denied":
        pending = world.agent.create_grant(
            {k: v for k, v in world.grant_body().items() if k != "client_id"}
        )
        gid = pending["grant_id"]
        grants.transition(world.ctx.db, gid, "deny")
    elif action == "expired":
        with world.ctx.db.transaction() as conn:
            conn.execute("UPDATE grants SET expires_at = 1 WHERE grant_id = ?", (gid,))
    form = world.agent.issue_form(gid, TOOL_RESOURCES[0], MODEL)
    assert_error(post_token(world, world.agent, form), 400, "invalid_grant")


def test_model_not_in_grant(world: World) -> None:
    form = issue_form(world, actor_model="other-model")
    assert_error(post_token(world, world.agent, form), 400, "invalid_grant")


def test_resource_not_in_grant(world: World) -> None:
    form = issue_form(world, resource="https://elsewhere.test/")
    assert_error(post_token(world, world.agent, form), 400, "invalid_target")


@pytest.mark.parametrize(
    "scope",
    ["admin", "files:read admin", "files:read  files:write", "files:read files:read", 'bad"scope'],
)
def test_scope_not_subset(world: World, scope: str) -> None:
    form = issue_form(world, scope=scope)
    assert_error(post_token(world, world.agent, form), 400, "invalid_scope")


def test_check_order_grant_before_model_before_resource_before_scope(world: World) -> None:
    form = issue_form(world, actor_model="x", resource="https://x.test/", scope="nope")
    assert_error(post_token(world, world.agent, form), 400, "invalid_grant")
    form = issue_form(world, resource="https://x.test/", scope="nope")
    assert_error(post_token(world, world.agent, form), 400, "invalid_target")


def test_refusals_are_audited_without_tokens(world: World) -> None:
    form = issue_form(world, resource="https://x.test/")
    assert_error(post_token(world, world.agent, form), 400, "invalid_target")
    events = audit.events_for_grant(world.ctx.db, world.grant_id)
    refused = [e for e in events if e["type"] == "token.refused"]
    assert refused and refused[-1]["error"] == "invalid_target"
    assert refused[-1]["client_id"] == "agent"
    for event in audit.all_events(world.ctx.db):
        validate("audit-event", event)
        assert "client_assertion" not in str(event)


# -- exchange -----------------------------------------------------------------------------
def exchange_form(world: World, client: IssuerClient, subject: str, **over: Any) -> dict[str, str]:
    form = client.exchange_form(subject, TOOL_RESOURCES[1])
    for key, value in over.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    return form


def test_exchange_success(world: World) -> None:
    subject = world.issue(scope="files:read files:write")
    before = decode_claims(subject)
    response = post_token(world, world.tools[0], exchange_form(world, world.tools[0], subject))
    assert response.status_code == 200, response.text
    body = response.json()
    validate("token-response", body)
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    claims = decode_claims(body["access_token"])
    validate("delegation-token-claims", claims)
    assert claims["client_id"] == "tool-1"
    assert claims["aud"] == TOOL_RESOURCES[1]
    assert claims["cnf"]["jkt"] == world.tools[0].jkt != before["cnf"]["jkt"]
    assert claims["act"] == {"actor_type": "tool", "sub": "tool-1", "act": before["act"]}
    assert claims["sub"] == before["sub"] and claims["grant_id"] == before["grant_id"]
    assert claims["status"] == before["status"]
    assert claims["scope"] == before["scope"]
    assert claims["exp"] <= before["exp"]
    events = audit.events_for_grant(world.ctx.db, world.grant_id)
    assert events[-1]["type"] == "token.exchanged"
    assert events[-1]["parent_jti"] == before["jti"]
    assert events[-1]["act"] == claims["act"]


@pytest.mark.parametrize(
    "over",
    [
        {"subject_token": None},
        {"subject_token_type": None},
        {"resource": None},
        {"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        {"requested_token_type": "urn:ietf:params:oauth:token-type:jwt"},
        {"actor_token": "x"},
        {"actor_token_type": ACCESS_TOKEN_TYPE},
        {"subject_token": "a" * 9000},
    ],
)
def test_exchange_bad_params(world: World, over: dict[str, Any]) -> None:
    subject = world.issue()
    form = exchange_form(world, world.tools[0], subject, **over)
    assert_error(post_token(world, world.tools[0], form), 400, "invalid_request")


def test_exchange_dpop_required(world: World) -> None:
    form = exchange_form(world, world.tools[0], world.issue())
    assert_error(post_token(world, world.tools[0], form, {}), 400, "invalid_dpop_proof")


@pytest.mark.parametrize("subject", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_exchange_invalid_subject(world: World, subject: str) -> None:
    form = exchange_form(world, world.tools[0], subject)
    assert_exchange_refused(post_token(world, world.tools[0], form), "subject_token_invalid")


def test_exchange_forged_subject(world: World) -> None:
    from mcp_auth.reference.jose import sign_compact

    claims = decode_claims(world.issue())
    key = generate_private_key("ES256")
    forged = sign_compact(
        {"typ": "mcpa+jwt", "kid": decode_header(world.issue())["kid"]}, claims, key, "ES256"
    )
    form = exchange_form(world, world.tools[0], forged)
    assert_exchange_refused(post_token(world, world.tools[0], form), "subject_token_invalid")


def test_exchange_expired_subject(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    subject = world.issue()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 400)
    form = exchange_form(world, world.tools[0], subject)
    assert_exchange_refused(post_token(world, world.tools[0], form), "subject_token_expired")


def test_exchange_revoked_grant(world: World) -> None:
    subject = world.issue()
    assert world.http.delete(f"/grants/{world.grant_id}", headers=world.admin).status_code == 204
    form = exchange_form(world, world.tools[0], subject)
    assert_exchange_refused(post_token(world, world.tools[0], form), "grant_revoked")


def test_exchange_only_audience(world: World) -> None:
    subject = world.issue()  # aud = tool-1
    form = exchange_form(world, world.tools[1], subject)
    assert_exchange_refused(post_token(world, world.tools[1], form), "not_audience")


def test_exchange_exchanger_not_in_grant_tools(world: World) -> None:
    gid = world.admin_grant(resources=["https://toolx.test/mcp", RESOURCE], tools=["tool-1"])[
        "grant_id"
    ]
    subject = world.agent.issue(gid, "https://toolx.test/mcp", MODEL).access_token
    toolx = world.client("tool-x")
    form = toolx.exchange_form(subject, RESOURCE)
    assert_exchange_refused(post_token(world, toolx, form), "tool_not_allowed")


def test_exchange_depth_limit(world: World) -> None:
    gid = world.admin_grant(max_depth=2)["grant_id"]
    first = world.agent.issue(gid, TOOL_RESOURCES[0], MODEL).access_token  # depth 1
    second = world.tools[0].exchange(first, TOOL_RESOURCES[1]).access_token  # depth 2
    form = world.tools[1].exchange_form(second, TOOL_RESOURCES[2])
    assert_exchange_refused(post_token(world, world.tools[1], form), "depth_exceeded")


def test_exchange_tool_model(world: World) -> None:
    """A tool that samples its own model names it (MCPA-XCH-016); it must be in the grant."""
    subject = world.issue()
    form = exchange_form(world, world.tools[0], subject, actor_model=MODEL)
    response = post_token(world, world.tools[0], form)
    assert response.status_code == 200, response.text
    act = decode_claims(response.json()["access_token"])["act"]
    assert act["actor_type"] == "tool" and act["mcpa_model"] == MODEL
    assert act["act"] == decode_claims(subject)["act"]
    form = exchange_form(world, world.tools[0], world.issue(), actor_model="other-model")
    assert_exchange_refused(post_token(world, world.tools[0], form), "model_not_allowed")


def test_exchange_issuer_depth_limit(world: World) -> None:
    world.grant_id = world.admin_grant(tools=["tool-1", "tool-2", "tool-3", "api"])["grant_id"]
    token = world.issue()
    hops = [*TOOL_RESOURCES[1:], RESOURCE, TOOL_RESOURCES[0]]
    exchangers = [*world.tools, world.resource]
    for tool, target in zip(exchangers, hops, strict=True):  # depth 2, 3, 4, 5
        token = tool.exchange(token, target).access_token
    assert decode_claims(token)["aud"] == TOOL_RESOURCES[0]
    form = world.tools[0].exchange_form(token, TOOL_RESOURCES[1])
    body = assert_exchange_refused(post_token(world, world.tools[0], form), "depth_exceeded")
    assert body["error_description"] == "chain depth limit reached"


def test_exchange_resource_not_in_grant(world: World) -> None:
    form = exchange_form(world, world.tools[0], world.issue(), resource="https://x.test/")
    assert_error(post_token(world, world.tools[0], form), 400, "invalid_target")


def test_exchange_scope_never_grows(world: World) -> None:
    subject = world.issue(scope="files:read")
    form = exchange_form(world, world.tools[0], subject, scope="files:read files:write")
    assert_error(post_token(world, world.tools[0], form), 400, "invalid_scope")


def test_exchange_expiry_never_extends(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    subject = world.issue()
    exp = decode_claims(subject)["exp"]
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 200)
    tok = world.tools[0].exchange(subject, TOOL_RESOURCES[1])
    assert decode_claims(tok.access_token)["exp"] <= exp
    assert tok.expires_in <= 100


def test_exchange_bound_to_exchanger_key(world: World) -> None:
    subject = world.issue()
    key = generate_private_key("Ed25519")
    tool = world.client("tool-1", dpop_key=key)
    tok = tool.exchange(subject, TOOL_RESOURCES[1])
    assert decode_claims(tok.access_token)["cnf"]["jkt"] == jwk_thumbprint(public_jwk(key))


def test_grant_type_names(world: World) -> None:
    assert MCPA_GRANT_TYPE.endswith("mcpa-grant")
    assert TOKEN_EXCHANGE_GRANT_TYPE.endswith("token-exchange")
    assert SCOPES and RESOURCE and USER


# -- limits and edge cases of the spec's section 4.3.2 ----------------------------------
@pytest.mark.parametrize(
    "over,status,error",
    [
        # MCPA-GEN-006: an empty optional parameter is omitted (scope takes the default).
        ({"scope": ""}, 200, None),
        ({"requested_token_type": ""}, 200, None),
        # Section 4.4.2: limit overflows are invalid_request (step 4), malformed or
        # too-wide scopes invalid_scope (step 10).
        ({"scope": " ".join(f"s{i}" for i in range(65))}, 400, "invalid_request"),
        ({"scope": " ".join(f"s{i}" for i in range(65)) + "\t"}, 400, "invalid_request"),
        ({"scope": "s" * 257}, 400, "invalid_request"),
        ({"scope": "files:read " + "s" * 257}, 400, "invalid_request"),
        ({"scope": " ".join(["files:read"] * 64)}, 400, "invalid_scope"),
        ({"scope": "files:read  files:write"}, 400, "invalid_scope"),
        ({"scope": "files:read "}, 400, "invalid_scope"),
        ({"scope": 'files:read "x"'}, 400, "invalid_scope"),
        ({"scope": "files:read files:delete"}, 400, "invalid_scope"),
        ({"scope": "s" * 256}, 400, "invalid_scope"),
        ({"resource": "https://x.test/" + "a" * 2040}, 400, "invalid_request"),
        ({"resource": "not a uri"}, 400, "invalid_target"),
        ({"grant_id": "g" * 257}, 400, "invalid_request"),
        ({"actor_model": "m" * 257}, 400, "invalid_request"),
        ({"grant_id": ""}, 400, "invalid_request"),
        ({"unknown_param": "ignored"}, 200, None),
    ],
)
def test_issuance_limits(world: World, over: dict[str, str], status: int, error: str) -> None:
    response = post_token(world, world.agent, issue_form(world, **over))
    if error is None:
        assert response.status_code == status
    else:
        assert_error(response, status, error)


def test_exchange_empty_scope_is_the_default(world: World) -> None:
    # MCPA-GEN-006: an empty scope is omitted, so the subject token's scope is kept.
    subject = world.issue(scope="files:read data:read")
    form = exchange_form(world, world.tools[0], subject, scope="")
    response = post_token(world, world.tools[0], form)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "files:read data:read"


@pytest.mark.parametrize(
    "scope,error",
    [
        (" ".join(f"s{i}" for i in range(65)), "invalid_request"),
        ("s" * 257, "invalid_request"),
        ("files:read  data:read", "invalid_scope"),
        ("files:read files:read", "invalid_scope"),
        ("files:read files:write", "invalid_scope"),
    ],
)
def test_exchange_scope_limits_and_form(world: World, scope: str, error: str) -> None:
    # One rule for both grant types (section 4.4.2; MCPA-XCH-005, MCPA-GEN-003).
    subject = world.issue(scope="files:read data:read")
    form = exchange_form(world, world.tools[0], subject, scope=scope)
    assert_error(post_token(world, world.tools[0], form), 400, error)


def test_unknown_and_foreign_grant_answer_alike(world: World) -> None:
    unknown = assert_error(
        post_token(world, world.agent, issue_form(world, grant_id="nope")), 400, "invalid_grant"
    )
    foreign = assert_error(
        post_token(world, world.other_agent, issue_form(world, world.other_agent)),
        400,
        "invalid_grant",
    )
    assert unknown == foreign


def test_refusal_records_established_facts(world: World) -> None:
    form = issue_form(world, world.other_agent, scope="files:read")
    assert_error(post_token(world, world.other_agent, form), 400, "invalid_grant")
    event = audit.events_for_grant(world.ctx.db, world.grant_id)[-1]
    assert event["type"] == "token.refused" and event["client_id"] == "agent-2"
    assert event["sub"] == USER and event["scope"] == "files:read"
    assert event["act"] == {"actor_type": "agent", "sub": "agent-2", "mcpa_model": MODEL}
    validate("audit-event", event)


def test_refusal_never_records_unverified_subject_claims(world: World) -> None:
    from mcp_auth.reference.jose import sign_compact

    genuine = world.issue()
    forged = sign_compact(
        decode_header(genuine), decode_claims(genuine), generate_private_key("ES256"), "ES256"
    )
    form = exchange_form(world, world.tools[0], forged)
    assert_exchange_refused(post_token(world, world.tools[0], form), "subject_token_invalid")
    last = audit.all_events(world.ctx.db)[-1]
    assert last["type"] == "token.refused"
    assert "grant_id" not in last and "sub" not in last and "parent_jti" not in last


def test_storage_failure_is_503_without_token(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from mcp_auth.reference.issuer import tokens

    def broken(*_: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(tokens, "record", broken)
    response = post_token(world, world.agent, issue_form(world))
    assert_error(response, 503, "temporarily_unavailable")
    assert "disk" not in response.text
    assert [e["type"] for e in audit.all_events(world.ctx.db)][-1] != "token.issued"
