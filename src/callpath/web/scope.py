"""Objects named in a request, resolved within the caller's account (404 otherwise)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from callpath.storage import site_repo
from callpath.web.errors import ClientError


def owned_site(conn: Connection, account_id: int, site_id: int) -> dict[str, Any]:
    """The site's row; another account's site is as absent as one that does not exist."""
    site = site_repo.site_row(conn, site_id=site_id)
    if site is None or site["account_id"] != account_id:
        raise ClientError(404, "no such site")
    return site
