"""Outbound: what callpath hands to other systems, one folder per destination (metrica,
google_ads). So far the files their users upload; no network here yet."""
