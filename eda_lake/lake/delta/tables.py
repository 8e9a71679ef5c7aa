"""Reading the lake's Delta tables: open, query, change feed. Writes go through `commits`."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, QueryBuilder
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import TableNotFoundError

__all__ = [
    "CHANGE_FEED",
    "ChangeFeedUnavailableError",
    "all_changes",
    "anti_join",
    "data_file_paths",
    "delta_columns",
    "in_list",
    "inserted_batches",
    "open_table",
    "plain",
    "plain_schema",
    "plain_type",
    "query",
    "query_reader",
    "schema_differs",
    "stored_schema",
    "stored_type",
]

# Tables that later layers read incrementally keep a change feed.
CHANGE_FEED: dict[str, str | None] = {"delta.enableChangeDataFeed": "true"}

Options = dict[str, str] | None  # the table library's storage options (None: local)


def open_table(uri: str, options: Options = None) -> DeltaTable | None:
    try:
        return DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        return None


def data_file_paths(table: DeltaTable, root: str, actions: pa.Table | None = None) -> list[str]:
    """The snapshot's data files as the lake's filesystem names them, in the order of
    `get_add_actions` (or of `actions`, its result), `root` being the table's directory there.

    The log keeps each path URI-encoded (the Delta protocol): decoded once, it is the name on
    storage. (`file_uris()` encodes the table's own location too, so a lake under a directory
    with a space in its name is not found through it.)"""
    if actions is None:
        actions = pa.table(table.get_add_actions(flatten=True))
    paths = []
    for encoded in actions["path"].to_pylist():
        relative = unquote(encoded)
        if "://" in relative or relative.startswith("/"):
            raise ValueError(
                f"table {table.table_uri} lists a data file outside its directory ({relative}); "
                "eda-lake reads only tables whose files are their own (no shallow clones)"
            )
        paths.append(f"{root.rstrip('/')}/{relative}")
    return paths


def _sql_literal(value: object) -> str:
    if isinstance(value, datetime):  # before date: a datetime is a date too
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return f"TIMESTAMP '{moment.astimezone(UTC).isoformat()}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def in_list(column: str, values: pa.Array) -> str:
    """A SQL predicate `column IN (...)` (FALSE when empty), for Delta's replace."""
    listed = [v for v in values.to_pylist() if v is not None]
    if not listed:
        return "FALSE"
    return f"{column} IN ({', '.join(_sql_literal(v) for v in sorted(listed))})"


def anti_join(rows: pa.Table, existing: pa.Table, keys: list[str]) -> pa.Table:
    """The rows whose `keys` are not in `existing`."""
    if existing.num_rows == 0:
        return rows
    marked = existing.select(keys).append_column(
        "__seen", pa.array([True] * existing.num_rows, pa.bool_())
    )
    joined = rows.join(marked, keys, join_type="left outer", use_threads=False)
    return joined.filter(pc.is_null(joined["__seen"])).drop_columns(["__seen"])


def query(sql: str, **named_tables: DeltaTable) -> pa.Table:
    """Run SQL (DataFusion) over Delta tables, as an Arrow table.

    Reads go through this rather than `DeltaTable.to_pyarrow_table()`, whose reader threads
    can abort the interpreter at exit (delta-rs #2184).
    """
    return plain(pa.table(_execute(sql, named_tables).read_all()))


class ChangeFeedUnavailableError(Exception):
    """The change feed of the versions asked for is gone (vacuumed, or its log cleaned up)."""


# What delta-rs says when the feed of the versions asked for is gone: their log entries were
# cleaned up after a checkpoint ("Invalid table version: N"), or a vacuum deleted the files
# they add (object_store's NotFound, worded alike on every storage). It says so as a
# DeltaError on opening the feed, and while reading it as pyarrow's ArrowInvalid or, through
# arro3's reader, a bare Exception: the message is what tells. The callers then read the
# whole snapshot, which is correct either way, only slower; any other failure (storage
# refused or unreachable, a damaged file) raises as it is.
_FEED_GONE = re.compile(r"Invalid table version: \d+|Object at location .+ not found")


@contextmanager
def _feed_gone_is_unavailable(table: DeltaTable) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if _FEED_GONE.search(str(exc)) is None:
            raise
        raise ChangeFeedUnavailableError(f"{table.table_uri}: {exc}") from exc


def _nothing_new(start: int, up_to_version: int) -> bool:
    """Whether no version is asked for, the one case to pass delta-rs `allow_out_of_range`:
    it turns that case into an empty feed, but also versions whose log was cleaned up, which
    must be an error so that the callers read the whole snapshot instead."""
    return start > up_to_version


def inserted_batches(
    table: DeltaTable,
    after_version: int | None,
    up_to_version: int,
    columns: list[str],
    predicate: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """Rows inserted in versions (after_version, up_to_version], from the change feed, batch
    by batch, with `_commit_version` (int64): only `columns`, and only the rows `predicate`
    admits (a predicate on partition columns skips the other partitions' files). Compaction
    rewrites no data (dataChange=false), so it adds no rows."""
    start = 0 if after_version is None else after_version + 1
    with _feed_gone_is_unavailable(table):
        reader = pa.RecordBatchReader.from_stream(
            table.load_cdf(
                starting_version=start,
                ending_version=up_to_version,
                columns=[*columns, "_change_type", "_commit_version"],
                predicate=predicate,
                allow_out_of_range=_nothing_new(start, up_to_version),
            )
        )
    schema = plain_schema(reader.schema)
    schema = schema.set(
        schema.get_field_index("_commit_version"), pa.field("_commit_version", pa.int64())
    )
    while True:
        with _feed_gone_is_unavailable(table):
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
        batch = batch.cast(schema)
        inserted = batch.filter(pc.equal(batch["_change_type"], "insert"))
        if inserted.num_rows:
            yield inserted.drop_columns(["_change_type"])


def _execute(sql: str, named_tables: dict[str, DeltaTable]) -> Any:
    """DataFusion's stream of `sql`'s result over the tables, each by its name."""
    builder = QueryBuilder()
    for name, table in named_tables.items():
        builder.register(name, table)
    return builder.execute(sql)


def query_stream(sql: str, **named_tables: DeltaTable) -> pa.RecordBatchReader:
    """`query` as a reader of plain-typed batches straight from DataFusion's stream, for a
    consumer that is not a Delta write (`query_reader` says why that one cannot be)."""
    source = pa.RecordBatchReader.from_stream(_execute(sql, named_tables))
    schema = plain_schema(source.schema)
    return pa.RecordBatchReader.from_batches(schema, (batch.cast(schema) for batch in source))


def query_reader(sql: str, **named_tables: DeltaTable) -> pa.RecordBatchReader:
    """`query` as a reader of plain-typed batches, with the result's schema up front: a
    result larger than memory streams.

    The result is first spilled to an anonymous temporary file (lz4 Arrow IPC; the disk is
    freed when the reader is, or when the process dies), and read back from there. A Delta
    write pulling DataFusion's stream directly drives one Tokio runtime from inside another:
    delta-rs panics ("Cannot start a runtime from within a runtime"), and read from another
    thread the two can wait on each other for good."""
    source = query_stream(sql, **named_tables)
    spill = tempfile.TemporaryFile(prefix="eda-lake-query-")  # noqa: SIM115 (the reader owns it)
    try:
        options = pa.ipc.IpcWriteOptions(compression="lz4")
        with pa.ipc.new_stream(spill, source.schema, options=options) as writer:
            for batch in source:
                writer.write_batch(batch)
        spill.seek(0)
        return pa.ipc.open_stream(spill)  # holds the file: closed (and gone) with the reader
    except BaseException:
        spill.close()
        raise


def all_changes(
    table: DeltaTable,
    after_version: int | None,
    up_to_version: int,
    columns: list[str] | None = None,
) -> pa.Table:
    """Every change in versions (after_version, up_to_version]: inserts, deletes and both
    images of updates, with `_change_type` (only `columns` besides, if given); a replaced row
    appears as its delete and insert."""
    start = 0 if after_version is None else after_version + 1
    with _feed_gone_is_unavailable(table):
        feed = table.load_cdf(
            starting_version=start,
            ending_version=up_to_version,
            columns=None if columns is None else [*columns, "_change_type"],
            allow_out_of_range=_nothing_new(start, up_to_version),
        )
        return plain(pa.table(feed.read_all()))


def plain_type(type_: pa.DataType) -> pa.DataType:
    """A view, large or dictionary text or bytes type as the plain one (else as it is)."""
    if pa.types.is_string_view(type_) or pa.types.is_large_string(type_):
        return pa.string()
    if pa.types.is_binary_view(type_) or pa.types.is_large_binary(type_):
        return pa.binary()
    if pa.types.is_dictionary(type_):
        return plain_type(type_.value_type)
    return type_


def stored_type(type_: pa.DataType) -> pa.DataType:
    """The Arrow type Delta stores a value of `type_` as: any timestamp in microseconds
    (UTC-adjusted if it has a time zone), text and bytes plain."""
    if pa.types.is_timestamp(type_):
        return pa.timestamp("us", "UTC" if type_.tz else None)
    if pa.types.is_dictionary(type_):
        return stored_type(type_.value_type)
    plain = plain_type(type_)
    if plain != type_:
        return plain
    if pa.types.is_struct(type_):
        return pa.struct([f.with_type(stored_type(f.type)) for f in type_])
    if pa.types.is_map(type_):
        return pa.map_(stored_type(type_.key_type), stored_type(type_.item_type))
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return pa.list_(stored_type(type_.value_type))
    return type_


def stored_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` as Delta stores its columns (`stored_type`)."""
    return pa.schema([f.with_type(stored_type(f.type)) for f in schema])


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """DataFusion hands back view and dictionary types; the rest of the code expects the
    plain string and binary types Parquet and pandas know."""
    return pa.schema([f.with_type(plain_type(f.type)) for f in schema])


def plain(table: pa.Table) -> pa.Table:
    """The table with plain types (`plain_schema`)."""
    schema = plain_schema(table.schema)
    return table if schema == table.schema else table.cast(schema)


_NULLABILITY = frozenset({"nullable", "containsNull", "valueContainsNull", "metadata"})


def _plain(node: Any) -> Any:
    """A Delta type as JSON, without nullability or metadata (a table's own columns may
    differ from a schema's there: a rewrite does not change them)."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items() if k not in _NULLABILITY}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def delta_columns(schema: pa.Schema | DeltaSchema) -> list[tuple[str, Any]]:
    """(name, Delta type) of each column, in order: how the table stores them (a millisecond
    timestamp and a nanosecond one are one Delta type, say)."""
    if isinstance(schema, pa.Schema):
        schema = DeltaSchema.from_arrow(stored_schema(schema))
    return [(f["name"], _plain(f["type"])) for f in json.loads(schema.to_json())["fields"]]


def schema_differs(table: DeltaTable, schema: pa.Schema) -> bool:
    """Whether rows of `schema` would not be stored as the table stores its columns."""
    return delta_columns(table.schema()) != delta_columns(schema)
