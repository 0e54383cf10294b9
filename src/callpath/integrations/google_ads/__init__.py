"""Google Ads: click conversions import."""
