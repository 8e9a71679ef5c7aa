"""The embedded default creates its state owner-only, whatever the umask."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from eda_lake.capture.runtime import run_capture
from eda_lake.embedded.owner_only import StateDirectoryError, owner_only_dir, owner_only_tree
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake_tests.simulation.helpers import provisioned


def _modes(home: Path) -> dict[str, str]:
    found = {".": oct(stat.S_IMODE(home.stat().st_mode))}
    for path in home.rglob("*"):
        found[str(path.relative_to(home))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


def test_a_demo_like_run_leaves_only_owner_only_state(tmp_path: Path, permissive_umask) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)  # made beforehand, as `mkdir -p` or `make dev` would
    home.chmod(0o755)
    settings = Settings(home=home)
    simulation = provisioned(settings)
    simulation.run_chain(seed=4, customers=30)  # partners' files and dead letters included
    run_capture(settings, flush=True)
    lake = Lake(settings, simulation.catalogue, pii_key="a-test-key-that-is-long-enough")
    lake.ingest()
    lake.silver()
    lake.gold()
    simulation.close()
    modes = _modes(home)
    expected = {
        "lake/bronze",
        "lake/quarantine",
        "hub",
        "registry.sqlite3",
        "teams/dead_letters.sqlite3",
        "teams/product.sqlite3",
        "teams/customer.sqlite3",
        "teams/conversions.sqlite3",
    }
    assert expected <= set(modes), sorted(modes)
    wrong = {
        name: mode
        for name, mode in modes.items()
        if mode != ("0o700" if (home / name).is_dir() else "0o600")
    }
    assert wrong == {}, wrong


def test_an_existing_directory_is_tightened(tmp_path: Path, permissive_umask) -> None:
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o775)
    owner_only_dir(loose / "a" / "b")
    assert oct(stat.S_IMODE((loose / "a").stat().st_mode)) == "0o700"
    assert oct(stat.S_IMODE((loose / "a" / "b").stat().st_mode)) == "0o700"
    owner_only_dir(loose)
    assert oct(stat.S_IMODE(loose.stat().st_mode)) == "0o700"


def test_a_tree_open_to_others_is_tightened_whole(tmp_path: Path, permissive_umask) -> None:
    loose = tmp_path / "instance"
    (loose / "history" / "runs").mkdir(parents=True)
    (loose / "history" / "runs.db").write_text("")
    (loose / "dagster.yaml").write_text("")
    outside = tmp_path / "outside.txt"
    outside.write_text("")
    (loose / "link").symlink_to(outside)  # not ours to tighten through a link
    owner_only_tree(loose)
    modes = _modes(loose)
    assert modes.pop("link") == oct(stat.S_IMODE((loose / "link").lstat().st_mode))
    assert modes == {
        ".": "0o700", "history": "0o700", "history/runs": "0o700",
        "history/runs.db": "0o600", "dagster.yaml": "0o600",
    }  # fmt: skip
    assert oct(stat.S_IMODE(outside.stat().st_mode)) == "0o644"
    (loose / "later.db").write_text("")  # what this process writes from now on
    assert oct(stat.S_IMODE((loose / "later.db").stat().st_mode)) == "0o600"


def test_a_missing_tree_is_not_created_when_asked_not_to(tmp_path: Path) -> None:
    owner_only_tree(tmp_path / "nowhere", create=False)
    assert not (tmp_path / "nowhere").exists()


def test_a_file_that_cannot_change_is_left_and_the_rest_tightened(
    tmp_path: Path, permissive_umask, monkeypatch: pytest.MonkeyPatch
) -> None:
    loose = tmp_path / "instance"
    (loose / "storage").mkdir(parents=True)
    (loose / "dagster.yaml").write_text("")  # mounted read-only, as from a ConfigMap
    (loose / "storage" / "run.log").write_text("")
    chmod = Path.chmod

    def read_only_mount(path: Path, mode: int, **options: Any) -> None:
        if path.name == "dagster.yaml":
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        chmod(path, mode, **options)

    monkeypatch.setattr(Path, "chmod", read_only_mount)
    owner_only_tree(loose)
    assert _modes(loose) == {
        ".": "0o700", "storage": "0o700", "storage/run.log": "0o600", "dagster.yaml": "0o644"
    }  # fmt: skip


def test_a_folder_every_user_writes_in_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    shared = tmp_path / "scratch"
    shared.mkdir()
    shared.chmod(0o1777)  # as /tmp
    with pytest.raises(StateDirectoryError, match=r"sticky bit .* point EDA_LAKE_HOME"):
        owner_only_dir(shared)
    with pytest.raises(StateDirectoryError, match="sticky bit"):
        owner_only_tree(shared)  # an instance there: nothing in it is walked either
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    owner_only_dir(shared / "eda-lake")  # a folder of its own inside it is fine
    assert stat.S_IMODE((shared / "eda-lake").stat().st_mode) == 0o700


def test_a_folder_of_others_folders_is_refused(tmp_path: Path) -> None:
    homes = tmp_path / "homes"
    (homes / "someone").mkdir(parents=True)
    homes.chmod(0o755)
    try:
        os.chown(homes / "someone", 54321, 54321)  # another user's home, as in /home
    except PermissionError:
        pytest.skip("only root can give a folder to another user")
    with pytest.raises(StateDirectoryError, match=r"others' folders \(someone\)"):
        owner_only_dir(homes)
    assert stat.S_IMODE(homes.stat().st_mode) == 0o755


def test_the_users_home_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "me"
    home.mkdir()
    home.chmod(0o755)
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(StateDirectoryError, match="your home folder"):
        owner_only_tree(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o755


def test_tightening_a_tree_keeps_the_owners_own_bits(tmp_path: Path, permissive_umask) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    script = instance / "hook.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    owner_only_tree(instance)
    assert stat.S_IMODE(script.stat().st_mode) == 0o700  # others' bits gone, its own kept
