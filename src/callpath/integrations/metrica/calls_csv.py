"""The CSV Yandex Metrica's calls upload takes (management API, offline conversions of
the calls kind: `upload_calls`, or Settings → Conversion upload → Calls in Metrica).

One id column for the whole file, as Metrica reads one kind of id per upload: `ClientId`
(the visit's Metrica client id, the `_ym_uid` cookie) or `Yclid` (the Direct click id in
the landing URL). A call whose visit has no id of that kind cannot be linked by Metrica
and is left out, and counted. `DateTime` is the call's start in Unix seconds (UTC),
`PhoneNumber` the caller in E.164 (`+` and digits, as Metrica's example writes it; empty
when the caller is unknown or not a valid number), `StaticCall` 1 for a call to a static
number and 0 for one matched through the pool (or a visit code, or the caller's history),
`Price`/`Currency` the call's won deals (empty without one), durations in whole seconds,
`CallMissed` 1 when nobody answered, `Tag` "target" or "not target" (empty before the call
is classified), `FirstTimeCaller` 1/0 from its lead, `URL` the visit's landing page and
`CallTrackerURL` the call's page in callpath when its address is known. Text cells are
neutralised against spreadsheet formulas; the ids and the number never need it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from callpath.domain.cells import safe_cell
from callpath.domain.deals import amount_text
from callpath.integrations.fields import usable
from callpath.reports.exports import ExportCall

# --id: (the column, where the visit keeps it, its name there)
ID_KINDS = {"client-id": ("ClientId", "client_ids", "ym"), "yclid": ("Yclid", "click_ids", "yclid")}
COLUMNS = (
    "DateTime",
    "PhoneNumber",
    "StaticCall",
    "Price",
    "Currency",
    "TalkDuration",
    "HoldDuration",
    "CallMissed",
    "Tag",
    "FirstTimeCaller",
    "URL",
    "CallTrackerURL",
)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@dataclass(frozen=True, slots=True)
class CallsFile:
    text: str
    rows: int
    skipped: int  # calls without an id of the file's kind
    other_kind: int  # of those, how many have the other kind of id


def calls_csv(
    calls: Sequence[ExportCall], id_kind: str = "client-id", base_url: str | None = None
) -> CallsFile:
    """The file, with one row per call that has an id of `id_kind` (ID_KINDS)."""
    column, where, name = ID_KINDS[id_kind]
    other = next(v for k, v in ID_KINDS.items() if k != id_kind)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([column, *COLUMNS])
    rows = skipped = other_kind = 0
    for call in calls:
        found = usable(getattr(call, where), name)
        if found is None:
            skipped += 1
            other_kind += usable(getattr(call, other[1]), other[2]) is not None
            continue
        writer.writerow([found, *_cells(call, base_url)])
        rows += 1
    return CallsFile(out.getvalue(), rows, skipped, other_kind)


def _cells(call: ExportCall, base_url: str | None) -> list[str]:
    return [
        str(int(call.started_at)),
        call.caller if call.caller and _E164.fullmatch(call.caller) else "",
        _flag(call.static),
        amount_text(call.won.cents) if call.won else "",
        call.won.currency if call.won else "",
        str(round(call.talk)),
        str(round(call.wait)),
        _flag(not call.answered),
        "" if call.target is None else ("target" if call.target else "not target"),
        "" if call.first_time is None else _flag(call.first_time),
        safe_cell(call.landing_url),
        safe_cell(f"{base_url}/app/calls/{call.id}" if base_url else None),
    ]


def _flag(value: bool) -> str:
    return "1" if value else "0"
