"""The failed-login limits, on a virtual clock: per address, per account, and how they lift."""

from __future__ import annotations

from callpath.services.login_limits import Attempt, Limits, LoginLimiter, Refusal, address_key
from tests.helpers import Clock

LIMITS = Limits(address_failures=3, address_window=60, email_failures=4, email_window=900)


def _fail(limiter: LoginLimiter, address: str, email: str) -> None:
    """One wrong password, let in and left counted."""
    assert isinstance(limiter.attempt(address, email), Attempt)


def test_an_address_is_refused_after_its_failures_and_let_in_when_they_age_out() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock, LIMITS)
    for n in range(3):
        clock.advance(10)
        _fail(limiter, "198.51.100.1", f"guess{n}@shop.example")
    refused = limiter.attempt("198.51.100.1", "guess9@shop.example")
    assert isinstance(refused, Refusal) and "address" in refused.reason
    assert refused.retry_after == 40  # the first failure leaves the window in 40 s
    assert isinstance(limiter.attempt("198.51.100.2", "guess9@shop.example"), Attempt)
    clock.advance(40)
    assert isinstance(limiter.attempt("198.51.100.1", "guess9@shop.example"), Attempt)


def test_an_account_is_refused_from_every_new_address_after_its_failures() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock, LIMITS)
    for n in range(4):
        _fail(limiter, f"203.0.113.{n}", "Owner@Shop.example ")
    refused = limiter.attempt("203.0.113.99", "owner@shop.example")
    assert isinstance(refused, Refusal) and "account" in refused.reason
    assert refused.retry_after == 900
    assert isinstance(limiter.attempt("203.0.113.99", "other@shop.example"), Attempt)


def test_refused_attempts_do_not_extend_the_lock() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock, LIMITS)
    for n in range(4):
        _fail(limiter, f"203.0.113.{n}", "owner@shop.example")
    for n in range(100):  # the attacker keeps trying through the lock
        clock.advance(8)
        assert isinstance(limiter.attempt(f"192.0.2.{n}", "owner@shop.example"), Refusal)
    clock.advance(100)  # 900 s after the last failure that was let in
    assert isinstance(limiter.attempt("192.0.2.200", "owner@shop.example"), Attempt)


def test_the_owner_logs_in_from_a_known_address_while_the_account_is_locked() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock, LIMITS)
    first = limiter.attempt("198.51.100.7", "owner@shop.example")
    assert isinstance(first, Attempt)
    limiter.succeeded(first)
    for n in range(4):
        _fail(limiter, f"203.0.113.{n}", "owner@shop.example")
    assert isinstance(limiter.attempt("203.0.113.50", "owner@shop.example"), Refusal)
    clock.advance(3600)
    again = limiter.attempt("198.51.100.7", "owner@shop.example")
    assert isinstance(again, Attempt)
    limiter.succeeded(again)  # forgives the account's failures
    assert isinstance(limiter.attempt("203.0.113.50", "owner@shop.example"), Attempt)


def test_parallel_attempts_count_before_they_are_checked() -> None:
    """A burst sent at once gets no more checks than the limit: each let-in attempt counts
    as a failure until it is known to have succeeded."""
    limiter = LoginLimiter(Clock(), LIMITS)
    answers = [limiter.attempt("198.51.100.1", f"g{n}@shop.example") for n in range(10)]
    assert sum(isinstance(a, Attempt) for a in answers) == 3


def test_a_success_is_no_failure_and_a_cancelled_attempt_counts_for_nothing() -> None:
    limiter = LoginLimiter(Clock(), LIMITS)
    for _ in range(5):
        ok = limiter.attempt("198.51.100.1", "owner@shop.example")
        assert isinstance(ok, Attempt)
        limiter.succeeded(ok)
    for _ in range(5):
        busy = limiter.attempt("198.51.100.2", "owner@shop.example")
        assert isinstance(busy, Attempt)
        limiter.cancel(busy)
    _fail(limiter, "198.51.100.1", "x@shop.example")
    _fail(limiter, "198.51.100.1", "y@shop.example")
    assert isinstance(limiter.attempt("198.51.100.1", "z@shop.example"), Attempt)


def test_memory_stays_bounded_under_many_addresses() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock, Limits(max_keys=50))
    for n in range(5000):
        limiter.attempt(f"10.0.{n // 256}.{n % 256}", f"g{n}@shop.example")
    assert len(limiter._by_address._items) <= 50 and len(limiter._by_email._items) <= 50


def test_an_ipv6_network_counts_as_one_address() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::7")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:198.51.100.7") == "198.51.100.7" == address_key("198.51.100.7")
    assert address_key("testclient") == "testclient"
