"""The README's analyst snippets, run as written on a real demo lake."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

from eda_lake.settings import REPO_ROOT
from eda_lake_tests.lake.helpers import DemoLake


def _analyst_section() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    return readme.split("### Reading the lake as an analyst\n", 1)[1].split("\n## ", 1)[0]


def test_readme_python_reads_give_exact_and_float_revenue(
    demo: DemoLake, tmp_path: Path, monkeypatch
) -> None:
    demo.copy_to(tmp_path / ".eda_lake")
    [snippet] = re.findall(r"```python\n(.*?)```", _analyst_section(), re.DOTALL)
    monkeypatch.chdir(tmp_path)  # the snippet reads ./.eda_lake, the default home
    names: dict[str, Any] = {}
    exec(compile(snippet, "README.md", "exec"), names)
    sales, typed = names["sales"], names["typed"]
    assert sales["sales"].sum() == demo.report.chain.sales_confirmed
    assert isinstance(sales["revenue"].iloc[0], Decimal)
    assert sales["revenue_float"].dtype == "float64"
    assert isinstance(names["revenue_by_partner"].iloc[0], Decimal)
    assert str(typed["revenue"].dtype).startswith("decimal128")
    assert isinstance(names["sales_pl"].schema["revenue"], pl.Decimal)
    assert names["sales_pl_float"].schema["revenue"] == pl.Float64
    assert float(sum(sales["revenue"])) == pytest.approx(sales["revenue_float"].sum())
    bronze: pl.DataFrame = names["bronze"]
    assert {"hub", "date"} <= set(bronze.columns) and bronze["hub"].n_unique() == 7
    assert isinstance(sales, pd.DataFrame)


def test_readme_sql_commands_name_real_tables(
    demo: DemoLake, tmp_path: Path, monkeypatch, capsys
) -> None:
    from eda_lake.cli import main

    demo.copy_to(tmp_path / "home")
    monkeypatch.setenv("EDA_LAKE_HOME", str(tmp_path / "home"))
    [block] = re.findall(r"```sh\n(.*?)```", _analyst_section(), re.DOTALL)
    queries = re.findall(r'eda-lake sql (?:--format csv )?"([^"]+)"', block)
    assert len(queries) == 2
    for query in queries:
        assert main(["sql", query]) == 0
        assert "row" in capsys.readouterr().out
