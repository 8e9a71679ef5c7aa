"""The Dagster resource as tests build it: one home, the repository's schemas."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from eda_lake.defs.resources import EdaLakeResource
from eda_lake.settings import HOME_VAR, PII_KEY_VAR

TEST_PII_KEY = "a-test-key-that-is-long-enough"


def resource(home: Path, **variables: str) -> EdaLakeResource:
    """The resource on `home`, with the test key and any further EDA_LAKE_* variables."""
    return EdaLakeResource.of({HOME_VAR: str(home), PII_KEY_VAR: TEST_PII_KEY, **variables})


def tick(
    sensor: Any,
    resources: dict[str, Any],
    cursor: str | None = None,
    instance: dg.DagsterInstance | None = None,
) -> Any:
    """One evaluation of a sensor (on `instance`, else an ephemeral one), its context closed
    after."""
    with (
        dg.DagsterInstance.ephemeral() if instance is None else _kept(instance) as on,
        dg.build_sensor_context(resources=resources, cursor=cursor, instance=on) as context,
    ):
        return sensor(context)


@contextmanager
def _kept(instance: dg.DagsterInstance) -> Iterator[dg.DagsterInstance]:
    yield instance
