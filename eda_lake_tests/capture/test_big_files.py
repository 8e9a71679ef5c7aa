"""Big events and big blocks: read a window at a time, in bounded batches, by both readers
(batches and events);
an event over the limit refused before it is read, naming the limit and the setting."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import IO, cast
from unittest import mock

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_lake.capture import windows
from eda_lake.capture.columnar import read_capture_batches
from eda_lake.capture.reader import CaptureFileError, read_capture
from eda_lake.capture.windows import WINDOW_BYTES, EventTooLargeError
from eda_lake_tests.capture.big_files import body_byte, write_big_capture
from eda_lake_tests.mutations import damaged

MIB = 1 << 20


def _bodies(batches: list[pa.RecordBatch]) -> list[tuple[int, int | None]]:
    """(length, first byte) of every body, in file order."""
    return [
        (len(body), body[0] if body else None)
        for batch in batches
        for body in batch.column("body").to_pylist()
    ]


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_a_block_larger_than_a_window_is_read_whole_records_at_a_time(
    codec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Events larger than a window, events cut by a window's end, empty bodies, all in one
    # block of 27 events (~100 MiB): the same events as written, in batches of at most 4 rows
    # and 8 MiB each (or one larger event).
    monkeypatch.setattr(windows, "BATCH_BYTES", 8 * MIB)
    sizes = [5 * MIB, 10, 3 * MIB, 0, 7 * MIB + 3, WINDOW_BYTES - 100, 100, 17 * MIB, 1] * 3
    path = write_big_capture(tmp_path / "big.avro", sizes, codec=codec, per_block=len(sizes))
    with path.open("rb") as stream:
        batches = list(read_capture_batches(stream, "big.avro", 4, 32 * MIB))
    assert _bodies(batches) == [
        (size, body_byte(i) if size else None) for i, size in enumerate(sizes)
    ]
    for batch in batches:
        body_bytes = sum(len(b) for b in batch.column("body").to_pylist())
        assert batch.num_rows <= 4
        assert body_bytes <= 8 * MIB or batch.num_rows == 1, (batch.num_rows, body_bytes)
    with path.open("rb") as stream:
        events = list(read_capture(stream, "big.avro", 32 * MIB))
    assert [len(e.body or b"") for e in events] == sizes


@pytest.mark.parametrize("per_block", [1, 3])
@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_an_event_over_the_limit_is_refused_naming_the_limit_and_the_setting(
    codec: str, per_block: int, tmp_path: Path
) -> None:
    over = write_big_capture(tmp_path / "over.avro", [10, MIB + 1, 10], codec=codec,
                             per_block=per_block)  # fmt: skip
    with (
        over.open("rb") as stream,
        pytest.raises(EventTooLargeError) as refused,
    ):
        list(read_capture_batches(stream, "over.avro", 16, MIB))
    reason = str(refused.value)
    assert reason.startswith("over.avro: event 2 takes at least ")
    assert "over the limit of 1,048,576 bytes (1 MiB) per event" in reason
    assert "EDA_LAKE_MAX_EVENT_MIB" in reason and "corrupt" not in reason
    # Just under the limit (the record's envelope counts): read as written.
    under_body = MIB - 200
    under = write_big_capture(tmp_path / "under.avro", [10, under_body, 10], codec=codec,
                              per_block=per_block)  # fmt: skip
    with under.open("rb") as stream:
        batches = list(read_capture_batches(stream, "under.avro", 16, MIB))
    assert _bodies(batches) == [(10, 0), (under_body, 1), (10, 2)]


class _Unseekable(io.RawIOBase):
    """A stream that cannot tell its size, counting what is read from it."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self.data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        self.taken += len(chunk)
        return len(chunk)


def test_a_1_gib_body_is_refused_before_it_is_read(tmp_path: Path) -> None:
    # The file claims one event of 1 GiB; only 8 MiB of it exist, and the stream cannot tell
    # its size: the default limit refuses the event from its length alone.
    path = write_big_capture(tmp_path / "huge.avro", [1 << 30], cut_after=8 * MIB)
    stream = _Unseekable(path.read_bytes())
    with pytest.raises(EventTooLargeError, match=r"event 1 .* \(64 MiB\) per event"):
        list(read_capture_batches(cast(IO[bytes], stream), "huge.avro"))
    assert stream.taken <= WINDOW_BYTES + MIB


def _windowed_outcome(data: bytes, window: int, limit: int) -> pa.Table | str:
    """The table the reader gives through windows of `window` bytes, or the error's class."""
    with mock.patch.object(windows, "WINDOW_BYTES", window):
        try:
            batches = list(read_capture_batches(io.BytesIO(data), "damaged.avro", 5, limit))
        except CaptureFileError as exc:
            assert str(exc).startswith("damaged.avro: "), exc
            return type(exc).__name__
    return pa.Table.from_batches(batches) if batches else "empty"


def _small_file(codec: str) -> bytes:
    # Eight events of 0 to 700 bytes in one block: with windows of a few bytes every record
    # is scanned, cut off and read on, as a big file's are.
    path = Path(tempfile.mkdtemp()) / "small.avro"
    return write_big_capture(path, SMALL_SIZES, codec=codec, per_block=8).read_bytes()


SMALL_SIZES = [0, 1, 700, 20, 300, 0, 5, 64]
SMALL_FILES = [_small_file("null"), _small_file("deflate")]


@st.composite
def _windowed_case(draw: st.DrawFn) -> tuple[bytes, int, int]:
    data = draw(st.sampled_from(SMALL_FILES))
    if draw(st.booleans()):
        data = damaged(draw, data, edits=(1, 3), max_insert=12, max_overwrite=10)
    return data, draw(st.integers(1, 400)), draw(st.integers(200, 2000))


@given(_windowed_case())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_windowed_reading_takes_the_whole_file_decision_on_any_file(
    case: tuple[bytes, int, int],
) -> None:
    # The scanner and decoder, on intact and damaged files, windows of 1 to 400 bytes and
    # limits around the events' sizes: the table the file gives read whole in one window, or
    # a refusal where that is refused (which one may differ: a damaged length can be met
    # before or after an event over the limit). An intact file under the limit (its largest
    # event, with the envelope, takes under 1,000 bytes) reads as written.
    data, window, limit = case
    windowed = _windowed_outcome(data, window, limit)
    whole = _windowed_outcome(data, WINDOW_BYTES, limit)
    if isinstance(whole, pa.Table):
        assert isinstance(windowed, pa.Table) and windowed.equals(whole)
    elif whole == "empty":
        assert windowed == "empty"
    else:
        assert windowed in ("CaptureFileError", "EventTooLargeError")
    if data in SMALL_FILES and limit > 1000:
        assert isinstance(windowed, pa.Table)
        assert _bodies(windowed.to_batches()) == [
            (size, body_byte(i) if size else None) for i, size in enumerate(SMALL_SIZES)
        ]
