"""`eda-lake provision` on Azure: an offline plan with no sign-in from any directory, a plan
that shows each difference, an apply that hands the runtime its variables, and `--verify`
naming drift; through the real management clients against the in-memory Resource Manager."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from eda_lake.cli import main
from eda_lake.provisioning import runtime
from eda_lake.provisioning.azure import AzureClients
from eda_lake.settings import Settings, SettingsError
from eda_lake_tests.provisioning.fake_arm import FakeArm, FakeCredential

EDA_LAKE = str(Path(sys.executable).with_name("eda-lake"))
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
NAMING = {
    "EDA_LAKE_AZURE_LOCATION": "westeurope",
    "EDA_LAKE_ENVIRONMENT": "dv",
    "EDA_LAKE_NAME_SUFFIX": "x7k2",
}
HUB = (
    f"/subscriptions/{SUBSCRIPTION}/resourcegroups/dv-eda-rg-westeurope-x7k2/providers/"
    "microsoft.eventhub/namespaces/dv-eda-evhns-westeurope-x7k2/eventhubs/customer-created"
)


def test_the_offline_plan_needs_no_sign_in_no_runtime_variable_and_no_checkout(
    tmp_path: Path,
) -> None:
    """From another directory, with the naming inputs alone: every resource of the desired
    state, with its body, as JSON; nothing written anywhere."""
    env = {**NAMING, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "EDA_LAKE_TARGET": "azure"}
    result = subprocess.run(
        [EDA_LAKE, "provision", "--plan", "--offline", "--format", "json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["mode"] == "offline plan" and plan["subscription"] == "<subscription>"
    kinds = Counter(change["kind"] for change in plan["changes"])
    for kind in (
        "lock", "key vault", "log analytics workspace", "diagnostic setting", "action group",
        "metric alert", "log alert", "resource group", "namespace", "event hub",
    ):  # fmt: skip
        assert kinds[kind] >= 1, (kind, kinds)
    assert all(c["change"] == "create" and "desired" in c for c in plan["changes"])
    hub = next(c for c in plan["changes"] if c["name"] == "customer-created")
    assert hub["desired"]["properties"]["captureDescription"]["enabled"] is True
    assert list(tmp_path.iterdir()) == []  # no home, no state, nothing


def test_the_offline_plan_as_text_lists_the_same_resources(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in os.environ:
        if name.startswith("EDA_LAKE_AZURE_") or name.startswith("AZURE_"):
            monkeypatch.delenv(name)
    for name, value in {**NAMING, "EDA_LAKE_HOME": str(tmp_path / "home")}.items():
        monkeypatch.setenv(name, value)
    assert main(["provision", "--target", "azure", "--plan", "--offline", "--format", "json"]) == 0
    listed = [(c["kind"], c["name"]) for c in json.loads(capsys.readouterr().out)["changes"]]
    assert main(["provision", "--target", "azure", "--plan", "--offline"]) == 0
    text = capsys.readouterr().out
    assert (
        text.splitlines()[0]
        == f"{len(listed)} resources in the desired state (an offline plan: nothing read):"
    )
    assert all(name in text for _, name in listed)


@pytest.fixture
def arm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeArm:
    """The CLI's Azure provisioning, signed in and talking to an in-memory ARM."""
    fake = FakeArm()
    real_create = AzureClients.create

    def on_fake_arm(cls: Any, /, credential: object, subscription: str, **kw: object) -> Any:
        return real_create(FakeCredential(), subscription, transport=fake)

    monkeypatch.setattr(AzureClients, "create", classmethod(on_fake_arm))
    monkeypatch.setattr(runtime, "azure_credential", FakeCredential)
    for name, value in {
        **NAMING, "EDA_LAKE_AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
        "EDA_LAKE_HOME": str(tmp_path / "home"), "EDA_LAKE_TARGET": "azure",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    return fake


def test_apply_hands_over_the_runtimes_variables_as_a_shell_script(
    arm: FakeArm, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["provision"]) == 0
    script = capsys.readouterr().out
    lines = script.splitlines()
    assert all(line.startswith(("# ", "export ")) for line in lines), script
    assert lines[0].startswith("# ") and " resources changed:" in lines[0]
    exports = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in lines
        if line.startswith("export ")
    )
    assert exports["EDA_LAKE_EVENTHUB_NAMESPACE"] == (
        "dv-eda-evhns-westeurope-x7k2.servicebus.windows.net"
    )
    # the PII key by its Key Vault reference, in the vault provisioning made: no value
    vault = next(key for key in arm.resources if "/microsoft.keyvault/vaults/" in key)
    assert exports.pop("EDA_LAKE_PII_KEY") == (
        f"@Microsoft.KeyVault(VaultName={vault.rsplit('/', 1)[-1]};SecretName=eda-lake-pii-key)"
    )
    settings = Settings.from_env({**exports, "EDA_LAKE_HOME": str(tmp_path / "runtime")})
    assert settings.storage and settings.storage.account == "dvedalakex7k2"
    assert settings.storage.account_key is None  # Entra ID: no key handed over
    assert settings.discovery_queue and settings.discovery_queue.name == "capture-events"
    # the same script a second time: nothing to change, the same variables
    assert main(["provision"]) == 0
    again = capsys.readouterr().out
    assert again.splitlines()[0] == "# no resources changed; nothing to do"
    assert [line for line in again.splitlines() if line.startswith("export ")] == [
        line for line in lines if line.startswith("export ")
    ]


def test_verify_names_each_difference_and_fails_on_drift(
    arm: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["provision", "--verify"]) == 1  # nothing exists yet: all of it is drift
    assert capsys.readouterr().out.startswith("drift: ")
    assert main(["provision"]) == 0
    capsys.readouterr()
    assert main(["provision", "--verify"]) == 0
    assert capsys.readouterr().out.startswith("no drift: ")
    # Changed behind provisioning's back: one retention and one alert's threshold.
    hub = arm.resources[HUB]["properties"]
    retention = hub["messageRetentionInDays"]
    hub["messageRetentionInDays"] = retention + 2
    alert = next(
        body for key, body in arm.resources.items() if "/microsoft.insights/metricalerts/" in key
    )
    criterion = alert["properties"]["criteria"]["allOf"][0]
    desired_threshold = criterion["threshold"]
    criterion["threshold"] = desired_threshold + 1000
    assert main(["provision", "--verify"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "drift: 2 resources differ from the desired state:"
    assert "update  event hub       customer-created" in out
    changed = f"properties.messageRetentionInDays is {retention + 2}, should be {retention}"
    assert changed in out
    assert f"is {desired_threshold + 1000}, should be {desired_threshold}" in out
    assert main(["provision", "--verify", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["drift"] is True
    assert {c["kind"] for c in report["changes"]} == {"event hub", "metric alert"}
    # A plan shows the same differences; an apply puts them right.
    assert main(["provision", "--plan"]) == 0
    assert changed in capsys.readouterr().out
    assert main(["provision"]) == 0
    capsys.readouterr()
    assert main(["provision", "--verify"]) == 0


def test_the_deployments_settings_are_refused_naming_the_variable_and_the_fix() -> None:
    from eda_lake.settings import AzureDeploymentSettings

    def read(**extra: str) -> AzureDeploymentSettings:
        return AzureDeploymentSettings.from_env(
            {**NAMING, "EDA_LAKE_AZURE_SUBSCRIPTION_ID": SUBSCRIPTION, **extra}
        )

    assert read().shared_key_access is None and read().alert_emails == ()
    assert read(EDA_LAKE_ALERT_EMAILS="a@example.com, b@example.org").alert_emails == (
        "a@example.com", "b@example.org",
    )  # fmt: skip
    for variable, value, words in (
        ("EDA_LAKE_ALERT_EMAILS", "ops@example.com;oncall", "separate addresses with commas"),
        ("EDA_LAKE_ALERT_EMAILS", "o'`id`@example.com", "is no e-mail address"),
        ("EDA_LAKE_SHARED_KEY_ACCESS", "maybe", "set it to on or off"),
        ("EDA_LAKE_STORAGE_SKU", "Premium_LRS", "Standard_ZRS"),
        ("EDA_LAKE_MAX_THROUGHPUT_UNITS", "0", "positive whole number"),
        ("EDA_LAKE_LOG_RETENTION_DAYS", "a month", "positive whole number"),
        ("EDA_LAKE_LOG_RETENTION_DAYS", "7", "from 30 to 730, as Log Analytics allows"),
        ("EDA_LAKE_MAX_THROUGHPUT_UNITS", "41", "from 2 to 40, as a Standard namespace"),
        ("EDA_LAKE_MAX_THROUGHPUT_UNITS", "1", "from 2 to 40, as a Standard namespace"),
    ):
        with pytest.raises(SettingsError, match=rf"^{variable}.*{words}"):
            read(**{variable: value})


def test_verify_on_the_embedded_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The same modes locally: a fresh home is all drift; `--target local` wins over
    EDA_LAKE_TARGET=azure, and reads none of the Azure variables."""
    monkeypatch.setenv("EDA_LAKE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EDA_LAKE_TARGET", "azure")
    assert main(["provision", "--target", "local", "--verify", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["drift"] is True and report["target"] == "local"
    assert {"event hub", "consumer group", "schema"} <= {c["kind"] for c in report["changes"]}
    assert main(["provision", "--target", "local"]) == 0
    capsys.readouterr()
    assert main(["provision", "--target", "local", "--verify"]) == 0
    assert capsys.readouterr().out.startswith("no drift: ")
    assert main(["provision", "--target", "local", "--plan", "--verify"]) == 2
