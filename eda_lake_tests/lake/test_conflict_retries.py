"""Commit conflicts are decided again after jittered, growing pauses, a bounded number of
times; any other failure is not retried."""

from __future__ import annotations

import pytest
import tenacity

from eda_lake.lake.delta import commits


def _recorded_pauses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pauses: list[int] = []

    def wait(state: tenacity.RetryCallState) -> float:
        pauses.append(state.attempt_number)
        return 0.0

    monkeypatch.setattr(commits, "CONFLICT_WAIT", wait)
    return pauses


def test_a_conflict_is_decided_again_after_a_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses = _recorded_pauses(monkeypatch)
    calls: list[int] = []

    def attempt() -> str:
        calls.append(len(calls))
        if len(calls) < 3:
            raise commits.ConcurrentCommitError("another writer committed first")
        return "landed"

    assert commits.with_retries(attempt, "testing") == "landed"
    assert len(calls) == 3
    assert pauses == [1, 2]  # one pause before each new decision


def test_endless_conflicts_end_in_one_line_naming_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses = _recorded_pauses(monkeypatch)

    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        raise commits.ConcurrentCommitError("another writer committed first")

    with pytest.raises(
        commits.ConcurrentCommitError, match="building x: still conflicting after 3"
    ):
        commits.with_retries(attempt, "building x", limit=3)
    assert len(calls) == 4
    assert pauses[:3] == [1, 2, 3]  # (the wait after the last is worked out, not slept)


def test_other_failures_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses = _recorded_pauses(monkeypatch)
    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        raise OSError("the disk is full")

    with pytest.raises(OSError, match="disk is full"):
        commits.with_retries(attempt, "testing")
    assert calls == [1] and pauses == []


def test_pauses_are_jittered_and_bounded() -> None:
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = 30
    waits = {commits.CONFLICT_WAIT(state) for _ in range(50)}
    assert len(waits) > 40  # random, not in step with another writer's
    assert all(0 <= w <= 1.0 for w in waits)
