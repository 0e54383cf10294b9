"""Base for request bodies: text that cannot be stored is refused.

NUL characters (PostgreSQL cannot store them) and lone surrogates (JSON may escape them,
`"\\ud800"`, but they are not text: no database or response can encode them).
"""

from __future__ import annotations

from pydantic import BaseModel, field_validator


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode text)"
    return None


class Inbound(BaseModel):
    @field_validator("*")
    @classmethod
    def _storable(cls, value: object) -> object:
        items = value if isinstance(value, list) else [value]
        for item in items:
            why = unstorable(item) if isinstance(item, str) else None
            if why:
                raise ValueError(why)
        return value
