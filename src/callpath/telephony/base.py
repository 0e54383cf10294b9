"""What every inbound adapter raises: the web layer turns these into 4xx answers."""

from __future__ import annotations


class Unauthorized(Exception):
    """The request is not provably from the integration (answered 401, fail closed)."""


class BadEvent(ValueError):
    """The body is not a call event we can read (answered 400 with this reason)."""


class Ignored(Exception):
    """A well-formed event we do not use (answered 200 so the sender stops retrying)."""
