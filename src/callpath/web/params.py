"""Typed request parameters shared by the routes.

Row ids are bounded to what the databases store (a signed 64-bit integer): a larger one
is a 422 naming the parameter, not an overflow inside the database driver.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**63 - 1

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
