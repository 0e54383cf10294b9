"""Phone numbers: always E.164 inside callpath; parsed and shown with `phonenumbers`."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


class PhoneError(ValueError):
    """Input that is not a valid phone number."""


def known_region(code: str) -> bool:
    """Whether `code` ("RU", upper case) is a country whose national numbers we can parse."""
    return code in phonenumbers.SUPPORTED_REGIONS


_WHY = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "no such country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "it has no digits of a number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


def to_e164(raw: str, region: str = "RU") -> str:
    """Parse what a person typed ("8 (495) 109-63-75", "+74951096375") into E.164."""
    text = (raw or "").strip()
    if not text or len(text) > 40:
        raise PhoneError(f"{raw!r} is not a phone number")
    try:
        parsed = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(
            f"{raw!r} is not a phone number: {_WHY.get(exc.error_type, 'unreadable')}"
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneError(f"{raw!r} is not a valid phone number")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


@lru_cache(maxsize=65536)
def display(e164: str) -> str:
    """Human form of an E.164 number, e.g. "+7 495 111-22-33"."""
    parsed = phonenumbers.parse(e164, None)
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


@lru_cache(maxsize=65536)
def national_digits(e164: str) -> str:
    """The national significant number: "+74951112233" -> "4951112233"."""
    parsed = phonenumbers.parse(e164, None)
    return str(phonenumbers.national_significant_number(parsed))


def country_code(e164: str) -> str:
    return str(phonenumbers.parse(e164, None).country_code)


@lru_cache(maxsize=65536)
def try_e164(raw: str | None, region: str = "RU") -> str | None:
    """E.164 when `raw` is a valid number, else None (caller ids may be "anonymous")."""
    if not raw:
        return None
    try:
        return to_e164(raw, region)
    except PhoneError:
        return None


@lru_cache(maxsize=65536)
def region_of(e164: str) -> str | None:
    """The country an E.164 number belongs to ("RU", "KZ", ...), None if unknown."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
    return region if region and region != "ZZ" else None


def mask(number: str | None) -> str | None:
    """What an operator sees of a caller: the last 4 digits only."""
    if not number:
        return number
    digits = [ch for ch in number if ch.isdigit()]
    return "•••• " + "".join(digits[-4:]) if len(digits) > 4 else "••••"
