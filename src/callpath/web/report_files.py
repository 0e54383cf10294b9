"""A report's table as a file a spreadsheet opens: CSV (UTF-8 with a BOM, so Excel in a
Russian locale reads the Cyrillic right; `;` on request, the separator such a locale
expects) or XLSX. No cell is ever run as a formula: CSV cells get a quote in front of
a leading = + - @ (as the journal's export does), XLSX cells are typed as text."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from callpath.web.call_view import safe_cell

BOM = "\ufeff"
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def table(
    columns: Sequence[str], rows: Sequence[dict[str, Any]], totals: dict[str, Any] | None
) -> list[list[Any]]:
    """The header, the rows, and a "Total" row when there are totals."""
    out: list[list[Any]] = [list(columns)]
    out += [[row.get(c) for c in columns] for row in rows]
    if totals is not None:
        out.append([totals.get(c, "Total" if i == 0 else None) for i, c in enumerate(columns)])
    return out


def as_csv(cells: list[list[Any]], delimiter: str = ",") -> bytes:
    """With `;` numbers take a decimal comma, as the locales that use `;` write them."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    comma = delimiter == ";"
    for row in cells:
        writer.writerow([_csv_cell(v, comma) for v in row])
    return (BOM + out.getvalue()).encode("utf-8")


def _csv_cell(value: object, comma: bool) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = repr(value)
        return text.replace(".", ",") if comma else text
    if isinstance(value, int):
        return str(value)
    return safe_cell(value)


def as_xlsx(cells: list[list[Any]], title: str) -> bytes:
    from openpyxl import Workbook  # imported when a file is asked for: it is large

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    for r, row in enumerate(cells, start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c)
            if value is None:
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                cell.value = value
            else:
                cell.value = str(value)
                cell.data_type = "s"  # text, never a formula
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
