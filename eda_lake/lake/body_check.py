"""Strict checks of one Avro body against its writer schema, before fastavro decodes it.

fastavro reads some damaged bodies without complaint: a negative enum index or union branch
picks from the end of the list (Python indexing), a boolean byte other than 0 or 1 reads as
a value, a decimal wider than its precision only fails later as a whole column. The
compiled flat decoder refuses each of those per body; this walk applies the same rules to
any schema, nested or not, so both paths fail the same bodies, each with its reason. It
reads the bytes only; decoding stays fastavro's. Whether a well-formed value suits later
layers (a uuid's text, a timestamp's range) silver decides, field by field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eda_lake.lake.avro_arrow import collect_named
from eda_lake.registry.schema import AvroSchema

Step = Callable[[bytes, int], int]  # reads one value at a position, returns the next one

INT_RANGE = (-(2**31), 2**31 - 1)


class BodyError(ValueError):
    """A body that does not hold one value of its writer schema."""


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise BodyError("truncated long")
        byte = data[pos]
        pos += 1
        if shift == 63 and byte > 1:
            raise BodyError("long longer than 64 bits")
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7


def _length(data: bytes, pos: int) -> tuple[int, int]:
    size, pos = read_long(data, pos)
    if size < 0 or size > len(data) - pos:
        raise BodyError("string or bytes runs past the block")
    return size, pos


def _in_range(value: int, low: int, high: int, what: str) -> None:
    if not low <= value <= high:
        raise BodyError(f"{what} {value} out of range")


def decimal_limit(node: dict[str, Any]) -> int:
    return int(10 ** int(node["precision"]))


def _decimal(raw: bytes, limit: int) -> None:
    if len(raw) > 16:
        raise BodyError("decimal wider than 128 bits")
    if abs(int.from_bytes(raw, "big", signed=True)) >= limit:
        raise BodyError(f"decimal has more digits than its precision ({len(str(limit)) - 1})")


class _Compiler:
    def __init__(self, root: Any) -> None:
        self.named: dict[str, Any] = {}
        collect_named(root, self.named)
        self.steps: dict[str, list[Step]] = {}

    def step(self, node: Any) -> Step:
        if isinstance(node, str):
            if node in self.named:
                return self.named_step(node)
            return self.primitive(node, {})
        if isinstance(node, list):
            return self.union([self.step(b) for b in node])
        kind = node["type"]
        if isinstance(kind, dict | list):
            return self.step(kind)
        if kind in ("record", "error", "enum", "fixed"):
            return self.named_step(str(node["name"]), node)
        if kind == "array":
            return self.blocks(self.step(node["items"]), keyed=False)
        if kind == "map":
            return self.blocks(self.step(node["values"]), keyed=True)
        return self.primitive(str(kind), node)

    def named_step(self, name: str, node: dict[str, Any] | None = None) -> Step:
        """Named types are compiled once; a recursive one refers to itself through a cell."""
        node = node if node is not None else self.named[name]
        key = str(id(node))
        if key in self.steps:
            cell = self.steps[key]
            return lambda data, pos: cell[0](data, pos)
        cell = self.steps[key] = []
        kind = node["type"]
        built: Step
        if kind == "enum":
            built = self.enum(len(node["symbols"]))
        elif kind == "fixed":
            built = self.fixed(int(node["size"]), node)
        else:
            fields = [self.step(f["type"]) for f in node.get("fields", [])]
            built = self.record(fields)
        cell.append(built)
        return built

    @staticmethod
    def record(fields: list[Step]) -> Step:
        def read(data: bytes, pos: int) -> int:
            for field in fields:
                pos = field(data, pos)
            return pos

        return read

    @staticmethod
    def enum(symbols: int) -> Step:
        def read(data: bytes, pos: int) -> int:
            index, pos = read_long(data, pos)
            if not 0 <= index < symbols:
                raise BodyError(f"enum index {index} out of range for {symbols} symbols")
            return pos

        return read

    @staticmethod
    def fixed(size: int, node: dict[str, Any]) -> Step:
        limit = decimal_limit(node) if node.get("logicalType") == "decimal" else 0

        def read(data: bytes, pos: int) -> int:
            if pos + size > len(data):
                raise BodyError("truncated fixed")
            if limit:
                _decimal(data[pos : pos + size], limit)
            return pos + size

        return read

    @staticmethod
    def union(branches: list[Step]) -> Step:
        def read(data: bytes, pos: int) -> int:
            branch, pos = read_long(data, pos)
            if not 0 <= branch < len(branches):
                raise BodyError("union branch out of range")
            return branches[branch](data, pos)

        return read

    @staticmethod
    def blocks(item: Step, keyed: bool) -> Step:
        def read(data: bytes, pos: int) -> int:
            while True:
                count, pos = read_long(data, pos)
                if count == 0:
                    return pos
                if count < 0:
                    count = -count
                    _, pos = read_long(data, pos)  # the block's size in bytes
                if count > len(data) - pos:  # even items of null take one count each
                    raise BodyError(f"array or map block of {count} items runs past the body")
                for _ in range(count):
                    if keyed:
                        pos = _string(data, pos)
                    pos = item(data, pos)

        return read

    @staticmethod
    def primitive(kind: str, node: dict[str, Any]) -> Step:
        logical = node.get("logicalType")
        if kind == "bytes" and logical == "decimal":
            limit = decimal_limit(node)

            def decimal(data: bytes, pos: int) -> int:
                size, pos = _length(data, pos)
                _decimal(data[pos : pos + size], limit)
                return pos + size

            return decimal
        step = _PRIMITIVES.get(kind)
        if step is None:
            raise BodyError(f"no such Avro type {kind!r}")
        return step


def _null(data: bytes, pos: int) -> int:
    return pos


def _boolean(data: bytes, pos: int) -> int:
    if pos >= len(data):
        raise BodyError("truncated boolean")
    if data[pos] > 1:
        raise BodyError("boolean byte is neither 0 nor 1")
    return pos + 1


def _int(data: bytes, pos: int) -> int:
    value, pos = read_long(data, pos)
    _in_range(value, *INT_RANGE, what="int")
    return pos


def _long(data: bytes, pos: int) -> int:
    return read_long(data, pos)[1]


def _sized(width: int, what: str) -> Step:
    def read(data: bytes, pos: int) -> int:
        if pos + width > len(data):
            raise BodyError(f"truncated {what}")
        return pos + width

    return read


def _bytes(data: bytes, pos: int) -> int:
    size, pos = _length(data, pos)
    return pos + size


def _string(data: bytes, pos: int) -> int:
    size, pos = _length(data, pos)
    try:
        data[pos : pos + size].decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("string is not UTF-8") from None
    return pos + size


_PRIMITIVES: dict[str, Step] = {
    "null": _null,
    "boolean": _boolean,
    "int": _int,
    "long": _long,
    "float": _sized(4, "float"),
    "double": _sized(8, "double"),
    "bytes": _bytes,
    "string": _string,
}


_COMPILED: dict[str, Step] = {}


def body_problem(schema: AvroSchema, body: bytes) -> str | None:
    """Why `body` is not exactly one value of `schema`, or None when it is."""
    step = _COMPILED.get(schema.canonical)
    if step is None:
        step = _COMPILED[schema.canonical] = _Compiler(schema.parsed).step(schema.parsed)
    try:
        end = step(body, 0)
    except BodyError as exc:
        return str(exc)
    except IndexError:
        return "truncated"
    except RecursionError:  # a recursive writer schema (the catalogue refuses them, not others)
        return "values nested deeper than a reader can follow"
    if end != len(body):
        return f"{len(body) - end} bytes left over after the record"
    return None
