"""The exclusive file lock that keeps one capture run at a time, across processes."""

from __future__ import annotations

import multiprocessing
import stat
from multiprocessing.synchronize import Event
from pathlib import Path

from eda_lake.embedded.durable import exclusive_file_lock


def _hold(path: str, entered: Event, release: Event) -> None:
    with exclusive_file_lock(Path(path)):
        entered.set()
        release.wait(30)


def test_a_second_holder_waits_for_the_first_and_a_killed_one_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "state" / "capture.lock"
    context = multiprocessing.get_context("spawn")
    entered, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(str(path), entered, release))
    holder.start()
    assert entered.wait(30)
    second_entered, second_release = context.Event(), context.Event()
    second = context.Process(target=_hold, args=(str(path), second_entered, second_release))
    second.start()
    assert not second_entered.wait(1.0)  # the first holds it
    holder.kill()  # however the first ends, its lock ends with it
    holder.join(30)
    assert second_entered.wait(30)
    second_release.set()
    second.join(30)
    assert second.exitcode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
