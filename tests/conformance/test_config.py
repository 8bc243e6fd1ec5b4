"""Target config loading: valid examples load; errors name the bad field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mcp_auth.conformance import config, jose

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "conformance-target"


def toml_value(v):
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def base() -> dict:
    key = jose.Key.generate()
    return {
        "spec_version": "draft-01",
        "issuer": {
            "url": "http://127.0.0.1:8400",
            "agent": {"client_id": "agent-1", "private_jwk": key.private_jwk(), "model": "m"},
            "tools": [
                {
                    "client_id": "tool-1",
                    "private_jwk": key.private_jwk(),
                    "resource": "http://127.0.0.1:8401/mcp",
                }
            ],
            "grants": {
                "mode": "admin",
                "admin_token": "t",
                "user": "alice",
                "resources": ["http://127.0.0.1:8402/"],
                "scopes": ["data:read"],
            },
        },
        "verifier": {
            "resource": "http://127.0.0.1:8401/mcp",
            "url": "http://127.0.0.1:8401/mcp",
            "required_scope": "data:read",
        },
    }


def test_examples_load():
    cfg = config.from_dict(json.loads((EXAMPLES / "valid-issuer-existing-grants.json").read_text()))
    assert cfg.issuer is not None and cfg.issuer.grants.grant_ids
    cfg = config.from_dict(json.loads((EXAMPLES / "valid-verifier-only.json").read_text()))
    assert cfg.verifier is not None and cfg.verifier.method == "POST"
    assert cfg.verifier.issuer_port == 8499


def test_toml_file_with_key_file(tmp_path):
    key = jose.Key.generate("EdDSA")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "agent.json").write_text(json.dumps(key.private_jwk()))
    (tmp_path / "target.toml").write_text(
        'spec_version = "draft-01"\n[issuer]\nurl = "http://127.0.0.1:8400"\n'
        '[issuer.agent]\nclient_id = "a"\nprivate_jwk_file = "keys/agent.json"\nmodel = "m"\n'
        '[issuer.grants]\nmode = "existing"\ngrant_ids = ["g1"]\n'
    )
    cfg = config.load(tmp_path / "target.toml")
    assert cfg.issuer is not None
    assert cfg.issuer.agent.key.public_jwk() == key.public_jwk()


def mutate(path: str, value=None, delete=False) -> dict:
    data = copy.deepcopy(base())
    node = data
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if delete:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (mutate("issuer.agent.client_id", delete=True), "issuer.agent.client_id"),
        (mutate("issuer.agent.clientid", "x"), "issuer.agent.clientid"),
        (mutate("issuer.url", 5), "issuer.url"),
        (mutate("issuer.grants.mode", "magic"), "issuer.grants.mode"),
        (mutate("issuer.grants.admin_token", delete=True), "issuer.grants.admin_token"),
        (mutate("verifier.method", "post"), "verifier.method"),
        (mutate("verifier.issuer_port", 70000), "verifier.issuer_port"),
        (mutate("spec_version", "draft-99"), "spec_version"),
        (mutate("issuer.agent.private_jwk_file", "k.json"), "issuer.agent"),
        (mutate("issuer.tools.0.resource", delete=True), "issuer.tools[0].resource"),
    ],
)
def test_errors_name_the_field(data, field):
    with pytest.raises(config.ConfigError) as info:
        config.from_dict(data)
    assert info.value.field == field, str(info.value)
    assert field in str(info.value)


def test_missing_key_file_named(tmp_path):
    data = mutate("issuer.agent.private_jwk", delete=True)
    data["issuer"]["agent"]["private_jwk_file"] = "nope.json"
    with pytest.raises(config.ConfigError) as info:
        config.from_dict(data, tmp_path)
    assert info.value.field == "issuer.agent.private_jwk_file"


def test_public_key_refused():
    data = mutate("issuer.agent.private_jwk", jose.Key.generate().public_jwk())
    with pytest.raises(config.ConfigError) as info:
        config.from_dict(data)
    assert info.value.field.startswith("issuer.agent")


def test_bad_toml(tmp_path):
    (tmp_path / "t.toml").write_text("spec_version = \n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(tmp_path / "t.toml")


def test_toml_roundtrip_of_base(tmp_path):
    data = base()
    lines = ['spec_version = "draft-01"']
    lines.append("[issuer]")
    lines.append(f"url = {toml_value(data['issuer']['url'])}")
    lines.append("[issuer.agent]")
    lines += [f"{k} = {toml_value(v)}" for k, v in data["issuer"]["agent"].items()]
    lines.append("[issuer.grants]")
    lines += [f"{k} = {toml_value(v)}" for k, v in data["issuer"]["grants"].items()]
    lines.append("[[issuer.tools]]")
    lines += [f"{k} = {toml_value(v)}" for k, v in data["issuer"]["tools"][0].items()]
    lines.append("[verifier]")
    lines += [f"{k} = {toml_value(v)}" for k, v in data["verifier"].items()]
    (tmp_path / "t.toml").write_text("\n".join(lines) + "\n")
    cfg = config.load(tmp_path / "t.toml")
    assert cfg.verifier is not None and cfg.verifier.required_scope == "data:read"
    assert cfg.issuer is not None and cfg.issuer.tools[0].resource.endswith("/mcp")
