"""Typed request parameters shared by the routes, and the rule that a query parameter
an endpoint does not take is a 400 (a typo must not pass for a filter).

Row ids are bounded to what the databases store (`tables.MAX_ID`): a larger one is a 422
naming the parameter, not an overflow inside the database driver.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.routing import APIRoute

from callpath.storage.tables import MAX_ID
from callpath.web.errors import ClientError

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def refuse_unknown(names: Iterable[str], allowed: Collection[str], what: str) -> None:
    """A 400 naming the parameters (up to five) that `what` does not take."""
    unknown = sorted({name for name in names if name not in allowed})
    if unknown:
        shown = ", ".join(name[:40] for name in unknown[:5])
        raise ClientError(400, f"{shown}: not a parameter of {what}")


def known_query(request: Request) -> None:
    """A router's dependency (`/api/v1`): the query may hold only the parameters the
    endpoint declares. Not for the tracker or the webhooks, whose callers add their own."""
    route = request.scope.get("route")
    if request.query_params and isinstance(route, APIRoute):
        refuse_unknown(request.query_params.keys(), _query_names(route), "this endpoint")


def _query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters a route takes, its dependencies' too, as clients spell them
    (a walk of a few objects, only for a request with a query: not worth a cache)."""
    names: set[str] = set()
    todo = [route.dependant]
    while todo:
        dependant = todo.pop()
        names.update(param.alias for param in dependant.query_params)
        todo.extend(dependant.dependencies)
    return frozenset(names)
