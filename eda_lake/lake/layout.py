"""Where each area of the lake lives. Paths into the lake are built here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AREAS = ("capture", "bronze", "silver", "gold", "quarantine")


@dataclass(frozen=True)
class LakeLayout:
    root: Path

    @property
    def capture(self) -> Path:
        """Plays the capture container: every hub's files under the archive name format."""
        return self.root / "capture"

    @property
    def bronze(self) -> Path:
        return self.root / "bronze"

    @property
    def silver(self) -> Path:
        return self.root / "silver"

    @property
    def gold(self) -> Path:
        return self.root / "gold"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def lifecycle_ledger(self) -> Path:
        """Where local lifecycle enforcement records the tier each blob would be in."""
        return self.root / "_lifecycle" / "tiers.json"

    @property
    def bronze_uri(self) -> str:
        """Bronze is one table: every hub's events, partitioned by hub and date."""
        return str(self.bronze)

    def table_uri(self, area: str, name: str) -> str:
        """Location of a Delta table of an area (a directory here; abfs:// on Azure)."""
        if area not in AREAS or not name.replace("_", "").isalnum():
            raise ValueError(f"no table {name!r} in lake area {area!r}")
        return str(self.root / area / name)

    def create(self) -> list[Path]:
        """Create every area; returns those that did not exist."""
        created = []
        for area in AREAS:
            path = self.root / area
            if not path.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                created.append(path)
        return created
