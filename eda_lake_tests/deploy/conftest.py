"""Debian's PostgreSQL for the production instance's tests: one cluster per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra_scripts import postgres
from infra_scripts.postgres import Postgres, start_postgres


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[Postgres]:
    why = postgres.missing()
    if why:
        pytest.skip(why)
    started = start_postgres()
    try:
        yield started
    finally:
        started.stop()
