"""The version scheme: one ``__version__``, one ``SPEC_VERSION``, and everything agrees.

Release ``0.N.x`` implements ``draft-(N-1)``; a ``0.N.0.devM`` snapshot may still implement
the previous draft (CHANGELOG.md, "Version scheme"). Bumping the draft means changing
``SPEC_VERSION``; these tests name every other place that has to follow.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import mcp_auth
from mcp_auth import SPEC_VERSION, __version__, schemas
from mcp_auth.cli import main
from mcp_auth.conformance import results

ROOT = Path(__file__).resolve().parents[2]
DIST = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["name"]
VERSION = re.compile(r"^0\.(?P<minor>[1-9]\d*)\.(?P<patch>\d+)(?P<dev>\.dev\d+)?$")
DRAFT = re.compile(r"^draft-(?P<n>\d{2})$")


def _draft_number() -> int:
    m = DRAFT.match(SPEC_VERSION)
    assert m, f"SPEC_VERSION {SPEC_VERSION!r} is not draft-NN"
    return int(m["n"])


def test_version_follows_the_scheme() -> None:
    m = VERSION.match(__version__)
    assert m, f"__version__ {__version__!r} is not 0.N.x or 0.N.x.devM"
    implements = int(m["minor"]) - 1
    if m["dev"] and m["patch"] == "0":
        # A snapshot towards 0.N.0 may still carry the previous draft.
        assert _draft_number() in (implements, implements - 1)
    else:
        assert _draft_number() == implements, (
            f"release {__version__} must implement draft-{implements:02d}, "
            f"SPEC_VERSION is {SPEC_VERSION}"
        )


def test_installed_metadata_is_the_same_version() -> None:
    assert metadata.version(DIST) == __version__, (
        "the installed metadata is stale: reinstall (pip install -e '.[dev]')"
    )
    assert (
        "version"
        in tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["dynamic"]
    ), "pyproject.toml must read the version from mcp_auth.__version__, not repeat it"


def test_cli_version_names_suite_and_draft(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"mcp-auth {__version__} (spec {SPEC_VERSION})"


def test_changelog_has_this_version_and_the_scheme() -> None:
    text = (ROOT / "CHANGELOG.md").read_text("utf-8")
    assert "## Version scheme" in text
    headings = re.findall(r"^## (\S+) — implements (draft-\d{2})$", text, re.M)
    assert headings, "no '## X.Y.Z — implements draft-NN' release headings"
    for version, draft in headings:
        m = VERSION.match(version)
        assert m and not m["dev"], version
        assert draft == f"draft-{int(m['minor']) - 1:02d}", f"{version} cannot implement {draft}"
    if ".dev" in __version__:
        assert "\n## Unreleased\n" in text
    else:
        assert __version__ in [v for v, _ in headings], f"CHANGELOG.md has no {__version__}"


def test_every_place_that_names_the_draft_follows_spec_version() -> None:
    assert schemas.BASE_URI.endswith(f"/{SPEC_VERSION}/")
    assert results.SPEC_BASE_URL.endswith(f"/{SPEC_VERSION}/")
    for name in schemas.names():
        assert f"/{SPEC_VERSION}/" in schemas.load(name)["$id"], name
    report = schemas.load("conformance-report")
    assert report["properties"]["spec_version"]["const"] == SPEC_VERSION
    target = schemas.load("conformance-target")
    assert SPEC_VERSION in json.dumps(target["properties"]["spec_version"])
    site = (ROOT / "mkdocs.yml").read_text("utf-8")
    assert re.search(rf"^site_name: .*\b{SPEC_VERSION}\b", site, re.M)
    catalog = json.loads((ROOT / "conformance/data/requirements.json").read_text("utf-8"))
    assert catalog["spec_version"] == SPEC_VERSION


def test_package_names_the_three_names() -> None:
    assert mcp_auth.DISTRIBUTION == DIST
    doc = mcp_auth.__doc__ or ""
    assert DIST in doc and "mcp_auth" in doc and "mcp-auth" in doc
