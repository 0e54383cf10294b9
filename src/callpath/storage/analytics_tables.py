"""The analytics tables: leads and their credits per attribution model, ad spend, deals,
missed callers marked handled, the spam block list. Times are UTC epoch seconds (float);
every table carries `account_id`. Import them from `storage.tables`, as all tables."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from callpath.storage.metadata import metadata

# Every call is a lead; what it counts as is derived from the calls by the site's rules
# (domain/leads.py) and written again when a rule changes. Forms and callbacks will be
# leads too (their own `kind`, their own ids).
leads = Table(
    "leads",
    metadata,
    Column("id", String(40), primary_key=True),  # a call's: the call id
    Column("kind", String(12), nullable=False),  # call
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("site_id", ForeignKey("sites.id"), nullable=False),
    Column("call_id", ForeignKey("calls.id"), nullable=True),
    Column("started_at", Float, nullable=False),
    Column("caller", String(32), nullable=True),
    Column("first_time", Boolean, nullable=False),
    Column("target", Boolean, nullable=False),
    Column("missed", Boolean, nullable=False),
    Column("abandoned", Boolean, nullable=False),
    Column("lost", Boolean, nullable=False),
    Column("recovered_after", Float, nullable=True),
    Column("called_back_after", Float, nullable=True),  # the business's answered call back
    Column("spam", Boolean, nullable=False),
    Column("spam_score", Float, nullable=False),
    Column("spam_reason", String(200), nullable=True),
    Column("classified_at", Float, nullable=False),
    Index("ix_leads_site_started", "site_id", "started_at"),
)

# Ad spend per day (the site's calendar) and channel, imported from a file; re-importing
# a period of one origin replaces that origin's days in it. Money in cents.
costs = Table(
    "costs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("site_id", ForeignKey("sites.id"), nullable=False),
    Column("origin", String(20), nullable=False),  # csv | yandex-direct | google-ads
    Column("day", String(10), nullable=False),  # YYYY-MM-DD
    Column("source", String(255), nullable=False),
    Column("medium", String(255), nullable=False),
    Column("campaign", String(255), nullable=False),
    Column("term", String(255), nullable=False),
    Column("content", String(255), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),  # in the site's currency
    Column("clicks", Integer, nullable=True),
    Column("imported_at", Float, nullable=False),
    Index("ix_costs_site_day", "site_id", "day"),
)

# Each lead's credit per attribution model (domain/attribution.py), one row a touch of its
# journey with a share of it: reports sum shares instead of replaying journeys.
lead_credits = Table(
    "lead_credits",
    metadata,
    Column("lead_id", ForeignKey("leads.id"), primary_key=True),
    Column("model", String(20), primary_key=True),
    Column("n", Integer, primary_key=True),  # the touch's place in the journey
    Column("session_id", ForeignKey("sessions.id"), nullable=True),
    Column("at", Float, nullable=False),
    Column("source", String(255), nullable=False),
    Column("medium", String(255), nullable=False),
    Column("campaign", String(255), nullable=True),
    Column("keyword", String(255), nullable=True),
    Column("share", Float, nullable=False),
)

# A missed caller someone took care of outside what callpath sees (called back from a
# mobile, wrote to them, a wrong number): the call center's list to call back drops them.
# The call's own facts stay as they were: it is still counted lost.
callbacks_handled = Table(
    "callbacks_handled",
    metadata,
    Column("call_id", ForeignKey("calls.id"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("site_id", ForeignKey("sites.id"), nullable=False),
    Column("handled_at", Float, nullable=False),
    Column("handled_by", ForeignKey("users.id"), nullable=True),
    Column("note", String(200), nullable=True),
)

# The account's spam block list: calls from these numbers are spam, never target.
blocked_numbers = Table(
    "blocked_numbers",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("e164", String(32), primary_key=True),
    Column("note", String(200), nullable=True),
    Column("created_at", Float, nullable=False),
)

# A sale and its money: entered on the API (a CRM's deal, idempotent by its external id)
# and linked to the call, visit or visitor it came from. Money in cents (hundredths of
# the currency), never a float.
deals = Table(
    "deals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("site_id", ForeignKey("sites.id"), nullable=False),
    Column("external_id", String(200), nullable=True),
    Column("title", String(200), nullable=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(8), nullable=False),  # open | won | lost
    Column("closed_at", Float, nullable=True),
    Column("link", String(12), nullable=False),  # how it was linked (deals.LINKS)
    Column("call_id", ForeignKey("calls.id"), nullable=True),
    Column("session_id", ForeignKey("sessions.id"), nullable=True),
    Column("visitor_id", String(64), nullable=True),
    Column("caller", String(32), nullable=True),
    Column("visit_code", String(8), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("uq_deals_external", "account_id", "external_id", unique=True),
    Index("ix_deals_site_closed", "site_id", "closed_at"),
    Index("ix_deals_call", "call_id"),
    Index("ix_deals_visitor", "site_id", "visitor_id"),
)
