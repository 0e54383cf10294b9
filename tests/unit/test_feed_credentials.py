"""A conversion feed's credentials: the Basic header read, the password checked against
its stored hash, failed attempts limited per address."""

from __future__ import annotations

import base64
import hashlib

import pytest

from callpath.services import feeds
from callpath.services.login_limits import AddressLimiter, Refusal
from callpath.web.feeds import basic_credentials

FEED = "gads_0123456789abcdef"
PASSWORD = "r4nd0m-Secret_of-32-characters.."
HASH = hashlib.sha256(PASSWORD.encode()).hexdigest()


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def test_the_right_username_and_password_match() -> None:
    assert feeds.digest(PASSWORD) == HASH
    assert feeds.credentials_match(FEED, HASH, FEED, PASSWORD)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        (FEED, PASSWORD + "x"),
        (FEED, PASSWORD[:-1]),
        (FEED, ""),
        (FEED, PASSWORD.upper()),
        ("gads_0123456789abcdee", PASSWORD),  # another feed's name
        (FEED.upper(), PASSWORD),
        ("", PASSWORD),
        (FEED + " ", PASSWORD),
        ("gads_\udcff", "\udcff"),  # not UTF-8: no error, no match
    ],
)
def test_anything_else_does_not(username: str, password: str) -> None:
    assert not feeds.credentials_match(FEED, HASH, username, password)


def test_no_feed_is_opened_by_anything() -> None:
    # not even by the password whose hash stands in when there is no feed
    assert not feeds.credentials_match(FEED, None, FEED, "no feed")
    assert not feeds.credentials_match(FEED, None, FEED, PASSWORD)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (_basic(b"user:pass"), ("user", "pass")),
        (_basic(b"user:pa:ss"), ("user", "pa:ss")),  # the password may hold colons
        (_basic(b"user:"), ("user", "")),
        (_basic(b":pass"), ("", "pass")),
        ("basic " + base64.b64encode(b"u:p").decode(), ("u", "p")),  # the scheme in any case
        (_basic("us\u00e9r:p\u00e4ss".encode()), ("us\u00e9r", "p\u00e4ss")),
        (_basic(b"u:\xff"), ("u", "\ufffd")),  # not UTF-8: read, never an error
    ],
)
def test_a_basic_header_is_read(header: str, expected: tuple[str, str]) -> None:
    assert basic_credentials(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic",
        "Basic ",
        "Bearer " + base64.b64encode(b"u:p").decode(),
        "Basic !!!not-base64",
        "Basic dXNlcg=",  # bad padding
        _basic(b"no colon"),
        _basic(b"u:" + b"p" * 2000),  # longer than any feed's credentials
    ],
)
def test_a_header_that_is_not_basic_credentials_is_none(header: str | None) -> None:
    assert basic_credentials(header) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Phone call", "Phone call"),
        ("  Phone call ", "Phone call"),
        ("x" * 100, "x" * 100),
        ("x" * 101, None),
        ("", None),
        ("   ", None),
        ("a\nb", None),
        ("a\rb", None),
        ("a\x00b", None),
    ],
)
def test_conversion_names(text: str, expected: str | None) -> None:
    assert feeds.valid_name(text) == expected


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_from_one_address_are_limited_for_a_minute() -> None:
    clock = Clock()
    guard = AddressLimiter(clock, failures=3, window=60.0)
    for _ in range(3):
        assert isinstance(guard.attempt("192.0.2.1"), float)
        clock.now += 1
    refused = guard.attempt("192.0.2.1")
    assert isinstance(refused, Refusal)
    assert refused.retry_after == 57  # the first failure leaves the window at 1060
    assert isinstance(guard.attempt("192.0.2.2"), float)  # another address: its own count
    clock.now = 1060.0
    assert isinstance(guard.attempt("192.0.2.1"), float)


def test_a_success_is_no_failure() -> None:
    clock = Clock()
    guard = AddressLimiter(clock, failures=2, window=60.0)
    for _ in range(5):
        at = guard.attempt("192.0.2.1")
        assert isinstance(at, float)
        guard.succeeded("192.0.2.1", at)
        clock.now += 1
    assert isinstance(guard.attempt("192.0.2.1"), float)
    assert isinstance(guard.attempt("192.0.2.1"), float)
    assert isinstance(guard.attempt("192.0.2.1"), Refusal)
