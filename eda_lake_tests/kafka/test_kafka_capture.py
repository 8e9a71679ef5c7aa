"""The Kafka capture: Azure's Capture files, exactly once under SIGKILL and a broker gone."""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from eda_lake.capture.kafka import KafkaCapture, KafkaCaptureError
from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.capture.reader import read_capture
from eda_lake.capture.runtime import run_capture
from eda_lake.catalogue import DATALAKE_CONSUMER_GROUP, load_catalogue
from eda_lake.hub.kafka import BrokerUnavailableError, KafkaEventHub
from eda_lake.lake.runtime import Lake
from eda_lake.provisioning.runtime import provision
from eda_lake.settings import REPO_ROOT, Settings
from eda_lake.simulation.runtime import Simulation
from eda_lake_tests.kafka.helpers import bronze
from infra_scripts.kafka_broker import KafkaBroker


def _small_windows(settings: Settings, tmp_path: Path) -> Settings:
    """The catalogue with a 20 kB size window: many files per partition in one time window,
    so names collide at one-second resolution unless the capture moves them on."""
    schemas = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", schemas)
    catalogue = schemas / "catalogue.toml"
    text = catalogue.read_text().replace("window_bytes = 300_000_000", "window_bytes = 20_000")
    catalogue.write_text(text)
    return replace(settings, schema_dir=schemas)


def _publish(settings: Settings, seed: int, customers: int) -> None:
    simulation = Simulation(settings)
    try:
        simulation.publish_products(seed)
        simulation.publish_customers(seed, customers)
    finally:
        simulation.close()


def _files(settings: Settings) -> list[Path]:
    return sorted((settings.lake_dir / "capture").rglob("*.avro"))


def _published(settings: Settings) -> dict[str, int]:
    """Each catalogue topic's messages, as the broker answers."""
    hub = KafkaEventHub(settings.kafka, settings.namespace)  # type: ignore[arg-type]
    try:
        return {
            spec.hub: sum(
                hub.progress("nobody", spec.hub, int(p))[1] for p in hub.partition_ids(spec.hub)
            )
            for spec in load_catalogue(settings.schema_dir).events.values()
        }
    finally:
        hub.close()


def _capture(settings: Settings) -> None:
    run_capture(settings, flush=True)


def _assert_each_message_once_in_bronze(settings: Settings) -> None:
    hub = KafkaEventHub(settings.kafka, settings.namespace)  # type: ignore[arg-type]
    expected = Counter[tuple[str, str, int]]()
    for spec in load_catalogue(settings.schema_dir).events.values():
        for partition in hub.partition_ids(spec.hub):
            start, end = hub.progress("nobody", spec.hub, int(partition))
            expected.update((spec.hub, partition, n) for n in range(start, end))
    hub.close()
    Lake(settings).ingest()
    rows = bronze(settings, "hub", "partition_id", "sequence_number").to_pylist()
    found = Counter((r["hub"], r["partition_id"], r["sequence_number"]) for r in rows)
    assert found == expected  # every message of every topic, each exactly once


def test_capture_files_are_azures_format_with_kafka_offsets(kafka_settings: Settings) -> None:
    provision(kafka_settings)
    _publish(kafka_settings, seed=3, customers=50)
    report = run_capture(kafka_settings, flush=True)
    assert report.events > 50 and len(report.files) == len(_files(kafka_settings))
    for path in _files(kafka_settings):
        relative = path.relative_to(kafka_settings.lake_dir / "capture")
        assert relative.parts[0] == kafka_settings.namespace
        with path.open("rb") as stream:
            events = list(read_capture(stream, str(path)))
        for event in events:
            assert event.offset == str(event.sequence_number)  # Offset: the offset's text
            assert event.system_properties["x-opt-partition-key"] == event.partition_key
            assert event.content_type is not None and event.content_type.startswith("avro/")
            assert str(event.properties["cloudEvents_type"]).startswith("eda_lake.")
        assert [e.sequence_number for e in events] == sorted(e.sequence_number for e in events)
    again = run_capture(kafka_settings, flush=True)  # offsets committed: nothing twice
    assert again.events == 0 and again.files == []


def test_sigkill_at_random_moments_leaves_every_message_in_bronze_once(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = _small_windows(kafka_settings, tmp_path)
    provision(settings)
    _publish(settings, seed=5, customers=2500)
    ctx = multiprocessing.get_context("spawn")
    rng = random.Random(5)
    killed = 0
    for round_ in range(5):
        before = len(_files(settings))
        worker = ctx.Process(target=_capture, args=(settings,))
        worker.start()
        deadline = time.monotonic() + 60
        while len(_files(settings)) == before and worker.is_alive():
            assert time.monotonic() < deadline, "the capture wrote no file within 60 s"
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.08))  # inside a file, between two, or at a commit
        os.kill(worker.pid or 0, signal.SIGKILL)
        worker.join()
        killed += worker.exitcode == -signal.SIGKILL
        if round_ == 2:
            _publish(settings, seed=6, customers=500)  # more customers while it restarts
    assert killed >= 3, "the capture finished before it could be killed: give it more work"
    _capture(settings)  # the last restart runs to the end
    catalogue = load_catalogue(settings.schema_dir)
    names = ArchiveNameFormat(catalogue.capture.archive_name_format)
    window = catalogue.capture.window_seconds
    per_window = Counter(
        (name.hub, name.partition_id, int(name.window_time.timestamp()) // window)
        for name in (names.parse(str(p.relative_to(settings.lake_dir / "capture")))
                     for p in _files(settings))
    )  # fmt: skip
    assert max(per_window.values()) >= 2  # one-second names really were contended
    _assert_each_message_once_in_bronze(settings)


def test_a_broker_gone_mid_capture_commits_nothing_unwritten(
    kafka_settings: Settings,
    kafka_broker: KafkaBroker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _small_windows(kafka_settings, tmp_path)
    provision(settings)
    _publish(settings, seed=8, customers=800)
    published = _published(settings)
    kafka_broker.wait_until_saved(
        lambda saved: all(saved.messages(topic) == n for topic, n in published.items())
    )
    hub = KafkaEventHub(settings.kafka, settings.namespace, timeout=2)  # type: ignore[arg-type]
    checkpoints: dict[tuple[str, str], int] = {}  # (topic, partition): its newest checkpoint
    real_checkpoint = hub.checkpoint

    def broker_dies_after_some_files(
        topic: str, group: str, partition: str, sequence_number: int
    ) -> None:
        real_checkpoint(topic, group, partition, sequence_number)
        key = (topic, partition)
        checkpoints[key] = max(checkpoints.get(key, -1), sequence_number)
        if len(checkpoints) == 3:
            # Saved first, so that what the broker keeps is what was checkpointed.
            kafka_broker.wait_until_saved(
                lambda saved: all(
                    saved.committed.get((group, t), {}).get(int(p), 0) > n
                    for (t, p), n in checkpoints.items()
                )
            )
            kafka_broker.stop()

    monkeypatch.setattr(hub, "checkpoint", broker_dies_after_some_files)
    catalogue = load_catalogue(settings.schema_dir)
    capture = KafkaCapture(hub, settings.lake_dir / "capture", catalogue.capture, settings.hub_dir)
    with pytest.raises(BrokerUnavailableError, match=r"Kafka at 127\.0\.0\.1:\d+ failed"):
        capture.run(flush=True)
    kafka_broker.start()
    checker = KafkaEventHub(settings.kafka, settings.namespace)  # type: ignore[arg-type]
    committed, newest_written = {}, {}
    for spec in catalogue.events.values():
        for partition in checker.partition_ids(spec.hub):
            key = (spec.hub, partition)
            offset = checker.checkpoint_of(spec.hub, DATALAKE_CONSUMER_GROUP, partition)
            if offset is not None:
                committed[key] = offset
            newest_written[key] = max(
                (
                    e.sequence_number
                    for p in (settings.lake_dir / "capture").glob(
                        f"*/{spec.hub}/{partition}/**/*.avro"
                    )
                    for e in read_capture(p.open("rb"), str(p))
                ),
                default=-1,
            )
    assert len(committed) == 3 and committed == checkpoints  # what was checkpointed ...
    assert all(n <= newest_written[key] for key, n in committed.items())  # ... once written
    checker.close()
    hub.close()
    _capture(settings)
    _assert_each_message_once_in_bronze(settings)


def test_idle_windows_need_skip_empty_archives(kafka_settings: Settings, tmp_path: Path) -> None:
    catalogue = load_catalogue(REPO_ROOT / "schemas")
    capture = replace(catalogue.capture, skip_empty_archives=False)
    hub = KafkaEventHub(kafka_settings.kafka, kafka_settings.namespace)  # type: ignore[arg-type]
    with pytest.raises(KafkaCaptureError, match="skip_empty_archives = true"):
        KafkaCapture(hub, tmp_path / "capture", capture, tmp_path / "state")


def test_a_file_written_but_not_committed_is_found_not_written_twice(
    kafka_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _small_windows(kafka_settings, tmp_path)
    provision(settings)
    _publish(settings, seed=9, customers=600)
    hub = KafkaEventHub(settings.kafka, settings.namespace)  # type: ignore[arg-type]
    calls = {"n": 0}

    def killed_before_the_third_commit(*args: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed after the rename, before the commit")
        KafkaEventHub.checkpoint(hub, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(hub, "checkpoint", killed_before_the_third_commit)
    catalogue = load_catalogue(settings.schema_dir)
    capture = KafkaCapture(hub, settings.lake_dir / "capture", catalogue.capture, settings.hub_dir)
    with pytest.raises(KeyboardInterrupt):
        capture.run(flush=True)
    hub.close()
    files_before = set(_files(settings))
    report = run_capture(settings, flush=True)
    assert report.recovered == 1  # the third file was found under its name and committed
    assert files_before <= set(_files(settings))
    _assert_each_message_once_in_bronze(settings)
