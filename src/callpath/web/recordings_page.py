"""`GET /app/calls/{id}/recording`: the stored recording, to logged-in users of the call's
account only (404 for anything else, other accounts' calls included)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from callpath.domain.calls import is_call_key
from callpath.services import recordings
from callpath.storage import recording_repo
from callpath.storage.db import transaction
from callpath.web.auth import PageUser
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.recording_view import playable_type

router = APIRouter(include_in_schema=False)
_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


@router.get("/app/calls/{call_id}/recording")
def recording(call_id: str, request: Request, who: PageUser) -> FileResponse:
    """The file with its type (byte ranges served by Starlette, so players can seek)."""
    folder = ctx(request).settings.recordings_dir
    if folder is None or not is_call_key(call_id):
        raise ClientError(404, "no such recording")
    with transaction(ctx(request).engine, write=False) as conn:
        row = recording_repo.of_call(conn, who.account_id, call_id)
    path = recordings.resolve(folder, row["path"]) if row and row["state"] == "stored" else None
    if row is None or path is None or not path.is_file():
        raise ClientError(404, "no such recording")
    media = playable_type(row["content_type"])
    if media is None:  # not a known audio type: a download, never rendered by the browser
        return FileResponse(
            path, media_type="application/octet-stream", headers=_HEADERS, filename=path.name
        )
    return FileResponse(path, media_type=media, headers=_HEADERS)
