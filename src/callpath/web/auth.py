"""Who is asking: the login cookie, turned into a Principal scoped to one account."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from callpath.services import auth
from callpath.storage.db import transaction
from callpath.web.context import ctx
from callpath.web.errors import ClientError, LoginRequired

COOKIE = "callpath_login"


def current(request: Request) -> auth.Principal | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 100:
        return None
    with transaction(ctx(request).engine, write=False) as conn:
        return auth.resolve(conn, token, time.time())


def bearer(request: Request) -> auth.Principal | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if not token.startswith(auth.TOKEN_PREFIX) or len(token) > 100:
        raise ClientError(401, "invalid API token")
    with transaction(ctx(request).engine) as conn:
        who = auth.resolve_token(conn, token, time.time())
    if who is None:
        raise ClientError(401, "invalid or revoked API token")
    return who


def require_api(request: Request) -> auth.Principal:
    """A bearer token (`Authorization: Bearer cp_…`) or the admin login cookie."""
    who = bearer(request) or current(request)
    if who is None:
        raise ClientError(401, "login or API token required")
    return who


def require_page(request: Request) -> auth.Principal:
    who = current(request)
    if who is None:
        raise LoginRequired(401, "login required")
    return who


ApiUser = Annotated[auth.Principal, Depends(require_api)]
PageUser = Annotated[auth.Principal, Depends(require_page)]
