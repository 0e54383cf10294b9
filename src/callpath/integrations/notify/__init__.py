"""Notifications: e-mail and Telegram destinations on the outbox (missed calls, lost
callers, new leads, digests). messages (the words), mail (SMTP), telegram (the Bot API),
sender (what a destination is sent for an event, and when), digest (the figures, queued
once a local day)."""
