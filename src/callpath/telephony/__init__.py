"""Inbound telephony: one folder per provider, each turning its webhooks into `CallEvent`s.

Every adapter shares the generic webhook's storage, idempotency, folding and fail-open
routing (`services.calls`, `services.routing`); an adapter only parses, verifies and
answers in its provider's terms.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any, cast

from callpath.domain.calls import CallEvent

Parser = Callable[[bytes], tuple[CallEvent, str]]
Screen = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]  # one call's stored events

# Each kind is a package `callpath.telephony.<kind>` whose `adapter` module has
# `parse(body) -> (CallEvent, dedup key)` (the stored raw body, read again when folding)
# and `instructions(url, secret) -> str` (what `callpath integration add` prints).
# A kind whose secret is the provider's own (an auth token) takes it from the user.
KINDS = ("generic", "twilio", "zadarma", "sip", "asterisk")
PROVIDER_SECRET = frozenset({"twilio", "zadarma"})


def _adapter(kind: str) -> ModuleType:
    if kind not in KINDS:
        raise KeyError(f"unknown integration kind {kind!r}")
    return importlib.import_module(f"callpath.telephony.{kind}.adapter")


def parser(kind: str) -> Parser:
    return cast(Parser, _adapter(kind).parse)


@functools.cache
def screen(kind: str) -> Screen | None:
    """A provider's `screen(rows)` (module `callpath.telephony.<kind>.screen`): which
    stored events of one call are folded, for a provider whose events must vouch for each
    other (Zadarma: an END counts only with its call's START). None: all of them."""
    _adapter(kind)
    try:
        module = importlib.import_module(f"callpath.telephony.{kind}.screen")
    except ModuleNotFoundError:
        return None
    return cast(Screen, module.screen)


def instructions(kind: str, url: str, secret: str) -> str:
    fn = cast(Callable[[str, str], str], _adapter(kind).instructions)
    return fn(url, secret)
