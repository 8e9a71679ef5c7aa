"""`eda-lake sql`: DuckDB views on each Delta table's current snapshot, local and on Azurite."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from eda_lake.analytics.sql import LakeSql, QueryError
from eda_lake.cli import main
from eda_lake.console.rows import WRITERS
from eda_lake.console.shell import run_shell
from eda_lake.demo import run_demo
from eda_lake.lake.derived.gold import funnel
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver.masking import DEMO_PII_KEY
from eda_lake.settings import Settings
from eda_lake_tests.lake.helpers import DEMO_CUSTOMERS, DEMO_SEED, DemoLake


def _one(engine: LakeSql, sql: str) -> object:
    [(value,)] = list(engine.query(sql).rows)
    return value


@pytest.fixture
def demo_lake(lake_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    if lake_settings.storage is None:
        demo: DemoLake = request.getfixturevalue("demo")
        return demo.copy_to(lake_settings.home)
    run_demo(lake_settings, customers=DEMO_CUSTOMERS, seed=DEMO_SEED)
    return lake_settings


def test_every_table_by_layer_and_name_on_its_current_snapshot(demo_lake: Settings) -> None:
    layout = LakeLayout.from_settings(demo_lake)
    engine = LakeSql(layout)
    try:
        names = {t.qualified for t in engine.tables}
        assert {"bronze.events", "silver.customers", "gold.funnel_daily"} <= names
        assert _one(engine, "SELECT sum(customers) FROM gold.funnel_daily") == DEMO_CUSTOMERS
        assert _one(engine, "SELECT count(*) FROM silver.customers") == DEMO_CUSTOMERS
        hubs = _one(engine, "SELECT count(DISTINCT hub) FROM bronze.events")
        assert hubs == 7  # the partition column, typed as the table declares it (a string)
        revenue = _one(engine, "SELECT typeof(revenue) FROM gold.sales_daily LIMIT 1")
        assert revenue == "DECIMAL(22,2)"  # exact: sum() widens decimal(12,2) by 10 digits
        # A map column of bronze reads as a map.
        assert "MAP" in str(_one(engine, "SELECT typeof(properties) FROM bronze.events LIMIT 1"))
        # Nothing is ever downloaded.
        setting = "SELECT current_setting('autoinstall_known_extensions')"
        assert engine.connection.execute(setting).fetchone() == (False,)
    finally:
        engine.close()


def test_a_rebuild_replaces_files_and_the_views_count_once(demo_lake: Settings) -> None:
    lake = Lake(demo_lake, pii_key=DEMO_PII_KEY)
    before = len(funnel(lake.layout))
    lake.recovery.rebuild()  # gold rewritten: its old files stay on disk until a vacuum
    engine = LakeSql(lake.layout)
    try:
        assert _one(engine, "SELECT count(*) FROM gold.funnel_daily") == before
        assert _one(engine, "SELECT sum(customers) FROM gold.funnel_daily") == DEMO_CUSTOMERS
    finally:
        engine.close()


def test_after_an_overwrite_commit_a_folder_read_double_counts_and_the_view_does_not(
    tmp_path: Path,
) -> None:
    layout = LakeLayout(tmp_path / "lake")
    uri = layout.table_uri("gold", "funnel_daily")
    write_deltalake(uri, pa.table({"cohort_date": ["2026-01-01", "2026-01-02"], "n": [1, 2]}))
    write_deltalake(
        uri, pa.table({"cohort_date": ["2026-01-01", "2026-01-02"], "n": [5, 6]}), mode="overwrite"
    )
    folder = (
        duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{uri}/*.parquet')").fetchall()
    )
    assert folder == [(4,)]  # what a plain folder read gets: both commits' files
    engine = LakeSql(layout)
    try:
        assert _one(engine, "SELECT count(*) FROM gold.funnel_daily") == 2
        assert _one(engine, "SELECT sum(n) FROM gold.funnel_daily") == 11
        assert engine.tables[0].version == 1
    finally:
        engine.close()


def test_a_table_of_no_rows_and_a_column_added_later(tmp_path: Path) -> None:
    layout = LakeLayout(tmp_path / "lake")
    empty = layout.table_uri("silver", "products")
    DeltaTable.create(empty, pa.schema([("product_id", pa.string()), ("price", pa.float64())]))
    evolving = layout.table_uri("silver", "customers")
    write_deltalake(evolving, pa.table({"customer_id": ["a"]}))
    write_deltalake(
        evolving,
        pa.table({"customer_id": ["b"], "email": ["x"]}),
        mode="append",
        schema_mode="merge",
    )
    engine = LakeSql(layout)
    try:
        result = engine.query("SELECT * FROM silver.products")
        assert result.columns == ["product_id", "price"] and list(result.rows) == []
        rows = list(engine.query("SELECT * FROM silver.customers ORDER BY 1").rows)
        assert rows == [("a", None), ("b", "x")]
    finally:
        engine.close()


def test_quarantine_tables_and_a_query_naming_a_missing_table(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    bad = settings.lake_dir / "capture" / "ns" / "orders" / "0" / "2026/11/01/10/00/00.avro"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not avro at all")
    Lake(settings).ingest()
    engine = LakeSql(LakeLayout.from_settings(settings))
    try:
        assert _one(engine, "SELECT count(*) FROM quarantine.files") == 1
        assert "quarantine.capture" not in {t.qualified for t in engine.tables}
        with pytest.raises(QueryError, match=r"funnel_daily.*eda-lake sql \.tables"):
            engine.query("SELECT * FROM gold.funnel_daily")
    finally:
        engine.close()


def test_sql_command_formats(demo_lake: Settings, monkeypatch, capsys) -> None:
    monkeypatch.setenv("EDA_LAKE_HOME", str(demo_lake.home))
    storage = demo_lake.storage
    if storage is not None:  # the same lake, configured as a user would on Azure Storage
        assert storage.account_key and storage.blob_authority and storage.lake_container
        monkeypatch.setenv("EDA_LAKE_STORAGE_ACCOUNT", storage.account)
        monkeypatch.setenv("EDA_LAKE_STORAGE_ACCOUNT_KEY", storage.account_key)
        monkeypatch.setenv("EDA_LAKE_BLOB_AUTHORITY", storage.blob_authority)
        monkeypatch.setenv("EDA_LAKE_LAKE_CONTAINER", storage.lake_container)
    query = "SELECT count(*) AS days FROM gold.funnel_daily"
    assert main(["sql", "--format", "csv", query]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "days" and int(out.splitlines()[1]) > 0
    assert main(["sql", "--format", "json", "SELECT * FROM gold.sales_daily LIMIT 2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and isinstance(rows[0]["revenue"], str)  # exact decimal text
    assert main(["sql", "SELECT cohort_date, customers FROM gold.funnel_daily LIMIT 1"]) == 0
    shown = capsys.readouterr()
    header, rule, row, count = shown.out.splitlines()
    assert header.split() == ["cohort_date", "customers"] and set(rule) <= {"-", " "}
    assert len(row) == len(header) and count == "(1 row)"
    assert shown.err.startswith("EDA_LAKE_HOME ")  # which home was read, beside the rows
    assert main(["sql", "SELECT * FROM gold.nothing"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("eda-lake: error: Catalog Error") and "eda-lake sql .tables" in line
    assert "gold.funnel_daily" not in line  # the tables are listed on asking, not every time


def test_the_shell_runs_statements_over_lines_and_survives_a_bad_one(tmp_path: Path) -> None:
    layout = LakeLayout(tmp_path / "lake")
    write_deltalake(layout.table_uri("gold", "funnel_daily"), pa.table({"n": [1, 2, 3]}))
    engine = LakeSql(layout)
    out = io.StringIO()
    script = "SELECT sum(n) AS total\nFROM gold.funnel_daily;\nSELEC 1;\n.tables\n.quit\n"
    script += "SELECT 2;\n"
    try:
        assert run_shell(engine, WRITERS["csv"], "EDA_LAKE_HOME x", io.StringIO(script), out) == 0
    finally:
        engine.close()
    text = out.getvalue()
    assert "total\n6\n" in text
    assert "error: Parser Error" in text
    assert text.count("gold.funnel_daily (v0)") == 2  # the banner and .tables
    assert "\n2\n" not in text  # nothing after .quit
