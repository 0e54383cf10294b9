"""`X-Twilio-Signature`: checked with the official `twilio` package's `RequestValidator`.

Twilio signs the exact URL it requested (query included) followed by every POST
parameter, name then value, in name order (repeated names once per value), with
HMAC-SHA1 keyed by the account's auth token, base64-encoded.
"""

from __future__ import annotations

from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from callpath.telephony.base import Unauthorized

Params = dict[str, list[str]]  # form parameters by name, values in the order sent


class _Form(dict[str, list[str]]):
    """A multi-dict the validator reads every value of (it calls `getall`)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def sign(secret: str, url: str, params: Params) -> str:
    """The signature Twilio would send for this request (used to make fixtures)."""
    return str(RequestValidator(secret).compute_signature(url, _Form(params)))


def verify(secret: str | None, url: str, params: Params, signature: str | None) -> None:
    """Raise `Unauthorized` unless `signature` proves the sender holds `secret`.

    The validator accepts the URL with and without its default port (Twilio is not
    consistent about it)."""
    if not secret:
        raise Unauthorized("integration has no auth token; refusing unsigned requests")
    if not signature:
        raise Unauthorized("X-Twilio-Signature is required")
    try:
        valid = RequestValidator(secret).validate(url, _Form(params), signature.strip())
    except ValueError:  # a URL urllib cannot take apart (e.g. a port that is not a number)
        valid = False
    if not valid:
        raise Unauthorized(f"bad X-Twilio-Signature for {url} (check CALLPATH_PUBLIC_URL)")
