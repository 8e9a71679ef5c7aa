"""Avro schema compatibility, by Avro's schema resolution rules.

`reading_problems(reader, writer)` lists why data written with `writer` cannot be read with
`reader`. A registry mode asks that question in one or both directions against every earlier
version of a schema (transitively), as Azure Schema Registry and Confluent's
`*_TRANSITIVE` modes do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Re-exported: the registries and provisioning name the modes from here.
from eda_lake.registry.modes import Compatibility as Compatibility
from eda_lake.registry.schema import PRIMITIVES, AvroSchema, NamedTypes, type_names
from eda_lake.registry.schema import full_name as _full_name


@dataclass(frozen=True)
class Incompatibility:
    """One reason a reader cannot read a writer's data: where, which rule, and what to do."""

    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.rule}]"


# Rules that only some data break (a value in a writer's union branch the reader cannot read,
# an enum symbol the reader lacks): a reader refuses those values one by one and reads the
# rest. A problem under any other rule fails every value written with the writer's schema.
SOME_VALUES_RULES = frozenset({"union-branch", "enum-symbol"})
# Rules under which a reader reads every value without error, but as another number (a
# decimal's digits at another scale, a time's count in another unit): no value can be refused
# alone, so such a problem counts against the whole writer, inside a union too.
MISREAD_RULES = frozenset({"decimal-scale", "decimal-precision", "time-unit"})
# The unit a time's logical type counts in: the same count in another unit is another time.
TIME_UNITS = {
    "date": "days",
    "time-millis": "milliseconds",
    "time-micros": "microseconds",
    "timestamp-millis": "milliseconds",
    "timestamp-micros": "microseconds",
    "timestamp-nanos": "nanoseconds",
    "local-timestamp-millis": "milliseconds",
    "local-timestamp-micros": "microseconds",
    "local-timestamp-nanos": "nanoseconds",
}
# Writer type -> reader types that can read it (Avro specification, "Schema Resolution").
PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}


def _kind(node: Any) -> str:
    if isinstance(node, list):
        return "union"
    if isinstance(node, str):
        return node
    kind = node["type"]
    return "record" if kind == "error" else str(kind)


def _describe(node: Any, namespace: str) -> str:
    kind = _kind(node)
    if kind in ("record", "enum", "fixed"):
        return f"{kind} {_full_name(node, namespace)}"
    if kind == "union":
        return "union"
    if isinstance(node, dict) and "logicalType" in node:
        return f"{kind} ({node['logicalType']})"
    return kind


class _Checker:
    def __init__(self, reader: AvroSchema, writer: AvroSchema) -> None:
        self.reader_names = NamedTypes(reader.parsed)
        self.writer_names = NamedTypes(writer.parsed)
        self.problems: list[Incompatibility] = []
        self._in_progress: set[tuple[str, str]] = set()

    def fail(self, path: str, rule: str, message: str) -> None:
        self.problems.append(Incompatibility(path, rule, message))

    def quietly(
        self, reader: Any, r_ns: str, writer: Any, w_ns: str, path: str
    ) -> list[Incompatibility]:
        """The problems of reading the writer with the reader, without recording them."""
        saved = self.problems
        self.problems = []
        try:
            self.check(reader, r_ns, writer, w_ns, path)
            return self.problems
        finally:
            self.problems = saved

    def check(self, reader: Any, r_ns: str, writer: Any, w_ns: str, path: str) -> None:
        reader, r_ns = self.reader_names.resolve(reader, r_ns)
        writer, w_ns = self.writer_names.resolve(writer, w_ns)
        r_kind, w_kind = _kind(reader), _kind(writer)

        if w_kind == "union":
            for index, branch in enumerate(writer):
                b_node, b_ns = self.writer_names.resolve(branch, w_ns)
                problems = self.quietly(reader, r_ns, b_node, b_ns, path)
                misread = [p for p in problems if p.rule in MISREAD_RULES]
                if misread:
                    self.problems += misread
                elif problems:
                    self.fail(
                        path,
                        "union-branch",
                        f"the writer's union branch {index} ({_describe(b_node, b_ns)}) has no "
                        "readable counterpart in the reader; add that branch to the reader",
                    )
            return
        if r_kind == "union":
            tried: list[list[Incompatibility]] = []
            for branch in reader:
                b_node, b_ns = self.reader_names.resolve(branch, r_ns)
                problems = self.quietly(b_node, b_ns, writer, w_ns, path)
                if not problems:
                    return
                tried.append(problems)
            misreading = [p for p in tried if all(i.rule in MISREAD_RULES for i in p)]
            if misreading:  # the branch a reader picks by type, which reads other values
                self.problems += misreading[0]
                return
            self.fail(
                path,
                "reader-union",
                f"the reader's union has no branch that reads {_describe(writer, w_ns)}; "
                "add a branch of that type",
            )
            return

        if r_kind != w_kind:
            if r_kind in PROMOTIONS.get(w_kind, frozenset()):
                self._check_logical(reader, writer, path)
                return
            self.fail(
                path,
                "type-promotion",
                f"type changed from {_describe(writer, w_ns)} to {_describe(reader, r_ns)}, "
                "which is not a legal Avro promotion (int to long, float or double; long to "
                "float or double; float to double; string and bytes both ways)",
            )
            return

        if r_kind in PRIMITIVES:
            self._check_logical(reader, writer, path)
        elif r_kind == "record":
            self._check_record(reader, r_ns, writer, w_ns, path)
        elif r_kind == "enum":
            self._check_named(reader, r_ns, writer, w_ns, path)
            missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
            if missing and "default" not in reader:
                self.fail(
                    path,
                    "enum-symbol",
                    f"the reader's enum lacks symbol(s) {missing} that the writer may write; "
                    "add them or give the reader's enum a default",
                )
        elif r_kind == "fixed":
            self._check_named(reader, r_ns, writer, w_ns, path)
            if reader["size"] != writer["size"]:
                self.fail(
                    path,
                    "fixed-size",
                    f"fixed size changed from {writer['size']} to {reader['size']}",
                )
            self._check_logical(reader, writer, path)
        elif r_kind == "array":
            self.check(reader["items"], r_ns, writer["items"], w_ns, f"{path}[]")
        elif r_kind == "map":
            self.check(reader["values"], r_ns, writer["values"], w_ns, f"{path}{{}}")

    def _check_logical(self, reader: Any, writer: Any, path: str) -> None:
        """Decimals resolve only when scale and precision both match (Avro specification,
        "Schema Resolution"), whether stored as bytes or as fixed. Avro resolves a time as
        its int or long: a count read in another unit would be another instant, refused."""
        if not (isinstance(reader, dict) and isinstance(writer, dict)):
            return
        w_logical, r_logical = writer.get("logicalType"), reader.get("logicalType")
        w_unit, r_unit = TIME_UNITS.get(str(w_logical)), TIME_UNITS.get(str(r_logical))
        if w_unit and r_unit and w_unit != r_unit:
            self.fail(
                path,
                "time-unit",
                f"{w_logical} ({w_unit}) is read as {r_logical} ({r_unit}): the same count "
                "would be read as another time; keep the logical type, or add a new field",
            )
        if reader.get("logicalType") == writer.get("logicalType") == "decimal":
            stored = writer.get("type")
            w_scale, r_scale = writer.get("scale", 0), reader.get("scale", 0)
            w_precision, r_precision = writer.get("precision"), reader.get("precision")
            if w_scale != r_scale:
                self.fail(
                    path,
                    "decimal-scale",
                    f"decimal ({stored}) scale changed from {w_scale} to {r_scale}: the same "
                    "digits would be read as a different number; keep the scale, or add a new "
                    "field with the new scale",
                )
            if w_precision != r_precision:
                self.fail(
                    path,
                    "decimal-precision",
                    f"decimal ({stored}) precision changed from {w_precision} to "
                    f"{r_precision}: Avro resolves decimals only when precision and scale both "
                    "match; keep the precision, or add a new field with the new precision",
                )

    def _check_named(
        self, reader: dict[str, Any], r_ns: str, writer: dict[str, Any], w_ns: str, path: str
    ) -> bool:
        """Avro's rule: the unqualified names match, or the writer's full name is one of the
        reader's aliases (an alias without a dot is in the reader's namespace)."""
        r_full, w_full = _full_name(reader, r_ns), _full_name(writer, w_ns)
        same_short = r_full.rpartition(".")[2] == w_full.rpartition(".")[2]
        if same_short or w_full in type_names(reader, r_ns):
            return True
        self.fail(
            path,
            "name",
            f"named type {w_full} is read as {r_full}; rename it back or add "
            f'"aliases": ["{w_full}"] to the reader',
        )
        return False

    def _check_record(
        self, reader: dict[str, Any], r_ns: str, writer: dict[str, Any], w_ns: str, path: str
    ) -> None:
        if not self._check_named(reader, r_ns, writer, w_ns, path):
            return
        key = (_full_name(reader, r_ns), _full_name(writer, w_ns))
        if key in self._in_progress:  # a recursive type already being compared
            return
        self._in_progress.add(key)
        r_ns = _full_name(reader, r_ns).rpartition(".")[0]
        w_ns = _full_name(writer, w_ns).rpartition(".")[0]
        writer_fields = {f["name"]: f for f in writer["fields"]}
        reader_names = {f["name"] for f in reader["fields"]}
        for field in reader["fields"]:
            field_path = f"{path}.{field['name']}"
            candidates = [field["name"], *field.get("aliases", [])]
            match = next((writer_fields[n] for n in candidates if n in writer_fields), None)
            if match is not None:
                self.check(field["type"], r_ns, match["type"], w_ns, field_path)
                continue
            if "default" in field:
                continue
            renamed = [n for n in writer_fields if n not in reader_names]
            hint = (
                f'; if it was renamed from {renamed[0]!r}, add "aliases": ["{renamed[0]}"]'
                if renamed
                else ""
            )
            self.fail(
                field_path,
                "missing-field",
                f"field {field['name']!r} is read but the writer has no such field and the "
                f"reader gives no default; add a default{hint}",
            )
        self._in_progress.discard(key)


def reading_problems(reader: AvroSchema, writer: AvroSchema) -> list[Incompatibility]:
    """Why data written with `writer` cannot be read with `reader` (empty when it can)."""
    checker = _Checker(reader, writer)
    checker.check(reader.parsed, "", writer.parsed, "", reader.parsed["name"])
    return checker.problems


def compatibility_problems(
    mode: Compatibility, new: AvroSchema, previous: Sequence[AvroSchema]
) -> list[str]:
    """Every reason `new` breaks `mode` against any of the earlier versions (transitive)."""
    problems: list[str] = []
    for version, old in enumerate(previous, start=1):
        if mode in (Compatibility.BACKWARD, Compatibility.FULL):
            problems += _label(
                f"backward: the new schema cannot read version {version}",
                reading_problems(reader=new, writer=old),
            )
        if mode in (Compatibility.FORWARD, Compatibility.FULL):
            problems += _label(
                f"forward: version {version} cannot read the new schema",
                reading_problems(reader=old, writer=new),
            )
    return problems


def _label(context: str, problems: Iterable[Incompatibility]) -> list[str]:
    return [f"{context}: {p}" for p in problems]
