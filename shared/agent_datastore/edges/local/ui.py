"""`GET /ui`: the data viewer of the local server.

One self-contained page (HTML, CSS and script from `static/`, inlined) that
calls the public API from the browser, so it sees exactly what an agent
sees and needs no endpoint of its own. A Content-Security-Policy pins the
inline script and style by hash and allows requests to this origin only
(and the icon, `GET /favicon.svg`, from this origin).
"""

from __future__ import annotations

import base64
import hashlib
import html
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent_datastore.api.app import Api


def _static(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


@cache
def render(auth: str) -> bytes:
    css, js = _static("ui.css"), _static("ui.js")
    csp = (
        f"default-src 'none'; script-src {_sha256(js)}; style-src {_sha256(css)}; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
    )
    page = _static("ui.html")
    # Placeholders are filled one by one; the script and style are trusted files of this package.
    page = page.replace("{csp}", html.escape(csp)).replace("{auth}", html.escape(auth))
    page = page.replace("{css}", css).replace("{js}", js)
    return page.encode("utf-8")


def page(api: Api, base_url: str = "") -> tuple[int, str, bytes]:
    return 200, "text/html; charset=utf-8", render(api.settings.auth)


@cache
def _favicon() -> bytes:
    return _static("favicon.svg").encode("utf-8")


def favicon(api: Api, base_url: str = "") -> tuple[int, str, bytes]:
    """`GET /favicon.svg` (and `/favicon.ico`, which browsers ask for on their own): the icon, as SVG."""
    return 200, "image/svg+xml", _favicon()
