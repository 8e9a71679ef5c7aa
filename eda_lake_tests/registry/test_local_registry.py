from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from eda_lake.registry.base import (
    IncompatibleSchemaError,
    InvalidSchemaIdError,
    SchemaGroupNotFoundError,
    SchemaNotFoundError,
)
from eda_lake.registry.compatibility import Compatibility
from eda_lake.registry.embedded import EmbeddedSchemaRegistry
from eda_lake_tests.registry.evolution import V1, V2, V3, VERSIONS

GROUP = "evolution"


def _registry(tmp_path: Path, mode: Compatibility) -> EmbeddedSchemaRegistry:
    registry = EmbeddedSchemaRegistry(tmp_path / "registry.sqlite3")
    registry.ensure_group(GROUP, mode)
    return registry


def test_register_is_idempotent_and_versions(tmp_path: Path) -> None:
    registry = _registry(tmp_path, Compatibility.BACKWARD)
    first = registry.register(GROUP, V1)
    assert registry.register(GROUP, V1) == first
    second = registry.register(GROUP, V2)
    assert (first.version, second.version) == (1, 2)
    assert first.id != second.id
    assert registry.get(second.id).schema.canonical == V2.canonical
    assert registry.get_version(GROUP, "test.evolution.Thing", 1).properties == first
    assert registry.versions(GROUP, "test.evolution.Thing") == [1, 2]
    assert registry.find(GROUP, V3) is None


def test_refusal_names_field_and_rule_and_registers_nothing(tmp_path: Path) -> None:
    registry = _registry(tmp_path, Compatibility.BACKWARD)
    registry.register(GROUP, V1)
    registry.register(GROUP, V2)
    with pytest.raises(IncompatibleSchemaError) as refused:
        registry.register(GROUP, V3)
    message = str(refused.value)
    assert "Thing.region" in message and "missing-field" in message
    assert "version 1" in message and "version 2" in message  # transitive
    assert registry.versions(GROUP, "test.evolution.Thing") == [1, 2]


def test_mode_none_accepts_all_six_versions(tmp_path: Path) -> None:
    registry = _registry(tmp_path, Compatibility.NONE)
    assert [registry.register(GROUP, v).version for v in VERSIONS] == [1, 2, 3, 4, 5, 6]


def test_state_survives_a_new_process_view(tmp_path: Path) -> None:
    registry = _registry(tmp_path, Compatibility.FULL)
    props = registry.register(GROUP, V1)
    registry.close()
    reopened = EmbeddedSchemaRegistry(tmp_path / "registry.sqlite3")
    assert reopened.get(props.id).properties == props
    assert reopened.group_compatibility(GROUP) is Compatibility.FULL


def test_unknown_ids_and_groups(tmp_path: Path) -> None:
    registry = _registry(tmp_path, Compatibility.BACKWARD)
    with pytest.raises(SchemaNotFoundError, match="0123abcd"):
        registry.get("0123abcd")
    with pytest.raises(InvalidSchemaIdError, match="malformed"):
        registry.get("../etc/passwd")
    with pytest.raises(SchemaGroupNotFoundError, match="provision"):
        registry.register("no-such-group", V1)


def _register_in_child(path: str, index: int) -> str:
    registry = EmbeddedSchemaRegistry(Path(path))
    return registry.register(GROUP, VERSIONS[index % 2]).id


def test_concurrent_processes_agree_on_ids(tmp_path: Path) -> None:
    _registry(tmp_path, Compatibility.BACKWARD).close()
    path = str(tmp_path / "registry.sqlite3")
    # An executor waits for its workers on leaving; `Pool.__exit__` terminates them, which
    # can hang on a worker killed while it holds the task queue's lock.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        ids = list(pool.map(_register_in_child, [path] * 8, range(8)))
    assert len(set(ids)) == 2
    assert EmbeddedSchemaRegistry(Path(path)).versions(GROUP, "test.evolution.Thing") == [1, 2]
