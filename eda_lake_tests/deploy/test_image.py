"""The code location's image, built with podman here (slow tier): Dagster inside it, as the
image's own user, loads and lists the definitions, and a container serves them over gRPC to
a client on this machine. Skips, naming the install command, where podman, runc or
debootstrap are missing."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster._core.code_pointer import ModuleCodePointer
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import ListRepositoriesResponse
from dagster._serdes import deserialize_value

from infra_scripts import image
from infra_scripts.ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("image")]

TAG = "localhost/eda-lake:test"
PORT = 4000  # the image's EXPOSE
STARTUP_LIMIT_SECONDS = 180  # a bound on a stuck server, not a speed target


@pytest.fixture(scope="module")
def built_image() -> str:
    why = image.missing()
    if why:
        pytest.skip(why)
    return image.build_image(TAG)


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        image.podman("run", "--rm", *image.LIMITS, *arguments),
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_dagster_in_the_image_lists_the_definitions_as_a_user_not_root(built_image: str) -> None:
    from eda_lake.definitions import defs

    listed = _run(
        built_image, "sh", "-c",
        "id -u && dagster definitions validate -m eda_lake.definitions >&2"
        " && dagster asset list -m eda_lake.definitions",
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    uid, *assets = listed.stdout.split()
    assert uid != "0"
    # What `dagster asset list` lists: every asset but the external ones (the hubs).
    here = dg.AssetSelection.all().resolve(defs.resolve_asset_graph())
    assert set(assets) == {key.to_user_string() for key in here}


def test_the_image_holds_what_dagster_on_kubernetes_loads(built_image: str) -> None:
    """The webserver, the daemon and the runs use this image: the instance they load names
    dagster-k8s's run launcher, Postgres storage and the lake's compute log manager."""
    loaded = _run(
        built_image, "python", "-c",
        "from dagster_k8s import K8sRunLauncher;"
        "from dagster_postgres import PostgresRunStorage;"
        "from eda_lake.defs.compute_logs import BlobComputeLogManager",
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    for command in ("dagster-webserver", "dagster-daemon"):
        assert _run(built_image, command, "--help").returncode == 0, command


@pytest.fixture
def code_server(built_image: str) -> Iterator[DagsterGrpcClient]:
    """The image's own command in a container, its port published on 127.0.0.1 only."""
    port = free_port()
    name = f"eda-lake-code-server-{port}"
    subprocess.run(
        image.podman("run", "--detach", "--name", name, *image.LIMITS,
                     "--publish", f"127.0.0.1:{port}:{PORT}", built_image),
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        client = DagsterGrpcClient(port=port, host="127.0.0.1")
        deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
        while not _serving(client):
            if time.monotonic() > deadline:
                logs = subprocess.run(image.podman("logs", name), capture_output=True, text=True)
                pytest.fail(f"the code server never served:\n{logs.stdout}{logs.stderr}")
            time.sleep(0.5)
        yield client
    finally:
        subprocess.run(image.podman("rm", "--force", name), check=False, capture_output=True)


def _serving(client: DagsterGrpcClient) -> bool:
    try:
        status: object = client.health_check_query()  # type: ignore[no-untyped-call]
    except Exception:  # refused or reset while the container starts
        return False
    return status == "SERVING"


def test_a_container_serves_the_code_location_over_grpc(code_server: DagsterGrpcClient) -> None:
    served = deserialize_value(code_server.list_repositories(), ListRepositoriesResponse)
    [symbol] = served.repository_symbols
    pointer = served.repository_code_pointer_dict[symbol.repository_name]
    assert isinstance(pointer, ModuleCodePointer)
    assert (pointer.module, pointer.fn_name) == ("eda_lake.definitions", "defs")
    assert served.executable_path == "/opt/eda-lake/venv/bin/python3"  # the image's, not ours
