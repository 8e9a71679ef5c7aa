"""The Dagster resource as tests build it: one home, the repository's schemas."""

from __future__ import annotations

from pathlib import Path

from eda_lake.defs.resources import EdaLakeResource
from eda_lake.settings import REPO_ROOT

TEST_PII_KEY = "a-test-key-that-is-long-enough"


def resource(home: Path) -> EdaLakeResource:
    return EdaLakeResource(
        home=str(home),
        target="local",
        schema_dir=str(REPO_ROOT / "schemas"),
        namespace="eda-lake-local",
        pii_key=TEST_PII_KEY,
    )
