"""What every inbound adapter raises: the web layer turns these into 4xx answers."""

from __future__ import annotations

import json
import math
import re
from typing import Any

# A lone surrogate reaches Python only through a JSON escape (`\ud800`); raw UTF-8 bytes
# cannot carry one (decoding them fails first). Bodies without such an escape, nearly all,
# skip the check.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class Unauthorized(Exception):
    """The request is not provably from the integration (answered 401, fail closed)."""


class BadEvent(ValueError):
    """The body is not a call event we can read (answered 400 with this reason)."""


class Ignored(Exception):
    """A well-formed event we do not use (answered 200 so the sender stops retrying)."""


def json_object(body: bytes, what: str = "body") -> dict[str, Any]:
    """`body` as a JSON object, or `BadEvent` naming `what` (never a raw decoder error).

    A string anywhere in it that is not Unicode text (a lone surrogate such as "\\ud800",
    which JSON's escapes allow) is refused: it can be neither stored nor hashed as UTF-8."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadEvent(f"{what} is not JSON") from exc
    if not isinstance(data, dict):
        raise BadEvent(f"{what} must be a JSON object")
    if _SURROGATE_ESCAPE.search(body) and not _is_text(data):
        raise BadEvent(f"{what} has a string that is not valid Unicode text (a lone surrogate)")
    return data


def finite(value: object) -> float | None:
    """A JSON number as a float; None for anything else, including booleans, NaN,
    ±Infinity (Python's decoder accepts them) and integers too large for a float (JSON
    allows any number of digits)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _is_text(data: object) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        return False
    return True
