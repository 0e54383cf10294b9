"""Outbound: what callpath hands to other systems, one folder per destination: the
platforms' upload files (metrica, google_ads), signed webhooks (webhook) and a CRM
(bitrix24); the one HTTP client they are sent through (http)."""
