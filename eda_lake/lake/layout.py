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

    def create(self) -> list[Path]:
        """Create every area; returns those that did not exist."""
        created = []
        for area in AREAS:
            path = self.root / area
            if not path.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                created.append(path)
        return created
