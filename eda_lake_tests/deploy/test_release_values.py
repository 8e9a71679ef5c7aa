"""The Helm values a deployment installs (`python -m infra_scripts.release_values`): the
project's values with every Dagster image set to the one pushed, and nothing else changed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra_scripts.release_values import VALUES, ValuesError, main, release_values

IMAGE = "dvedaacrx7k2.azurecr.io/eda-lake"
CLIENT_ID = ("serviceAccount", "annotations", "azure.workload.identity/client-id")


def _filled() -> dict[str, Any]:
    """The shipped values with the one placeholder besides the tags filled in."""
    values: dict[str, Any] = yaml.safe_load(VALUES.read_text())
    values["serviceAccount"]["annotations"][CLIENT_ID[-1]] = "a client id"
    return values


def _images(values: dict[str, Any]) -> list[dict[str, Any]]:
    deployments = values["dagster-user-deployments"]["deployments"]
    return [
        values["dagsterWebserver"]["image"],
        values["dagsterDaemon"]["image"],
        *(deployment["image"] for deployment in deployments),
    ]


def test_every_dagster_image_is_the_one_pushed_and_nothing_else_changes() -> None:
    filled = _filled()
    released = release_values(copy.deepcopy(filled), IMAGE, "0a1b2c3")
    images = _images(released)
    assert len(images) == 3
    for image in images:
        assert (image["repository"], image["tag"]) == (IMAGE, "0a1b2c3")
    for image in _images(filled):
        image.update(repository=IMAGE, tag="0a1b2c3")
    assert released == filled


def test_a_placeholder_left_is_refused_naming_where() -> None:
    with pytest.raises(ValuesError, match=r"placeholders at serviceAccount\.annotations\."):
        release_values(yaml.safe_load(VALUES.read_text()), IMAGE, "0a1b2c3")


def test_values_without_a_code_location_are_refused() -> None:
    values = _filled()
    values["dagster-user-deployments"]["deployments"] = []
    with pytest.raises(ValuesError, match=r"no dagster-user-deployments\.deployments"):
        release_values(values, IMAGE, "0a1b2c3")


def test_values_without_an_image_are_refused_naming_it() -> None:
    values = _filled()
    del values["dagsterDaemon"]["image"]
    with pytest.raises(ValuesError, match=r"no dagsterDaemon\.image"):
        release_values(values, IMAGE, "0a1b2c3")


def test_the_command_writes_the_values_or_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    filled = tmp_path / "values.yaml"
    filled.write_text(yaml.safe_dump(_filled()))
    assert main(["--image", IMAGE, "--tag", "0a1b2c3", "--values", str(filled)]) == 0
    written = yaml.safe_load(capsys.readouterr().out)
    assert {image["tag"] for image in _images(written)} == {"0a1b2c3"}
    assert main(["--image", IMAGE, "--tag", "0a1b2c3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"release values: error: {VALUES}: ")
