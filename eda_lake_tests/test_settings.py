"""Settings from the environment, and the adapters the factories pick from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from eda_lake.embedded.owner_only import StateDirectoryError, owner_only_tree
from eda_lake.hub.azure import AzureEventHubClient
from eda_lake.hub.embedded import EmbeddedEventHub
from eda_lake.hub.factory import make_hub_admin, make_hub_client
from eda_lake.lake.discovery.storage_queue import StorageNotificationQueue
from eda_lake.lake.layout import LakeLayout
from eda_lake.registry.azure import AzureSchemaRegistry
from eda_lake.registry.factory import make_registry
from eda_lake.settings import (
    VARIABLES,
    AzureDeploymentSettings,
    Settings,
    SettingsError,
    Target,
    Variable,
)
from eda_lake.shared.azure_identity import azure_credential

AZURE = {
    "EDA_LAKE_HOME": "/tmp/eda-lake-settings-test",
    "EDA_LAKE_TARGET": "azure",
    "EDA_LAKE_EVENTHUB_NAMESPACE": "my-ns.servicebus.windows.net",
    # Shapes of real connection strings; the keys are placeholders, not secrets.
    "EDA_LAKE_CHECKPOINT_CONNECTION_STRING": (
        "DefaultEndpointsProtocol=https;AccountName=cp;AccountKey=cGxhY2Vob2xkZXI=;"
        "EndpointSuffix=core.windows.net"
    ),
    "EDA_LAKE_EVENTHUB_CONNECTION_STRING__CUSTOMER_CREATED": (
        "Endpoint=sb://my-ns.servicebus.windows.net/;SharedAccessKeyName=send;"
        "SharedAccessKey=cGxhY2Vob2xkZXI=;EntityPath=customer-created"
    ),
    "EDA_LAKE_STORAGE_ACCOUNT": "lakeacct",
    "EDA_LAKE_CAPTURE_CONTAINER": "capture",
    "EDA_LAKE_LAKE_CONTAINER": "lake",
}


def test_local_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.target is Target.LOCAL and settings.storage is None
    assert isinstance(make_hub_client(settings), EmbeddedEventHub)
    assert LakeLayout.from_settings(settings).local


def test_the_event_limit_defaults_to_64_mib_and_the_setting_raises_it() -> None:
    assert Settings.from_env({}).max_event_bytes == 64 << 20
    raised = Settings.from_env({"EDA_LAKE_MAX_EVENT_MIB": "1100"})
    assert raised.max_event_bytes == 1100 << 20


def test_azure_configuration_picks_the_azure_adapters() -> None:
    settings = Settings.from_env(AZURE)
    assert settings.eventhubs is not None
    assert settings.eventhubs.hub_connection_strings.keys() == {"customer-created"}
    assert "AccountKey" not in repr(settings)  # secrets never printed
    assert isinstance(make_hub_client(settings), AzureEventHubClient)
    assert isinstance(make_registry(settings), AzureSchemaRegistry)
    layout = LakeLayout.from_settings(settings)
    assert not layout.local and layout.bronze_uri == "az://lake/bronze"
    with pytest.raises(NotImplementedError, match="azure-mgmt-eventhub"):
        make_hub_admin(settings)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"EDA_LAKE_TARGET": "aws"}, "one of: local, azure"),
        ({"EDA_LAKE_TARGET": "azure"}, "EDA_LAKE_EVENTHUB_NAMESPACE"),
        ({"EDA_LAKE_EVENTHUB_NAMESPACE": "x.servicebus.windows.net"}, "EDA_LAKE_CHECKPOINT"),
        ({"EDA_LAKE_LAKE_CONTAINER": "lake"}, "EDA_LAKE_STORAGE_ACCOUNT"),
        ({"EDA_LAKE_DISCOVERY_QUEUE": "q"}, "EDA_LAKE_QUEUE_CONNECTION_STRING"),
        ({"EDA_LAKE_CAPTURE_LATENESS_MINUTES": "soon"}, "positive whole number"),
        ({"EDA_LAKE_FILES_PER_RUN": "0"}, "EDA_LAKE_FILES_PER_RUN='0' must be a positive"),
        ({"EDA_LAKE_MAX_EVENT_MIB": "0"}, "EDA_LAKE_MAX_EVENT_MIB='0' must be a positive"),
        ({"EDA_LAKE_MAX_EVENT_MIB": "2048"}, "EDA_LAKE_MAX_EVENT_MIB=2048 must be at most 2047"),
    ],
)
def test_bad_settings_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_a_discovery_queue_without_a_connection_string_is_reached_with_entra_id() -> None:
    queue = Settings.from_env({**AZURE, "EDA_LAKE_DISCOVERY_QUEUE": "capture-events"})
    assert queue.discovery_queue is not None and queue.discovery_queue.connection_string is None
    notifications = StorageNotificationQueue.from_settings(queue.discovery_queue)
    for client, name in ((notifications._queue, "capture-events"),
                         (notifications._poison, "capture-events-poison")):  # fmt: skip
        assert client.url == f"https://lakeacct.queue.core.windows.net/{name}"
        assert hasattr(client.credential, "get_token")  # a token credential, no account key
    again = StorageNotificationQueue.from_settings(queue.discovery_queue)  # the next tick
    # one credential per process: its cached token serves every tick, no sign-in per tick
    assert again._queue.credential is notifications._poison.credential is azure_credential()


@pytest.mark.parametrize(
    "storage",
    [
        {"EDA_LAKE_STORAGE_ACCOUNT_KEY": "cGxhY2Vob2xkZXI="},  # keyed: its connection string
        {"EDA_LAKE_BLOB_AUTHORITY": "127.0.0.1:10000"},  # Azurite: queues on another port
    ],
)
def test_a_discovery_queue_needs_its_connection_string_where_entra_id_cannot_reach_it(
    storage: dict[str, str],
) -> None:
    """A queue name with no lake account at all is refused as well (the bad settings above)."""
    environ = {**AZURE, "EDA_LAKE_DISCOVERY_QUEUE": "capture-events", **storage}
    with pytest.raises(SettingsError, match="EDA_LAKE_QUEUE_CONNECTION_STRING is not"):
        Settings.from_env(environ)


@pytest.mark.parametrize("nothing", ["", "  ", "\t"])
@pytest.mark.parametrize("known", VARIABLES, ids=lambda known: known.name)
def test_a_variable_set_to_nothing_is_refused_naming_it(known: Variable, nothing: str) -> None:
    """Unset is the default; set to nothing is a mistake (a PII key of blanks among them),
    refused by the side that reads it."""
    name = known.name + ("CUSTOMER_CREATED" if known.family else "")
    reader = AzureDeploymentSettings.from_env if known.provisioning else Settings.from_env
    with pytest.raises(SettingsError, match=rf"^{name} is set but (empty|blank): give it a value"):
        reader({name: nothing})


@pytest.mark.parametrize("known", VARIABLES, ids=lambda known: known.name)
def test_a_variable_of_the_other_side_set_to_nothing_is_left_to_that_side(known: Variable) -> None:
    """A blank deployment variable is provisioning's mistake to name, not a runtime crash
    (and the reverse): each side reads on."""
    name = known.name + ("CUSTOMER_CREATED" if known.family else "")
    other = Settings.from_env if known.provisioning else AzureDeploymentSettings.from_env
    required = (
        {}
        if known.provisioning
        else {
            "EDA_LAKE_AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
            "EDA_LAKE_AZURE_LOCATION": "westeurope",
            "EDA_LAKE_ENVIRONMENT": "dv",
            "EDA_LAKE_NAME_SUFFIX": "x7k2",
        }
    )
    other({**required, name: ""})


@pytest.mark.parametrize("where", ["the file", "under the file"])
def test_a_dagster_home_in_a_files_place_names_dagster_home(tmp_path: Path, where: str) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("")
    instance = a_file if where == "the file" else a_file / "instance"
    with pytest.raises(SettingsError, match=rf"^DAGSTER_HOME={instance} .*a file") as refused:
        Settings.from_env({"DAGSTER_HOME": str(instance)})
    assert "EDA_LAKE_HOME" not in str(refused.value)


def test_a_dagster_home_that_cannot_be_made_names_dagster_home() -> None:
    settings = Settings.from_env({"DAGSTER_HOME": "/proc/eda-lake-instance"})
    with pytest.raises(StateDirectoryError, match="point DAGSTER_HOME at") as refused:
        owner_only_tree(settings.dagster_home, named_by=settings.dagster_home_variable)
    assert "EDA_LAKE_HOME" not in str(refused.value)
    # Unset, the instance lies in the home, and the home's variable is the one to change.
    assert Settings.from_env({}).dagster_home_variable == "EDA_LAKE_HOME"


@pytest.mark.parametrize("file", ["../catalogue.toml", "catalogue.yaml", "sub/catalogue.toml"])
def test_a_catalogue_file_that_is_no_toml_file_name_is_refused(tmp_path: Path, file: str) -> None:
    env = {"EDA_LAKE_HOME": str(tmp_path), "EDA_LAKE_CATALOGUE_FILE": file}
    with pytest.raises(SettingsError, match=r"^EDA_LAKE_CATALOGUE_FILE: invalid catalogue file"):
        Settings.from_env(env)
    env["EDA_LAKE_CATALOGUE_FILE"] = "catalogue-per-aggregate.toml"
    assert Settings.from_env(env).catalogue_file == "catalogue-per-aggregate.toml"
