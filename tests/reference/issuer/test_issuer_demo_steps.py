"""The demo's checked steps (``demo_steps``), its consent-form reader and grant polling.

In-process (TestClient, no sockets). The end-to-end runs of ``mcp-auth demo`` are in
``tests/e2e/test_demo_story.py``.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mcp_auth.command_errors import CliError
from mcp_auth.reference.issuer import demo, grants
from mcp_auth.reference.issuer.app import create_app
from mcp_auth.reference.issuer.client import IssuerClient, IssuerError
from mcp_auth.reference.issuer.demo_consent import forms_of
from mcp_auth.reference.issuer.demo_steps import (
    Step,
    actors_and_models,
    hop_names,
    revoked_subject_refusal,
    token_claims,
    verdict,
)
from mcp_auth.reference.issuer.grant_cli import POLL_INTERVAL, wait_for_decision
from mcp_auth.reference.issuer.settings import Settings

from .conftest import World

ISSUER = "http://127.0.0.1:8400"

# The chain as it is today (the model is a hop of its own) ...
MODEL_HOP = {
    "sub": "t2",
    "actor_type": "tool",
    "act": {
        "sub": "t1",
        "actor_type": "tool",
        "act": {"sub": "m", "actor_type": "model", "act": {"sub": "a", "actor_type": "agent"}},
    },
}
# ... and with the model as an attribute of the agent hop.
MODEL_MEMBER = {
    "sub": "t2",
    "actor_type": "tool",
    "act": {
        "sub": "t1",
        "actor_type": "tool",
        "act": {"sub": "a", "actor_type": "agent", "mcpa_model": "m"},
    },
}


@pytest.mark.parametrize("act", [MODEL_HOP, MODEL_MEMBER])
def test_hops_are_named_with_the_model_wherever_it_is(act: dict[str, Any]) -> None:
    assert hop_names(act) == ["a (model m)", "t1", "t2"]
    assert actors_and_models(act) == (["a", "t1", "t2"], ["m"])


def test_hops_of_odd_chains_never_fail() -> None:
    assert hop_names(None) == []
    assert hop_names({"sub": "m", "actor_type": "model"}) == ["model m"]
    looped: dict[str, Any] = {"sub": "x", "actor_type": "tool"}
    looped["act"] = looped
    assert len(hop_names(looped)) == 64
    assert token_claims("not a token") == {}
    assert token_claims("a.!!.c") == {}


def test_verdict_names_the_steps_that_misbehaved() -> None:
    good = [Step(n, f"s{n}") for n in range(1, 9)]
    assert verdict(good, 8) == (True, "all 8 steps behaved as specified")
    bad = Step(3, "exchange by t")
    bad.fail("refused")
    ok, line = verdict([*good[:2], bad], 8)
    assert not ok
    assert line == "NOT AS SPECIFIED: step 3 (exchange by t); steps 4 to 8 did not run"


def _seeded(tmp_path: Path, *, active_grant: bool = True) -> Settings:
    settings = Settings(data_dir=tmp_path / "d", issuer_url=ISSUER)
    demo.seed(settings, active_grant=active_grant)
    return settings


def test_demo_chain_says_which_step_misbehaved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _seeded(tmp_path)
    # An issuer whose token revocation silently does nothing: step 7 must catch it.
    monkeypatch.setattr(IssuerClient, "revoke", lambda self, token: None)
    app = create_app(settings)
    with TestClient(app, base_url=ISSUER) as http:
        assert demo.chain(settings, http=http) == 1
    app.state.ctx.db.close()
    out = capsys.readouterr().out
    assert "6. revocation by demo-agent  [ok]" in out
    assert "7. introspection after revocation  [FAILED]" in out
    assert "NOT AS SPECIFIED: a token exchanged from a revoked token must be inactive" in out
    assert "NOT AS SPECIFIED: step 7 (introspection after revocation); step 8 did not run" in out
    assert "behaved as specified" not in out


def test_demo_chain_needs_a_grant_and_an_issuer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _seeded(tmp_path, active_grant=False)
    with pytest.raises(CliError, match="no demo grant"):
        demo.chain(settings)
    settings = _seeded(tmp_path / "other")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(CliError) as stopped:
        demo.chain(settings, url)
    message = stopped.value.message
    assert message.startswith("cannot reach the issuer at " + url)
    assert "\n" not in message


def test_seed_without_a_grant(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", issuer_url=ISSUER)
    state = demo.seed(settings, active_grant=False)
    assert state["grant_id"] is None
    app = create_app(settings)
    assert grants.list_grants(app.state.ctx.db) == []
    app.state.ctx.db.close()


PAGE = """<html><body>
<form method="post" action="/consent/login"><input type="hidden" name="csrf_token" value="c1">
<input name="username"><input name="password" type="password"><button type="submit">Sign in
</button></form>
<form class="inline" method="post" action="/consent/grants/g1/approve">
<input type="hidden" name="csrf_token" value="c2">
<button type="submit" name="action" value="approve">Approve</button></form>
<form method="post" action="/consent/grants/g1/decide"><input type="hidden" name="x" value="1">
<button name="action" value="deny">Deny</button></form>
</body></html>"""


def test_forms_are_read_from_the_page() -> None:
    login, approve, deny = forms_of(PAGE)
    assert login.inputs == {"csrf_token": "hidden", "username": "text", "password": "password"}
    assert login.signs_in() and not approve.signs_in()
    assert login.credentials("alice", "pw") == {"username": "alice", "password": "pw"}
    assert login.fields == {"csrf_token": "c1"} and login.buttons == []
    assert approve.does("approve") and not approve.does("deny")
    assert approve.fields == {"csrf_token": "c2"}
    assert approve.buttons == [("action", "approve")]
    assert deny.does("deny") and not deny.does("approve")


def test_waiting_reads_the_grant_every_5_seconds_until_decided(world: World) -> None:
    pending = world.agent.create_grant(
        {k: v for k, v in world.grant_body().items() if k != "client_id"}
    )
    assert pending["status"] == "pending"
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:  # the user approves during the second wait
            grants.transition(world.ctx.db, pending["grant_id"], "approve")

    final = wait_for_decision(world.agent, pending["grant_id"], 60, sleep=nap)
    assert final["status"] == "active"
    assert naps == [POLL_INTERVAL, POLL_INTERVAL]
    # Nobody decides: it gives up at the deadline, still pending.
    other = world.agent.create_grant(
        {k: v for k, v in world.grant_body().items() if k != "client_id"}
    )
    assert wait_for_decision(world.agent, other["grant_id"], 0, sleep=nap)["status"] == "pending"


def test_the_refusal_of_a_revoked_subject_token_in_either_draft() -> None:
    draft00 = IssuerError(400, "invalid_grant", None)
    assert revoked_subject_refusal(draft00)
    assert not revoked_subject_refusal(IssuerError(400, "invalid_request", None))
    # A client that reads MCP-Auth's mcpa_error reason (draft-01).
    draft01 = IssuerError(400, "invalid_request", None)
    draft01.mcpa_error = "subject_token_revoked"  # type: ignore[attr-defined]
    assert revoked_subject_refusal(draft01)
    draft01.mcpa_error = "grant_revoked"  # type: ignore[attr-defined]
    assert not revoked_subject_refusal(draft01)
