"""A spreadsheet cell that is never run as a formula: every CSV callpath writes (the
journal, the reports, the ad platforms' upload files) puts its text cells through it."""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A CSV cell no spreadsheet runs as a formula: a leading = + - @ (or tab, CR) gets a
    quote in front, which spreadsheets show as text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
