"""The existing commands on Kafka, configured by the environment alone."""

from __future__ import annotations

import json

import pytest

from eda_lake.cli import main
from eda_lake.settings import Settings
from infra_scripts.kafka_broker import free_port


def test_commands_run_unchanged_on_kafka(capsys, kafka_env: Settings) -> None:
    assert main(["provision", "--plan"]) == 0
    assert "create  event hub       customer-created" in capsys.readouterr().out
    assert main(["provision"]) == 0
    assert main(["provision"]) == 0
    assert "nothing to do" in capsys.readouterr().out  # topics and groups are all there
    assert main(["publish", "--customers", "60", "--seed", "2"]) == 0
    assert "60 CustomerCreated" in capsys.readouterr().out
    assert main(["subscribe", "conversions"]) == 0
    assert json.loads(capsys.readouterr().out)["reactions"] == 60
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
