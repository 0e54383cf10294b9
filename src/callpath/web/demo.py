"""The demo landing page (`/demo`): a pizzeria site that carries the snippet."""

from __future__ import annotations

import shlex

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from callpath.domain import phone
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.pages import render

router = APIRouter(include_in_schema=False)
DEMO_KEY = "demo"

# Content rendered after load, the way single-page apps do: the snippet must catch it.
LATE_JS = """setTimeout(function () {
  var p = document.getElementById("late-slot");
  p.textContent = "Open 10:00-23:00. Questions? Call %s";
}, 800);
"""


def formats(e164: str) -> list[str]:
    """The same number written three ways, as real sites do."""
    nsn = phone.national_digits(e164)
    cc = phone.country_code(e164)
    pretty = f"+{cc} ({nsn[:3]}) {nsn[3:6]}-{nsn[6:8]}-{nsn[8:]}"
    spaced = f"8 {nsn[:3]} {nsn[3:6]} {nsn[6:8]} {nsn[8:]}" if cc == "7" else phone.display(e164)
    return [pretty, spaced, e164]


def _original(request: Request) -> str:
    site = ctx(request).sites.by_key(DEMO_KEY)
    if site is None or not site.original_numbers:
        raise ClientError(404, "no demo site: run `callpath demo` first")
    return site.original_numbers[0]


# Where `callpath call simulate` sends a call unless told otherwise (cli/common.py).
CLI_DEFAULT_SERVERS = ("http://127.0.0.1:8000", "http://localhost:8000")


def server_option(served_from: str) -> str:
    """The `--server URL ` a command needs to reach the server the page came from
    ("" when it is the command's default), quoted for a shell."""
    base = served_from.rstrip("/")
    return "" if base in CLI_DEFAULT_SERVERS else f"--server {shlex.quote(base)} "


@router.get("/demo")
def demo_page(request: Request) -> HTMLResponse:
    original = _original(request)
    base = ctx(request).settings.public_url or ""
    response = render(
        request,
        "demo.html",
        key=DEMO_KEY,
        base=base,
        tel=original,
        formats=formats(original),
        server=server_option(base or str(request.base_url)),
    )
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'"
    )
    return response


@router.get("/demo/late.js")
def late_js(request: Request) -> Response:
    return Response(LATE_JS % formats(_original(request))[1], media_type="text/javascript")
