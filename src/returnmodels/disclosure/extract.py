"""Tables out of printed output: HTML tables and plain-text DataFrame reprints.

Used by ``returnmodels audit`` on notebooks and HTML reports. Both readers are
best-effort and dependency-free: cell texts only, no colspan or rowspan arithmetic.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd

__all__ = ["html_tables", "text_tables"]


class _TableParser(HTMLParser):
    """Collects each table as rows of ``(in_head, [(tag, text), ...])``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[tuple[bool, list[tuple[str, str]]]]] = []
        self._open: list[list[tuple[bool, list[tuple[str, str]]]]] = []
        self._cell: tuple[str, list[str]] | None = None
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._open.append([])
        elif self._open and tag == "thead":
            self._in_head = True
        elif self._open and tag == "tr":
            self._open[-1].append((self._in_head, []))
        elif self._open and tag in ("td", "th"):
            self._cell = (tag, [])

    def handle_endtag(self, tag):
        if tag == "table" and self._open:
            self.tables.append(self._open.pop())
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None and self._open:
            if not self._open[-1]:
                self._open[-1].append((self._in_head, []))
            kind, parts = self._cell
            self._open[-1][-1][1].append((kind, " ".join("".join(parts).split())))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1].append(data)


def html_tables(html: str) -> list[pd.DataFrame]:
    """Every ``<table>`` in ``html`` as a frame of strings, in document order.

    Column names are read from the ``<thead>`` rows (the last non-empty text per
    position, so pandas' index-name row does not hide the column names) or, without a
    ``<thead>``, from a first row of ``<th>`` cells. Row labels are the first column.
    """
    parser = _TableParser()
    parser.feed(html)
    parser.close()
    return [frame for table in parser.tables if (frame := _frame(table)) is not None]


def _frame(table: list[tuple[bool, list[tuple[str, str]]]]) -> pd.DataFrame | None:
    rows = [(head, cells) for head, cells in table if cells]
    head = [[text for _, text in cells] for in_head, cells in rows if in_head]
    body = [[text for _, text in cells] for in_head, cells in rows if not in_head]
    if not head and rows and all(kind == "th" for kind, _ in rows[0][1]):
        head, body = body[:1], body[1:]
    width = max([len(row) for row in head + body], default=0)
    if width == 0:
        return None
    names = [""] * width
    for row in head:
        for position, text in enumerate(_right_aligned(row, width)):
            if text:
                names[position] = text
    cells = [_right_aligned(row, width) for row in body]
    return pd.DataFrame(cells, columns=_unique(names), dtype="string")


def _right_aligned(row: list[str], width: int) -> list[str]:
    return [""] * (width - len(row)) + list(row)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}.{seen[name] - 1}")
    return unique


def text_tables(text: str) -> list[pd.DataFrame]:
    """Whitespace-aligned tables in plain text, as ``print(frame)`` writes them.

    A header line is followed by rows with as many fields as the header, or one more
    (the index), whose last fields end where the header's fields end (pandas aligns
    columns to the right); a lone field right after the header (pandas' index name) is
    skipped. Values with spaces break a row, which ends the table: this reader is
    best-effort.
    """
    lines = [
        [(m.group(), m.end()) for m in re.finditer(r"\S+", line)] for line in text.splitlines()
    ]
    tables, start = [], 0
    while start < len(lines):
        frame, used = _text_table(lines, start)
        if frame is not None:
            tables.append(frame)
        start += max(used, 1)
    return tables


def _text_table(lines: list[list[tuple[str, int]]], start: int) -> tuple[pd.DataFrame | None, int]:
    header = lines[start]
    if not header or all(_is_number(field) for field, _ in header):
        return None, 1
    position = start + 1
    if position < len(lines) and len(lines[position]) == 1 and len(header) > 1:
        position += 1
    rows = []
    while position < len(lines) and _aligned(lines[position], header):
        rows.append([field for field, _ in lines[position]])
        position += 1
    if not rows:
        return None, 1
    width = max(len(row) for row in rows)
    names = ([""] if width > len(header) else []) + [field for field, _ in header]
    padded = [_right_aligned(row, width) for row in rows]
    return pd.DataFrame(padded, columns=_unique(names), dtype="string"), position - start


def _aligned(row: list[tuple[str, int]], header: list[tuple[str, int]]) -> bool:
    if len(row) not in (len(header), len(header) + 1):
        return False
    return [end for _, end in row[-len(header) :]] == [end for _, end in header]


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True
