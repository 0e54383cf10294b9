"""Inbound telephony: one folder per provider, each turning its webhooks into `CallEvent`s.

Every adapter shares the generic webhook's storage, idempotency, folding and fail-open
routing (`services.calls`, `services.routing`); an adapter only parses, verifies and
answers in its provider's terms.
"""
