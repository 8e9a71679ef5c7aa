"""Validation of the names that become paths, Azure resource names, AMQP addresses or tables.

A name is checked once, where it enters the system (catalogue, CLI, blob path), so that no
later code builds a path or an Azure call from something unchecked. The Event Hubs rules are
Azure's (Microsoft.EventHub resource names), kept lower case where the name is also a blob
container or a directory on a case-insensitive file system.
"""

from __future__ import annotations

import re

from eda_lake.shared.errors import UserError

# Event hub (entity): 1-256 letters, digits, '.', '-' or '_', starting and ending with a
# letter or digit.
_HUB = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,254}[a-z0-9])?$")
# Consumer group: the same characters, 1-50 of them.
_CONSUMER_GROUP = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,48}[a-z0-9])?$")
# Namespace: 6-50 letters, digits and hyphens, starting with a letter, ending with a letter
# or digit.
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]$")
# A team is the consumer group of its subscriptions, and a Dagster owner (`team:<name>`).
_TEAM = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
# An event is a Dagster asset, and its silver table a folder, a Delta table and a DuckDB
# view: PascalCase ASCII, which maps to exactly one snake_case table name.
_EVENT = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
_TABLE = re.compile(r"^[a-z][a-z0-9_]{0,127}$")
# A catalogue is a TOML file in the schemas' folder, named without a folder.
_CATALOGUE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,122}\.toml$")
CATALOGUE_FILE = "catalogue.toml"  # the catalogue read unless another file is named
_ENTITY_CHARACTERS = (
    "lower-case letters, digits, '.', '-' or '_', starting and ending with a letter or digit"
)


class InvalidNameError(UserError, ValueError):
    """A name breaks the rules of the place it is going to be used in."""


def _check(pattern: re.Pattern[str], kind: str, name: str, rule: str) -> str:
    if not isinstance(name, str) or not pattern.fullmatch(name):
        raise InvalidNameError(f"invalid {kind} name {name!r}: {rule}")
    return name


def catalogue_file_name(name: str) -> str:
    return _check(
        _CATALOGUE_FILE,
        "catalogue file",
        name,
        "name a .toml file in the schemas' folder, without a folder (e.g. catalogue.toml)",
    )


def poison_queue_name(queue: str) -> str:
    """The queue that holds a discovery queue's messages that are no notifications."""
    return f"{queue}-poison"


def hub_name(name: str) -> str:
    return _check(_HUB, "event hub", name, f"use 1-256 {_ENTITY_CHARACTERS}")


def consumer_group_name(name: str) -> str:
    return _check(_CONSUMER_GROUP, "consumer group", name, f"use 1-50 {_ENTITY_CHARACTERS}")


def namespace_name(name: str) -> str:
    return _check(
        _NAMESPACE,
        "Event Hubs namespace",
        name,
        "use 6-50 letters, digits or hyphens, starting with a letter and ending with a letter "
        "or digit",
    )


def team_name(name: str) -> str:
    return _check(
        _TEAM,
        "team",
        name,
        "use 2-32 lower-case letters, digits or hyphens, starting with a letter",
    )


def event_name(name: str) -> str:
    return _check(
        _EVENT,
        "event",
        name,
        "use 1-64 ASCII letters or digits in PascalCase, starting with a capital letter "
        "(e.g. CustomerCreated)",
    )


def table_name(name: str) -> str:
    return _check(
        _TABLE,
        "table",
        name,
        "use 1-128 lower-case ASCII letters, digits or '_', starting with a letter",
    )


def is_table_name(name: str) -> bool:
    """Whether a folder of a lake area can be a table (others are not the lake's)."""
    return _TABLE.fullmatch(name) is not None
