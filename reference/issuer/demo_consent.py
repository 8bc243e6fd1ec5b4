"""``mcp-auth demo --yes``: decide on a grant the way a person does, through the consent page.

No shortcut into the database: sign in on the page's own form (CSRF cookie and token
included), open the grant's ``approval_uri`` and submit its Approve form (or Deny), following
any confirmation form the page shows next (at most a few). The forms are found by reading the
HTML (``html.parser``), not by rebuilding them, so the page may change its layout freely:
the sign-in form is the one with a password field, the approve form the one whose
action ends in ``/approve`` or whose button's value is ``approve`` (``deny`` likewise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

MAX_CONFIRMATIONS = 3


class ConsentError(Exception):
    """The consent page did not let the demo approve (one line)."""


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value)
    inputs: dict[str, str] = field(default_factory=dict)  # name -> type, of every input

    def signs_in(self) -> bool:
        return "password" in self.inputs.values()

    def credentials(self, user: str, password: str) -> dict[str, str]:
        """The user name in its text field, the password in its password field."""
        filled = {}
        for name, kind in self.inputs.items():
            if kind == "password":
                filled[name] = password
            elif kind in ("text", "email"):
                filled[name] = user
        return filled

    def does(self, action: str) -> bool:
        """This form approves (``action`` = ``approve``), denies, revokes..."""
        if self.action.rstrip("/").endswith(f"/{action}"):
            return True
        return any(value.lower() == action for _, value in self.buttons)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(attr.get("action", ""), attr.get("method", "get").lower())
            self.forms.append(self._current)
        elif self._current is not None and tag in ("input", "button"):
            name, value = attr.get("name", ""), attr.get("value", "")
            kind = attr.get("type", "submit" if tag == "button" else "text").lower()
            if kind == "submit":
                if name:
                    self._current.buttons.append((name, value))
            elif name:
                self._current.inputs[name] = kind
                if kind == "hidden" or (kind == "checkbox" and "required" in attr):
                    # A required checkbox: a person ticks it too.
                    self._current.fields[name] = value if kind == "hidden" else value or "on"

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def forms_of(html_text: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html_text)
    parser.close()
    return parser.forms


def _submit(
    http: httpx.Client, page: httpx.Response, form: Form, extra: dict[str, str], action: str = ""
) -> httpx.Response:
    data = {**form.fields, **extra}
    # The button for the action, else the form's first one (its name and value are sent too).
    chosen = [b for b in form.buttons if b[1].lower() == action] or form.buttons[:1]
    data.update(dict(chosen[:1]))
    target = urljoin(str(page.url), form.action or str(page.url))
    if form.method == "post":
        return http.post(target, data=data)
    return http.get(target, params=data)


def decide_on_consent_page(
    approval_uri: str, user: str, password: str, action: str = "approve"
) -> None:
    """Sign in as ``user`` and approve (or deny) the grant at ``approval_uri``.

    ConsentError when signing in fails or the page refuses; whether the grant changed is
    for the caller to read from the grants API.
    """
    with httpx.Client(timeout=10.0, follow_redirects=True) as http:
        page = http.get(approval_uri)
        sign_in = next((f for f in forms_of(page.text) if f.signs_in()), None)
        if sign_in is not None:
            page = _submit(http, page, sign_in, sign_in.credentials(user, password))
            if any(f.signs_in() for f in forms_of(page.text)):
                raise ConsentError(f"signing in as {user!r} on the consent page failed")
        for _ in range(MAX_CONFIRMATIONS):
            form = next((f for f in forms_of(page.text) if f.does(action)), None)
            if form is None:
                break
            page = _submit(http, page, form, {}, action)
            if page.status_code >= 400:
                raise ConsentError(
                    f"the consent page answered HTTP {page.status_code} to {action.title()}"
                )
        else:
            raise ConsentError(f"the consent page kept asking to {action}")
