"""Sales partners' files: the partners drop CSV files, Conversions turns rows into sales.

A partner reports each sold lead as a row `lead_id,purchase_date`, in a file named after the
partner (its code, up to the name's first `-`). A file is written after the last sale it
reports: its time is its latest purchase date (no clock: the same file has the same time at
every reading). The simulated partners write one file per day they sold on.
`drop_partner_files` plays the partners (a share of the leads handed to them sell, after a
plausible delay); `ingest_partner_files` is Conversions' side: every valid row becomes a
SaleConfirmed event, confirmed after the file's time, every bad row a dead letter with its
reason. A file's sales and their events are stored in one transaction of Conversions' store
(the events in its outbox), and the file moves to `processed/` after; a crash before the move
stores nothing twice (the same sales, the same event ids). The relay sends them. A sale
starts a trace of its own, which links to its file's (`trace_context.file_context`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from eda_lake.catalogue import Catalogue
from eda_lake.events.publisher import OutgoingEvent, Publisher, derived_event_id
from eda_lake.events.wire import PayloadError
from eda_lake.hub.base import EventData
from eda_lake.simulation import timing, world
from eda_lake.simulation.conversions_state import ConversionsState
from eda_lake.simulation.dead_letters import DeadLetterStore
from eda_lake.telemetry import spans

HEADER = ["lead_id", "purchase_date"]
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
ORIGIN_PREFIX = "partner-file:"


class PartnerRowError(ValueError):
    """A partner's row that cannot become a sale; the message names file, line and cause."""


@dataclass
class PartnerDropReport:
    files: list[str]
    leads_handed: int
    sales: int


@dataclass
class PartnerIngestReport:
    files: int = 0
    sales_confirmed: int = 0
    bad_rows: int = 0


def drop_partner_files(state: ConversionsState, drops_dir: Path) -> PartnerDropReport:
    """Each partner writes the sales of the leads handed to it since last time: one file per
    day of sales, so that a sale waits for its file at most until the end of its day."""
    leads = state.leads_not_dropped()
    drop = state.next_drop()
    by_file: dict[tuple[str, date], list[tuple[str, datetime]]] = {}
    for lead in leads:
        if world.partner_sells(lead.lead_id):
            sold_at = timing.PARTNER_SALE.after(lead.generated_at, f"sale/{lead.lead_id}")
            by_file.setdefault((lead.partner_id, sold_at.date()), []).append(
                (lead.lead_id, sold_at)
            )
    incoming = drops_dir / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    files = []
    for (partner, day), rows in sorted(by_file.items()):
        name = f"{partner}-{drop:05d}-{day:%Y%m%d}.csv"
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows((lead_id, sold.strftime(DATE_FORMAT)) for lead_id, sold in rows)
        _write_atomically(incoming / name, buffer.getvalue())
        files.append(name)
    state.mark_dropped([lead.lead_id for lead in leads], drop)
    return PartnerDropReport(files, len(leads), sum(len(r) for r in by_file.values()))


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def ingest_partner_files(
    catalogue: Catalogue,
    state: ConversionsState,
    publisher: Publisher,
    dead_letters: DeadLetterStore,
    drops_dir: Path,
) -> PartnerIngestReport:
    report = PartnerIngestReport()
    processed = drops_dir / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    for path in sorted((drops_dir / "incoming").glob("*.csv")):
        started = spans.clock()
        try:
            rows = _rows(path)
        except FileNotFoundError:
            continue  # another ingestion took it: its events carry the same ids
        except (UnicodeDecodeError, csv.Error) as exc:
            # Unreadable as a whole: one dead letter holds the file's bytes and why, and it
            # moves on with the others, so the files after it still land.
            report.bad_rows += 1
            reason = (
                f"{path.name}: not a UTF-8 CSV file ({exc}); ask the partner to send it again "
                "as UTF-8"
            )
            with contextlib.suppress(FileNotFoundError):
                _dead_letter(dead_letters, path.name, 0, reason, path.read_bytes())
            rows = []
        prepared: list[tuple[str, EventData]] = []
        written_at = _file_time(rows)
        with state.store.transaction():
            for line, row, problem in rows:
                try:
                    if problem is not None:
                        raise PartnerRowError(problem)
                    with state.store.savepoint():
                        sale = _sale(catalogue, state, path.name, written_at, line, row)
                        state.add_sale(
                            str(sale.record["sale_id"]), str(sale.record["lead_id"]), path.name,
                            sale.time,
                        )  # fmt: skip
                        prepared.append(publisher.prepare(sale))
                except (PartnerRowError, PayloadError) as exc:
                    report.bad_rows += 1
                    _dead_letter(dead_letters, path.name, line, str(exc), ",".join(row).encode())
            report.sales_confirmed += state.store.enqueue(prepared)
        spans.partner_file(path.name, [data.properties for _, data in prepared], started)
        # A concurrent ingestion may have moved it first; both published the same events.
        with contextlib.suppress(FileNotFoundError):
            path.replace(processed / path.name)
        report.files += 1
    return report


def _dead_letter(
    dead_letters: DeadLetterStore, file: str, line: int, reason: str, body: bytes
) -> None:
    """A partner file's row (or, at line 0, the whole file) that cannot become an event."""
    dead_letters.add(
        team="conversions",
        origin=ORIGIN_PREFIX + file,
        partition_id="0",
        sequence_number=line,
        reason=reason,
        body=body,
        properties={"partner_file": file, "line": line},
    )


def _rows(path: Path) -> list[tuple[int, list[str], str | None]]:
    """(line number, cells, problem) per data row; a bad header makes every row a problem."""
    with path.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    if not rows or [c.strip().lower() for c in rows[0]] != HEADER:
        bad_header = f"{path.name}: header is not {','.join(HEADER)}"
        return [(n, r, bad_header) for n, r in enumerate(rows, start=1)]
    result: list[tuple[int, list[str], str | None]] = []
    for number, row in enumerate(rows[1:], start=2):
        problem = None if len(row) == 2 else f"{path.name} line {number}: expected 2 columns"
        result.append((number, row, problem))
    return result


def _purchase_date(cell: str) -> datetime | None:
    try:
        return datetime.strptime(cell.strip(), DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _file_time(rows: list[tuple[int, list[str], str | None]]) -> datetime | None:
    """When the partner wrote the file: its latest purchase date (None without one)."""
    dates = [_purchase_date(row[1]) for _, row, _ in rows if len(row) == 2]
    return max((d for d in dates if d is not None), default=None)


def _sale(
    catalogue: Catalogue,
    state: ConversionsState,
    file: str,
    written_at: datetime | None,
    line: int,
    row: list[str],
) -> OutgoingEvent:
    """The SaleConfirmed event for a row of a file written at `written_at`; PartnerRowError
    says why a row is refused."""
    where = f"{file} line {line}"
    try:
        lead_id = str(uuid.UUID(row[0].strip()))
    except ValueError:
        raise PartnerRowError(f"{where}: lead_id {row[0]!r} is not a UUID") from None
    sold_at = _purchase_date(row[1])
    if sold_at is None or written_at is None:  # a file without a date has no time either
        raise PartnerRowError(f"{where}: purchase_date {row[1]!r} is not 'YYYY-MM-DD HH:MM:SS'")
    lead = state.lead(lead_id)
    if lead is None:
        raise PartnerRowError(f"{where}: lead {lead_id} was never handed to a partner")
    partner = file.split("-", 1)[0]
    if partner != lead.partner_id:
        raise PartnerRowError(
            f"{where}: lead {lead_id} belongs to partner {lead.partner_id}, not {partner}"
        )
    if sold_at < lead.generated_at.replace(microsecond=0):
        raise PartnerRowError(f"{where}: purchase_date {row[1]} is before the lead was generated")
    source = catalogue.source("conversions")
    record: dict[str, object] = {
        "sale_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sale/{file}/{lead_id}")),
        "confirmed_at": timing.SALE_CONFIRMATION.after(written_at, f"confirm/{file}/{lead_id}"),
        "lead_id": lead_id,
        "partner_id": lead.partner_id,
        "sold_at": sold_at,
        "partner_file": file,
    }
    return OutgoingEvent(
        event="SaleConfirmed",
        record=record,
        id=derived_event_id(source, "SaleConfirmed", file, lead_id),
        source=source,
        time=timing.business_time("SaleConfirmed", record),
    )
