"""Base for request bodies: text that cannot be stored is refused.

NUL characters (PostgreSQL cannot store them) and lone surrogates (JSON may escape them,
`"\\ud800"`, but they are not text: no database or response can encode them).
"""

from __future__ import annotations

from pydantic import BaseModel, field_validator

from callpath.services.setup import unstorable


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
