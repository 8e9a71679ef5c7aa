"""Six versions of one event, each one change away from the one before."""

from __future__ import annotations

import json
from typing import Any

from eda_lake.registry.schema import AvroSchema, parse_schema


def _thing(*fields: dict[str, Any]) -> AvroSchema:
    text = json.dumps(
        {"type": "record", "name": "Thing", "namespace": "test.evolution", "fields": list(fields)}
    )
    return parse_schema(text, "Thing")


ID = {"name": "id", "type": "string"}
COUNT_INT = {"name": "count", "type": "int"}
COUNT_LONG = {"name": "count", "type": "long"}
LABEL = {"name": "label", "type": "string"}
NOTE = {"name": "note", "type": "string", "default": ""}
REGION = {"name": "region", "type": "string"}
COMMENT = {"name": "comment", "type": "string"}

V1 = _thing(ID, COUNT_INT, LABEL)
V2 = _thing(ID, COUNT_INT, LABEL, NOTE)  # add a field with a default
V3 = _thing(ID, COUNT_INT, LABEL, NOTE, REGION)  # add a field without one
V4 = _thing(ID, COUNT_INT, NOTE, REGION)  # drop a field (label, which had no default)
V5 = _thing(ID, COUNT_INT, COMMENT, REGION)  # rename note -> comment without an alias
V6 = _thing(ID, COUNT_LONG, COMMENT, REGION)  # promote int -> long
VERSIONS = [V1, V2, V3, V4, V5, V6]

# (new version, backward ok, forward ok) against the version before it.
STEPS = [
    (2, True, True),
    (3, False, True),
    (4, True, False),
    (5, False, True),
    (6, True, False),
]
