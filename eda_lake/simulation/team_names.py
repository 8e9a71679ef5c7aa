"""The teams, in a module light enough for `eda-lake --help`."""

from __future__ import annotations

TEAMS_WITH_SUBSCRIPTIONS = ("conversions", "customer")
TEAMS_WITH_STORES = ("product", "customer", "conversions")  # each keeps its own store
