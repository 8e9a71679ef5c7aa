from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eda_lake.capture.envelope import EnqueuedTimeError, format_enqueued_time, parse_enqueued_time
from eda_lake.capture.naming import DEFAULT_FORMAT, ArchiveNameError, ArchiveNameFormat

SEED_FORMAT = (
    "{EventHub}/{Year}/{Month}/{Day}/{Hour}/"
    "{EventHub}_{Year}_{Month}_{Day}_{Hour}_{Minute}_{Second}_{PartitionId}_{Namespace}"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12/9/2022 4:51:25 PM", datetime(2022, 12, 9, 16, 51, 25, tzinfo=UTC)),
        ("11/16/2016 4:44:11 PM", datetime(2016, 11, 16, 16, 44, 11, tzinfo=UTC)),
        ("1/2/2026 12:00:01 AM", datetime(2026, 1, 2, 0, 0, 1, tzinfo=UTC)),
        ("1/2/2026 12:00:01 PM", datetime(2026, 1, 2, 12, 0, 1, tzinfo=UTC)),
        ("1/2/2026 13:05:09", datetime(2026, 1, 2, 13, 5, 9, tzinfo=UTC)),
        ("2026-01-02T13:05:09.5Z", datetime(2026, 1, 2, 13, 5, 9, 500000, tzinfo=UTC)),
    ],
)
def test_enqueued_time_forms(text: str, expected: datetime) -> None:
    assert parse_enqueued_time(text) == expected


def test_enqueued_time_round_trips_and_rejects_nonsense() -> None:
    moment = datetime(2026, 11, 27, 0, 7, 3, tzinfo=UTC)
    assert format_enqueued_time(moment) == "11/27/2026 12:07:03 AM"
    assert parse_enqueued_time(format_enqueued_time(moment)) == moment
    for bad in ("13/45/2026 1:00:00 PM", "yesterday", "1/2/2026 14:00:00 PM"):
        with pytest.raises(EnqueuedTimeError, match="EnqueuedTimeUtc"):
            parse_enqueued_time(bad)


@pytest.mark.parametrize("template", [DEFAULT_FORMAT, SEED_FORMAT])
def test_archive_names_round_trip(template: str) -> None:
    names = ArchiveNameFormat(template)
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    path = names.render("my-namespace", "customer-created", "3", moment)
    parsed = names.parse(path)
    assert (parsed.namespace, parsed.hub, parsed.partition_id, parsed.window_time) == (
        "my-namespace", "customer-created", "3", moment,
    )  # fmt: skip
    assert names.parse("some/container/prefix/" + path).hub == "customer-created"


def test_default_name_is_azures() -> None:
    path = ArchiveNameFormat().render(
        "ns", "hub", "0", datetime(2022, 12, 9, 16, 50, 12, tzinfo=UTC)
    )
    assert path == "ns/hub/0/2022/12/09/16/50/12.avro"


def test_formats_and_paths_that_do_not_fit() -> None:
    with pytest.raises(ArchiveNameError, match=r"missing token\(s\) \['Second'\]"):
        ArchiveNameFormat(
            "{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}"
        )
    with pytest.raises(ArchiveNameError, match="unknown token"):
        ArchiveNameFormat(DEFAULT_FORMAT + "/{Bogus}")
    names = ArchiveNameFormat()
    with pytest.raises(ArchiveNameError, match="does not fit"):
        names.parse("ns/hub/0/2022/12/09/16/50.avro")
    with pytest.raises(ArchiveNameError, match="month must be"):
        names.parse("ns/hub/0/2022/13/09/16/50/12.avro")
    seed = ArchiveNameFormat(SEED_FORMAT)
    with pytest.raises(ArchiveNameError, match="does not fit"):  # {EventHub} twice must agree
        seed.parse("hub-a/2026/01/01/00/hub-b_2026_01_01_00_00_00_0_ns.avro")
