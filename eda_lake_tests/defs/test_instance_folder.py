"""The code location refuses an instance folder it cannot keep owner-only, naming the
variable that chose it."""

from __future__ import annotations

from pathlib import Path

import pytest

from eda_lake.defs.build import build_definitions
from eda_lake.shared.errors import UserError


def test_a_shared_dagster_home_is_refused_naming_dagster_home(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # sticky and open to all, as /tmp is
    environ = {"EDA_LAKE_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(shared)}
    with pytest.raises(UserError, match="DAGSTER_HOME") as refused:
        build_definitions(environ)
    assert "EDA_LAKE_HOME" not in str(refused.value)
