"""Telemetry off costs nothing: a process that publishes, reacts and loads the code location
with no exporter named imports nothing of OpenTelemetry's SDK or Azure Monitor's exporter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from eda_lake.settings import REPO_ROOT

# Publishes and reacts through the CLI's settings (as `eda-lake` does), loads the code
# location, and prints the telemetry modules then imported.
SCRIPT = """
import json, sys
from eda_lake.cli import _settings
from eda_lake_tests.simulation.helpers import provisioned
import eda_lake.definitions
simulation = provisioned(_settings())
simulation.publish_customers(seed=1, count=3)
simulation.subscriber("conversions").run()
print(json.dumps(sorted(m for m in sys.modules if m.startswith(PREFIXES))))
""".replace("PREFIXES", repr(("opentelemetry", "azure.monitor")))


def _imported(home: Path, **variables: str) -> list[str]:
    environment = {**os.environ, "EDA_LAKE_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**environment, **variables},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    imported: list[str] = json.loads(result.stdout.splitlines()[-1])
    return imported


def test_off_nothing_of_the_sdk_is_imported_and_on_it_is(tmp_path: Path) -> None:
    assert _imported(tmp_path / "off") == []
    # Nothing listens on port 9: the SDK's own timeout bounds what the exit waits for it.
    on = _imported(
        tmp_path / "on",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        OTEL_EXPORTER_OTLP_TIMEOUT="1",
    )
    assert "opentelemetry.sdk.trace" in on and "azure.monitor.opentelemetry.exporter" not in on
    disabled = _imported(
        tmp_path / "disabled",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        OTEL_SDK_DISABLED="true",
    )
    assert disabled == []
