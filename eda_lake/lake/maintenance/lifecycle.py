"""Lifecycle policies in Azure Storage's own lifecycle-management JSON, and their enforcement
where no lifecycle engine runs (the local directory; Azurite).

An account holds one policy (named `default`) of rules; each rule filters block blobs by
prefix (`<container>/<path>`) and acts on base blobs after days since modification.

What the defaults say, and why:
- capture: deleted after 7 days and left hot. Bronze holds its events; tiering a blob that
  lives a week costs more in early-deletion charges (cool bills 30 days, cold 90, archive 180)
  than it saves.
- bronze and silver: cool after 30 days, cold after 90. Both tiers stay online, which a Delta
  table needs: its current files must stay readable.
- quarantine: cool after 30 days, deleted after 365 (time enough to fix and re-process).
- gold: kept hot, no rule.

Validation refuses `delete` and `tierToArchive` on Delta table areas: deleting or taking
offline Parquet files under a Delta log corrupts the table. Ageing rows out of a table is a
table operation (delete, then vacuum), not a blob rule.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from eda_lake.capture.naming import path_problem
from eda_lake.lake.layout import LakeLayout
from eda_lake.shared.errors import UserError

CAPTURE_CONTAINER = "capture"
LAKE_CONTAINER = "lake"
TABLE_AREAS = ("bronze", "silver", "gold")
ACTION_ORDER = ("tierToCool", "tierToCold", "tierToArchive", "delete")
DAYS = "daysAfterModificationGreaterThan"
_RULE_NAME = re.compile(r"^[A-Za-z0-9-]{1,256}$")


class LifecyclePolicyError(UserError, ValueError):
    """A policy Azure would refuse, or one that would damage the lake."""


def _rule(name: str, prefix: str, **actions: int) -> dict[str, Any]:
    return {
        "enabled": True,
        "name": name,
        "type": "Lifecycle",
        "definition": {
            "filters": {"blobTypes": ["blockBlob"], "prefixMatch": [prefix]},
            "actions": {"baseBlob": {action: {DAYS: days} for action, days in actions.items()}},
        },
    }


def default_policy(
    capture: str = CAPTURE_CONTAINER, lake: str = LAKE_CONTAINER, compute_logs: str | None = None
) -> dict[str, Any]:
    """The `default` policy for an account whose containers are `capture` and `lake`, and
    `compute_logs` where Dagster keeps its step logs (an Azure deployment's)."""
    rules = [
        _rule("capture-short-lived", f"{capture}/", delete=7),
        _rule("bronze-tiering", f"{lake}/bronze/", tierToCool=30, tierToCold=90),
        _rule("silver-tiering", f"{lake}/silver/", tierToCool=30, tierToCold=90),
        _rule("quarantine-retention", f"{lake}/quarantine/", tierToCool=30, delete=365),
    ]
    if compute_logs:  # as long as Dagster's UI is likely to be asked for a run's logs
        rules.append(_rule("step-logs-retention", f"{compute_logs}/", delete=90))
    return {"rules": rules}


@dataclass(frozen=True)
class Rule:
    name: str
    prefixes: tuple[str, ...]
    actions: dict[str, int]  # action -> days after modification


def validate(
    policy: Any, origin: str = "lifecycle policy", lake: str = LAKE_CONTAINER
) -> list[Rule]:
    """Check a policy document; the error names the rule and what to change."""

    def fail(where: str, message: str) -> LifecyclePolicyError:
        return LifecyclePolicyError(f"{origin}: {where}: {message}")

    if not isinstance(policy, dict) or not isinstance(policy.get("rules"), list):
        raise fail("top level", 'expected {"rules": [...]}')
    if not 1 <= len(policy["rules"]) <= 100:
        raise fail("rules", "a policy holds 1 to 100 rules")
    rules, names = [], set()
    for index, raw in enumerate(policy["rules"]):
        where = f"rules[{index}]"
        name = raw.get("name") if isinstance(raw, dict) else None
        if not isinstance(name, str) or not _RULE_NAME.fullmatch(name):
            raise fail(where, "name must be 1-256 letters, digits or hyphens")
        where = f"rule {name!r}"
        if name in names:
            raise fail(where, "rule names must be unique")
        names.add(name)
        if raw.get("type") != "Lifecycle":
            raise fail(where, 'type must be "Lifecycle"')
        definition = raw.get("definition") or {}
        filters = definition.get("filters") or {}
        blob_types = filters.get("blobTypes")
        if not blob_types or not set(blob_types) <= {"blockBlob", "appendBlob"}:
            raise fail(where, 'filters.blobTypes must list "blockBlob" and/or "appendBlob"')
        prefixes = filters.get("prefixMatch") or []
        if not all(isinstance(p, str) and "/" in p for p in prefixes):
            raise fail(where, "each prefixMatch entry starts with a container name and '/'")
        for prefix in prefixes:
            if problem := path_problem(prefix):
                raise fail(where, f"prefixMatch {prefix!r} {problem}; name a container's folder")
        base = (definition.get("actions") or {}).get("baseBlob") or {}
        if not base:
            raise fail(where, "actions.baseBlob needs at least one action")
        actions: dict[str, int] = {}
        for action, condition in base.items():
            if action not in ACTION_ORDER:
                raise fail(where, f"unknown action {action!r}; use {', '.join(ACTION_ORDER)}")
            days = (condition or {}).get(DAYS)
            if not isinstance(days, int) or days < 0:
                raise fail(where, f"{action}.{DAYS} must be a whole number of days >= 0")
            actions[action] = days
        ordered = [actions[a] for a in ACTION_ORDER if a in actions]
        if ordered != sorted(ordered):
            raise fail(where, "days must grow from cool to cold to archive to delete")
        for prefix in prefixes:
            area = prefix.split("/")[1] if prefix.startswith(f"{lake}/") else ""
            unsafe = {"delete", "tierToArchive"} & set(actions)
            if area in TABLE_AREAS and unsafe:
                raise fail(
                    where,
                    f"{sorted(unsafe)} on {prefix!r} would delete or take offline the Parquet "
                    "files of Delta tables and corrupt them; tier to cool or cold only, and "
                    "age rows out with a table delete and vacuum",
                )
        rules.append(Rule(name, tuple(prefixes), actions))
    return rules


def load_policy(path: Path, lake: str = LAKE_CONTAINER) -> list[Rule]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise LifecyclePolicyError(f"{path}: not valid JSON: {exc}") from None
    return validate(document, str(path), lake)


@dataclass
class EnforcementReport:
    deleted: list[str] = field(default_factory=list)
    tier_moves: dict[str, str] = field(default_factory=dict)  # path -> tier it is now in


def enforce(
    layout: LakeLayout,
    rules: list[Rule],
    containers: dict[str, str],
    *,
    now: float | None = None,
) -> EnforcementReport:
    """Apply the rules where no lifecycle engine runs: delete what expired, record tiers.

    `containers` maps each container name the rules use to where it is on `layout.fs`.
    Tiers do not exist there; the tier each blob would be in is recorded in the lake's
    lifecycle ledger, so that the policy's effect can be inspected.
    """
    now = time.time() if now is None else now
    fs = layout.fs
    report = EnforcementReport()
    ledger = layout.lifecycle_ledger
    tiers: dict[str, str] = {}
    if fs.get_file_info(ledger).type == pafs.FileType.File:
        with fs.open_input_stream(ledger) as stream:
            tiers = json.loads(stream.read())
    for rule in rules:
        for prefix in rule.prefixes:
            container, _, rest = prefix.partition("/")
            if container not in containers:
                continue
            base = f"{containers[container]}/{rest}".rstrip("/")
            selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
            for info in sorted(fs.get_file_info(selector), key=lambda i: i.path):
                if info.type != pafs.FileType.File or info.mtime is None:
                    continue
                age_days = (now - info.mtime.timestamp()) / 86_400
                key = f"{container}/{info.path[len(containers[container]) + 1 :]}"
                due = [a for a in ACTION_ORDER if a in rule.actions and age_days > rule.actions[a]]
                if not due:
                    continue
                if "delete" in due:
                    fs.delete_file(info.path)
                    tiers.pop(key, None)
                    report.deleted.append(key)
                    continue
                tier = due[-1].removeprefix("tierTo").lower()
                if tiers.get(key) != tier:
                    tiers[key] = tier
                    report.tier_moves[key] = tier
    fs.create_dir(ledger.rpartition("/")[0], recursive=True)
    with fs.open_output_stream(ledger) as out:
        out.write(json.dumps(tiers, indent=1, sort_keys=True).encode())
    return report


def local_containers(layout: LakeLayout) -> dict[str, str]:
    """The local lake plays both containers: capture/ and the lake's areas."""
    return {CAPTURE_CONTAINER: f"{layout.fs_root}/capture", LAKE_CONTAINER: layout.fs_root}
