"""A password reset link (`/app/reset/TOKEN`): whoever holds it chooses the user's new
password; every login session of the user ends and this browser is logged in as them.
Links are unguessable (256 bits), work once and expire (`users.RESET_SECONDS`); an owner
or admin who manages the user makes them on the users page (or `callpath user
reset-password`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from callpath.services import users
from callpath.web import password_link

router = APIRouter(prefix="/app/reset", include_in_schema=False)
LINK = password_link.Link(
    template="reset.html",
    name="reset",
    invalid="this password reset link is not valid",
    open=users.open_reset,
    use=users.use_reset,
)


@router.get("/{token}")
def reset_form(token: str, request: Request) -> HTMLResponse:
    return password_link.page(request, LINK, token)


@router.post("/{token}", response_model=None)
async def reset(token: str, request: Request) -> Response:
    return await password_link.submit(request, LINK, token)
