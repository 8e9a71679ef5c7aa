"""Catalogues for tests and benchmarks: the project's own, plus events of other teams."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from eda_lake.settings import REPO_ROOT


def schemas_with_event(directory: Path, schema_file: str, schema: Any, entry: str) -> Path:
    """The project's schemas copied to `directory`, with `schema` written to `schema_file`
    (relative to it) and the catalogue entry `entry` (TOML) appended."""
    shutil.copytree(REPO_ROOT / "schemas", directory)
    path = directory / schema_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema))
    with (directory / "catalogue.toml").open("a") as catalogue:
        catalogue.write(entry)
    return directory


def schemas_with_capture_window(directory: Path, seconds: int) -> Path:
    """The project's schemas copied to `directory`, the catalogue's capture window set to
    `seconds`."""
    shutil.copytree(REPO_ROOT / "schemas", directory)
    catalogue = directory / "catalogue.toml"
    text = catalogue.read_text()
    assert "window_seconds = 300\n" in text, "the catalogue's capture window moved"
    catalogue.write_text(text.replace("window_seconds = 300\n", f"window_seconds = {seconds}\n"))
    return directory
