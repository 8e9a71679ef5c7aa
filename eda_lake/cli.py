"""`eda-lake`: the command line, thin over the rooms of the package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from eda_lake.catalogue import CatalogueError, describe, load_catalogue
from eda_lake.registry.compatibility import Compatibility, compatibility_problems
from eda_lake.registry.schema import SchemaDefinitionError, load_schema_file
from eda_lake.settings import Settings, SettingsError

Command = Callable[[argparse.Namespace], int]


def _registry_check(args: argparse.Namespace) -> int:
    mode = Compatibility.parse(args.mode)
    old, new = load_schema_file(Path(args.old)), load_schema_file(Path(args.new))
    problems = compatibility_problems(mode, new, [old])
    if problems:
        print(f"INCOMPATIBLE ({mode.value}): {args.new} against {args.old}")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print(f"compatible ({mode.value}): {args.new} against {args.old}")
    return 0


def _catalogue_show(args: argparse.Namespace) -> int:
    print(describe(load_catalogue(Settings.from_env().schema_dir)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eda-lake",
        description="Event Hubs, Capture and a medallion lake, on a laptop or on Azure.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    registry = commands.add_parser("registry", help="schema registry tools").add_subparsers(
        dest="registry_command", required=True
    )
    check = registry.add_parser(
        "check",
        help="exit 0 if NEW is compatible with OLD in the mode, 1 with the reasons if not",
    )
    check.add_argument("--mode", required=True, choices=["none", "backward", "forward", "full"])
    check.add_argument("old", metavar="OLD.avsc")
    check.add_argument("new", metavar="NEW.avsc")
    check.set_defaults(handler=_registry_check)

    catalogue = commands.add_parser("catalogue", help="print the event catalogue")
    catalogue.set_defaults(handler=_catalogue_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args)
    except (SchemaDefinitionError, CatalogueError, SettingsError, ValueError) as exc:
        print(f"eda-lake: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
