from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from eda_lake.hub.base import (
    ConsumerGroupSpec,
    EventData,
    EventRefusedError,
    HubNotFoundError,
    HubSpec,
    partition_for_key,
)
from eda_lake.hub.embedded import MAX_EVENT_BYTES, EmbeddedEventHub
from eda_lake_tests.processes import run_together

NAMESPACE = "eda-lake-test"


def _hub(tmp_path: Path, partitions: int = 4) -> EmbeddedEventHub:
    hub = EmbeddedEventHub(tmp_path / "hub", NAMESPACE)
    hub.ensure_hub(HubSpec("orders", partitions, 7))
    hub.ensure_consumer_group(ConsumerGroupSpec("orders", "billing", "team: billing"))
    return hub


def test_management_is_idempotent(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    assert hub.ensure_hub(HubSpec("orders", 4, 7)) is False
    assert hub.ensure_hub(HubSpec("orders", 4, 3)) is True
    assert (
        hub.ensure_consumer_group(ConsumerGroupSpec("orders", "billing", "team: billing")) is False
    )
    assert [g.name for g in hub.consumer_groups("orders")] == ["$Default", "billing"]
    with pytest.raises(ValueError, match="cannot change"):
        hub.ensure_hub(HubSpec("orders", 8, 3))
    with pytest.raises(ValueError, match="invalid event hub name"):
        hub.ensure_hub(HubSpec("../etc", 1, 1))


def test_keys_route_stably_and_sequences_are_gapless(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    events = [
        EventData(f"body {i}".encode(), {"n": i}, partition_key=f"key-{i % 10}") for i in range(200)
    ]
    assert hub.send("orders", events) == 200
    seen = 0
    for partition in hub.partition_ids("orders"):
        stored = hub.read("orders", partition, None, 1000)
        assert [e.sequence_number for e in stored] == list(range(len(stored)))
        offsets = [e.offset for e in stored]
        assert offsets == sorted(set(offsets))
        for event in stored:
            assert partition_for_key(event.partition_key or "", 4) == int(partition)
            assert dict(event.properties)["n"] == int(event.body.split()[1])
        seen += len(stored)
    assert seen == 200


def test_explicit_partition_and_round_robin(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    hub.send("orders", [EventData(b"x")] * 3, partition_id="2")
    assert len(hub.read("orders", "2", None, 10)) == 3
    hub.send("orders", [EventData(b"y")] * 8)
    assert all(len(hub.read("orders", p, None, 100)) >= 2 for p in hub.partition_ids("orders"))
    with pytest.raises(HubNotFoundError, match="no partition 9"):
        hub.send("orders", [EventData(b"z")], partition_id="9")


def test_consumer_group_checkpoints(tmp_path: Path) -> None:
    hub = _hub(tmp_path, partitions=1)
    hub.send("orders", [EventData(bytes([i])) for i in range(10)])
    first = hub.receive("orders", "billing", "0", 4)
    assert [e.sequence_number for e in first] == [0, 1, 2, 3]
    hub.checkpoint("orders", "billing", "0", first[-1].sequence_number)
    assert [e.sequence_number for e in hub.receive("orders", "billing", "0", 100)] == list(
        range(4, 10)
    )
    assert (
        hub.receive("orders", "$Default", "0", 2)[0].sequence_number == 0
    )  # groups are independent
    with pytest.raises(HubNotFoundError, match="consumer group 'nobody'"):
        hub.receive("orders", "nobody", "0", 1)
    with pytest.raises(HubNotFoundError, match="provision"):
        hub.send("missing", [EventData(b"")])


def test_retention_removes_expired_events(tmp_path: Path) -> None:
    hub = _hub(tmp_path, partitions=1)
    hub.send("orders", [EventData(b"old")])
    now_ms = int(time.time() * 1000)
    assert hub.apply_retention(now_ms) == 0
    assert hub.apply_retention(now_ms + 8 * 86_400_000) == 1
    assert hub.read("orders", "0", None, 10) == []
    hub.send("orders", [EventData(b"new")])
    assert hub.read("orders", "0", None, 10)[0].sequence_number == 1  # numbering goes on


def _publish_forever(path: str, acked_file: str, batch: int) -> None:
    hub = EmbeddedEventHub(Path(path), NAMESPACE)
    acked = 0
    while True:
        hub.send(
            "orders", [EventData(os.urandom(64), {"writer": os.getpid()}) for _ in range(batch)]
        )
        acked += batch
        Path(acked_file + ".tmp").write_text(str(acked))
        Path(acked_file + ".tmp").replace(acked_file)  # the count is never seen half written


def _publish_count(path: str, count: int) -> None:
    hub = EmbeddedEventHub(Path(path), NAMESPACE)
    for _ in range(count // 50):
        hub.send("orders", [EventData(b"e", partition_key=str(i)) for i in range(50)])


def test_concurrent_processes_publish_without_loss_or_gaps(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    run_together(_publish_count, (str(tmp_path / "hub"), 2000), 3, 60)
    total = 0
    for partition in hub.partition_ids("orders"):
        stored = hub.read("orders", partition, None, 100_000)
        assert [e.sequence_number for e in stored] == list(range(len(stored)))
        total += len(stored)
    assert total == 6000


def test_killed_publisher_loses_nothing_acknowledged(tmp_path: Path) -> None:
    hub = _hub(tmp_path, partitions=2)
    acked_file = tmp_path / "acked"
    ctx = multiprocessing.get_context("spawn")
    for attempt in range(3):
        worker = ctx.Process(
            target=_publish_forever, args=(str(tmp_path / "hub"), str(acked_file), 100)
        )
        worker.start()
        deadline = time.monotonic() + 30
        while not acked_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05 + 0.07 * attempt)
        os.kill(worker.pid or 0, signal.SIGKILL)
        worker.join()
        acked = int(acked_file.read_text())
        acked_file.unlink()
        stored = [
            e for p in hub.partition_ids("orders") for e in hub.read("orders", p, None, 10**7)
        ]
        mine = [e for e in stored if dict(e.properties)["writer"] == worker.pid]
        # Everything acknowledged is there; a batch is all or nothing.
        assert len(mine) >= acked
        assert len(mine) % 100 == 0


def test_an_event_over_the_size_limit_is_refused_with_its_whole_batch(tmp_path: Path) -> None:
    hub = _hub(tmp_path, partitions=1)
    at_the_limit = EventData(b"x" * (MAX_EVENT_BYTES - 100), {"n": 1})
    assert hub.send("orders", [at_the_limit]) == 1
    with pytest.raises(EventRefusedError, match="over the 1,048,576 bytes an event hub takes"):
        hub.send("orders", [EventData(b"small"), EventData(b"x" * MAX_EVENT_BYTES)])
    assert [e.body[:5] for e in hub.read("orders", "0", None, 10)] == [b"xxxxx"]
