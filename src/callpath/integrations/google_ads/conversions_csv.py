"""The CSV Google Ads imports click conversions from (Goals → Conversions → Uploads, or a
scheduled file source in Data Manager).

The first line gives the time zone of the times below it, `Parameters:TimeZone=+0300`,
as a fixed offset (`+HHMM`, one of the two forms Google documents): the site's offset at
the start of the period. Every `Conversion Time` (`yyyy-mm-dd hh:mm:ss`) is written in
that one offset, even after a daylight-saving change inside the period: the moment is
then exact and never ambiguous (a named zone would make the repeated autumn hour
ambiguous), at the price of a wall-clock time one hour off the local clock for the rows
after the change.

One row per call whose visit carried a Google click id: `Google Click ID` (gclid), or,
for iOS traffic, `GBRAID` or `WBRAID`. Those two columns are there only when some row
needs them, after `Google Click ID`, and a row fills exactly one of the three (the gclid
when a visit has several). `Conversion Value` and `Conversion Currency` are the call's
won deals; empty without one, so that Google counts the conversion action's own default
value. Text cells (the conversion name) are neutralised against spreadsheet formulas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from callpath.domain.cells import safe_cell
from callpath.domain.deals import amount_text
from callpath.integrations.fields import usable
from callpath.reports.exports import ExportCall

CLICK_IDS = (("gclid", "Google Click ID"), ("gbraid", "GBRAID"), ("wbraid", "WBRAID"))
COLUMNS = ("Conversion Name", "Conversion Time", "Conversion Value", "Conversion Currency")


@dataclass(frozen=True, slots=True)
class ConversionsFile:
    text: str
    rows: int
    counted: int  # calls that count as conversions (target ones, or all)
    skipped: int  # of those, calls whose visit carried no Google click id


def zone_offset(zone: str, at: float) -> int:
    """The UTC offset of `zone` at `at`, in seconds."""
    delta = datetime.fromtimestamp(at, ZoneInfo(zone)).utcoffset()
    return int(delta.total_seconds()) if delta else 0


def offset_text(seconds: int) -> str:
    """+0300, -0530, +0000: the form Google's time zone parameter takes."""
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def conversions_csv(
    calls: Sequence[ExportCall], name: str, offset: int, all_calls: bool = False
) -> ConversionsFile:
    """The file: target calls (or every call with `all_calls`) with a Google click id,
    their times in the fixed UTC `offset` (seconds)."""
    counted = [c for c in calls if all_calls or c.target]
    found = [(c, _click(c)) for c in counted]
    rows = [(c, click) for c, click in found if click is not None]
    used = {kind for _, (kind, _) in rows}
    kinds = [kind for kind, _ in CLICK_IDS if kind == "gclid" or kind in used]
    zone = timezone(timedelta(seconds=offset))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f"Parameters:TimeZone={offset_text(offset)}"])
    writer.writerow([title for kind, title in CLICK_IDS if kind in kinds] + list(COLUMNS))
    for call, (kind, value) in rows:
        ids = [value if k == kind else "" for k in kinds]
        when = datetime.fromtimestamp(call.started_at, zone).strftime("%Y-%m-%d %H:%M:%S")
        won = call.won
        writer.writerow(
            [
                *ids,
                safe_cell(name),
                when,
                amount_text(won.cents) if won else "",
                won.currency if won else "",
            ]
        )
    return ConversionsFile(out.getvalue(), len(rows), len(counted), len(counted) - len(rows))


def _click(call: ExportCall) -> tuple[str, str] | None:
    for kind, _ in CLICK_IDS:
        value = usable(call.click_ids, kind)
        if value is not None:
            return kind, value
    return None
