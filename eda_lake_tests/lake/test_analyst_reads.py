"""The README's analyst snippets, on a real demo lake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from deltalake import DeltaTable

from eda_lake.demo import run_demo
from eda_lake.settings import Settings


def test_duckdb_and_pandas_read_gold(tmp_path: Path) -> None:
    report = run_demo(Settings(home=tmp_path), customers=120, seed=2)
    funnel = DeltaTable(report.lake.table_uri("gold", "funnel_daily")).file_uris()
    relation = duckdb.sql(f"SELECT sum(customers) FROM read_parquet({funnel})")
    assert relation is not None
    [(customers,)] = relation.fetchall()
    assert customers == 120
    files: Any = DeltaTable(report.lake.table_uri("gold", "sales_daily")).file_uris()
    sales = pd.read_parquet(files)
    assert sales["sales"].sum() == report.chain.sales_confirmed
