"""Ad spend files (pure): the files a marketer already has, read row by row.

Three shapes, columns found by their header's name, never by position:
- `csv`: the neutral shape Yandex Metrica's expense upload uses — `Date, UTMSource,
  UTMMedium, UTMCampaign, UTMTerm, UTMContent, Expenses, Currency, Clicks` (Date,
  UTMSource and Expenses required); comma, semicolon or tab separated.
- `yandex-direct`: a Direct report as TSV (its Reports API or the UI): a title line, the
  header, the rows, a `Total rows: N` line. Money in micros when the report was asked for
  so (`micros`); `--` is an empty value.
- `google-ads`: a Google Ads UI export as CSV: title lines, the header (`Day` or `Date`,
  `Campaign`, `Cost`, …), the rows, `Total…` lines.

A row that cannot be read stops the whole file: the error names its line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FORMATS = ("csv", "yandex-direct", "google-ads")
MAX_ROWS = 200_000
MAX_CENTS = 10**15
TEXT_MAX = 255


class CostError(ValueError):
    """A file that cannot be imported; the message names the line and the column."""


@dataclass(frozen=True, slots=True)
class CostRow:
    line: int
    day: date
    source: str
    medium: str
    campaign: str
    term: str
    content: str
    amount: Decimal  # in the row's currency, as the file says
    currency: str | None  # None: the site's
    clicks: int | None


def parse(text: str, fmt: str, *, micros: bool = False) -> list[CostRow]:
    if fmt not in FORMATS:
        raise CostError(f"format: one of {', '.join(FORMATS)}")
    lines = text.lstrip("\ufeff").splitlines()
    if fmt == "csv":
        rows = _neutral(lines)
    elif fmt == "yandex-direct":
        rows = _direct(lines, micros)
    else:
        rows = _google(lines)
    if not rows:
        raise CostError("the file has no cost rows")
    if len(rows) > MAX_ROWS:
        raise CostError(f"at most {MAX_ROWS} rows in one file")
    return rows


# --- the neutral CSV --------------------------------------------------------------------


def _neutral(lines: list[str]) -> list[CostRow]:
    if not lines:
        raise CostError("the file is empty")
    delimiter = max(",;\t", key=lines[0].count)
    table = _table(lines, delimiter)
    header = _header(table[0][1], 1)
    need = {"date": "Date", "utmsource": "UTMSource", "expenses": "Expenses"}
    _require(header, need, 1)
    rows = []
    for line, cells in table[1:]:
        if not any(c.strip() for c in cells):
            continue
        get = _getter(header, cells)
        rows.append(
            CostRow(
                line,
                _day(get("date"), line, "Date"),
                _text(get("utmsource"), line, "UTMSource", required=True),
                _text(get("utmmedium"), line, "UTMMedium"),
                _text(get("utmcampaign"), line, "UTMCampaign"),
                _text(get("utmterm"), line, "UTMTerm"),
                _text(get("utmcontent"), line, "UTMContent"),
                _money(get("expenses"), line, "Expenses", comma=delimiter != ","),
                _currency(get("currency"), line),
                _clicks(get("clicks"), line),
            )
        )
    return rows


# --- Yandex Direct -----------------------------------------------------------------------


def _direct(lines: list[str], micros: bool) -> list[CostRow]:
    start = next((i for i, t in enumerate(lines[:3]) if _is_direct_header(t)), None)
    if start is None:
        raise CostError("line 1: no Direct report header (Date … Cost) in the first lines")
    body = lines[start:]
    total = None
    if body and body[-1].lower().startswith("total rows"):
        total = body.pop()
    table = _table(body, "\t", first=start + 1)
    header = _header(table[0][1], start + 1)
    _require(header, {"date": "Date", "cost": "Cost"}, start + 1)
    campaign = "campaignname" if "campaignname" in header else "campaignid"
    term = next((k for k in ("criterion", "keyword", "criteria") if k in header), None)
    rows = []
    for line, cells in table[1:]:
        if not any(c.strip() for c in cells):
            continue
        get = _getter(header, cells)
        cost = _money(_dash(get("cost")), line, "Cost", comma=True)
        rows.append(
            CostRow(
                line,
                _day(get("date"), line, "Date"),
                "yandex",
                "cpc",
                _text(_dash(get(campaign)), line, "CampaignName"),
                _text(_dash(get(term)) if term else "", line, "Criterion"),
                "",
                cost / 1_000_000 if micros else cost,
                None,
                _clicks(_dash(get("clicks")), line),
            )
        )
    if total is not None:
        _check_total(total, len(rows), start + len(body) + 1)
    return rows


def _is_direct_header(text: str) -> bool:
    names = {c.strip().lower() for c in text.split("\t")}
    return "date" in names and "cost" in names


def _check_total(text: str, count: int, line: int) -> None:
    found = re.search(r"(\d+)", text)
    if found and int(found.group(1)) != count:
        raise CostError(
            f"line {line}: the report says {found.group(1)} rows, the file holds {count}"
            " (cut short?)"
        )


def _dash(value: str) -> str:
    return "" if value.strip() == "--" else value


# --- Google Ads ----------------------------------------------------------------------------


def _google(lines: list[str]) -> list[CostRow]:
    table = _table(lines, ",")
    at = next((i for i, (_n, cells) in enumerate(table[:10]) if _is_google_header(cells)), None)
    if at is None:
        raise CostError("line 1: no Google Ads header (Day or Date, Campaign, Cost) found")
    first_line, cells = table[at]
    header = _header(cells, first_line)
    day = "day" if "day" in header else "date"
    currency = next((k for k in ("currencycode", "currency") if k in header), None)
    term = next((k for k in ("searchkeyword", "keyword") if k in header), None)
    rows = []
    for line, row in table[at + 1 :]:
        if not any(c.strip() for c in row) or row[0].strip().lower().startswith("total"):
            continue
        get = _getter(header, row)
        rows.append(
            CostRow(
                line,
                _day(get(day), line, "Day"),
                "google",
                "cpc",
                _text(get("campaign"), line, "Campaign"),
                _text(get(term) if term else "", line, "Keyword"),
                "",
                _money(_plain_number(get("cost"), line, "Cost"), line, "Cost", comma=False),
                _currency(get(currency) if currency else "", line),
                _clicks(re.sub(r"[,.\s]", "", get("clicks")), line),  # whole: "1,204"
            )
        )
    return rows


def _plain_number(text: str, line: int, column: str) -> str:
    """A number as an export writes it in its account's locale ("1,234.56", "1.234,56",
    "1 234,56", "1234.56") without separators of thousands and with a decimal point.
    A form that could be read two ways ("1,234" or "1.234" alone) is refused: read the
    wrong way it would be off a thousandfold without a word."""
    value = "".join(text.split())
    commas, dots = value.count(","), value.count(".")
    if commas and dots:
        decimal = "," if value.rfind(",") > value.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        return value.replace(thousands, "").replace(decimal, ".")
    mark = "," if commas else "." if dots else None
    if mark is None:
        return value
    groups = value.split(mark)
    if len(groups) > 2:  # 1,234,567 or 1.234.567: separators of thousands
        return value.replace(mark, "")
    if len(groups[1]) == 3 and groups[0].isdigit() and groups[0] != "0":
        raise CostError(
            f"line {line}: {column} {text[:20]!r} could be read two ways"
            " (export the report with a decimal point and no separators)"
        )
    return value.replace(mark, ".")


def _is_google_header(cells: list[str]) -> bool:
    names = {c.strip().lower() for c in cells}
    return ("day" in names or "date" in names) and "cost" in names and "campaign" in names


# --- cells -------------------------------------------------------------------------------


def _table(lines: list[str], delimiter: str, first: int = 1) -> list[tuple[int, list[str]]]:
    """Rows with their line numbers (1-based, as an editor shows them)."""
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    try:
        return [(first + reader.line_num - 1, row) for row in reader]
    except csv.Error as exc:
        raise CostError(f"line {first + reader.line_num - 1}: {exc}") from exc


def _header(cells: list[str], line: int) -> dict[str, int]:
    names = [re.sub(r"[^a-z]", "", c.lower()) for c in cells]
    header: dict[str, int] = {}
    for i, name in enumerate(names):
        if name and name not in header:
            header[name] = i
    if not header:
        raise CostError(f"line {line}: no column names")
    return header


def _require(header: dict[str, int], need: dict[str, str], line: int) -> None:
    missing = [shown for key, shown in need.items() if key not in header]
    if missing:
        raise CostError(f"line {line}: no column {', '.join(missing)}")


def _getter(header: dict[str, int], cells: list[str]) -> Callable[[str | None], str]:
    def get(name: str | None) -> str:
        i = header.get(name or "")
        return cells[i] if i is not None and i < len(cells) else ""

    return get


def _day(text: str, line: int, column: str) -> date:
    value = text.strip()
    for shape in ("%Y-%m-%d", "%d.%m.%Y", "%Y%m%d", "%b %d, %Y"):
        try:
            return datetime.strptime(value, shape).date()
        except ValueError:
            continue
    raise CostError(f"line {line}: {column} {value[:20]!r} is not a date (YYYY-MM-DD)")


def _money(text: str, line: int, column: str, *, comma: bool) -> Decimal:
    value = "".join(text.split())
    if comma:
        value = value.replace(",", ".")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise CostError(f"line {line}: {column} {text[:20]!r} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise CostError(f"line {line}: {column} must be an amount of 0 or more")
    if amount * 100 > MAX_CENTS:
        raise CostError(f"line {line}: {column} is too large")
    return amount


def _text(value: str, line: int, column: str, *, required: bool = False) -> str:
    text = value.strip()
    if required and not text:
        raise CostError(f"line {line}: {column} is empty")
    if len(text) > TEXT_MAX:
        raise CostError(f"line {line}: {column} is longer than {TEXT_MAX} characters")
    if "\x00" in text:
        raise CostError(f"line {line}: {column} holds a NUL character")
    return text


def _currency(value: str, line: int) -> str | None:
    code = value.strip().upper()
    if not code:
        return None
    if len(code) != 3 or not (code.isascii() and code.isalpha()):
        raise CostError(f"line {line}: Currency {value[:10]!r} is not an ISO 4217 code")
    return code


def _clicks(value: str, line: int) -> int | None:
    text = "".join(value.split())
    if not text:
        return None
    if not text.isdigit() or len(text) > 12:
        raise CostError(f"line {line}: Clicks {value[:20]!r} is not a whole number")
    return int(text)


def cents(amount: Decimal) -> int:
    """An amount rounded to cents (half up: 0.005 is a cent)."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
