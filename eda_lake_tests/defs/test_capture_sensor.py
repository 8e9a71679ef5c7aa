"""capture_windows_sensor: each capture window written once it closes, by the tick after."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eda_lake.capture.reader import read_capture
from eda_lake.defs.capture.jobs import CAPTURE_JOB, WINDOWS_PER_TICK, capture_windows_sensor
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.hub.factory import make_local_hub
from eda_lake.settings import SCHEMA_DIR_VAR
from eda_lake_tests.catalogues import schemas_with_capture_window
from eda_lake_tests.defs.helpers import resource, tick
from eda_lake_tests.processes import run_together
from eda_lake_tests.simulation.helpers import provisioned

WINDOW_S = 5  # long enough to publish and tick inside one window on a loaded machine


def _lake(tmp_path: Path) -> EdaLakeResource:
    schemas = schemas_with_capture_window(tmp_path / "schemas", WINDOW_S)
    return resource(tmp_path / "home", **{SCHEMA_DIR_VAR: str(schemas)})


def _publish_after_a_window_opens(eda_lake: EdaLakeResource) -> int:
    """A small chain published just after a window opened; the events the hub holds."""
    simulation = provisioned(eda_lake.settings())
    try:
        time.sleep(WINDOW_S - time.time() % WINDOW_S + 0.05)
        simulation.run_chain(seed=1, customers=3)
    finally:
        simulation.close()
    hub = make_local_hub(eda_lake.settings())
    try:
        return sum(
            len(hub.read(spec.name, partition, None, 100_000))
            for spec in hub.hubs()
            for partition in hub.partition_ids(spec.name)
        )
    finally:
        hub.close()


def _wait_for_the_window_to_close() -> None:
    time.sleep(WINDOW_S - time.time() % WINDOW_S + 0.05)


def _captured(eda_lake: EdaLakeResource) -> list[tuple[str, int]]:
    """(partition folder, sequence number) of each event in every capture file: as many as
    were published, and each once, when every window was written once."""
    root = eda_lake.settings().capture_dir
    pairs = []
    for path in sorted(root.rglob("*.avro")):
        partition = "/".join(path.relative_to(root).parts[:3])  # namespace, hub, partition
        with path.open("rb") as stream:
            pairs += [
                (partition, event.sequence_number) for event in read_capture(stream, str(path))
            ]
    return pairs


def _resources(eda_lake: EdaLakeResource) -> dict[str, Any]:
    return {"eda_lake": eda_lake}


def test_a_window_is_written_once_it_closes_and_not_before_even_on_a_quiet_hub(
    tmp_path: Path,
) -> None:
    eda_lake = _lake(tmp_path)
    published = _publish_after_a_window_opens(eda_lake)
    open_window = tick(capture_windows_sensor, _resources(eda_lake))
    assert not open_window.asset_events and not _captured(eda_lake)
    assert "held no new event" in open_window.skip_reason.skip_message
    again = tick(capture_windows_sensor, _resources(eda_lake), cursor=open_window.cursor)
    assert "no capture window has closed since" in again.skip_reason.skip_message
    _wait_for_the_window_to_close()  # and nothing more is published: the hub is quiet
    closed = tick(capture_windows_sensor, _resources(eda_lake), cursor=again.cursor)
    assert len(_captured(eda_lake)) == published
    [materialization] = closed.asset_events
    assert materialization.metadata["events_in_run"].value == published
    assert closed.cursor > open_window.cursor
    _wait_for_the_window_to_close()
    after = tick(capture_windows_sensor, _resources(eda_lake), cursor=closed.cursor)
    assert not after.asset_events and len(_captured(eda_lake)) == published


def _tick_once(home: str, schemas: str) -> None:
    tick(capture_windows_sensor, {"eda_lake": resource(Path(home), **{SCHEMA_DIR_VAR: schemas})})


def test_two_ticks_at_once_write_each_window_once(tmp_path: Path) -> None:
    eda_lake = _lake(tmp_path)
    published = _publish_after_a_window_opens(eda_lake)
    _wait_for_the_window_to_close()
    settings = eda_lake.settings()
    run_together(_tick_once, (str(settings.home), str(settings.schema_dir)), count=2, timeout=120)
    captured = _captured(eda_lake)
    assert len(captured) == len(set(captured)) == published


def _killed_mid_write(home: str, schemas: str) -> None:
    """A tick whose process is killed (SIGKILL) after the ledger records its first file as
    being written and before the file takes its name."""

    def die(self: Path, target: Path) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    Path.replace = die  # type: ignore[method-assign,assignment]
    _tick_once(home, schemas)


def test_a_tick_killed_mid_write_is_recovered_by_the_next(tmp_path: Path) -> None:
    eda_lake = _lake(tmp_path)
    published = _publish_after_a_window_opens(eda_lake)
    _wait_for_the_window_to_close()
    settings = eda_lake.settings()
    killed = multiprocessing.get_context("spawn").Process(
        target=_killed_mid_write, args=(str(settings.home), str(settings.schema_dir))
    )
    killed.start()
    killed.join(120)
    assert killed.exitcode == -signal.SIGKILL
    assert not _captured(eda_lake)
    recovered = tick(capture_windows_sensor, _resources(eda_lake))  # no cursor: never moved
    [materialization] = recovered.asset_events
    assert materialization.metadata["recovered_in_run"].value == 1
    captured = _captured(eda_lake)
    assert len(captured) == len(set(captured)) == published
    assert not list(settings.capture_dir.rglob("*.tmp"))


def test_a_backlog_longer_than_a_ticks_share_is_a_capture_run_not_a_tick(tmp_path: Path) -> None:
    """After the daemon was down, a tick would capture every window since in its own time,
    which a sensor's timeout can cut short: it asks for a capture_job run instead."""
    eda_lake = _lake(tmp_path)
    published = _publish_after_a_window_opens(eda_lake)
    _wait_for_the_window_to_close()
    long_ago = datetime.now(UTC) - timedelta(seconds=(WINDOWS_PER_TICK + 1) * WINDOW_S)
    backlog = tick(capture_windows_sensor, _resources(eda_lake), cursor=long_ago.isoformat())
    [request] = backlog.run_requests
    assert request.run_key.startswith("capture-backlog-") and not _captured(eda_lake)
    assert capture_windows_sensor.job_name == CAPTURE_JOB
    # Within its share, the tick captures itself.
    recent = datetime.now(UTC) - timedelta(seconds=WINDOWS_PER_TICK * WINDOW_S - WINDOW_S)
    within = tick(capture_windows_sensor, _resources(eda_lake), cursor=recent.isoformat())
    assert not within.run_requests and len(_captured(eda_lake)) == published
