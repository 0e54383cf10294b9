"""An invitation link (`/app/invite/TOKEN`): whoever holds it chooses a password and
becomes a user of the account with the role it gives, logged in at once. Links are
unguessable (256 bits), work once and expire (`users.INVITATION_SECONDS`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from callpath.services import users
from callpath.web import password_link

router = APIRouter(prefix="/app/invite", include_in_schema=False)
LINK = password_link.Link(
    template="invitation.html",
    name="invitation",
    invalid="this invitation link is not valid",
    open=users.open_invitation,
    use=users.accept,
)


@router.get("/{token}")
def invitation(token: str, request: Request) -> HTMLResponse:
    return password_link.page(request, LINK, token)


@router.post("/{token}", response_model=None)
async def accept(token: str, request: Request) -> Response:
    return await password_link.submit(request, LINK, token)
