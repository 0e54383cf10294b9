"""What goes into a platform's file besides text: ids read from a visit's URL or cookies,
which must be letters, digits, `_` and `-` with a letter or digit first (so one is never a
spreadsheet formula and is written as it is), at most 512 characters, else they are no id."""

from __future__ import annotations

import re
from collections.abc import Mapping

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,511}")


def usable(ids: Mapping[str, str], name: str) -> str | None:
    """`ids[name]` when it is a well-formed id, else None."""
    value = ids.get(name)
    return value if isinstance(value, str) and _ID.fullmatch(value) else None
