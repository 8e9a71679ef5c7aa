"""`eda-lake silver` and `gold` with one table failing: the others run, the summary shows the
failed one, and the command ends non-zero with one line naming it and why (no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake.exceptions import SchemaMismatchError

from eda_lake.cli import main
from eda_lake.console.faults import TABLE_FAILED
from eda_lake_tests.cli.test_lake_faults import home_env, small_lake
from eda_lake_tests.lake.test_table_failures import REFUSED, fail_once


def test_a_failed_table_is_named_in_one_line_and_the_others_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = home_env(tmp_path / "home")
    small_lake(env, customers=20)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    fail_once(monkeypatch, "silver", "customer_created", SchemaMismatchError(REFUSED))
    assert main(["silver"]) == TABLE_FAILED
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "error" in line] == [
        f"eda-lake: error: silver.customer_created failed (SchemaMismatchError: {REFUSED}): its "
        "new input stays pending; fix the cause, then run `eda-lake silver` again"
    ]
    assert f"silver.customer_created     failed: SchemaMismatchError: {REFUSED}" in out
    assert "silver.customers            committed" in out  # the entities ran
    assert main(["gold"]) == 0
    capsys.readouterr()

    assert main(["silver"]) == 0  # the cause gone: its events land
    assert main(["sql", "--format", "csv", "SELECT count(*) FROM silver.customer_created"]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["count_star()", "20"]
