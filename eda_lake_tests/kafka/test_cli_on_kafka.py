"""The existing commands on Kafka, configured by the environment alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from eda_lake.cli import main
from eda_lake.settings import Settings
from infra_scripts.ports import free_port


def test_commands_run_unchanged_on_kafka(capsys, kafka_env: Settings) -> None:
    assert main(["provision", "--plan"]) == 0
    assert "create  event hub       customer-created" in capsys.readouterr().out
    assert main(["provision"]) == 0
    assert main(["provision"]) == 0
    assert "nothing to do" in capsys.readouterr().out  # topics and groups are all there
    assert main(["publish", "--customers", "60", "--seed", "2"]) == 0
    assert "60 CustomerCreated" in capsys.readouterr().out
    assert main(["subscribe", "conversions"]) == 0
    assert "reactions published     60" in capsys.readouterr().out
    assert main(["subscribe", "customer"]) == 0
    assert main(["capture", "run", "--flush"]) == 0
    assert "captured" in capsys.readouterr().out
    assert list((kafka_env.lake_dir / "capture").rglob("*.avro"))


def test_an_unreachable_cluster_is_one_line(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDA_LAKE_BROKER", "kafka")
    monkeypatch.setenv("EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("EDA_LAKE_KAFKA_TIMEOUT_SECONDS", "1")
    assert main(["capture", "run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eda-lake: error: Kafka at 127.0.0.1:") and "\n" not in err
    assert "EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS" in err


def test_the_platform_parts_create_the_topics_and_groups(kafka_settings: Settings) -> None:
    from eda_lake.hub.kafka import KafkaEventHub
    from eda_lake.provisioning.runtime import PARTS, provision, provision_part

    changed = {part: provision_part(kafka_settings, part) for part in PARTS}
    assert {a.name for a in changed["event_hubs"]} >= {"customer-created", "lead-generated"}
    assert any(a.name == "customer-created/datalake" for a in changed["consumer_groups"])
    assert provision(kafka_settings, plan_only=True) == []  # together: everything
    assert kafka_settings.kafka is not None
    hub = KafkaEventHub(kafka_settings.kafka, kafka_settings.namespace)
    groups = {g.name: g.user_metadata for g in hub.consumer_groups("customer-created")}
    hub.close()
    assert groups["datalake"] == "team: datalake" and groups["conversions"] == "team: conversions"


def test_capture_run_captures_only_the_catalogues_topics(capsys, kafka_env: Settings) -> None:
    from eda_lake.hub.base import EventData, HubSpec
    from eda_lake.hub.kafka import KafkaEventHub

    assert main(["provision"]) == 0
    assert kafka_env.kafka is not None
    hub = KafkaEventHub(kafka_env.kafka, kafka_env.namespace)
    hub.ensure_hub(HubSpec("someone-elses-topic", 1, 1))
    hub.send("someone-elses-topic", [EventData(b"not the lake's")])
    hub.close()
    assert main(["publish", "--customers", "5", "--seed", "1"]) == 0
    assert main(["capture", "run", "--flush"]) == 0
    hubs = {p.parts[1] for p in _captured(kafka_env)}
    assert "customer-created" in hubs and "someone-elses-topic" not in hubs


def _captured(settings: Settings) -> list[Path]:
    root = settings.lake_dir / "capture"
    return [p.relative_to(root) for p in root.rglob("*.avro")]


def test_capture_run_on_event_hubs_says_capture_writes_itself(
    capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDA_LAKE_BROKER", "eventhubs")
    monkeypatch.setenv("EDA_LAKE_EVENTHUB_NAMESPACE", "ns.servicebus.windows.net")
    monkeypatch.setenv("EDA_LAKE_CHECKPOINT_ACCOUNT_URL", "https://cp.blob.core.windows.net")
    assert main(["capture", "run"]) == 2
    assert "Event Hubs Capture writes the files itself" in capsys.readouterr().err
