"""The lake's one commit primitive: every layer writes its tables through `commit`.

A commit is decided on snapshots opened once: the target table at the version that decided
what to write, and each input table at the version that was read. The commit records the
input versions as Delta application transactions (`input:<layer>.<table>` = version), in the
same atomic commit as the rows, so a layer always resumes from exactly what its own output
says it consumed, and can never record progress for data its inputs did not contain.

Two writers of one table record the same application ids, so Delta refuses whichever commits
second (`ConcurrentCommitError`); `with_retries` then decides again on fresh snapshots.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import pyarrow as pa
import tenacity
from deltalake import (
    CommitProperties,
    DeltaTable,
    TableFeatures,
    Transaction,
    WriterProperties,
    write_deltalake,
)
from deltalake import (
    Schema as DeltaSchema,
)
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.transaction import AddAction, RemoveAction

from eda_lake.lake.delta import tables
from eda_lake.lake.delta.freshness import Latency
from eda_lake.shared.environment import causes, environment_fault
from eda_lake.shared.errors import LakeWideError

log = logging.getLogger(__name__)

PROGRESS_PREFIX = "input:"
MAX_CONFLICT_RETRIES = 20
# Delta may rebase a commit over commits that do not touch what it decided on: writers of
# other streams, or of other tables' progress. What it decided on is guarded by the
# application ids it shares with any writer that could invalidate it, and a winning commit
# with one of those ids makes Delta refuse ours whatever the retries.
COMMIT_RETRIES = 10
# Bounded writer memory: the writer holds a file's rows until it reaches the target size and
# a row group's until it is full, so both are kept small; compaction makes files larger later.
TARGET_FILE_BYTES = 8 << 20
WRITER_PROPERTIES = WriterProperties(max_row_group_size=8 * 1024, compression="ZSTD")

# Writers that collided pause a random time up to an exponentially growing bound (full
# jitter) before deciding again, so that they do not collide again in step.
CONFLICT_WAIT = tenacity.wait_random_exponential(multiplier=0.02, max=1.0)

T = TypeVar("T")
Mode = Literal["append", "replace", "overwrite"]


class ConcurrentCommitError(Exception):
    """Another writer committed what this commit was about to: decide again, then retry."""


def pause_after_conflict(conflicts: int) -> None:
    """The pause `with_retries` makes after the `conflicts`-th conflict in a row, for a
    writer that retries in a loop of its own."""
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = conflicts
    time.sleep(CONFLICT_WAIT(state))


def progress_app(input_table: str) -> str:
    return PROGRESS_PREFIX + input_table


def consumed(target: DeltaTable | None, inputs: Iterable[str]) -> dict[str, int | None]:
    """The version of each input that `target`'s snapshot says it has consumed."""
    return {
        name: None if target is None else target.transaction_version(progress_app(name))
        for name in inputs
    }


@dataclass(frozen=True)
class Write:
    """What one commit writes: rows (a table or batches of `schema`) and how."""

    schema: pa.Schema
    rows: pa.Table | Iterable[pa.RecordBatch]
    mode: Mode = "append"  # replace: the rows matching `predicate` become `rows`
    predicate: str | None = None
    partition_by: list[str] | None = None
    configuration: dict[str, str | None] | None = None
    app_transactions: Mapping[str, int] = field(default_factory=dict)  # besides the inputs
    metadata: Mapping[str, str] = field(default_factory=dict)
    writer_properties: WriterProperties = field(default_factory=lambda: WRITER_PROPERTIES)


def ensure_table(
    uri: str,
    schema: pa.Schema,
    *,
    options: tables.Options = None,
    partition_by: list[str] | None = None,
    configuration: dict[str, str | None] | None = None,
) -> DeltaTable:
    """Open the table, creating it empty first if needed (two creators race safely).

    Data is only ever committed against a snapshot of an existing table, so that Delta's
    conflict check sees every commit made after the snapshot that decided what to write.
    """
    table = tables.open_table(uri, options)
    if table is not None:
        return table
    try:
        write_deltalake(
            uri,
            pa.RecordBatchReader.from_batches(schema, iter([])),
            mode="ignore",
            partition_by=partition_by,
            configuration=configuration,
            storage_options=options,
        )
    except DeltaError:
        created = tables.open_table(uri, options)  # another process created it first
        if created is None:
            raise
        return created
    created = tables.open_table(uri, options)
    if created is None:
        raise RuntimeError(f"Delta table {uri} could not be created")
    return created


def first_commit_table(
    uri: str,
    schema: pa.Schema,
    *,
    options: tables.Options = None,
    configuration: dict[str, str | None] | None = None,
) -> DeltaTable:
    """The table for a commit decided while the table did not exist: created empty if need
    be. If another writer committed to it meanwhile, the decision is stale: ConcurrentCommitError
    (decide again on what it holds now)."""
    table = ensure_table(uri, schema, options=options, configuration=configuration)
    if table.version() > 0:
        raise ConcurrentCommitError(f"{uri} was written while this run decided what to write")
    return table


def commit(table: DeltaTable, write: Write, inputs: Mapping[str, int]) -> int:
    """Commit `write` against `table`'s snapshot with the input versions; the new version."""
    progress = {progress_app(name): version for name, version in inputs.items()}
    transactions = [
        Transaction(app_id, version)
        for app_id, version in {**progress, **write.app_transactions}.items()
    ]
    rows = write.rows
    data = (
        rows
        if isinstance(rows, pa.Table)
        else pa.RecordBatchReader.from_batches(write.schema, iter(rows))
    )
    properties = CommitProperties(
        app_transactions=transactions,
        custom_metadata=dict(write.metadata) or None,
        max_commit_retries=COMMIT_RETRIES,
    )
    try:
        if write.mode == "append":
            write_deltalake(
                table, data, mode="append", partition_by=write.partition_by,
                schema_mode="merge", target_file_size=TARGET_FILE_BYTES,
                writer_properties=write.writer_properties, commit_properties=properties,
            )  # fmt: skip
        elif write.mode == "replace":
            write_deltalake(
                table, data, mode="overwrite", predicate=write.predicate or "TRUE",
                target_file_size=TARGET_FILE_BYTES, writer_properties=write.writer_properties,
                commit_properties=properties,
            )  # fmt: skip
        else:
            write_deltalake(
                table, data, mode="overwrite", schema_mode="overwrite",
                partition_by=write.partition_by, target_file_size=TARGET_FILE_BYTES,
                writer_properties=write.writer_properties, commit_properties=properties,
            )  # fmt: skip
    except CommitFailedError as exc:
        raise ConcurrentCommitError(str(exc)) from exc
    table.update_incremental()
    return table.version()


def add_columns(table: DeltaTable, schema: pa.Schema, inputs: Mapping[str, int]) -> bool:
    """Give a table written before `schema` gained columns those columns, in place: one
    metadata commit, no data rewritten (Delta appends them, so `schema` has them last; the
    rows before read null, so each must be nullable). Atomic like any commit: a process
    killed around it leaves the table with the columns or without. A writer that decided on
    the snapshot before it is refused by Delta (the metadata changed) and decides again; the
    input versions are recorded as by `commit`. Whether it committed; ConcurrentCommitError
    when another writer committed first (perhaps the same columns): decide again."""
    stored = {name for name, _ in tables.delta_columns(table.schema())}
    missing = [f for f in schema if f.name not in stored]
    if not missing:
        return False
    required = [f.name for f in missing if not f.nullable]
    if required:
        raise ValueError(
            f"{table.table_uri}: column(s) {required} cannot be added in place (rows written "
            "before them would hold null, and they may not): rewrite the table instead"
        )
    fields = DeltaSchema.from_arrow(tables.stored_schema(pa.schema(missing))).fields
    properties = CommitProperties(
        app_transactions=[Transaction(progress_app(n), v) for n, v in inputs.items()],
        max_commit_retries=0,
    )
    try:
        table.alter.add_columns(fields, commit_properties=properties)
    except CommitFailedError as exc:
        raise ConcurrentCommitError(str(exc)) from exc
    table.update_incremental()
    return True


def commit_files(
    table: DeltaTable,
    schema: pa.Schema,
    files: Sequence[AddAction | RemoveAction],
    *,
    partition_by: list[str],
    inputs: Mapping[str, int],
    app_transactions: Mapping[str, int],
    metadata: Mapping[str, str],
    mode: Mode = "append",
) -> int:
    """Add data files written beside the table (`data_files`) in one commit against `table`'s
    snapshot (with `overwrite`, in place of all its files), with the input versions and
    application transactions, as `commit` does; the new version."""
    transactions = [
        Transaction(app_id, version)
        for app_id, version in {
            **{progress_app(n): v for n, v in inputs.items()},
            **app_transactions,
        }.items()
    ]
    properties = CommitProperties(
        app_transactions=transactions,
        custom_metadata=dict(metadata) or None,
        max_commit_retries=COMMIT_RETRIES,
    )
    if mode == "overwrite":
        ready_for_schema(table, schema)
    try:
        table.create_write_transaction(
            list(files), mode="overwrite" if mode == "overwrite" else "append", schema=schema,
            partition_by=partition_by, commit_properties=properties,
        )  # fmt: skip
    except CommitFailedError as exc:
        raise ConcurrentCommitError(str(exc)) from exc
    table.update_incremental()
    return table.version()


def ready_for_schema(table: DeltaTable, schema: pa.Schema) -> None:
    """Make `table`'s protocol able to hold `schema` before an overwrite through
    `commit_files` gives it that schema.

    delta-rs's `create_write_transaction` replaces the schema but never the protocol (unlike
    `write_deltalake`): a column without a time zone committed to a table without the
    `timestampNtz` feature lands, and the table can never be opened again. The feature is
    enabled in a commit of its own, then ConcurrentCommitError: decide again on the table as
    it is now."""
    if not any(_without_zone(f.type) for f in schema):
        return
    if "timestampNtz" in (table.protocol().reader_features or []):
        return
    features = [TableFeatures.TimestampWithoutTimezone]
    if table.metadata().configuration.get("delta.enableChangeDataFeed") == "true":
        # Writer version 7 lists every feature: the change feed a version 4 table implied
        # would otherwise be dropped from the protocol (delta-rs does not carry it over).
        features.append(TableFeatures.ChangeDataFeed)
    table.alter.add_feature(features, allow_protocol_versions_increase=True)
    raise ConcurrentCommitError(
        f"{table.table_uri}: the timestampNtz feature enabled for a column without a time "
        "zone; decide again"
    )


def _without_zone(type_: pa.DataType) -> bool:
    if pa.types.is_timestamp(type_):
        return type_.tz is None
    if pa.types.is_struct(type_):
        return any(_without_zone(f.type) for f in type_)
    if pa.types.is_map(type_):
        return _without_zone(type_.key_type) or _without_zone(type_.item_type)
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return _without_zone(type_.value_type)
    return False


def with_retries(attempt: Callable[[], T], what: str, limit: int = MAX_CONFLICT_RETRIES) -> T:
    """Run `attempt` (which opens fresh snapshots each time) until no concurrent commit
    gets in its way: another writer committed first, so it decides again on what that one
    left, after a pause (`CONFLICT_WAIT`)."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(ConcurrentCommitError),
        stop=tenacity.stop_after_attempt(limit + 1),
        wait=CONFLICT_WAIT,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except ConcurrentCommitError as exc:
        raise ConcurrentCommitError(
            f"{what}: still conflicting after {limit} retries; another writer commits "
            "continuously: run again once it is idle"
        ) from exc


FAILED = "failed"


@dataclass
class TableRun:
    """What one run did to one table: the run report every layer gives per table."""

    table: str  # qualified: silver.customers
    outcome: str = "up to date"  # committed | up to date | waiting for <inputs> | failed
    version: int | None = None  # the table's version after the run
    inputs: dict[str, int] = field(default_factory=dict)  # input versions now consumed
    rows_written: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # layer-specific, named
    # Publish to this commit, of the events the run newly took in (None: none, or unknown)
    latency: Latency | None = None
    error: str | None = None  # why it failed: one line

    @property
    def failed(self) -> bool:
        return self.outcome == FAILED

    def failure(self) -> str:
        """`silver.customers failed (<why>): its new input stays pending`: the line to show."""
        return f"{self.table} failed ({self.error}): its new input stays pending"


def concerns_the_lake(exc: BaseException) -> bool:
    """Whether `exc` is a fault of the whole lake rather than of one table's own work: the
    machine or the storage failing (a full disk, a path it may not write, a refused key, an
    unreachable account), no lake, no PII key."""
    return environment_fault(exc) or any(isinstance(e, LakeWideError) for e in causes(exc))


def run_table(table: str, work: Callable[[], TableRun]) -> TableRun:
    """`work`, one table's run; its own failure (a body that cannot be projected, a column
    that cannot take a new type, a commit Delta refuses) becomes a failed run naming why, so
    the tables after it still run. Nothing of it was committed, so its inputs' recorded
    progress did not move: the next run takes the same inputs up again. A fault of the whole
    lake is raised: every table after it would meet it too."""
    try:
        return work()
    except Exception as exc:
        if concerns_the_lake(exc):
            raise
        log.debug("%s failed", table, exc_info=True)
        reason = " ".join(str(exc).split()) or "no message"
        return TableRun(table, outcome=FAILED, error=f"{type(exc).__name__}: {reason}")


def failed_runs(*runs: Mapping[str, TableRun]) -> list[TableRun]:
    """The failed table runs among these layers' runs, in order."""
    return [run for layer in runs for run in layer.values() if run.failed]
