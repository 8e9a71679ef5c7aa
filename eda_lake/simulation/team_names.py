"""The teams that run subscribers, in a module light enough for `eda-lake --help`."""

from __future__ import annotations

TEAMS_WITH_SUBSCRIPTIONS = ("conversions", "customer")
