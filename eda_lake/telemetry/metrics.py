"""The lake's freshness and quality as metrics, where alerts can watch them.

Each is a gauge the lake sets after the run that computes it, sent at once (`flush`) since
a run's process may end before the next periodic export:

- `eda_lake.bronze.newest_event_age` (s): how long ago the newest event bronze holds was
  enqueued on its hub (publish to bronze, for the newest event);
- `eda_lake.bronze.last_commit_age` (s): how long ago bronze last committed;
- `eda_lake.silver.quarantine_rate` (1): the share of the bronze rows a silver run read that
  it quarantined.

Nothing is computed or sent while telemetry is off (`enabled` says so first).
"""

from __future__ import annotations

from datetime import UTC, datetime

from eda_lake.telemetry import active

NEWEST_EVENT_AGE = "eda_lake.bronze.newest_event_age"
LAST_COMMIT_AGE = "eda_lake.bronze.last_commit_age"
QUARANTINE_RATE = "eda_lake.silver.quarantine_rate"


def enabled() -> bool:
    """Whether figures are wanted: what computing one costs is paid only then."""
    return active() is not None


def bronze_freshness(
    newest_enqueued: datetime | None, last_commit: datetime | None, now: datetime | None = None
) -> None:
    """Bronze's two ages, from the newest enqueued time it holds and its last commit (either
    None: bronze has no such figure yet, and none is sent)."""
    pipeline = active()
    if pipeline is None:
        return
    moment = now or datetime.now(UTC)
    ages = (
        (
            NEWEST_EVENT_AGE,
            "Seconds since the newest event in bronze was enqueued",
            newest_enqueued,
        ),
        (LAST_COMMIT_AGE, "Seconds since bronze's last commit", last_commit),
    )
    for name, description, then in ages:
        if then is not None:
            gauge = pipeline.meter.create_gauge(name, unit="s", description=description)
            gauge.set(max(0.0, (moment - then).total_seconds()))
    pipeline.meter_provider.force_flush()


def quarantine_rate(rows_read: int, quarantined: int) -> None:
    """A silver run's share of quarantined rows (a run that read nothing sends none)."""
    pipeline = active()
    if pipeline is None or rows_read == 0:
        return
    gauge = pipeline.meter.create_gauge(
        QUARANTINE_RATE,
        unit="1",
        description="Share of the bronze rows a silver run read that it quarantined",
    )
    gauge.set(quarantined / rows_read)
    pipeline.meter_provider.force_flush()
