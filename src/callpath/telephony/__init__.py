"""Inbound telephony: one folder per provider, each turning its webhooks into `CallEvent`s.

Every adapter shares the generic webhook's storage, idempotency, folding and fail-open
routing (`services.calls`, `services.routing`); an adapter only parses, verifies and
answers in its provider's terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from callpath.domain.calls import CallEvent
from callpath.telephony.asterisk import adapter as asterisk
from callpath.telephony.generic import adapter as generic
from callpath.telephony.sip import adapter as sip
from callpath.telephony.twilio import adapter as twilio
from callpath.telephony.zadarma import adapter as zadarma
from callpath.telephony.zadarma import screen as zadarma_screen

Parser = Callable[[bytes], tuple[CallEvent, str]]
Screen = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]  # one call's stored events


@dataclass(frozen=True, slots=True)
class Provider:
    """One kind of integration, as its folder provides it (checked by mypy, not looked
    up by name at run time)."""

    kind: str
    # (the stored raw body, read again when folding) -> (CallEvent, dedup key)
    parse: Parser
    # (webhook URL, secret) -> what `callpath integration add` prints
    instructions: Callable[[str, str], str]
    # Which stored events of one call are folded, for a provider whose events must vouch
    # for each other (Zadarma: an END counts only with its call's START). None: all.
    screen: Screen | None = None
    # The secret is the provider's own (an auth token), given by the user.
    provider_secret: bool = False
    # Its calls ask callpath where to forward them (Asterisk's dialplan routes its own).
    forwards: bool = True


PROVIDERS: dict[str, Provider] = {
    p.kind: p
    for p in (
        Provider("generic", generic.parse, generic.instructions),
        Provider("twilio", twilio.parse, twilio.instructions, provider_secret=True),
        Provider(
            "zadarma",
            zadarma.parse,
            zadarma.instructions,
            screen=zadarma_screen.screen,
            provider_secret=True,
        ),
        Provider("sip", sip.parse, sip.instructions),
        Provider("asterisk", asterisk.parse, asterisk.instructions, forwards=False),
    )
}
KINDS = tuple(PROVIDERS)
PROVIDER_SECRET = frozenset(kind for kind, p in PROVIDERS.items() if p.provider_secret)
FORWARDING = frozenset(kind for kind, p in PROVIDERS.items() if p.forwards)


def provider(kind: str) -> Provider:
    found = PROVIDERS.get(kind)
    if found is None:
        raise KeyError(f"unknown integration kind {kind!r}")
    return found


def parser(kind: str) -> Parser:
    return provider(kind).parse


def screen(kind: str) -> Screen | None:
    return provider(kind).screen


def instructions(kind: str, url: str, secret: str) -> str:
    return provider(kind).instructions(url, secret)
