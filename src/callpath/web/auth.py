"""Who is asking: the login cookie, turned into a Principal scoped to one account."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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


def set_login(request: Request, response: Response, token: str) -> None:
    """Log the browser in: the login session's cookie on `response`."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=auth.LOGIN_SECONDS,
        httponly=True,
        samesite="lax",
        secure=ctx(request).settings.cookie_secure,
    )


def bearer(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> auth.Principal | None:
    if credentials is None:
        return None
    token = credentials.credentials.strip()
    if not token.startswith(auth.TOKEN_PREFIX) or len(token) > 100:
        raise ClientError(401, "invalid API token")
    engine, now = ctx(request).engine, time.time()
    with transaction(engine, write=False) as conn:
        use = auth.resolve_token(conn, token, now)
    if use is None:
        raise ClientError(401, "invalid or revoked API token")
    if use.stale:
        with transaction(engine) as conn:
            auth.touch_token(conn, use.token_id, now)
    return use.who


_BEARER = HTTPBearer(auto_error=False, description="An API token: `Bearer cp_…`")


def require_api(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> auth.Principal:
    """A bearer token (`Authorization: Bearer cp_…`) or the admin login cookie."""
    who = bearer(request, credentials) or current(request)
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
