"""HTML form bodies: size-capped, URL-encoded, and refused from other sites' pages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi import Request

from callpath.web.bodies import read_limited
from callpath.web.errors import ClientError

MAX_FORM_BYTES = 16_384


async def read_form(request: Request, keep_blank: bool = False) -> dict[str, str]:
    """The posted fields (first value of each), after a same-origin check; `keep_blank`:
    fields left empty too (a form that edits values, where empty means "none").

    The login cookie is SameSite=Lax, so browsers do not send it on cross-site POSTs;
    checking Origin as well refuses a forged form even from an old browser.
    """
    if not _same_origin(request.headers.get("origin"), request.url.netloc):
        raise ClientError(403, "form posted from another site")
    raw = (await read_limited(request, MAX_FORM_BYTES)).decode("utf-8", "replace")
    form = {k: v[0].strip() for k, v in parse_qs(raw, keep_blank_values=keep_blank).items()}
    if any("\x00" in k or "\x00" in v for k, v in form.items()):
        raise ClientError(400, "form field contains a NUL character")
    return form


def _same_origin(origin: str | None, netloc: str) -> bool:
    """No Origin (or "null") passes; a malformed one is another site."""
    if not origin or origin == "null":
        return True
    try:
        return urlsplit(origin).netloc == netloc
    except ValueError:
        return False
