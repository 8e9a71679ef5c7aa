"""`eda-lake sql .tables` lists the lake's tables outside the shell, as `.tables` does in it."""

from __future__ import annotations

import pyarrow as pa
from deltalake import write_deltalake

from eda_lake.cli import main
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import Settings


def test_tables_outside_the_shell(capsys) -> None:
    layout = LakeLayout.from_settings(Settings.from_env())
    write_deltalake(layout.table_uri("gold", "funnel_daily"), pa.table({"n": [1, 2]}))
    assert main(["sql", " .tables "]) == 0
    listed = capsys.readouterr()
    assert listed.out == "tables: gold.funnel_daily (v0)\n"
    assert listed.err.startswith("EDA_LAKE_HOME ")  # which home was read, beside the rows
    assert main(["sql", ".tabels"]) == 2  # anything else is SQL, and this is not
    assert "eda-lake: error: Parser Error" in capsys.readouterr().err
