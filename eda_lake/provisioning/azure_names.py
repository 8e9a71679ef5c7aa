"""Azure resource names: the convention `{env}-{name}-{resource}-{region}-{unique}`, checked
against each resource type's rules before any call is made (Event Hubs' own names by the
rules in `eda_lake.shared.names`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from eda_lake.shared import key_vault
from eda_lake.shared.names import InvalidNameError, namespace_name, poison_queue_name

ENVIRONMENTS = ("dv", "qa", "lv")
_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "resource group": (
        re.compile(r"^[A-Za-z0-9._()-]{1,89}[A-Za-z0-9_()-]$"),
        "1-90 letters, digits, '.', '_', '-', '(' or ')', not ending in '.'",
    ),
    "storage account": (re.compile(r"^[a-z0-9]{3,24}$"), "3-24 lower-case letters and digits"),
    "Event Grid system topic": (
        re.compile(r"^[A-Za-z0-9-]{3,128}$"),
        "3-128 letters, digits or hyphens",
    ),
    "Key Vault": (
        key_vault.VAULT_NAME,
        "3-24 letters, digits and single hyphens, starting with a letter",
    ),
    "Log Analytics workspace": (
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$"),
        "4-63 letters, digits or hyphens, starting and ending with a letter or digit",
    ),
    "action group": (
        re.compile(r"^[A-Za-z0-9_.()-]{1,260}$"),
        "1-260 letters, digits, '_', '.', '-', '(' or ')'",
    ),
    "container or queue": (
        re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$"),
        "3-63 lower-case letters, digits and single hyphens",
    ),
}


def check(kind: str, name: str) -> str:
    pattern, rule = _RULES[kind]
    if not pattern.fullmatch(name):
        raise InvalidNameError(f"invalid {kind} name {name!r}: use {rule}")
    return name


@dataclass(frozen=True)
class AzureNames:
    resource_group: str
    namespace: str
    lake_account: str
    checkpoint_account: str
    system_topic: str
    key_vault: str  # globally unique, as storage accounts
    log_workspace: str
    action_group: str
    capture_container: str = "capture"
    lake_container: str = "lake"
    checkpoint_container: str = "eventhub-checkpoints"
    discovery_queue: str = "capture-events"
    # Dagster's compute logs (stdout and stderr of each step), kept apart from the lake's data.
    compute_log_container: str = "dagster-compute-logs"

    @property
    def poison_queue(self) -> str:
        return poison_queue_name(self.discovery_queue)


def azure_names(environment: str, region: str, unique: str, name: str = "eda") -> AzureNames:
    """Every name of the deployment, validated; the error names the value and the rule."""
    if environment not in ENVIRONMENTS:
        raise InvalidNameError(
            f"environment {environment!r} is not one of {', '.join(ENVIRONMENTS)}"
        )
    if not re.fullmatch(r"[a-z0-9]{2,8}", unique):
        raise InvalidNameError(f"unique suffix {unique!r}: use 2-8 lower-case letters and digits")
    if not re.fullmatch(r"[a-z0-9]{2,24}", region):
        raise InvalidNameError(f"region {region!r}: use the Azure location, e.g. westeurope")
    names = AzureNames(
        resource_group=f"{environment}-{name}-rg-{region}-{unique}",
        namespace=f"{environment}-{name}-evhns-{region}-{unique}",
        lake_account=f"{environment}{name}lake{unique}",
        checkpoint_account=f"{environment}{name}ckpt{unique}",
        system_topic=f"{environment}-{name}-evgt-{region}-{unique}",
        key_vault=f"{environment}-{name}-kv-{unique}",  # 24 characters at most: no region
        log_workspace=f"{environment}-{name}-log-{region}-{unique}",
        action_group=f"{environment}-{name}-ag-{region}-{unique}",
    )
    check("resource group", names.resource_group)
    namespace_name(names.namespace)
    check("storage account", names.lake_account)
    check("storage account", names.checkpoint_account)
    check("Event Grid system topic", names.system_topic)
    check("Key Vault", names.key_vault)
    check("Log Analytics workspace", names.log_workspace)
    check("action group", names.action_group)
    for container in (
        names.capture_container, names.lake_container, names.checkpoint_container,
        names.discovery_queue, names.poison_queue, names.compute_log_container,
    ):  # fmt: skip
        check("container or queue", container)
    return names
