"""What every inbound adapter raises: the web layer turns these into 4xx answers."""

from __future__ import annotations

import json
from typing import Any


class Unauthorized(Exception):
    """The request is not provably from the integration (answered 401, fail closed)."""


class BadEvent(ValueError):
    """The body is not a call event we can read (answered 400 with this reason)."""


class Ignored(Exception):
    """A well-formed event we do not use (answered 200 so the sender stops retrying)."""


def json_object(body: bytes, what: str = "body") -> dict[str, Any]:
    """`body` as a JSON object, or `BadEvent` naming `what` (never a raw decoder error)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadEvent(f"{what} is not JSON") from exc
    if not isinstance(data, dict):
        raise BadEvent(f"{what} must be a JSON object")
    return data
