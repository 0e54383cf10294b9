"""Yandex Metrica: the calls upload (offline conversions of the calls kind)."""
