"""A healthy lake, built once per module: the simulation's chain through bronze, silver and
gold; tests change a copy of it (`helpers.copy_home`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eda_lake.settings import Settings
from eda_lake_tests.defs.helpers import TEST_PII_KEY
from eda_lake_tests.simulation.helpers import lake_through_gold


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("healthy")
    lake_through_gold(Settings(home=home), seed=8, customers=150, pii_key=TEST_PII_KEY)
    return home
