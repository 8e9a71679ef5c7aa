"""`eda-lake`: the command line, thin over the rooms of the package."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from eda_lake.capture.inspect import describe_event
from eda_lake.capture.reader import CaptureFileError, read_capture
from eda_lake.capture.runtime import run_embedded_capture
from eda_lake.catalogue import CatalogueError, describe, load_catalogue
from eda_lake.demo import run_demo
from eda_lake.hub.base import HubError
from eda_lake.lake.masking import MissingPiiKeyError
from eda_lake.lake.runtime import Lake
from eda_lake.provisioning.runtime import provision
from eda_lake.registry.compatibility import Compatibility, compatibility_problems
from eda_lake.registry.schema import SchemaDefinitionError, load_schema_file
from eda_lake.settings import Settings, SettingsError
from eda_lake.simulation.runtime import TEAMS_WITH_SUBSCRIPTIONS, Simulation

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


def _settings() -> Settings:
    return Settings.from_env()


def _provision(args: argparse.Namespace) -> int:
    actions = provision(_settings(), plan_only=args.plan)
    verb = "would change" if args.plan else "changed"
    print(f"{len(actions)} resource(s) {verb}" + (":" if actions else "; nothing to do"))
    for action in actions:
        print(f"  {action}")
    return 0


def _publish(args: argparse.Namespace) -> int:
    simulation = Simulation(_settings())
    try:
        products = simulation.publish_products(args.seed)
        customers = simulation.publish_customers(args.seed, args.customers)
    finally:
        simulation.close()
    print(f"published {products} ProductUpdated and {customers} CustomerCreated events")
    return 0


def _subscribe(args: argparse.Namespace) -> int:
    simulation = Simulation(_settings())
    try:
        subscriber = simulation.subscriber(args.team)
        report = subscriber.replay_dead_letters() if args.replay else subscriber.run()
    finally:
        simulation.close()
    print(json.dumps(asdict(report), indent=2))
    return 0


def _partners(args: argparse.Namespace) -> int:
    simulation = Simulation(_settings())
    try:
        report = (
            simulation.drop_partner_files()
            if args.partners_command == "drop"
            else simulation.ingest_partner_files()
        )
    finally:
        simulation.close()
    print(json.dumps(asdict(report), indent=2))
    return 0


def _dead_letters(args: argparse.Namespace) -> int:
    simulation = Simulation(_settings())
    try:
        letters = simulation.dead_letters.list(args.team, include_replayed=args.all)
    finally:
        simulation.close()
    for letter in letters:
        print(
            json.dumps(
                {
                    "id": letter.id,
                    "team": letter.team,
                    "origin": letter.origin,
                    "partition_id": letter.partition_id,
                    "sequence_number": letter.sequence_number,
                    "reason": letter.reason,
                    "body_size": len(letter.body),
                    "replayed": letter.replayed,
                }
            )
        )
    return 0


def _capture_run(args: argparse.Namespace) -> int:
    report = run_embedded_capture(_settings(), flush=args.flush)
    print(f"captured {report.events} events into {len(report.files)} file(s)")
    return 0


def _capture_inspect(args: argparse.Namespace) -> int:
    failed = 0
    for name in args.files:
        try:
            with Path(name).open("rb") as stream:
                for event in read_capture(stream, name):
                    print(json.dumps(describe_event(event)))
        except (CaptureFileError, OSError) as exc:
            print(f"eda-lake: error: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _ingest(args: argparse.Namespace) -> int:
    report = Lake(_settings()).ingest(args.capture_root)
    print(
        f"bronze: {report.files_ingested} file(s), {report.rows} event(s) ingested; "
        f"{report.files_already_ingested} already in bronze; "
        f"{report.files_quarantined} quarantined"
    )
    for line in report.quarantined:
        print(f"  quarantined {line}")
    return 0


def _silver(args: argparse.Namespace) -> int:
    run = Lake(_settings()).silver()
    print(json.dumps({"events": asdict(run.events), "entities": run.entities.rows}, indent=2))
    return 0


def _gold(args: argparse.Namespace) -> int:
    print(json.dumps(asdict(Lake(_settings()).gold()), indent=2))
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    silver, gold = Lake(_settings()).rebuild()
    print(json.dumps({"silver": asdict(silver.events), "gold": asdict(gold)}, indent=2))
    return 0


def _demo(args: argparse.Namespace) -> int:
    report = run_demo(_settings(), customers=args.customers, seed=args.seed)
    chain = report.chain
    subscribers = chain.subscribers
    leads = subscribers["conversions"].reactions
    print(f"provisioned {report.provisioned} resource(s)")
    print(f"products              {chain.products}")
    print(f"customers created     {chain.customers}")
    print(f"lead decisions        {leads} (generated or abandoned)")
    print(f"partner files         {chain.partner_files} with {chain.partner_sales} sales")
    print(f"sales confirmed       {chain.sales_confirmed} ({chain.bad_partner_rows} bad rows)")
    print(f"leads purchased       {subscribers['conversions (sales)'].reactions}")
    print(f"customers purchased   {subscribers['customer'].reactions}")
    dead = sum(s.dead_lettered for s in subscribers.values()) + chain.bad_partner_rows
    print(f"dead letters          {dead}")
    print(
        f"captured              {report.capture.events} events in {len(report.capture.files)} files"
    )
    bronze = report.bronze
    print(f"bronze                {bronze.rows} events from {bronze.files_ingested} files")
    silver = report.silver.events
    print(
        f"silver                {sum(silver.inserted.values())} events, "
        f"{silver.duplicates} duplicates dropped, {silver.quarantined} quarantined"
    )
    if report.demo_pii_key:
        print(
            f"personal data masked with a demo key derived from seed {args.seed}: "
            "set EDA_LAKE_PII_KEY for real data"
        )
    print("\ngold funnel by cohort day (gold/funnel_daily):")
    print(f"{'cohort':<12}{'customers':>10}{'leads':>8}{'abandoned':>10}{'sales':>7}{'buyers':>8}")
    totals = [0] * len(WIDTHS)
    for row in report.funnel.to_pylist():
        values = [row[c] for c in FUNNEL_COLUMNS]
        totals = [t + v for t, v in zip(totals, values, strict=True)]
        print(f"{row['cohort_date']!s:<12}{_cells(values)}")
    print(f"{'total':<12}{_cells(totals)}")
    lake = report.lake
    print(f"\ncapture files         {lake.capture}")
    print(f"bronze table          {lake.bronze_uri}")
    print(f"silver tables         {lake.area_uri('silver')}")
    print(f"gold tables           {lake.area_uri('gold')}")
    return 0


FUNNEL_COLUMNS = ("customers", "leads", "abandoned", "sales", "purchasers")
WIDTHS = (10, 8, 10, 7, 8)


def _cells(values: list[int]) -> str:
    return "".join(f"{v:>{w}}" for v, w in zip(values, WIDTHS, strict=True))


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

    provision = commands.add_parser(
        "provision", help="create the schema group, schemas, hubs and consumer groups"
    )
    provision.add_argument("--plan", action="store_true", help="print changes, make none")
    provision.set_defaults(handler=_provision)

    publish = commands.add_parser("publish", help="publish the catalogue and new customers")
    _population_options(publish)
    publish.set_defaults(handler=_publish)

    subscribe = commands.add_parser("subscribe", help="run a team's subscriber once")
    subscribe.add_argument("team", choices=TEAMS_WITH_SUBSCRIPTIONS)
    subscribe.add_argument("--replay", action="store_true", help="replay its dead letters")
    subscribe.set_defaults(handler=_subscribe)

    partner_files = commands.add_parser("partners", help="sales partners' files")
    partner_commands = partner_files.add_subparsers(dest="partners_command", required=True)
    partner_commands.add_parser("drop", help="partners drop files of sold leads")
    partner_commands.add_parser("ingest", help="Conversions turns the files into sales")
    partner_files.set_defaults(handler=_partners)

    dead = commands.add_parser("dead-letters", help="list dead letters (one JSON per line)")
    dead.add_argument("--team")
    dead.add_argument("--all", action="store_true", help="include replayed letters")
    dead.set_defaults(handler=_dead_letters)

    capture = commands.add_parser("capture", help="Capture files").add_subparsers(
        dest="capture_command", required=True
    )
    capture_run = capture.add_parser("run", help="capture the embedded hub's closed windows")
    capture_run.add_argument("--flush", action="store_true", help="also close open windows")
    capture_run.set_defaults(handler=_capture_run)
    inspect = capture.add_parser(
        "inspect", help="print one JSON object per event of capture files (Azure's too)"
    )
    inspect.add_argument("files", nargs="+", metavar="FILE")
    inspect.set_defaults(handler=_capture_inspect)

    ingest = commands.add_parser(
        "ingest", help="land every capture file not yet ingested in bronze (full discovery)"
    )
    ingest.add_argument(
        "--capture-root",
        metavar="PATH",
        help="a capture container laid out in the archive name format (default: lake/capture)",
    )
    ingest.set_defaults(handler=_ingest)
    commands.add_parser("silver", help="decode new bronze events into silver").set_defaults(
        handler=_silver
    )
    commands.add_parser("gold", help="recompute the gold days new events touch").set_defaults(
        handler=_gold
    )
    commands.add_parser(
        "rebuild", help="rebuild silver and gold from bronze (after a decoder fix)"
    ).set_defaults(handler=_rebuild)

    demo = commands.add_parser("demo", help="run everything end to end on the embedded default")
    _population_options(demo)
    demo.set_defaults(handler=_demo)
    return parser


def _population_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=int, default=2000, help="customers to create")
    parser.add_argument("--seed", type=int, default=42, help="seed of the synthetic values")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args)
    except (
        NotImplementedError,
        SchemaDefinitionError,
        CatalogueError,
        SettingsError,
        MissingPiiKeyError,
        ValueError,
        LookupError,
        HubError,  # the broker unreachable or refusing: one line, the work resumes on rerun
    ) as exc:
        print(f"eda-lake: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
