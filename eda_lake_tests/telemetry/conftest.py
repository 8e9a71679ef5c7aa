"""Each test's telemetry is its own: whatever it configured is shut down after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eda_lake import telemetry


@pytest.fixture(autouse=True)
def _telemetry_shut_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Azure Monitor's exporter reports on itself to Microsoft unless told not to; no test
    # reaches anything but 127.0.0.1.
    monkeypatch.setenv("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "true")
    monkeypatch.setenv("APPLICATIONINSIGHTS_SDKSTATS_DISABLED", "true")
    yield
    telemetry.shutdown()
