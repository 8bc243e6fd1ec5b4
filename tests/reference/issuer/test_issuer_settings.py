"""Settings: issuer URL rules (MCPA-GEN-001) and configuration bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_auth.reference.issuer.settings import Settings, default_data_dir, is_allowed_url


@pytest.mark.parametrize(
    "url",
    [
        "https://issuer.example",
        "http://127.0.0.1:8400",
        "http://localhost:8400/",
        "http://[::1]:8400",
    ],
)
def test_allowed_issuer_urls(tmp_path: Path, url: str) -> None:
    assert Settings(data_dir=tmp_path, issuer_url=url).issuer_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://issuer.example",
        "ftp://x",
        "https://x/tenant",
        "https://x?q=1",
        "https://x#f",
        "issuer",
    ],
)
def test_refused_issuer_urls(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, issuer_url=url)


@pytest.mark.parametrize(
    "field,value",
    [
        ("max_chain_depth", 6),
        ("max_chain_depth", 0),
        ("max_token_lifetime", 301),
        ("status_list_max_age", 61),
        ("token_alg", "RS256"),
    ],
)
def test_bounds(tmp_path: Path, field: str, value: object) -> None:
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, **{field: value})  # type: ignore[arg-type]


def test_url_helper() -> None:
    assert is_allowed_url("https://a.test/x")
    assert not is_allowed_url("https://a.test:99999/")
    assert not is_allowed_url("https://a.test/ x")


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MCP_AUTH_DATA_DIR", str(tmp_path / "explicit"))
    assert default_data_dir() == tmp_path / "explicit"
    monkeypatch.delenv("MCP_AUTH_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "mcp-auth"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == Path.home() / ".local" / "share" / "mcp-auth"
