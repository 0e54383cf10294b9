"""How a call's recording is shown: the provider's reference, and the stored file."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

_TWILIO = re.compile(r"/Accounts/AC[0-9a-fA-F]{32}/Recordings/RE")
PLAYABLE = {
    "audio/mpeg",
    "audio/mp3",
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/ogg",
    "audio/opus",
    "audio/mp4",
    "audio/webm",
}


def api_field(reference: str | None, row: dict[str, Any] | None) -> dict[str, Any] | None:
    """`{"reference", "stored", "bytes"}`, or None for a call without a recording."""
    if reference is None:
        return None
    if row is None or row["state"] != "stored":
        return {"reference": reference, "stored": False, "bytes": None}
    return {"reference": reference, "stored": True, "bytes": row["bytes"]}


def page_fields(reference: str | None, row: dict[str, Any] | None) -> dict[str, Any]:
    """For the call page: a link only for a plain https URL anyone may open, else a note."""
    if reference is None:
        return {"link": None, "note": None, "state": None}
    state = row["state"] if row else None
    note, link = None, None
    if reference.startswith("zadarma:"):
        note = "Zadarma keeps this recording: find it in Zadarma's call log (it needs the API key)."
    elif _TWILIO.search(urlsplit(reference).path):
        note = "Twilio keeps this recording; opening it needs your Twilio account's credentials."
    elif urlsplit(reference).scheme == "https":
        link = reference
    else:
        note = "The recording's address is not https; it is shown, not linked."
    if row is not None and row["state"] == "failed":
        note = f"{note or ''} Download failed: {row['last_error']}".strip()
    return {"link": link, "note": note, "state": state}


def playable_type(content_type: str | None) -> str | None:
    """The Content-Type to serve a stored file with; None: serve it as a download."""
    return content_type if content_type in PLAYABLE else None
