"""What leaves callpath about calls: safe CSV cells, masked callers, opaque cursors."""

from __future__ import annotations

import csv
import io

import pytest

from callpath.domain.phone import mask
from callpath.reports.calls import BadFilter, decode_cursor, encode_cursor
from callpath.web.call_view import safe_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+79161234567", "'+79161234567"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("yandex", "yandex"),
        ("a=b", "a=b"),
        (None, ""),
        (0.97, "0.97"),
    ],
)
def test_csv_cells_never_start_a_formula(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def test_a_neutralised_cell_survives_csv_quoting() -> None:
    out = io.StringIO()
    csv.writer(out).writerow([safe_cell('=cmd|"/c calc"!A1'), safe_cell("ok, fine")])
    row = next(csv.reader(io.StringIO(out.getvalue())))
    assert row == ['\'=cmd|"/c calc"!A1', "ok, fine"]


def test_mask_keeps_only_the_last_four_digits() -> None:
    assert mask("+79161234567") == "•••• 4567"
    assert "916" not in (mask("+79161234567") or "")
    assert mask("123") == "••••"
    assert mask(None) is None


def test_cursor_round_trip_and_garbage() -> None:
    assert decode_cursor(encode_cursor(1.5, "c123")) == (1.5, "c123")
    for junk in ("", "!!!", "bm90IGpzb24", encode_cursor(1, "x")[:-3] + "%%%"):
        with pytest.raises(BadFilter):
            decode_cursor(junk)
