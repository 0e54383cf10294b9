"""Base for request bodies: NUL characters are refused (PostgreSQL cannot store them)."""

from __future__ import annotations

from pydantic import BaseModel, field_validator


class Inbound(BaseModel):
    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in items):
            raise ValueError("contains a NUL character")
        return value
