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


def require_api(request: Request) -> auth.Principal:
    who = current(request)
    if who is None:
        raise ClientError(401, "login required")
    return who


def require_page(request: Request) -> auth.Principal:
    who = current(request)
    if who is None:
        raise LoginRequired(401, "login required")
    return who


ApiUser = Annotated[auth.Principal, Depends(require_api)]
PageUser = Annotated[auth.Principal, Depends(require_page)]
