"""The Helm values a release installs: `deploy/helm/values.yaml` with every Dagster image
(the webserver's, the daemon's and each code location's) set to the image just pushed.

Written as one whole file rather than `--set` flags: Helm replaces a list given by `--set
'deployments[0].image.tag=...'` or by a second values file instead of merging it, which would
drop the code location's other settings. A placeholder left in the values (`<...>`, which only
the subscription knows) is refused before Helm sees it.

    python -m infra_scripts.release_values --image REGISTRY/eda-lake --tag TAG > release.yaml
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from eda_lake.settings import REPO_ROOT

VALUES = REPO_ROOT / "deploy" / "helm" / "values.yaml"
PLACEHOLDER = re.compile(r"^<[^<>]+>$")


class ValuesError(Exception):
    """Values a release cannot install, said in one line."""


def _image(values: dict[str, Any], *keys: str | int) -> dict[str, Any]:
    """The `image` mapping at `keys`, or a ValuesError naming where it is missing."""
    found: Any = values
    for key in (*keys, "image"):
        try:
            found = found[key]
        except (KeyError, IndexError, TypeError):
            break
    else:
        if isinstance(found, dict):
            return found
    where = ".".join(str(key) for key in (*keys, "image"))
    raise ValuesError(f"the values hold no {where} (repository, tag): add it as the project's has")


def _placeholders(node: Any, where: str = "") -> list[str]:
    """Where a `<...>` placeholder is still a value, as dotted paths."""
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in _placeholders(value, f"{where}.{key}")]
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in _placeholders(item, f"{where}[{i}]")]
    if isinstance(node, str) and PLACEHOLDER.match(node):
        return [f"{where.lstrip('.')} ({node})"]
    return []


def release_values(values: dict[str, Any], image: str, tag: str) -> dict[str, Any]:
    """`values` with every Dagster image set to `image:tag`."""
    deployments = values.get("dagster-user-deployments", {}).get("deployments") or []
    if not deployments:
        raise ValuesError("the values hold no dagster-user-deployments.deployments: no code server")
    images = [_image(values, "dagsterWebserver"), _image(values, "dagsterDaemon")]
    images += [
        _image(values, "dagster-user-deployments", "deployments", index)
        for index in range(len(deployments))
    ]
    for each in images:
        each["repository"] = image
        each["tag"] = tag
    left = _placeholders(values)
    if left:
        raise ValuesError(
            f"the values still hold placeholders at {'; '.join(left)}: put your names in "
            '(README, "Run Dagster on Azure", step 8)'
        )
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra_scripts.release_values",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--image", required=True, help="the image's repository, REGISTRY/NAME")
    parser.add_argument("--tag", required=True, help="the tag pushed")
    parser.add_argument("--values", type=Path, default=VALUES, help="the values to start from")
    arguments = parser.parse_args(argv)
    try:
        values = yaml.safe_load(arguments.values.read_text())
        released = release_values(values, arguments.image, arguments.tag)
    except (OSError, ValuesError) as exc:
        print(f"release values: error: {arguments.values}: {exc}", file=sys.stderr)
        return 2
    yaml.safe_dump(released, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
