"""Deals (pure rules): a sale's status, its money, and what it may be linked by.

Money is held in cents (hundredths of the currency) as an integer: an amount is a
decimal with at most two places, never a float that cannot say 0.10 exactly.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

STATUSES = ("open", "won", "lost")
CLOSED = ("won", "lost")
# How a deal found the visit behind it, strongest first: the call it came from, the visit
# code the customer read out, the caller's phone (their latest call), the visitor id
# (a web form's hidden field); `none` when nothing was given (counted for the site only).
LINKS = ("call", "visit_code", "caller", "visitor", "none")
MAX_CENTS = 10**15  # ten trillion in any currency: more is a mistake, not a sale


class DealError(ValueError):
    """A deal's field that cannot be taken; the message names the field and says why."""


def cents(amount: object) -> int:
    """`amount` (a JSON number or a decimal string, "1234.50") in cents."""
    if isinstance(amount, bool) or not isinstance(amount, (int, float, str)):
        raise DealError("amount: a number such as 1234.50")
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise DealError("amount: a number such as 1234.50") from None
    if not value.is_finite() or value < 0:
        raise DealError("amount: a finite amount of 0 or more")
    scaled = value * 100
    if scaled != scaled.to_integral_value():
        raise DealError("amount: at most two decimal places")
    if scaled > MAX_CENTS:
        raise DealError(f"amount: at most {MAX_CENTS // 100}")
    return int(scaled)


def amount_text(amount_cents: int) -> str:
    """Cents as the decimal string the API and the files show money in ("1234.50",
    "-0.50"): every amount callpath writes goes through here."""
    sign = "-" if amount_cents < 0 else ""
    return f"{sign}{abs(amount_cents) // 100}.{abs(amount_cents) % 100:02d}"


def status(value: str) -> str:
    found = value.strip().lower()
    if found not in STATUSES:
        raise DealError(f"status: one of {', '.join(STATUSES)}")
    return found


def closed_at(status_now: str, given: float | None, now: float) -> float | None:
    """When a deal closed: as given for a won or lost one (now when not given); an open
    deal has no closing time."""
    if status_now not in CLOSED:
        return None
    return now if given is None else given
