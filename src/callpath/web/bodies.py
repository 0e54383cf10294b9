"""Reading request bodies with a size limit (anything from outside is hostile)."""

from __future__ import annotations

from fastapi import Request

from callpath.web.errors import ClientError


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ClientError(413, f"body larger than {limit} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise ClientError(413, f"body larger than {limit} bytes")
    return raw
