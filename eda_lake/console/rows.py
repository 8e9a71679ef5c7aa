"""Rows of a query as a person or a program reads them: an aligned table, CSV or JSON lines."""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TextIO


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def json_value(value: Any) -> Any:
    """A value as JSON holds it: instants in ISO 8601, decimals exact as text, bytes in
    base64, all the way down."""
    if isinstance(value, Decimal):
        return str(value)  # exact: a float would round money
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def write_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> int:
    """Columns padded to their widest cell, numbers to the right; the row count below.

    Not rich's `Table`: it lays out about 1,500 rows a second here (100,000 rows in 89 s
    against 1.3 s), and a query of bronze returns millions."""
    cells = [[(_text(v), _numeric(v)) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        widths = [max(w, len(text)) for w, (text, _) in zip(widths, row, strict=True)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        line = "  ".join(
            text.rjust(w) if number else text.ljust(w)
            for (text, number), w in zip(row, widths, strict=True)
        )
        out.write(line.rstrip() + "\n")
    out.write(f"({len(cells) or 'no'} row{'' if len(cells) == 1 else 's'})\n")
    return len(cells)


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(["" if v is None else json_value(v) for v in row])
        count += 1
    return count


def write_json_lines(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps({c: json_value(v) for c, v in zip(columns, row, strict=True)}) + "\n")
        count += 1
    return count


WRITERS = {"table": write_table, "csv": write_csv, "json": write_json_lines}
