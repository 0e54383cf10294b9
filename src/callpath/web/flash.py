"""A notice for the page a form redirects to (redirect after post): a short-lived cookie,
read once. Its value names one of `NOTICES`, never text from a request, and may carry a
secret to show once (an invitation's or a password reset's link), which the page shows
only after checking it against the database."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from callpath.web.context import ctx

COOKIE = "callpath_notice"
NOTICES = {
    "added": "User added: they can log in now with the password you gave.",
    "invited": "Invitation made.",
    "role": "Role changed.",
    "deactivated": "User deactivated: their login sessions ended and their API tokens "
    "were revoked.",
    "reactivated": "User reactivated: they can log in again (their old API tokens stay revoked).",
    "withdrawn": "Invitation withdrawn: its link no longer works.",
    "reset": "Password reset link made.",
    "reset_withdrawn": "Password reset link withdrawn: it no longer works.",
    "password": "Password changed. Your other login sessions were ended.",
    "webhook": "Webhook added.",
    "webhook_removed": "Webhook removed.",
    "replayed": "Deliveries due again now: the delivery process sends them within seconds.",
    "paused": "Paused: events queue up until you resume.",
    "resumed": "Resumed: queued events are sent first.",
}


def redirect(request: Request, url: str, notice: str, secret: str = "") -> RedirectResponse:
    """303 to `url`, which shows `notice` (a key of NOTICES) once."""
    assert notice in NOTICES
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        COOKIE,
        f"{notice}.{secret}" if secret else notice,
        max_age=300,
        path="/app",
        httponly=True,
        samesite="strict",
        secure=ctx(request).settings.cookie_secure,
    )
    return response


@dataclass(frozen=True, slots=True)
class Notice:
    key: str
    text: str
    secret: str  # "" when it carries none


def take(request: Request) -> Notice | None:
    """The notice waiting for this page, if any."""
    key, _, secret = request.cookies.get(COOKIE, "")[:200].partition(".")
    text = NOTICES.get(key)
    return Notice(key, text, secret) if text else None


def shown(request: Request, response: Response) -> Response:
    """`response`, which showed the waiting notice: it is not shown again."""
    if COOKIE in request.cookies:
        response.delete_cookie(COOKIE, path="/app")
    return response
