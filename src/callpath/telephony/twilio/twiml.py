"""The TwiML callpath answers with: a <Dial> for a new call, nothing for callbacks."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, SubElement, tostring

_PROLOG = '<?xml version="1.0" encoding="UTF-8"?>'
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
EMPTY = _PROLOG + "<Response/>"
CONTENT_TYPE = "text/xml; charset=utf-8"


def dial(forward_to: str, caller: str | None, hooks: str, record: bool) -> str:
    """Forward the call to `forward_to`, showing the caller's own number, with the Dial
    action and the dialled leg's status callbacks (and the recording's) sent to `hooks`
    (the integration's webhook URL)."""
    response = Element("Response")
    attrs: dict[str, str] = {}
    if caller and _E164.fullmatch(caller):
        attrs["callerId"] = caller
    attrs["action"] = f"{hooks}/dial"
    if record:
        attrs["record"] = "record-from-answer"
        attrs["recordingStatusCallback"] = f"{hooks}/recording"
    number = SubElement(SubElement(response, "Dial", attrs), "Number")
    number.set("statusCallbackEvent", "answered completed")
    number.set("statusCallback", f"{hooks}/status")
    number.text = forward_to
    return _PROLOG + tostring(response, encoding="unicode")


def reject() -> str:
    """No destination at all (no route and no site default): refuse the call."""
    return _PROLOG + "<Response><Reject/></Response>"
