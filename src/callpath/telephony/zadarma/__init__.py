"""Zadarma / Novofon PBX API v1 notifications (Novofon is the same API under another name)."""
