"""Several processes at once, as separate Dagster runs or CLI invocations would be."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any


def run_together(
    target: Callable[..., Any], args: tuple[Any, ...], count: int, timeout: float
) -> None:
    """Start `count` spawned processes of `target(*args)` at once; each must exit cleanly."""
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=target, args=args) for _ in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout)
        assert worker.exitcode == 0, f"{target.__name__} exited with {worker.exitcode}"


def stop_group(process: subprocess.Popen[bytes], first: signal.Signals) -> None:
    """Stop a process started in a session of its own, and everything it started: `first`
    to its group (SIGINT as Ctrl-C, SIGTERM as a pod's end), then SIGKILL if it lingers."""
    os.killpg(process.pid, first)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    # What it started may outlive it (a Dagster run's worker still writing the instance's
    # files): nothing of the group is left running once this returns.
    deadline = time.monotonic() + 10
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
        while time.monotonic() < deadline:
            os.killpg(process.pid, 0)  # raises once no process of the group is left
            time.sleep(0.1)
