"""Request bodies. Text that cannot be stored is refused everywhere.

NUL characters (PostgreSQL cannot store them) and lone surrogates (JSON may escape them,
`"\\ud800"`, but they are not text: no database or response can encode them).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callpath.domain.pool import PoolSettings
from callpath.services.site_input import MATCH_WINDOW_MAX, unstorable


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


# A site's fields, shared by the body that adds a site and the one that changes it; the
# service (`setup.update_site`, `setup.create_site`) checks what the values mean.
SiteName = Annotated[str, Field(min_length=1, max_length=200)]
Domains = Annotated[list[Annotated[str, Field(max_length=253)]], Field(max_length=50)]
Phones = Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20)]
Phone = Annotated[str, Field(max_length=40)]
Timezone = Annotated[str, Field(max_length=64)]
Currency = Annotated[str, Field(max_length=3)]
Region = Annotated[str, Field(min_length=2, max_length=2)]
MatchWindow = Annotated[int, Field(ge=0, le=MATCH_WINDOW_MAX)]
Channels = Annotated[list[Annotated[str, Field(max_length=255)]], Field(max_length=50)]
POOL = PoolSettings()  # a new site's pool settings unless given


class SiteIn(Inbound):
    name: SiteName
    domains: Domains = Field(default_factory=list)
    original_numbers: Phones = Field(default_factory=list)
    default_destination: Phone | None = None
    timezone: Timezone = "Europe/Moscow"
    currency: Currency = "RUB"
    region: Region = "RU"
    ping_interval: int = POOL.ping_interval
    hold_after_leave: int = POOL.hold_after_leave
    cooldown: int = POOL.cooldown
    session_timeout: int = POOL.session_timeout
    match_window: MatchWindow = 172_800
    excluded_channels: Channels = Field(default_factory=list)


class SitePatch(Inbound):
    """The settings to change: a field left out keeps its value. `null` is refused rather
    than read as "keep" or "remove", and so is a field that cannot change (`key`, `id`)
    or is misspelt: it would otherwise be ignored without a word."""

    model_config = ConfigDict(extra="forbid")

    name: SiteName | None = None
    domains: Domains | None = None
    original_numbers: Phones | None = None
    default_destination: Phone | None = None
    timezone: Timezone | None = None
    currency: Currency | None = None
    region: Region | None = None
    ping_interval: int | None = None
    hold_after_leave: int | None = None
    cooldown: int | None = None
    session_timeout: int | None = None
    match_window: MatchWindow | None = None
    excluded_channels: Channels | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("null is not a value here: leave the field out to keep it")
        return value
