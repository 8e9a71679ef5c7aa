"""Secret variables holding a Key Vault reference: read through the real `SecretClient`
from an in-memory Key Vault at its HTTP transport, once per process, and every failure one
line naming the variable, the vault and the secret, never a value."""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator

import dagster as dg
import pytest

from eda_lake.cli import ERROR_EXIT, main
from eda_lake.console.faults import describe
from eda_lake.defs.resources import EdaLakeResource, eda_lake_resource
from eda_lake.settings import (
    PII_KEY_VAR,
    AzureDeploymentSettings,
    Settings,
    SettingsError,
)
from eda_lake.shared import key_vault
from eda_lake.shared.azure_identity import azure_credential
from eda_lake.shared.key_vault import KeyVaultError, Vaults, parse_reference
from eda_lake_tests.fake_key_vault import SCOPE, TENANT, FakeKeyVault, KeyVaultCredential

PII_KEY = "pii-key-from-the-vault-0123456789"
HUB_PASSWORD = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=from-the-vault"
KAFKA = {
    "EDA_LAKE_BROKER": "kafka",
    "EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS": "ns.servicebus.windows.net:9093",
    "EDA_LAKE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "EDA_LAKE_KAFKA_SASL_MECHANISM": "PLAIN",
    "EDA_LAKE_KAFKA_SASL_USERNAME": "$ConnectionString",
}


def reference(vault: str, secret: str) -> str:
    return f"@Microsoft.KeyVault(VaultName={vault};SecretName={secret})"


class Vault:
    """The fake service, the credential the process signs in with, and the process's vaults."""

    def __init__(self) -> None:
        self.service = FakeKeyVault()
        self.credential = KeyVaultCredential()
        # No retries: an outage is reported at once rather than after the client's backoff.
        self.vaults = Vaults(self.credential, transport=self.service, retry_total=0)

    def reads(self, secret: str) -> int:
        """How many times the service returned `secret`."""
        return sum(
            1
            for _, path, status in self.service.requests
            if status == 200 and path.strip("/").split("/")[1] == secret
        )


@pytest.fixture
def vault(monkeypatch: pytest.MonkeyPatch) -> Iterator[Vault]:
    """This process's vaults, reaching the fake service."""
    fake = Vault()
    monkeypatch.setattr(key_vault, "process_vaults", lambda: fake.vaults)
    yield fake


def test_a_pii_key_and_a_kafka_hub_password_are_read_from_key_vault(vault: Vault, tmp_path) -> None:
    vault.service.vault("dv-eda-kv-x7k2").set("eda-lake-pii-key", PII_KEY)
    kafka = vault.service.vault("kafka-kv")
    pinned = kafka.set("customer-created-password", HUB_PASSWORD)
    kafka.set("customer-created-password", "a later version the reference does not name")
    uri = f"https://kafka-kv.vault.azure.net/secrets/customer-created-password/{pinned}"
    settings = Settings.from_env(
        {
            "EDA_LAKE_HOME": str(tmp_path),
            PII_KEY_VAR: reference("dv-eda-kv-x7k2", "eda-lake-pii-key"),
            "EDA_LAKE_KAFKA_SASL_PASSWORD__CUSTOMER_CREATED": (
                f"@Microsoft.KeyVault(SecretUri={uri})"
            ),
            **KAFKA,
        }
    )
    assert settings.pii_key == PII_KEY
    assert settings.kafka is not None
    assert settings.kafka.hub_passwords == {"customer-created": HUB_PASSWORD}
    # Signed in as the vault's challenge asks: its tenant, Key Vault's scope.
    assert set(vault.credential.requests) == {((SCOPE,), TENANT)}
    assert PII_KEY not in repr(settings) and HUB_PASSWORD not in repr(settings)


def test_a_reference_is_read_once_per_process_with_one_client_per_vault(
    vault: Vault, tmp_path
) -> None:
    one = vault.service.vault("kv-one")
    one.set("pii", PII_KEY)
    one.set("password", HUB_PASSWORD)
    vault.service.vault("kv-two").set("password", HUB_PASSWORD)
    environment = {
        "EDA_LAKE_HOME": str(tmp_path),
        PII_KEY_VAR: reference("kv-one", "pii"),
        # The same secret as the hub's, by the other syntax, and a secret of another vault.
        "EDA_LAKE_KAFKA_SASL_PASSWORD": "@Microsoft.KeyVault(SecretUri=https://kv-one.vault.azure.net/secrets/password/)",
        "EDA_LAKE_KAFKA_SASL_PASSWORD__CUSTOMER_CREATED": reference("kv-one", "password"),
        "EDA_LAKE_KAFKA_SASL_PASSWORD__ORDER_PLACED": reference("kv-two", "password"),
        **KAFKA,
    }
    first = Settings.from_env(environment)
    assert Settings.from_env(environment) == first  # read again: from this process's memory
    assert (vault.reads("pii"), vault.reads("password")) == (1, 2)  # kv-one's, kv-two's
    # One client per vault: each signs in once, for every secret of its vault.
    assert len(vault.credential.requests) == 2


@pytest.mark.parametrize(
    ("arrange", "said"),
    [
        (
            lambda v: v.secrets.pop("pii"),
            "does not exist (404 SecretNotFound): create it with `az keyvault secret set "
            "--vault-name kv-lake --name pii",
        ),
        (
            lambda v: setattr(v, "readable", False),
            "(403 Forbidden/ForbiddenByRbac): grant this process's identity "
            '"Key Vault Secrets User"',
        ),
        (
            lambda v: v.disabled.add("pii"),
            "(403 Forbidden/SecretDisabled): enable it with `az keyvault secret set-attributes",
        ),
        (
            lambda v: setattr(v, "reachable_from_here", False),
            "(403 Forbidden/ForbiddenByFirewall): the vault's firewall refuses this network: "
            "allow it with `az keyvault network-rule add --name kv-lake",
        ),
        (
            lambda v: setattr(v, "available", False),
            "(503 ServiceUnavailable): Key Vault did not serve it: try again",
        ),
    ],
    ids=["missing", "forbidden", "disabled", "firewall", "outage"],
)
def test_a_secret_that_cannot_be_read_is_one_line_naming_it_and_the_fix(
    vault: Vault, tmp_path, arrange, said: str
) -> None:
    kv = vault.service.vault("kv-lake")
    kv.set("other", HUB_PASSWORD)
    kv.set("pii", PII_KEY)
    arrange(kv)
    line = _refused(
        Settings.from_env,
        {"EDA_LAKE_HOME": str(tmp_path), PII_KEY_VAR: reference("kv-lake", "pii")},
    )
    assert line.startswith(f"{PII_KEY_VAR}: secret pii of Key Vault kv-lake ") and said in line


def test_a_command_whose_secret_cannot_be_read_ends_in_one_line(
    vault: Vault, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vault.service.vault("kv-lake").readable = False
    monkeypatch.setenv(PII_KEY_VAR, reference("kv-lake", "pii"))
    assert main(["silver"]) == ERROR_EXIT
    said = capsys.readouterr().err
    assert said.startswith(f"eda-lake: error: {PII_KEY_VAR}: secret pii of Key Vault kv-lake ")
    assert said.count("\n") == 1 and "Traceback" not in said
    # Asked once: reporting the error reads no settings again.
    assert [status for _, _, status in vault.service.requests if status == 403] == [403]


def test_a_vault_that_does_not_resolve_is_one_line(vault: Vault, tmp_path) -> None:
    line = _refused(
        Settings.from_env,
        {"EDA_LAKE_HOME": str(tmp_path), PII_KEY_VAR: reference("kv-typo", "pii")},
    )
    assert line == (
        f"{PII_KEY_VAR}: secret pii of Key Vault kv-typo cannot be read: kv-typo.vault.azure.net "
        "does not answer (no vault has that name, or the network is down): check the name with "
        "`az keyvault show --name kv-typo`, and the network"
    )


def test_a_sign_in_that_fails_is_one_line(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.identity import CredentialUnavailableError

    class NoIdentity:
        def get_token(self, *scopes, **kwargs):
            raise CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token")

    service = FakeKeyVault()
    service.vault("kv-lake").set("pii", PII_KEY)
    monkeypatch.setattr(
        key_vault, "process_vaults", lambda: Vaults(NoIdentity(), transport=service)
    )
    line = _refused(
        Settings.from_env,
        {"EDA_LAKE_HOME": str(tmp_path), PII_KEY_VAR: reference("kv-lake", "pii")},
    )
    assert line.startswith(
        f"{PII_KEY_VAR}: secret pii of Key Vault kv-lake cannot be read without an Azure "
        "sign-in: sign in to Azure first: `az login`"
    )


def test_an_empty_secret_is_refused(vault: Vault, tmp_path) -> None:
    vault.service.vault("kv-lake").set("pii", "")
    line = _refused(
        Settings.from_env,
        {"EDA_LAKE_HOME": str(tmp_path), PII_KEY_VAR: reference("kv-lake", "pii")},
    )
    assert line.startswith(
        f"{PII_KEY_VAR}: secret pii of Key Vault kv-lake is empty: set its value"
    )


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("@Microsoft.KeyVault(VaultName=kv-lake;SecretName=pii", "it does not end with `)`"),
        (
            "@Microsoft.KeyVault(VaultName=kv-lake)",
            "it names neither SecretUri nor VaultName and SecretName",
        ),
        (
            "@Microsoft.KeyVault(VaultName=kv-lake;SecretName=pii;Secret=hunter2-typed-here)",
            "it names neither",
        ),
        ("@Microsoft.KeyVault(VaultName=kv-lake;SecretName)", "a field has no `=<value>`"),
        ("@Microsoft.KeyVault(VaultName=k;SecretName=pii)", "VaultName is no vault name"),
        (
            "@Microsoft.KeyVault(VaultName=kv-lake;SecretName=hunter2_not_a_name)",
            "the secret's name is not",
        ),
        (
            "@Microsoft.KeyVault(VaultName=kv-lake;SecretName=pii;SecretVersion=hunter2)",
            "the secret's version is not",
        ),
        (
            "@Microsoft.KeyVault(SecretUri=http://kv-lake.vault.azure.net/secrets/pii)",
            "SecretUri is not",
        ),
        ("@Microsoft.KeyVault(SecretUri=https://kv.example.com/secrets/pii)", "SecretUri is not"),
        (
            "@Microsoft.KeyVault(SecretUri=https://kv-lake.vault.azure.net/keys/pii)",
            "SecretUri is not",
        ),
        (
            "@Microsoft.KeyVault(VaultName=kv-lake;SecretName=pii;vaultname=kv-other)",
            "vaultname is given twice",
        ),
        (
            "@Microsoft.KeyVault(SecretUri=https://kv-lake.vault.azure.net/secrets/pii#hunter2)",
            "SecretUri is not",
        ),
    ],
)
def test_a_malformed_reference_is_one_line_without_the_value(
    vault: Vault, tmp_path, written: str, why: str
) -> None:
    line = _refused(Settings.from_env, {"EDA_LAKE_HOME": str(tmp_path), PII_KEY_VAR: written})
    assert line.startswith(f"{PII_KEY_VAR} holds a malformed Key Vault reference ({why}")
    assert "hunter2" not in line and "@Microsoft.KeyVault(VaultName=<vault>" in line
    assert vault.service.requests == []


@pytest.mark.parametrize(
    ("parsed", "written"),
    [
        (
            ("https://kv-lake.vault.azure.net", "pii", None),
            "@Microsoft.KeyVault(VaultName=kv-lake;SecretName=pii)",
        ),
        (
            ("https://kv-lake.vault.azure.net", "pii", "0" * 31 + "1"),
            f"@microsoft.keyvault( vaultname=KV-Lake ; secretname=pii ; SecretVersion={'0' * 31}1)",
        ),
        (
            ("https://kv-lake.vault.azure.net", "pii", None),
            "@Microsoft.KeyVault(SecretUri=https://kv-lake.vault.azure.net/secrets/pii/)",
        ),
        (
            ("https://kv-lake.vault.azure.cn", "pii", "a" * 32),
            f"@Microsoft.KeyVault(SecretUri=https://kv-lake.vault.azure.cn/secrets/pii/{'a' * 32})",
        ),
    ],
)
def test_both_syntaxes_of_app_service_are_read(
    parsed: tuple[str, str, str | None], written: str
) -> None:
    found = parse_reference(PII_KEY_VAR, written)
    assert (found.vault_url, found.secret, found.version) == parsed


@pytest.mark.parametrize(
    ("read", "name"),
    [
        (Settings.from_env, "EDA_LAKE_STORAGE_ACCOUNT"),
        (Settings.from_env, "EDA_LAKE_KAFKA_SASL_USERNAME"),
        (AzureDeploymentSettings.from_env, "EDA_LAKE_AZURE_SUBSCRIPTION_ID"),
    ],
)
def test_a_reference_in_a_variable_that_is_no_secret_is_refused(
    vault: Vault, read, name: str
) -> None:
    vault.service.vault("kv-lake").set("name", "lakeacct")
    line = _refused(read, {name: reference("kv-lake", "name")})
    assert line == (
        f"{name} holds a Key Vault reference, but only secret variables are read from Key "
        f"Vault: set {name} to its value"
    )
    assert vault.service.requests == []


def test_a_process_reads_its_vaults_with_its_one_entra_id_credential() -> None:
    vaults = key_vault.process_vaults()
    assert vaults is key_vault.process_vaults()  # one cache of secrets per process
    assert vaults._credential is azure_credential()


def test_the_dagster_resource_passes_the_reference_by_name_and_a_run_reads_the_secret(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault.service.vault("kv-lake").set("pii", PII_KEY)
    monkeypatch.setenv(PII_KEY_VAR, reference("kv-lake", "pii"))
    resource = eda_lake_resource()  # as the code location loads: the reference is read there
    assert isinstance(resource, EdaLakeResource)
    passed = resource.variables()
    assert isinstance(passed[PII_KEY_VAR], dg.EnvVar) and passed[PII_KEY_VAR] == PII_KEY_VAR
    assert PII_KEY not in repr(resource) and PII_KEY not in repr(passed)
    with dg.build_resources({"eda_lake": resource}) as built:  # resolved as a run resolves it
        assert built.eda_lake.settings().pii_key == PII_KEY
    assert vault.reads("pii") == 1  # at load, then from this process's memory
    assert os.environ[PII_KEY_VAR] == reference("kv-lake", "pii")  # the environment keeps the name


def _refused(read, environment: dict[str, str]) -> str:
    """The one line the CLI shows for what `read(environment)` raises; no value read from
    the fake vault appears in it or anywhere in the exception's chain."""
    with pytest.raises((KeyVaultError, SettingsError)) as raised:
        read(environment)
    line = describe(raised.value)
    assert line is not None and "\n" not in line
    chain = "".join(traceback.format_exception(raised.value))
    assert PII_KEY not in chain and HUB_PASSWORD not in chain and "lakeacct" not in chain
    return line


LIVE_VAULT = "EDA_LAKE_LIVE_KEY_VAULT"


@pytest.mark.live
@pytest.mark.skipif(
    not os.environ.get(LIVE_VAULT),
    reason=f"live Key Vault test: set {LIVE_VAULT} to a vault whose eda-lake-pii-key secret "
    "your Azure sign-in may read",
)
def test_live_pii_key_read_from_a_vault(tmp_path) -> None:  # pragma: no cover - a real vault
    named = reference(os.environ[LIVE_VAULT], "eda-lake-pii-key")
    settings = Settings.from_env({"EDA_LAKE_HOME": str(tmp_path), PII_KEY_VAR: named})
    assert settings.pii_key is not None and len(settings.pii_key) >= 16
