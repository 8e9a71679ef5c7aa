"""`eda-lake sql` is a read-only door: it reads the lake's tables and nothing else, writes no
file, and no statement opens it further. Local and on Azurite."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError

from eda_lake.analytics import sql as sql_module
from eda_lake.analytics.sql import LakeSql, QueryError
from eda_lake.cli import main
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import Settings

FUNNEL = pa.table({"cohort_date": ["2026-01-01", "2026-01-02"], "customers": [3, 4]})


@pytest.fixture
def engine(layout: LakeLayout) -> Iterator[LakeSql]:
    uri = layout.table_uri("gold", "funnel_daily")
    write_deltalake(uri, FUNNEL, storage_options=layout.storage_options)
    opened = LakeSql(layout)
    yield opened
    opened.close()


def _funnel_intact(layout: LakeLayout, engine: LakeSql) -> None:
    uri = layout.table_uri("gold", "funnel_daily")
    table = DeltaTable(uri, storage_options=layout.storage_options)
    assert table.version() == 0
    assert table.to_pyarrow_table().sort_by("cohort_date") == FUNNEL
    total = list(engine.query("SELECT sum(customers) FROM gold.funnel_daily").rows)
    assert total == [(7,)]


def test_the_views_read_and_copy_writes_nothing(
    engine: LakeSql, layout: LakeLayout, tmp_path: Path
) -> None:
    log = f"{layout.fs_path('gold', 'funnel_daily', '_delta_log')}/00000000000000000001.json"
    outside = tmp_path / "out.csv"
    statements = [
        # A forged commit: the next snapshot would hold no rows.
        f"COPY (SELECT 1 AS x) TO '{log}' (FORMAT csv, HEADER false)",
        f"COPY gold.funnel_daily TO '{outside}' (FORMAT csv)",
        f"SELECT 1; COPY gold.funnel_daily TO '{outside}' (FORMAT csv)",
        f"EXPORT DATABASE '{tmp_path / 'export'}'",
    ]
    if layout.local:  # an allowed data file, overwritten in place
        [data] = list(DeltaTable(layout.table_uri("gold", "funnel_daily")).file_uris())
        statements.append(f"COPY (SELECT 42 AS x) TO '{data}' (FORMAT parquet, USE_TMP_FILE 0)")
    for statement in statements:
        with pytest.raises(QueryError, match="statements are refused"):
            engine.query(statement)
    assert not outside.exists() and not (tmp_path / "export").exists()
    _funnel_intact(layout, engine)


def test_no_file_outside_the_tables_can_be_read(engine: LakeSql, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("a,b\n1,2\n")
    for statement in [
        f"SELECT * FROM read_text('{secret}')",
        f"SELECT * FROM read_csv('{secret}')",
        f"SELECT * FROM read_blob('{secret}')",
        "SELECT * FROM read_text('/etc/hostname')",
        f"SELECT * FROM glob('{tmp_path}/*')",
    ]:
        with pytest.raises(QueryError, match="Permission Error"):
            engine.query(statement)


def test_no_python_object_in_scope_is_read_by_its_name(
    engine: LakeSql, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB's Python client would scan a table named in the query from the calling module.
    monkeypatch.setattr(sql_module, "outside_rows", pa.table({"email": ["a@b.c"]}), raising=False)
    with pytest.raises(QueryError, match="outside_rows does not exist"):
        engine.query("SELECT * FROM outside_rows")


def test_no_statement_attaches_loads_or_reopens(
    engine: LakeSql, layout: LakeLayout, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("a,b\n1,2\n")
    for statement in [
        f"ATTACH '{tmp_path / 'other.db'}' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        f"SET allowed_paths = ['{secret}']",
        f"SET allowed_directories = ['{tmp_path}']",
        "RESET enable_external_access",
        "SET lock_configuration = false",
        "PRAGMA enable_profiling",
        "CREATE TABLE t AS SELECT 1",
    ]:
        with pytest.raises(QueryError, match="statements are refused"):
            engine.query(statement)
    assert not (tmp_path / "other.db").exists()
    # Even set from Python, the locked configuration stays closed.
    with pytest.raises(Exception, match="locked"):
        engine.connection.execute("SET enable_external_access = true")
    with pytest.raises(QueryError, match="Permission Error"):
        engine.query(f"SELECT * FROM read_text('{secret}')")
    _funnel_intact(layout, engine)


def test_the_command_refuses_a_write_in_one_line_and_csv_goes_to_stdout(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = LakeLayout.from_settings(lake_settings)
    uri = layout.table_uri("gold", "funnel_daily")
    write_deltalake(uri, FUNNEL, storage_options=layout.storage_options)
    monkeypatch.setenv("EDA_LAKE_HOME", str(lake_settings.home))
    storage = lake_settings.storage
    if storage is not None:
        assert storage.account_key and storage.blob_authority and storage.lake_container
        monkeypatch.setenv("EDA_LAKE_STORAGE_ACCOUNT", storage.account)
        monkeypatch.setenv("EDA_LAKE_STORAGE_ACCOUNT_KEY", storage.account_key)
        monkeypatch.setenv("EDA_LAKE_BLOB_AUTHORITY", storage.blob_authority)
        monkeypatch.setenv("EDA_LAKE_LAKE_CONTAINER", storage.lake_container)
    log = f"{layout.fs_path('gold', 'funnel_daily', '_delta_log')}/00000000000000000001.json"
    assert main(["sql", f"COPY (SELECT 1) TO '{log}' (FORMAT csv)"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eda-lake: error: COPY statements are refused") and err.count("\n") == 1
    query = "SELECT cohort_date, customers FROM gold.funnel_daily ORDER BY 1"
    assert main(["sql", "--format", "csv", query]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "cohort_date,customers",
        "2026-01-01,3",
        "2026-01-02,4",
    ]


def test_the_spill_folder_is_private_and_gone_on_close_or_on_a_failed_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spills = tmp_path / "tmp"
    spills.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spills))
    layout = LakeLayout(tmp_path / "lake")
    write_deltalake(layout.table_uri("gold", "funnel_daily"), FUNNEL)
    engine = LakeSql(layout)
    [spill] = list(spills.iterdir())
    assert spill.stat().st_mode & 0o777 == 0o700
    setting = "SELECT current_setting('temp_directory')"
    assert engine.connection.execute(setting).fetchone() == (str(spill),)
    engine.close()
    assert list(spills.iterdir()) == []
    log = layout.root / "gold" / "broken" / "_delta_log"
    log.mkdir(parents=True)
    (log / "00000000000000000000.json").write_text("not a commit\n")
    with pytest.raises(DeltaError):
        LakeSql(layout)
    assert list(spills.iterdir()) == []


@pytest.mark.parametrize("nothing", ["", "   ", ";", "/* nothing */", "-- a comment"])
def test_a_query_with_no_statement_says_so(engine: LakeSql, nothing: str) -> None:
    with pytest.raises(QueryError, match="no SQL statement to run"):
        engine.query(nothing)


@pytest.mark.parametrize(
    "several", ["SELECT 1; SELECT 2", "SELECT 1;\nSELECT 2;", "SELECT 1; /* and */ SELECT 2"]
)
def test_one_statement_at_a_time(engine: LakeSql, several: str) -> None:
    with pytest.raises(QueryError, match=r"one statement at a time: this query holds 2"):
        engine.query(several)


def test_an_explain_is_held_to_what_it_explains(engine: LakeSql, layout: LakeLayout) -> None:
    """`EXPLAIN ANALYZE` runs the statement it explains: of a write, it would have written
    over a table's own data file, which the lake's tables are allowed to be read from."""
    table = DeltaTable(
        layout.table_uri("gold", "funnel_daily"), storage_options=layout.storage_options
    )
    [data_file] = table.file_uris()
    for statement in [
        f"EXPLAIN ANALYZE COPY (SELECT 1 AS customers) TO '{data_file}' (FORMAT parquet)",
        f"explain /* a comment */ analyse copy (select 1) to '{data_file}'",
        f"EXPLAIN (FORMAT json) COPY (SELECT 1) TO '{data_file}'",
        "EXPLAIN ANALYZE INSTALL httpfs",
    ]:
        with pytest.raises(QueryError, match=r"^EXPLAIN of (COPY|INSTALL) statements are refused"):
            engine.query(statement)
    _funnel_intact(layout, engine)
    for read in ["EXPLAIN ANALYZE SELECT count(*) FROM gold.funnel_daily", "EXPLAIN SELECT 1"]:
        assert list(engine.query(read).rows)  # a plan


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("INSTALL httpfs", "INSTALL"),
        ("/* first */ install httpfs", "INSTALL"),
        ("FORCE INSTALL httpfs", "FORCE INSTALL"),
        ("LOAD httpfs", "LOAD"),
        ("RESET enable_external_access", "RESET"),
    ],
)
def test_a_refused_statement_is_named_as_written(
    engine: LakeSql, statement: str, named: str
) -> None:
    with pytest.raises(QueryError, match=rf"^{named} statements are refused"):
        engine.query(statement)


def test_an_unknown_table_says_how_to_list_them_and_not_every_name(engine: LakeSql) -> None:
    with pytest.raises(QueryError) as refused:
        engine.query("SELECT * FROM gold.funel")
    said = str(refused.value)
    assert 'Did you mean "funnel_daily"?' in said and "`eda-lake sql .tables`" in said
    assert "gold.funnel_daily" not in said and len(said) < 200


def test_a_table_whose_file_is_gone_is_named_and_the_others_are_served(
    layout: LakeLayout,
) -> None:
    if not layout.local:
        pytest.skip("a local lake's data file is deleted by hand here")
    write_deltalake(layout.table_uri("gold", "funnel_daily"), FUNNEL)
    write_deltalake(layout.table_uri("gold", "sales_daily"), pa.table({"sale_date": [1]}))
    [data] = DeltaTable(layout.table_uri("gold", "sales_daily")).file_uris()
    Path(data).unlink()
    engine = LakeSql(layout)
    try:
        with pytest.raises(QueryError, match=r"^gold\.sales_daily cannot be read \(") as refused:
            engine.query("SELECT * FROM gold.sales_daily")
        assert "\n" not in str(refused.value) and "eda-lake rebuild" in str(refused.value)
        assert list(engine.query("SELECT sum(customers) FROM gold.funnel_daily").rows) == [(7,)]
    finally:
        engine.close()
