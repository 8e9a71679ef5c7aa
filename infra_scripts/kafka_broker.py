"""A real Kafka-protocol broker for tests: noida-db's binary on a free loopback port.

`make test` installs `noida-db` from PyPI (a dev extra). Its `noida-db` console script is a
Python wrapper that does not pass signals on, so this starts the static binary inside the
package directly, in its own process group, and stops it by PID; it needs SIGKILL to stop,
which it survives: topics, messages and committed offsets are in the data directory, saved
there every half second or so. A test that stops the broker first waits until what it needs
is saved (`KafkaBroker.wait_until_saved`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import noida_db

from infra_scripts.ports import free_port

BINARY = Path(noida_db.__file__).resolve().parent / "noida-db"


@dataclass(frozen=True)
class SavedState:
    """What the broker last saved to its data directory: what a SIGKILL leaves."""

    high_watermarks: dict[str, dict[int, int]]  # topic -> partition -> its end offset
    committed: dict[tuple[str, str], dict[int, int]]  # (group, topic) -> partition -> offset

    @classmethod
    def parse(cls, saved: dict[str, Any]) -> SavedState:
        """noida-db's `kafka.json`: maps are saved as lists of [key, value] pairs."""
        high_watermarks = {
            name: {number: part["high_watermark"] for number, part in topic["partitions"]}
            for name, topic in saved["topics"]
        }
        committed: dict[tuple[str, str], dict[int, int]] = {}
        for (group, topic, partition), offset in saved["committed_offsets"]:
            committed.setdefault((group, topic), {})[partition] = offset
        return cls(high_watermarks, committed)

    def messages(self, topic: str) -> int:
        return sum(self.high_watermarks.get(topic, {}).values())

    def consumed(self, group: str, topic: str) -> int:
        """How many of the topic's messages the group has committed."""
        return sum(self.committed.get((group, topic), {}).values())


@dataclass
class KafkaBroker:
    """One broker process; `restart` keeps the port and the data directory."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir.parent / f"{self.data_dir.name}.log").open("ab")
        self.process = subprocess.Popen(
            [str(BINARY), "start", "--data-dir", str(self.data_dir), "--only", "kafka",
             "--host", "127.0.0.1", "--kafka-port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as a whole
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"noida-db exited with code {self.process.returncode} before listening; "
                    f"see {log.name}"
                )
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"noida-db did not listen on 127.0.0.1:{self.port} within {timeout} s")

    def saved(self) -> SavedState | None:
        """The state as last saved; None before the first save (or while one is written)."""
        try:
            return SavedState.parse(json.loads((self.data_dir / "kafka.json").read_text()))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def wait_until_saved(
        self, holds: Callable[[SavedState], bool], timeout: float = 30.0
    ) -> SavedState:
        """Polls the saved state until `holds` is true of it: what a test needs to survive
        a stop, saved."""
        deadline = time.monotonic() + timeout
        while (state := self.saved()) is None or not holds(state):
            if time.monotonic() > deadline:
                raise TimeoutError(f"noida-db did not save what was waited for in {timeout} s")
            time.sleep(0.05)
        return state

    def stop(self) -> None:
        """SIGKILL, as the broker needs: it keeps what it last saved."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def start_kafka_broker(data_dir: Path, port: int | None = None) -> KafkaBroker:
    if not BINARY.exists():
        raise FileNotFoundError(f"noida-db's binary is not at {BINARY}; run `make install`")
    broker = KafkaBroker(data_dir, port or free_port())
    broker.start()
    return broker
