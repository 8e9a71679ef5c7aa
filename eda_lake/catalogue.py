"""The event catalogue: teams, events, their hubs, keys, schemas and subscribers.

Read from a catalogue file (`schemas/catalogue.toml` by default) and the `.avsc` files beside
it. Everything that needs to know which events exist (provisioning, publishers, subscribers,
the lake's silver layer) asks the catalogue, so adding an event is one entry and one schema
file.

A hub carries one event (its settings on the event's entry) or several events of one
aggregate (a `[hubs.<name>]` table holds the hub's partition key, partitions and retention;
the events name it). One team owns a hub: every event on it is that team's.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from eda_lake.registry.schema import AvroSchema, load_schema_file
from eda_lake.shared import names
from eda_lake.shared.errors import UserError

DATALAKE_CONSUMER_GROUP = "datalake"
# Settings a shared hub's `[hubs.<name>]` table holds, never its events' entries.
HUB_SETTINGS = ("partition_key", "partitions", "retention_days")


class CatalogueError(UserError, ValueError):
    """The catalogue file is inconsistent or refers to something missing."""


@dataclass(frozen=True)
class Team:
    name: str
    description: str


@dataclass(frozen=True)
class CaptureSettings:
    """Event Hubs Capture settings applied to every hub."""

    encoding: str
    window_seconds: int
    window_bytes: int
    skip_empty_archives: bool
    archive_name_format: str

    @property
    def codec(self) -> str:
        """The Avro codec Capture writes with this encoding."""
        return "deflate" if self.encoding == "AvroDeflate" else "null"


@dataclass(frozen=True)
class EventSpec:
    """One event type: its owner, its hub (with that hub's key, partitions and retention)
    and its schema."""

    name: str
    team: str
    hub: str
    partition_key: str
    schema_path: Path
    subscribers: tuple[str, ...]
    partitions: int
    retention_days: int

    @cached_property
    def schema(self) -> AvroSchema:
        return load_schema_file(self.schema_path)

    @property
    def consumer_groups(self) -> tuple[str, ...]:
        """The subscribing teams' groups, then the lake's."""
        return (*self.subscribers, DATALAKE_CONSUMER_GROUP)

    def cloudevents_type(self) -> str:
        """CloudEvents `type`: the Avro full name, e.g. eda_lake.customer.CustomerCreated."""
        return self.schema.full_name


@dataclass(frozen=True)
class Hub:
    """One hub: its owner, its settings and the events it carries, in catalogue order."""

    name: str
    team: str
    partition_key: str
    partitions: int
    retention_days: int
    events: tuple[EventSpec, ...]

    @property
    def subscribers(self) -> tuple[str, ...]:
        """The teams subscribed to any of its events: one consumer group each."""
        return tuple(dict.fromkeys(team for e in self.events for team in e.subscribers))

    @property
    def consumer_groups(self) -> tuple[str, ...]:
        """The subscribing teams' groups, then the lake's."""
        return (*self.subscribers, DATALAKE_CONSUMER_GROUP)

    def carrying(self, cloudevents_type: str) -> EventSpec | None:
        """The event of this CloudEvents type on this hub, if it carries one."""
        return next((e for e in self.events if e.cloudevents_type() == cloudevents_type), None)


@dataclass(frozen=True)
class Catalogue:
    schema_group: str
    compatibility: str
    source_prefix: str
    teams: dict[str, Team]
    events: dict[str, EventSpec]
    capture: CaptureSettings

    @cached_property
    def hubs(self) -> dict[str, Hub]:
        """Every hub, in the order of its first event, with the events it carries."""
        carried: dict[str, list[EventSpec]] = {}
        for spec in self.events.values():
            carried.setdefault(spec.hub, []).append(spec)
        return {
            name: Hub(
                name,
                team=on[0].team,
                partition_key=on[0].partition_key,
                partitions=on[0].partitions,
                retention_days=on[0].retention_days,
                events=tuple(on),
            )
            for name, on in carried.items()
        }

    def event(self, name: str) -> EventSpec:
        try:
            return self.events[name]
        except KeyError:
            known = ", ".join(sorted(self.events))
            raise CatalogueError(f"unknown event {name!r}; the catalogue has: {known}") from None

    def subscriptions_of(self, team: str) -> list[EventSpec]:
        return [e for e in self.events.values() if team in e.subscribers]

    def source(self, team: str) -> str:
        """CloudEvents `source` of the events a team publishes."""
        return f"{self.source_prefix}/{team}"


def _require(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise CatalogueError(f"{where}: missing key {key!r}")
    return table[key]


def _teams(table: dict[str, Any], where: str) -> dict[str, Team]:
    """The teams, by names checked against the rules of what they become (consumer groups)."""
    try:
        return {
            names.team_name(name): Team(name, str(body.get("description", "")))
            for name, body in table.items()
        }
    except names.InvalidNameError as exc:
        raise names.InvalidNameError(f"{where}: {exc}") from None


def _entry_names(body: dict[str, Any], where: str) -> tuple[str, str, str, tuple[str, ...]]:
    """An event entry's name, team, hub and subscribers, each checked against the rules of
    what it becomes (an Azure resource, a folder, a table), before anything is built from it."""
    try:
        return (
            names.event_name(str(_require(body, "name", where))),
            str(_require(body, "team", where)),
            names.hub_name(str(_require(body, "hub", where))),
            tuple(names.consumer_group_name(str(s)) for s in body.get("subscribers", [])),
        )
    except names.InvalidNameError as exc:
        raise names.InvalidNameError(f"{where}: {exc}") from None


def _schema_path(schema_dir: Path, relative: str, where: str) -> Path:
    """A schema file inside the catalogue's folder: never a file elsewhere on the machine."""
    path = schema_dir / relative
    if not path.resolve().is_relative_to(schema_dir.resolve()):
        raise CatalogueError(
            f"{where}: schema {relative!r} is outside {schema_dir}; name a file below it"
        )
    return path


def _shared_hubs(raw: dict[str, Any], defaults: dict[str, Any], path: Path) -> dict[str, Any]:
    """The `[hubs.<name>]` tables: each hub's partition key, partitions and retention."""
    shared: dict[str, Any] = {}
    for name, body in raw.get("hubs", {}).items():
        where = f"{path} [hubs.{name}]"
        try:
            hub = names.hub_name(name)
        except names.InvalidNameError as exc:
            raise names.InvalidNameError(f"{where}: {exc}") from None
        unknown = set(body) - set(HUB_SETTINGS)
        if unknown:
            raise CatalogueError(
                f"{where}: unknown key(s) {sorted(unknown)}; a hub's table holds "
                f"{', '.join(HUB_SETTINGS)}"
            )
        shared[hub] = _hub_values(body, defaults, where)
    return shared


def _hub_values(body: dict[str, Any], defaults: dict[str, Any], where: str) -> dict[str, Any]:
    """A hub's settings from the table that declares them, `[hub_defaults]` filling in."""
    return {
        "partition_key": str(_require(body, "partition_key", where)),
        "partitions": int(body.get("partitions", defaults.get("partitions", 4))),
        "retention_days": int(body.get("retention_days", defaults.get("retention_days", 7))),
    }


def _hub_settings(
    body: dict[str, Any], hub: str, shared: dict[str, Any], defaults: dict[str, Any], where: str
) -> dict[str, Any]:
    """An event's hub settings: its shared hub's table, else its own entry."""
    if hub in shared:
        own = [key for key in HUB_SETTINGS if key in body]
        if own:
            raise CatalogueError(
                f"{where}: {', '.join(own)} set on an event of hub {hub!r}, which [hubs.{hub}] "
                f"declares; set them in [hubs.{hub}] only"
            )
        return dict(shared[hub])
    return _hub_values(body, defaults, where)


def _check_hub_sharing(
    spec: EventSpec, hub_events: dict[str, EventSpec], shared: dict[str, Any], where: str
) -> None:
    """A second event on a hub only when `[hubs.<hub>]` declares it, and of the same team."""
    first = hub_events.get(spec.hub)
    if first is None:
        return
    if spec.hub not in shared:
        raise CatalogueError(
            f"{where}: events {first.name!r} and {spec.name!r} are both on hub {spec.hub!r}; "
            f"declare [hubs.{spec.hub}] with its partition_key, partitions and retention_days "
            "to share it, or give each event its own hub"
        )
    if first.team != spec.team:
        raise CatalogueError(
            f"{where}: hub {spec.hub!r} would be owned by team {first.team!r} ({first.name}) "
            f"and team {spec.team!r} ({spec.name}); one team owns a hub: give "
            f"{spec.name} a hub of its team's"
        )


def load_catalogue(schema_dir: Path, file: str = names.CATALOGUE_FILE) -> Catalogue:
    """Load and validate the catalogue `file` in `schema_dir`, including every schema it
    names."""
    path = schema_dir / names.catalogue_file_name(file)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogueError(
            f"no catalogue at {path}; set EDA_LAKE_SCHEMA_DIR to the folder holding it and "
            f"EDA_LAKE_CATALOGUE_FILE to its file name ({names.CATALOGUE_FILE} unless set)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: not valid TOML: {exc}") from None

    teams = _teams(_require(raw, "teams", str(path)), f"{path} [teams]")
    defaults = raw.get("hub_defaults", {})
    shared = _shared_hubs(raw, defaults, path)
    cap = _require(raw, "capture", str(path))
    capture = CaptureSettings(
        encoding=str(cap.get("encoding", "Avro")),
        window_seconds=int(cap.get("window_seconds", 300)),
        window_bytes=int(cap.get("window_bytes", 314_572_800)),
        skip_empty_archives=bool(cap.get("skip_empty_archives", True)),
        archive_name_format=str(_require(cap, "archive_name_format", f"{path} [capture]")),
    )
    if capture.encoding not in ("Avro", "AvroDeflate"):
        raise CatalogueError(
            f"{path} [capture]: encoding {capture.encoding!r} is not Avro or AvroDeflate"
        )

    events: dict[str, EventSpec] = {}
    hub_events: dict[str, EventSpec] = {}  # each hub's first event
    for index, body in enumerate(_require(raw, "events", str(path))):
        where = f"{path} events[{index}]"
        name, team, hub, subscribers = _entry_names(body, where)
        for member in (team, *subscribers):
            if member not in teams:
                raise CatalogueError(f"{where} ({name}): team {member!r} is not in [teams]")
        if name in events:
            raise CatalogueError(f"{where}: event {name!r} appears twice")
        spec = EventSpec(
            name=name,
            team=team,
            hub=hub,
            schema_path=_schema_path(schema_dir, str(_require(body, "schema", where)), where),
            subscribers=subscribers,
            **_hub_settings(body, hub, shared, defaults, where),
        )
        _check_hub_sharing(spec, hub_events, shared, where)
        field_names = {f["name"] for f in spec.schema.parsed["fields"]}
        if spec.partition_key not in field_names:
            raise CatalogueError(
                f"{where} ({name}): partition_key {spec.partition_key!r} is not a field of "
                f"{spec.schema_path.name}; fields are {sorted(field_names)}"
            )
        events[name] = spec
        hub_events.setdefault(hub, spec)

    empty = sorted(set(shared) - set(hub_events))
    if empty:
        raise CatalogueError(
            f"{path} [hubs.{empty[0]}]: no event names hub {empty[0]!r}; remove the table or "
            "place events on it"
        )
    return Catalogue(
        schema_group=str(_require(raw, "schema_group", str(path))),
        compatibility=str(raw.get("compatibility", "Backward")),
        source_prefix=str(raw.get("cloudevents_source_prefix", "/eda-lake")).rstrip("/"),
        teams=teams,
        events=events,
        capture=capture,
    )


def describe(catalogue: Catalogue) -> str:
    """A JSON summary, for the CLI and Dagster metadata."""
    return json.dumps(
        {
            name: {
                "team": e.team,
                "hub": e.hub,
                "partition_key": e.partition_key,
                "consumer_groups": list(e.consumer_groups),
            }
            for name, e in catalogue.events.items()
        },
        indent=2,
    )
