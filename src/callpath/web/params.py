"""Typed request parameters shared by the routes.

Row ids are bounded to what the databases store (`tables.MAX_ID`): a larger one is a 422
naming the parameter, not an overflow inside the database driver.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from callpath.storage.tables import MAX_ID

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
