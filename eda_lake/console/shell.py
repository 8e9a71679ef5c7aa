"""`eda-lake sql` without a query: a small SQL shell over the lake's views.

Statements end with `;` and may span lines; `.tables` lists the views with their Delta
versions, `.quit` (or end of input) leaves. A bad statement prints its one-line reason and
the shell goes on.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from eda_lake.analytics.sql import LakeSql, QueryError

Writer = Callable[[Sequence[str], Iterable[Sequence[Any]], TextIO], int]
TABLES = ".tables"  # also `eda-lake sql .tables`, outside the shell


def run_shell(
    engine: LakeSql,
    write: Writer,
    home_line: str,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    stdin, out = stdin or sys.stdin, out or sys.stdout
    interactive = stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):  # not on every platform
            import readline  # noqa: F401  (line editing and history for input())
    out.write(f"{home_line}\n{tables_line(engine)}\nend statements with ';'; .tables, .quit\n")
    pending: list[str] = []
    while True:
        prompt = ("...> " if pending else "lake> ") if interactive else ""
        line = _read(stdin, prompt, out, interactive)
        if line is None:
            return 0
        stripped = line.strip()
        if not pending and stripped in (".quit", ".exit"):
            return 0
        if not pending and stripped == TABLES:
            out.write(tables_line(engine) + "\n")
            continue
        pending.append(line)
        if not stripped.endswith(";"):
            continue
        statement, pending = "\n".join(pending), []
        try:
            result = engine.query(statement)
        except QueryError as exc:
            out.write(f"error: {exc}\n")
            continue
        write(result.columns, result.rows, out)


def _read(stdin: TextIO, prompt: str, out: TextIO, interactive: bool) -> str | None:
    if interactive:
        try:
            return input(prompt)
        except EOFError:
            out.write("\n")
            return None
    line = stdin.readline()
    return line.rstrip("\n") if line else None


def tables_line(engine: LakeSql) -> str:
    if not engine.tables:
        return "tables: none yet (run ingest, silver and gold first)"
    listed = ", ".join(f"{t.qualified} (v{t.version})" for t in engine.tables)
    return f"tables: {listed}"
