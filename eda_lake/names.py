"""Validation of the names that become paths, Azure resource names or AMQP addresses.

A name is checked once, where it enters the system (catalogue, CLI, blob path), so that no
later code builds a path or an Azure call from something unchecked.
"""

from __future__ import annotations

import re

# Event Hubs entity and consumer group names: letters, digits, '.', '-', '_'; start and end
# with a letter or digit; at most 256 characters. We keep them lower case so that the same
# name is also a valid blob container and directory name on every file system.
_ENTITY = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,254}[a-z0-9])?$")
# Event Hubs namespace: 6-50 characters, letters, digits and hyphens, starts with a letter,
# ends with a letter or digit.
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]$")
_TEAM = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")


class InvalidNameError(ValueError):
    """A name breaks the rules of the place it is going to be used in."""


def _check(pattern: re.Pattern[str], kind: str, name: str, rule: str) -> str:
    if not isinstance(name, str) or not pattern.fullmatch(name):
        raise InvalidNameError(f"invalid {kind} name {name!r}: {rule}")
    return name


def hub_name(name: str) -> str:
    return _check(
        _ENTITY,
        "event hub",
        name,
        "use 1-256 lower-case letters, digits, '.', '-' or '_', starting and ending with a "
        "letter or digit",
    )


def consumer_group_name(name: str) -> str:
    return _check(
        _ENTITY,
        "consumer group",
        name,
        "use 1-256 lower-case letters, digits, '.', '-' or '_', starting and ending with a "
        "letter or digit",
    )


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
