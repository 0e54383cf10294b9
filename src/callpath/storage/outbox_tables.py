"""The outbound tables: where an account's events go (destinations), the events themselves
(the outbox, written in the transaction of what they report), one delivery per event and
destination, and every attempt at it. Times are UTC epoch seconds (float); every table
carries `account_id`. Import them from `storage.tables`, as all tables."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from callpath.storage.metadata import metadata

# Where events are sent: a webhook URL now, a CRM or an ad platform later (`kind`). The
# secret signs what is sent, so it is kept as given (never shown after creation).
# `paused_at`: no delivery is attempted (its events still queue up); set by a user, or by
# the worker after a long failure streak (`paused_reason` says which).
destinations = Table(
    "destinations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("events", String(500), nullable=False),  # comma-separated event types
    Column("site_id", ForeignKey("sites.id"), nullable=True),  # NULL: every site's
    Column("allow_private", Boolean, nullable=False),
    Column("config", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("paused_at", Float, nullable=True),
    Column("paused_reason", String(200), nullable=True),
    Column("failing_since", Float, nullable=True),  # first failure since the last success
    Column("failures", Integer, nullable=False),  # attempts failed since the last success
)

# What happened, once, whoever receives it: the payload is a snapshot taken when it was
# written.
outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("site_id", ForeignKey("sites.id"), nullable=True),
    Column("type", String(40), nullable=False),
    Column("subject", String(64), nullable=False),  # the call, lead or deal id
    Column("payload", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_outbox_events_account", "account_id", "created_at"),
)

# One event for one destination. `state`: pending (due at `next_at`), delivered, failed
# (gave up: past the retry horizon, or refused for good). `lease_until`: a worker is
# sending it until then (another worker leaves it alone).
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("destination_id", ForeignKey("destinations.id"), nullable=False),
    Column("event_id", ForeignKey("outbox_events.id"), nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", Float, nullable=False),
    Column("lease_until", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float, nullable=True),
    Column("last_error", String(300), nullable=True),
    Index("ix_deliveries_due", "state", "next_at"),
    Index("ix_deliveries_destination", "destination_id", "id"),
    Index("uq_deliveries_event", "destination_id", "event_id", unique=True),
)

# Every attempt: what came back (status, latency, an excerpt) or why none did.
delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("delivery_id", ForeignKey("deliveries.id"), nullable=False),
    Column("at", Float, nullable=False),
    Column("status", Integer, nullable=True),  # HTTP status; NULL: no answer
    Column("ok", Boolean, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("excerpt", Text, nullable=True),  # the answer's start, or the error
    Index("ix_delivery_attempts_delivery", "delivery_id", "id"),
)

# What a destination made of ours, by its id there: the CRM lead a call became, a call
# uploaded to an ad platform. Looked up both ways: a call already sent is not sent twice,
# and a CRM's event about its lead finds our call.
remote_links = Table(
    "remote_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("destination_id", ForeignKey("destinations.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # what it is there: lead, contact, call…
    Column("remote_id", String(64), nullable=False),
    Column("call_id", String(24), nullable=True),
    Column("created_at", Float, nullable=False),
    Index("uq_remote_links_remote", "destination_id", "kind", "remote_id", unique=True),
    Index("ix_remote_links_call", "destination_id", "call_id"),
)
