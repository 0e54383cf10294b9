"""Webhooks out: an account's events posted to a URL of its choosing, signed."""
