"""When things happen in the simulation: each event's business time, and each stage's delay.

An event's business time is one field of its record, and its CloudEvents `time` is that same
moment (`BUSINESS_TIME`). A reaction happens at or after its cause: its business time is the
cause's time plus a delay drawn from its stage's distribution (`DELAYS`, documented in the
README's table of the simulation's delays). The draw hashes the cause, so a replayed cause
gets the very same time; nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from eda_lake.simulation.world import fraction

BUSINESS_TIME: Mapping[str, str] = {
    "ProductUpdated": "updated_at",
    "CustomerCreated": "created_at",
    "LeadGenerated": "generated_at",
    "LeadAbandoned": "abandoned_at",
    "SaleConfirmed": "confirmed_at",  # the partner's `sold_at` is earlier: it is in the file
    "LeadPurchased": "purchased_at",
    "CustomerPurchased": "purchased_at",  # the purchase LeadPurchased reports, not later
}


def business_time(event: str, record: Mapping[str, object]) -> datetime:
    """The moment `record` of `event` happened: its CloudEvents `time`."""
    moment = record[BUSINESS_TIME[event]]
    if not isinstance(moment, datetime):
        raise TypeError(f"{event}.{BUSINESS_TIME[event]} is {moment!r}, not a datetime")
    return moment


@dataclass(frozen=True)
class Delay:
    """How long a stage takes after its cause: uniform between `min_hours` and `max_hours`."""

    stage: str
    min_hours: float
    max_hours: float

    def after(self, moment: datetime, cause: str) -> datetime:
        """`moment` plus this stage's delay for `cause`: the same cause, the same delay."""
        hours = self.min_hours + fraction("delay", cause) * (self.max_hours - self.min_hours)
        return moment + timedelta(hours=hours)


# Each starts from its cause's time: the sign-up, the lead, the partner's file, the sale's
# confirmation.
LEAD_DECISION = Delay("lead decision", 0.5, 48)
ABANDON_DECISION = Delay("abandon decision", 1, 72)
PARTNER_SALE = Delay("partner sale", 24, 240)
SALE_CONFIRMATION = Delay("sale confirmation", 2, 24)
PURCHASE = Delay("purchase", 1, 72)
DELAYS = (LEAD_DECISION, ABANDON_DECISION, PARTNER_SALE, SALE_CONFIRMATION, PURCHASE)
