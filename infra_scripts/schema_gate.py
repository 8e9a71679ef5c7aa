"""A pull request's registry compatibility gate: each `.avsc` under `schemas/` that the
working tree changes against the base branch is checked against the base's version by
`eda-lake registry check`, in the catalogue's compatibility mode (the schema group's, which
the registry enforces when the schema is published). A schema added or removed has no
earlier version to be checked against.

    python -m infra_scripts.schema_gate origin/main     # from the repository's checkout
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from eda_lake.catalogue import CatalogueError, load_catalogue

SCHEMAS = "schemas"
# The console script installed beside this interpreter: the project's own command.
EDA_LAKE = Path(sys.executable).parent / "eda-lake"


class GateError(Exception):
    """What stops the gate before any schema is checked, said in one line."""


def _git(*arguments: str, cwd: Path) -> str:
    done = subprocess.run(["git", *arguments], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
        raise GateError(f"git {' '.join(arguments)} failed ({detail})")
    return done.stdout


def changed_schemas(base: str, root: Path) -> list[str]:
    """The `.avsc` files under `schemas/` that both `base` and the working tree hold, and
    that differ, as paths from the repository's root."""
    try:
        _git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", cwd=root)
    except GateError:
        raise GateError(
            f"{base} names no commit in this clone: fetch the base branch (a full clone: "
            "fetch-depth 0)"
        ) from None
    listed = _git(
        "diff", "--name-only", "--no-renames", "--diff-filter=M", base, "--", SCHEMAS, cwd=root
    )
    return sorted(path for path in listed.splitlines() if path.endswith(".avsc"))


def check(base: str, root: Path) -> int:
    """0 when every changed schema is compatible with its base version, 1 otherwise."""
    mode = load_catalogue(root / SCHEMAS).compatibility.lower()
    changed = changed_schemas(base, root)
    if not changed:
        print(f"no schema under {SCHEMAS}/ changed against {base}")
        return 0
    incompatible = []
    with tempfile.TemporaryDirectory(prefix="eda-lake-schema-gate-") as scratch:
        for path in changed:
            earlier = Path(scratch) / path
            earlier.parent.mkdir(parents=True, exist_ok=True)
            earlier.write_text(_git("show", f"{base}:{path}", cwd=root))
            checked = subprocess.run(
                [str(EDA_LAKE), "registry", "check", "--mode", mode, str(earlier), path],
                cwd=root,
            )
            if checked.returncode != 0:
                incompatible.append(path)
    if incompatible:
        print(f"{len(incompatible)} of {len(changed)} changed schemas incompatible ({mode}) "
              f"with {base}: {', '.join(incompatible)}")  # fmt: skip
        return 1
    print(f"{len(changed)} changed schemas compatible ({mode}) with {base}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra_scripts.schema_gate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("base", help="the base branch's ref, e.g. origin/main (fetched)")
    arguments = parser.parse_args(argv)
    try:
        root = Path(_git("rev-parse", "--show-toplevel", cwd=Path.cwd()).strip())
        return check(arguments.base, root)
    except (GateError, CatalogueError) as exc:
        print(f"schema gate: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
