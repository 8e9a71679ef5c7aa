"""EDA_LAKE_BROKER and the Kafka variables: defaults, Event Hubs' endpoint, refusals."""

from __future__ import annotations

import pytest

from eda_lake.hub.kafka import client_config
from eda_lake.settings import Broker, Settings, SettingsError

EVENT_HUBS_KAFKA = {
    "EDA_LAKE_BROKER": "kafka",
    "EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS": "my-ns.servicebus.windows.net:9093",
    "EDA_LAKE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "EDA_LAKE_KAFKA_SASL_MECHANISM": "PLAIN",
    "EDA_LAKE_KAFKA_SASL_USERNAME": "$ConnectionString",
    # Shapes of hub-scoped connection strings; the keys are placeholders, not secrets.
    "EDA_LAKE_KAFKA_SASL_PASSWORD__CUSTOMER_CREATED": (
        "Endpoint=sb://my-ns.servicebus.windows.net/;SharedAccessKeyName=send;"
        "SharedAccessKey=cGxhY2Vob2xkZXI=;EntityPath=customer-created"
    ),
}


def test_the_broker_follows_the_target_unless_set() -> None:
    assert Settings.from_env({}).broker is Broker.EMBEDDED
    assert Settings.from_env({}).kafka is None
    local_kafka = Settings.from_env(
        {"EDA_LAKE_BROKER": "Kafka", "EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}
    )
    assert local_kafka.broker is Broker.KAFKA and local_kafka.kafka is not None
    assert local_kafka.kafka.security_protocol == "PLAINTEXT"


def test_event_hubs_kafka_endpoint_uses_one_password_per_hub_and_never_shows_it() -> None:
    settings = Settings.from_env(EVENT_HUBS_KAFKA)
    assert settings.kafka is not None
    assert settings.kafka.hub_passwords.keys() == {"customer-created"}
    assert "SharedAccessKey" not in repr(settings)
    config = client_config(settings.kafka, "customer-created")
    assert config["sasl.username"] == "$ConnectionString"
    assert "EntityPath=customer-created" in config["sasl.password"]
    assert "sasl.password" not in client_config(settings.kafka, "lead-generated")


def test_batches_are_compressed_except_where_event_hubs_may_refuse_the_codec() -> None:
    local = Settings.from_env({"EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}).kafka
    on_event_hubs = Settings.from_env(EVENT_HUBS_KAFKA).kafka
    chosen = Settings.from_env({**EVENT_HUBS_KAFKA, "EDA_LAKE_KAFKA_COMPRESSION": "GZIP"}).kafka
    assert local is not None and on_event_hubs is not None and chosen is not None
    assert (local.compression, on_event_hubs.compression, chosen.compression) == (
        "lz4",
        "none",
        "gzip",
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS": "h:1", "EDA_LAKE_KAFKA_COMPRESSION": "brotli"},
            "EDA_LAKE_KAFKA_COMPRESSION='brotli' is not one of none, gzip",
        ),
        ({"EDA_LAKE_BROKER": "rabbitmq"}, "one of: embedded, eventhubs, kafka"),
        ({"EDA_LAKE_BROKER": "kafka"}, "needs EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS"),
        ({"EDA_LAKE_BROKER": "eventhubs"}, "needs EDA_LAKE_EVENTHUB_NAMESPACE"),
        (
            {"EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS": "h:1", "EDA_LAKE_KAFKA_SECURITY_PROTOCOL": "TLS"},
            "EDA_LAKE_KAFKA_SECURITY_PROTOCOL='TLS' is not one of",
        ),
        (
            {"EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS": "h:1", "EDA_LAKE_KAFKA_SASL_MECHANISM": "X"},
            "EDA_LAKE_KAFKA_SASL_MECHANISM='X' is not one of",
        ),
        (
            {"EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS": "h:1",
             "EDA_LAKE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
            "needs EDA_LAKE_KAFKA_SASL_MECHANISM",
        ),
        (
            {k: v for k, v in EVENT_HUBS_KAFKA.items() if "PASSWORD" not in k},
            "needs EDA_LAKE_KAFKA_SASL_USERNAME and EDA_LAKE_KAFKA_SASL_PASSWORD",
        ),
        (
            {"EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS": "h:1", "EDA_LAKE_KAFKA_SASL_USERNAME": "u"},
            "set it to SASL_SSL",
        ),
    ],
)  # fmt: skip
def test_bad_kafka_settings_name_the_variable_and_the_fix(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_the_request_timeout_is_a_positive_number_of_seconds() -> None:
    base = {"EDA_LAKE_BROKER": "kafka", "EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS": "h:1"}
    settings = Settings.from_env(base | {"EDA_LAKE_KAFKA_TIMEOUT_SECONDS": "5"})
    assert settings.kafka is not None and settings.kafka.timeout_seconds == 5
    with pytest.raises(SettingsError, match="EDA_LAKE_KAFKA_TIMEOUT_SECONDS='0' must be"):
        Settings.from_env(base | {"EDA_LAKE_KAFKA_TIMEOUT_SECONDS": "0"})
