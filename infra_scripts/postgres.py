"""Debian's PostgreSQL for tests: a throwaway cluster on a free loopback port, stopped by
`pg_ctl`.

Postgres refuses to run as root, and CI runs as root: the cluster is made and started as the
`postgres` user. Where `/etc/passwd` is readable by root only (as here), that user's own
processes cannot look themselves up, so they run through nss_wrapper with a passwd and group
file of their own (`libnss-wrapper`, which `make postgres` installs).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra_scripts.ports import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "eda"  # the cluster's superuser, trusted on loopback: a throwaway for tests
INSTALL = "apt-get install -y postgresql libnss-wrapper"


@dataclass
class Postgres:
    data: Path
    port: int
    environment: dict[str, str]  # how pg_ctl runs as the postgres user
    as_postgres: list[str]

    @property
    def url(self) -> str:
        """A SQLAlchemy URL with the psycopg2 driver (SQLAlchemy 2.1 would pick psycopg 3)."""
        return f"postgresql+psycopg2://{USER}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        stop = [str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
        subprocess.run(
            [*self.as_postgres, *stop], env=self.environment, check=False, capture_output=True
        )
        shutil.rmtree(self.data.parent, ignore_errors=True)


def missing() -> str | None:
    """Why Postgres cannot start here (None: it can), naming the install command."""
    if not (BIN / "initdb").exists():
        return f"PostgreSQL 15 is not installed ({BIN}): {INSTALL}"
    if os.geteuid() == 0 and not _nss_wrapper():
        return f"libnss_wrapper is not installed: {INSTALL}"
    return None


def _nss_wrapper() -> str | None:
    found = sorted(Path("/usr/lib").glob("*/libnss_wrapper.so"))
    return str(found[0]) if found else None


def start_postgres() -> Postgres:
    """A cluster of its own in a fresh folder under the system's temporary one (the postgres
    user must reach it: a test's own temporary folder is its owner's alone), started and
    listening on 127.0.0.1 only; `stop` removes it."""
    workdir = Path(tempfile.mkdtemp(prefix="eda-lake-postgres-"))
    workdir.chmod(0o755)  # the postgres user reaches its data folder through it
    data = workdir / "data"
    data.mkdir()
    environment, as_postgres = dict(os.environ), []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        shutil.chown(data, owner.pw_uid, owner.pw_gid)
        passwd, group = workdir / "passwd", workdir / "group"
        passwd.write_text(f"postgres:x:{owner.pw_uid}:{owner.pw_gid}::{workdir}:/bin/sh\n")
        group.write_text(f"postgres:x:{owner.pw_gid}:\n")
        for listed in (passwd, group):  # read by the postgres user, whatever the umask
            listed.chmod(0o644)
        environment |= {
            "LD_PRELOAD": _nss_wrapper() or "",
            "NSS_WRAPPER_PASSWD": str(passwd),
            "NSS_WRAPPER_GROUP": str(group),
        }
        as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_postgres, str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", USER,
         "--no-sync", "-E", "UTF8"],
        env=environment, check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    options = f"-k {data} -p {port} -h 127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_postgres, str(BIN / "pg_ctl"), "-D", str(data), "-o", options,
         "-l", str(data / "server.log"), "-w", "start"],
        env=environment, check=True, capture_output=True,
    )  # fmt: skip
    return Postgres(data, port, environment, as_postgres)
