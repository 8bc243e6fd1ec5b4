"""Target configuration: a TOML file validated against the ``conformance-target`` schema.

Errors name the offending field as a dotted path (``issuer.agent.client_id``) so that a
typo in a vendor's config is found at once. Key files are read relative to the config file.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# jsonschema ships no type information (types-jsonschema is not a dependency).
from jsonschema.exceptions import best_match  # type: ignore[import-untyped,unused-ignore]

from mcp_auth import schemas
from mcp_auth.conformance import jose


class ConfigError(ValueError):
    """The target config is invalid; ``field`` is the dotted path of the bad field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field or '(top level)'}: {message}")
        self.field = field
        self.message = message


@dataclass
class ClientConfig:
    client_id: str
    key: jose.Key
    model: str = ""
    resource: str | None = None


@dataclass
class GrantsConfig:
    mode: str
    admin_token: str = ""
    user: str = ""
    resources: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    grant_ids: list[str] = field(default_factory=list)
    quota_probe: int = 0  # pending grants the quota check may create; 0 skips it


@dataclass
class IssuerConfig:
    url: str
    agent: ClientConfig
    tools: list[ClientConfig]
    grants: GrantsConfig


@dataclass
class VerifierConfig:
    resource: str
    url: str
    method: str = "POST"
    required_scope: str | None = None
    issuer_port: int = 8499
    # Statuses that count as accepted; empty = any 2xx (framework.SUCCESS_2XX).
    success_status: tuple[int, ...] = ()


@dataclass
class TargetConfig:
    spec_version: str
    issuer: IssuerConfig | None = None
    verifier: VerifierConfig | None = None
    source: str = ""


def _dotted(json_path: str) -> str:
    """``$.issuer.tools[0].resource`` -> ``issuer.tools[0].resource``."""
    path = json_path[1:] if json_path.startswith("$") else json_path
    return path.lstrip(".")


def validate_schema(data: dict[str, Any]) -> None:
    validator = schemas.validator("conformance-target")
    errors = sorted(validator.iter_errors(data), key=lambda e: (-len(list(e.path)), str(e.path)))
    if not errors:
        return
    err = best_match(errors)
    assert err is not None
    path = _dotted(err.json_path)
    # Name the missing or unexpected member itself, not only its parent.
    if err.validator == "required" and isinstance(err.instance, dict):
        missing = [m for m in err.validator_value if m not in err.instance]
        if missing:
            path = f"{path}.{missing[0]}" if path else missing[0]
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set((err.schema.get("properties") or {}).keys())
        extra = [k for k in err.instance if k not in allowed]
        if extra:
            path = f"{path}.{extra[0]}" if path else extra[0]
    if err.validator == "oneOf" and isinstance(err.instance, dict):
        has = [k for k in ("private_jwk_file", "private_jwk") if k in err.instance]
        msg = (
            "give exactly one of private_jwk_file and private_jwk" if len(has) != 1 else err.message
        )
        raise ConfigError(path, msg)
    raise ConfigError(path, err.message)


def _load_key(section: dict[str, Any], where: str, base: Path) -> jose.Key:
    if "private_jwk" in section:
        jwk = section["private_jwk"]
        name = f"{where}.private_jwk"
    else:
        name = f"{where}.private_jwk_file"
        path = base / str(section["private_jwk_file"])
        try:
            jwk = json.loads(path.read_text("utf-8"))
        except OSError as exc:
            raise ConfigError(name, f"cannot read {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise ConfigError(name, f"{path} is not JSON: {exc}") from None
    try:
        return jose.Key.from_jwk(jwk)
    except (jose.JoseError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(name, f"not a usable private JWK: {exc}") from None


def from_dict(data: dict[str, Any], base: Path | None = None, source: str = "") -> TargetConfig:
    """Validate and convert a parsed config."""
    if not isinstance(data, dict):
        raise ConfigError("", "the config is not a table")
    validate_schema(data)
    base = base or Path.cwd()
    cfg = TargetConfig(spec_version=data["spec_version"], source=source)
    if "issuer" in data:
        i = data["issuer"]
        agent = ClientConfig(
            i["agent"]["client_id"],
            _load_key(i["agent"], "issuer.agent", base),
            model=i["agent"]["model"],
        )
        tools = [
            ClientConfig(
                t["client_id"], _load_key(t, f"issuer.tools[{n}]", base), resource=t["resource"]
            )
            for n, t in enumerate(i.get("tools", []))
        ]
        g = i["grants"]
        grants = GrantsConfig(
            mode=g["mode"],
            admin_token=g.get("admin_token", ""),
            user=g.get("user", ""),
            resources=list(g.get("resources", [])),
            scopes=list(g.get("scopes", [])),
            models=list(g.get("models", [])),
            grant_ids=list(g.get("grant_ids", [])),
            quota_probe=int(g.get("quota_probe", 0)),
        )
        cfg.issuer = IssuerConfig(i["url"], agent, tools, grants)
    if "verifier" in data:
        v = data["verifier"]
        cfg.verifier = VerifierConfig(
            resource=v["resource"],
            url=v["url"],
            method=v.get("method", "POST"),
            required_scope=v.get("required_scope"),
            issuer_port=int(v.get("issuer_port", 8499)),
            success_status=_statuses(v.get("success_status", ())),
        )
    return cfg


def _statuses(value: int | list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """``success_status``: one status or a list of them (the schema bounds them to 2xx)."""
    return (value,) if isinstance(value, int) else tuple(int(v) for v in value)


def load(path: str | Path) -> TargetConfig:
    """Read, validate and convert a TOML target config."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read {p}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{p} is not valid TOML: {exc}") from None
    return from_dict(data, p.resolve().parent, str(p))
