"""Delta tables of the lake: open, append exactly once, and retry on concurrent commits."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import (
    CommitProperties,
    DeltaTable,
    QueryBuilder,
    Transaction,
    WriterProperties,
    write_deltalake,
)
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

__all__ = [
    "CHANGE_FEED",
    "ConcurrentCommitError",
    "append",
    "changes",
    "ensure_table",
    "open_table",
    "query",
    "transaction_done",
]

# Bounded writer memory: the writer holds a file's rows until it reaches the target size and
# a row group's until it is full, so both are kept small; compaction makes files larger later.
TARGET_FILE_BYTES = 8 << 20
WRITER_PROPERTIES = WriterProperties(max_row_group_size=8 * 1024, compression="ZSTD")

# Tables that later layers read incrementally keep a change feed.
CHANGE_FEED: dict[str, str | None] = {"delta.enableChangeDataFeed": "true"}


class ConcurrentCommitError(Exception):
    """Another writer committed what this commit was about to: decide again, then retry."""


Options = dict[str, str] | None  # the table library's storage options (None: local)


def open_table(uri: str, options: Options = None) -> DeltaTable | None:
    try:
        return DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        return None


def ensure_table(
    uri: str,
    schema: pa.Schema,
    *,
    options: Options = None,
    partition_by: list[str] | None = None,
    configuration: dict[str, str | None] | None = None,
) -> DeltaTable:
    """Open the table, creating it empty first if needed (two creators race safely).

    Data is only ever committed against a snapshot of an existing table, so that Delta's
    conflict check sees every commit made after the snapshot that decided what to write.
    """
    table = open_table(uri, options)
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
        created = open_table(uri, options)  # another process created it first
        if created is None:
            raise
        return created
    created = open_table(uri, options)
    if created is None:
        raise RuntimeError(f"Delta table {uri} could not be created")
    return created


def transaction_done(table: DeltaTable | None, app_id: str) -> bool:
    return table is not None and table.transaction_version(app_id) is not None


def append(
    uri: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    *,
    partition_by: list[str] | None = None,
    app_ids: Iterable[str] = (),
    table: DeltaTable,
    metadata: dict[str, str] | None = None,
) -> None:
    """Append batches and record each app id as done, in one commit against `table`'s
    snapshot.

    Delta refuses a commit whose app transaction another writer committed since that
    snapshot was read (CommitFailedError); with the caller checking the app ids on the same
    snapshot, that is what makes a file's rows land exactly once.
    """
    reader = pa.RecordBatchReader.from_batches(schema, iter(batches))
    try:
        write_deltalake(
            table,
            reader,
            mode="append",
            partition_by=partition_by,
            schema_mode="merge",
            target_file_size=TARGET_FILE_BYTES,
            writer_properties=WRITER_PROPERTIES,
            commit_properties=CommitProperties(
                app_transactions=[Transaction(app_id, 1) for app_id in app_ids],
                custom_metadata=metadata,
                max_commit_retries=0,
            ),
        )
    except CommitFailedError as exc:
        raise ConcurrentCommitError(str(exc)) from exc


def query(sql: str, **named_tables: DeltaTable) -> pa.Table:
    """Run SQL (DataFusion) over Delta tables, as an Arrow table.

    Reads go through this rather than `DeltaTable.to_pyarrow_table()`, whose reader threads
    can abort the interpreter at exit (delta-rs #2184).
    """
    builder = QueryBuilder()
    for name, table in named_tables.items():
        builder.register(name, table)
    return plain(pa.table(builder.execute(sql).read_all()))


def changes(
    table: DeltaTable, after_version: int | None, up_to_version: int, columns: list[str]
) -> pa.Table:
    """Rows inserted in versions (after_version, up_to_version], from the change feed, with
    `_commit_version`. Compaction rewrites no data (dataChange=false), so it adds no rows."""
    start = 0 if after_version is None else after_version + 1
    rows = pa.table(
        table.load_cdf(
            starting_version=start,
            ending_version=up_to_version,
            columns=[*columns, "_change_type", "_commit_version", "_commit_timestamp"],
            allow_out_of_range=True,  # nothing new: an empty table with the right columns
        ).read_all()
    )
    rows = plain(rows)
    inserted = rows.filter(pc.equal(rows["_change_type"], "insert"))
    return inserted.drop_columns(["_change_type", "_commit_timestamp"])


def _plain_type(type_: pa.DataType) -> pa.DataType:
    if pa.types.is_string_view(type_) or pa.types.is_large_string(type_):
        return pa.string()
    if pa.types.is_binary_view(type_) or pa.types.is_large_binary(type_):
        return pa.binary()
    if pa.types.is_dictionary(type_):
        return _plain_type(type_.value_type)
    return type_


def plain(table: pa.Table) -> pa.Table:
    """DataFusion hands back view and dictionary types; the rest of the code expects the
    plain string and binary types Parquet and pandas know."""
    schema = pa.schema([f.with_type(_plain_type(f.type)) for f in table.schema])
    return table if schema == table.schema else table.cast(schema)
