"""The Dagster resource as tests build it: one home, the repository's schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

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


def tick(sensor: Any, resources: dict[str, Any], cursor: str | None = None) -> Any:
    """One evaluation of a sensor, its context (and ephemeral instance) closed after."""
    with dg.build_sensor_context(resources=resources, cursor=cursor) as context:
        return sensor(context)
