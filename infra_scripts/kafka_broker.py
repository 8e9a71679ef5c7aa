"""A real Kafka-protocol broker for tests: noida-db's binary on a free loopback port.

`make test` installs `noida-db` from PyPI (a dev extra). Its `noida-db` console script is a
Python wrapper that does not pass signals on, so this starts the static binary inside the
package directly, in its own process group, and stops it by PID; it needs SIGKILL to stop,
which it survives: topics, messages and committed offsets are in the data directory.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import noida_db

BINARY = Path(noida_db.__file__).resolve().parent / "noida-db"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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

    def stop(self) -> None:
        """SIGKILL, as the broker needs: what it acknowledged is already on disk."""
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
