"""Table definitions (SQLAlchemy Core). Times are UTC epoch seconds (float).

Every tenant table carries `account_id`, so queries are scoped by it and the schema can
later be distributed by account.
"""

from __future__ import annotations

from typing import Final

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

# The analytics tables live in analytics_tables.py; every caller imports tables from here.
from callpath.storage.analytics_tables import blocked_numbers as blocked_numbers
from callpath.storage.analytics_tables import callbacks_handled as callbacks_handled
from callpath.storage.analytics_tables import costs as costs
from callpath.storage.analytics_tables import deals as deals
from callpath.storage.analytics_tables import lead_credits as lead_credits
from callpath.storage.analytics_tables import leads as leads
from callpath.storage.metadata import metadata as metadata
from callpath.storage.outbox_tables import deliveries as deliveries
from callpath.storage.outbox_tables import delivery_attempts as delivery_attempts
from callpath.storage.outbox_tables import destinations as destinations
from callpath.storage.outbox_tables import outbox_events as outbox_events
from callpath.storage.outbox_tables import remote_links as remote_links

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_login_at", Float, nullable=True),
    # A deactivated user cannot log in, and their sessions and tokens were ended then.
    Column("deactivated_at", Float, nullable=True),
)

login_sessions = Table(
    "login_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("expires_at", Float, nullable=False),
)

# A link that lets someone set their password and become a user of the account with
# `role`: shown once to the admin who made it (only its hash is kept), good until
# `expires_at`, once.
invitations = Table(
    "invitations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("email", String(254), nullable=False),
    Column("role", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", ForeignKey("users.id"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
)

# A link that lets a user who forgot their password choose a new one, made by an owner or
# admin who manages them (`created_by`; NULL: the command line): shown once to its maker
# (only its hash is kept), good until `expires_at`, once.
password_resets = Table(
    "password_resets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", ForeignKey("users.id"), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
)

sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("key", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("domains", JSON, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("region", String(2), nullable=False),
    Column("original_numbers", JSON, nullable=False),
    Column("default_destination", String(20), nullable=True),
    Column("ping_interval", Integer, nullable=False),
    Column("hold_after_leave", Integer, nullable=False),
    Column("cooldown", Integer, nullable=False),
    Column("session_timeout", Integer, nullable=False),
    Column("excluded_channels", JSON, nullable=False),
    Column("match_window", Integer, nullable=False, server_default="1800"),
    # "standard", or "naive": the reference policy of the accuracy benchmark (random free
    # number, no sticky numbers, attribution to the holder at ring time only).
    Column("policy", String(20), nullable=False, server_default="standard"),
    Column("created_at", Float, nullable=False),
    # What a call counts as (domain/leads.Rules); NULL: the defaults.
    Column("lead_rules", JSON, nullable=True),
)

tracking_numbers = Table(
    "tracking_numbers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("site_id", ForeignKey("sites.id"), nullable=False),
    Column("e164", String(20), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),
    Column("forward_to", String(20), nullable=True),
    Column("label", String(200), nullable=True),
    Column("channel_source", String(255), nullable=True),
    Column("channel_medium", String(255), nullable=True),
    Column("channel_campaign", String(255), nullable=True),
    Column("provider", String(40), nullable=True),
    Column("region", String(64), nullable=True),
    Column("monthly_cost", Float, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("held_session_id", String(32), nullable=True),
    Column("held_visitor_id", String(64), nullable=True),
    Column("held_until", Float, nullable=False, server_default="0"),
    Column("held_since", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    # A pool number's sub-pool: a channel or country rule (`domain/pool_groups.py`); NULL
    # for the ungrouped pool. The pick filters on it (IS NULL too) and orders by held_until.
    Column("pool_group", String(64), nullable=True),
    # The client (keyed hash of its address) that holds the number now: one client may
    # hold only a share of the pool at once (bots, see services/tracking.py).
    Column("held_client", String(32), nullable=True),
    Index("ix_numbers_client", "site_id", "held_client", "held_until"),
    Index("ix_numbers_pool_group", "site_id", "kind", "active", "pool_group", "held_until"),
    Index("ix_numbers_visitor", "site_id", "held_visitor_id"),
    Index("ix_numbers_account", "account_id", "site_id"),
)

visitors = Table(
    "visitors",
    metadata,
    Column("site_id", ForeignKey("sites.id"), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("site_id", ForeignKey("sites.id"), nullable=False),
    Column("visitor_id", String(64), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("left_at", Float, nullable=True),
    Column("landing_url", Text, nullable=False),
    Column("referrer", Text, nullable=True),
    Column("source", String(255), nullable=False),
    Column("medium", String(255), nullable=False),
    Column("campaign", String(255), nullable=True),
    Column("keyword", String(255), nullable=True),
    Column("content", String(255), nullable=True),
    Column("utm", JSON, nullable=False),
    Column("click_ids", JSON, nullable=False),
    Column("client_ids", JSON, nullable=False),
    Column("user_agent", Text, nullable=True),
    Column("device", String(20), nullable=True),
    Column("browser", String(64), nullable=True),
    Column("os", String(64), nullable=True),
    Column("country", String(2), nullable=True),
    Column("region", String(128), nullable=True),  # with CALLPATH_GEOIP_CITY_DB only
    Column("city", String(128), nullable=True),
    Column("number_id", ForeignKey("tracking_numbers.id"), nullable=True),
    Column("number_reason", String(20), nullable=False),
    Column("visit_code", String(8), nullable=True),
    Index("ix_sessions_account_started", "account_id", "started_at"),
    Index("ix_sessions_visit_code", "site_id", "visit_code"),
    Index("ix_sessions_visitor", "site_id", "visitor_id", "started_at"),
)

# SQLite only: the channel report's visits and visitors read from this index instead of
# the table (ten times wider: URLs, referrers, user agents), made of columns written once
# when a session starts. On PostgreSQL no index was worth its cost: this one (and even
# `device` added to ix_sessions_visitor) took a fifth to a third off the tracker's session
# starts in `bench/tracker_load.py`; there the reports read the table, sorting in memory.
SQLITE_ONLY_INDEXES: Final = frozenset({"ix_sessions_channel"})
Index(
    "ix_sessions_channel",
    sessions.c.site_id,
    sessions.c.source,
    sessions.c.medium,
    sessions.c.visitor_id,
    sessions.c.started_at,
    sessions.c.device,
).ddl_if(dialect="sqlite")

pageviews = Table(
    "pageviews",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("session_id", ForeignKey("sessions.id"), nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("url", Text, nullable=False),
)

# The largest row id: ids are INTEGER columns, 32-bit on PostgreSQL (64 on SQLite). Ids
# from outside (paths, query strings, command lines) are checked against it, so a larger
# one is an input error rather than an overflow in the database driver.
MAX_ID = 2**31 - 1

reservations = Table(
    "reservations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("site_id", ForeignKey("sites.id"), nullable=False),
    Column("number_id", ForeignKey("tracking_numbers.id"), nullable=False),
    Column("session_id", ForeignKey("sessions.id"), nullable=False),
    Column("visitor_id", String(64), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("last_activity_at", Float, nullable=False),
    Column("until", Float, nullable=False),
    Index("ix_reservations_number_time", "number_id", "started_at"),
    Index("ix_reservations_session", "session_id"),
)

session_events = Table(
    "session_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("site_id", ForeignKey("sites.id"), nullable=False),
    Column("session_id", String(32), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("at", Float, nullable=False),
    Column("detail", JSON, nullable=True),
    Index("ix_session_events_site_kind", "site_id", "kind", "at"),
    Index("ix_session_events_session", "session_id", "kind"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("user_id", ForeignKey("users.id"), nullable=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    # What the token may do: a user role (its user's at creation, or narrower); NULL on
    # tokens made before roles, read as the role of the user who made them.
    Column("role", String(20), nullable=True),
)

# A source of call events (a PBX, a telephony provider, a script). The secret signs its
# webhooks, so it is kept as given (it must be usable), and never shown after creation
# except by the CLI that made it.
integrations = Table(
    "integrations",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("site_id", ForeignKey("sites.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
)

# A file of a site's conversions that an ad platform fetches on its own schedule over
# HTTPS with a username (the feed's id, public: it is in the URL too) and a password (shown
# once when the feed is made; only its SHA-256 is kept). kind: google_ads (its click
# conversions file). It holds the calls of the last `days` days when fetched, target
# calls or every call (`all_calls`). A removed feed keeps its row (its id is never given
# again) and answers no one.
conversion_feeds = Table(
    "conversion_feeds",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("site_id", ForeignKey("sites.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("conversion_name", String(100), nullable=False),
    Column("days", Integer, nullable=False),
    Column("all_calls", Boolean, nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_fetched_at", Float, nullable=True),  # kept to FETCH_TOUCH_SECONDS
    Column("removed_at", Float, nullable=True),
)

# Raw inbound call events, kept for audit and re-processing. `dedup_key` identifies a
# delivery of the same event (retries carry the same body); `applied_at` is set once the
# event was folded into its call.
call_events = Table(
    "call_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("integration_id", ForeignKey("integrations.id"), nullable=False),
    Column("dedup_key", String(64), nullable=False),
    Column("call_key", String(24), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("body", Text, nullable=False),
    Column("response", JSON, nullable=True),
    Column("applied_at", Float, nullable=True),
    Index("uq_call_events_dedup", "integration_id", "dedup_key", unique=True),
    Index("ix_call_events_call", "call_key"),
    Index("ix_call_events_pending", "applied_at"),
)

calls = Table(
    "calls",
    metadata,
    # Derived from (integration, provider call id): the same id on every retry, even one
    # answered while the database was down.
    Column("id", String(24), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("integration_id", ForeignKey("integrations.id"), nullable=False),
    Column("provider_call_id", String(200), nullable=False),
    Column("site_id", ForeignKey("sites.id"), nullable=True),
    Column("number_id", ForeignKey("tracking_numbers.id"), nullable=True),
    Column("tracking_number", String(32), nullable=True),
    Column("caller", String(32), nullable=True),
    Column("forward_to", String(32), nullable=True),
    Column("state", String(10), nullable=False),
    Column("status", String(10), nullable=True),
    Column("started_at", Float, nullable=False),
    Column("answered_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("duration", Float, nullable=True),
    Column("talk", Float, nullable=True),
    Column("wait", Float, nullable=True),
    Column("recording_url", Text, nullable=True),
    Column("session_id", ForeignKey("sessions.id"), nullable=True),
    Column("visitor_id", String(64), nullable=True),
    Column("match_method", String(20), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("alternatives", JSON, nullable=False),
    Column("repeat", Boolean, nullable=False),
    Column("first_call_id", String(24), nullable=True),
    Column("source", String(255), nullable=True),
    Column("medium", String(255), nullable=True),
    Column("campaign", String(255), nullable=True),
    Column("keyword", String(255), nullable=True),
    Column("updated_at", Float, nullable=False),
    # inbound | outbound (the business calling a customer: `caller` holds the customer,
    # `tracking_number` the business's line; never routed, matched or a lead)
    Column("direction", String(8), nullable=False, server_default="inbound"),
    Index("ix_calls_account_started", "account_id", "started_at", "id"),
    Index("ix_calls_caller", "site_id", "caller", "started_at"),
    Index("ix_calls_provider", "integration_id", "provider_call_id", unique=True),
    Index("ix_calls_updated", "updated_at"),  # leads to classify (services/leads.py)
)

pool_plans = Table(
    "pool_plans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("site_id", ForeignKey("sites.id"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("status", String(20), nullable=False),  # running | done | failed
    Column("params", JSON, nullable=False),
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("alive_at", Float, nullable=True),  # its process's last heartbeat while running
    Index("ix_pool_plans_site", "site_id", "created_at"),
)

# A call's recording: the provider's reference, and the downloaded file if downloads are
# on (`CALLPATH_RECORDINGS_DIR`). One row per call that has a reference; the call keeps
# its `recording_url` as folded from events, this row is the worker's state about it.
# state: pending (to fetch) | stored | failed (gave up) | reference (not downloadable) |
# pruned (file deleted by retention).
recordings = Table(
    "recordings",
    metadata,
    Column("call_id", ForeignKey("calls.id"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("source_url", Text, nullable=False),
    Column("state", String(10), nullable=False),
    Column("path", String(200), nullable=True),  # relative to the recordings folder
    Column("content_type", String(100), nullable=True),
    Column("bytes", Integer, nullable=True),
    Column("fetched_at", Float, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False, server_default="0"),
    Column("claimed_until", Float, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_recordings_due", "state", "next_attempt_at"),
    Index("ix_recordings_stored", "state", "fetched_at"),
)

# Calls with a recording, by last change: how the recordings worker finds new ones
# without scanning every call (partial: calls without a recording are not in it).
Index(
    "ix_calls_recording",
    calls.c.updated_at,
    sqlite_where=calls.c.recording_url.isnot(None),
    postgresql_where=calls.c.recording_url.isnot(None),
)
