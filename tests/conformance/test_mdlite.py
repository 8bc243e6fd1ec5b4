"""The Markdown subset of requirement texts: rendered, and never a way to inject HTML."""

from __future__ import annotations

import pytest

from mcp_auth.conformance.mdlite import inline

BASE = "https://mcp-auth.dev/draft-00/"


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("MUST answer `invalid_token`", "MUST answer <code>invalid_token</code>"),
        ("**strong** and *em* and _em_", "<strong>strong</strong> and <em>em</em> and <em>em</em>"),
        ("resource_metadata and a_b_c stay", "resource_metadata and a_b_c stay"),
        ("`a*b*c` and `<x>`", "<code>a*b*c</code> and <code>&lt;x&gt;</code>"),
        ("``has ` tick``", "<code>has ` tick</code>"),
        (
            "see [MCPA-VER-033](05-verification.md#MCPA-VER-033)",
            f'see <a href="{BASE}05-verification/#MCPA-VER-033">MCPA-VER-033</a>',
        ),
        (
            "[RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)",
            '<a href="https://www.rfc-editor.org/rfc/rfc9449">RFC 9449</a>',
        ),
        ("[x](javascript:alert(1))", "[x](javascript:alert(1))"),
        ("[x](javascript:alert)", "x"),
        (
            "<script>alert('x')</script> & \x00",
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; ",
        ),
        (
            '[a"b](https://x.example/?q="><img>)',
            '<a href="https://x.example/?q=&quot;&gt;&lt;img&gt;">a&quot;b</a>',
        ),
        ("[RFC8725] §3.1 stays text", "[RFC8725] §3.1 stays text"),
    ],
)
def test_inline(text, html):
    assert inline(text, BASE) == html
