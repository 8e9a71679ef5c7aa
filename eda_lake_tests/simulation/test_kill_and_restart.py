"""A subscriber killed mid-batch loses nothing and explains every duplicate."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections import defaultdict
from pathlib import Path

import pytest

from eda_lake.hub.embedded import EmbeddedEventHub
from eda_lake.settings import Settings
from eda_lake.simulation.runtime import Simulation
from eda_lake_tests.simulation.helpers import provisioned, published


def _assert_exactly_one_reaction_per_customer(simulation: Simulation) -> int:
    """Returns how many duplicate deliveries there were (all explained by their ids)."""
    customers = {str(r["customer_id"]) for _, r in published(simulation, "CustomerCreated")}
    reactions: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for event in ("LeadGenerated", "LeadAbandoned"):
        for envelope, record in published(simulation, event):
            reactions[str(record["customer_id"])].append(
                (envelope.id, envelope.source, str(sorted(record.items())))
            )
    assert set(reactions) == customers  # nothing lost
    duplicates = 0
    for copies in reactions.values():
        assert len({c for c in copies}) == 1  # a repeat is the same event: same source, id, data
        duplicates += len(copies) - 1
    return duplicates


def test_crash_after_reactions_stored_before_checkpoint_sends_each_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulation = provisioned(settings)
    simulation.publish_products(seed=8)
    simulation.publish_customers(seed=8, count=300)
    simulation.subscriber("conversions").run()  # the catalogue first
    simulation.publish_customers(seed=9, count=300)

    real_checkpoint = EmbeddedEventHub.checkpoint
    calls = {"n": 0}

    def dying_checkpoint(self: EmbeddedEventHub, *args: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed after publishing, before checkpointing")
        real_checkpoint(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(EmbeddedEventHub, "checkpoint", dying_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        simulation.subscriber("conversions").run()
    monkeypatch.undo()
    Simulation(settings).subscriber("conversions").run()  # restart
    # The batch is processed again, and the outbox already holds its reactions' ids.
    assert _assert_exactly_one_reaction_per_customer(simulation) == 0


def _subscribe(home: str) -> None:
    simulation = Simulation(Settings(home=Path(home)))
    subscriber = simulation.subscriber("conversions")
    subscriber.batch_size = 200
    subscriber.run()


def _progress(simulation: Simulation) -> int:
    hub = simulation.catalogue.event("CustomerCreated").hub
    return sum(
        (simulation.hub.checkpoint_of(hub, "conversions", p) or 0)
        for p in simulation.hub.partition_ids(hub)
    )


def test_sigkill_at_random_moments_then_restart(settings: Settings) -> None:
    simulation = provisioned(settings)
    simulation.publish_products(seed=21)
    simulation.publish_customers(seed=21, count=6000)
    ctx = multiprocessing.get_context("spawn")
    rng = random.Random(21)
    killed = 0
    for _ in range(4):
        before = _progress(simulation)
        worker = ctx.Process(target=_subscribe, args=(str(settings.home),))
        worker.start()
        deadline = time.monotonic() + 60
        while _progress(simulation) == before and worker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.05))  # somewhere inside a batch, or between two
        os.kill(worker.pid or 0, signal.SIGKILL)
        worker.join()
        killed += worker.exitcode == -signal.SIGKILL
    assert killed >= 2, "the subscriber finished before it could be killed: give it more work"
    _subscribe(str(settings.home))  # the final restart runs to the end
    _assert_exactly_one_reaction_per_customer(simulation)
