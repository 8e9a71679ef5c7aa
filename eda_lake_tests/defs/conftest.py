"""A healthy lake, built once per module: the simulation's chain through bronze, silver and
gold; tests change a copy of it (`helpers.copy_home`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake_tests.defs.helpers import TEST_PII_KEY
from eda_lake_tests.simulation.helpers import captured_chain


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("healthy")
    settings = Settings(home=home)
    captured_chain(settings, seed=8, customers=150)
    lake = Lake(settings, pii_key=TEST_PII_KEY)
    lake.ingest()
    lake.silver()
    lake.gold()
    return home
