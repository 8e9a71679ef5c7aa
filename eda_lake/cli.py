"""`eda-lake`: the command line (click), thin over the rooms of the package.

Each command imports what it needs when it runs, so `eda-lake --help` loads none of the rooms.
A mistake or a fault of the environment ends in one line naming the thing and the fix (see
`eda_lake.console.faults`); a bug of our own keeps its traceback.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from eda_lake.console.rows import WRITERS
from eda_lake.console.summaries import count, fields_of, home_line, print_report
from eda_lake.registry.modes import Compatibility
from eda_lake.simulation.team_names import TEAMS_WITH_STORES, TEAMS_WITH_SUBSCRIPTIONS

if TYPE_CHECKING:
    from eda_lake.catalogue import Catalogue
    from eda_lake.console.progress import LogLines, TerminalBar
    from eda_lake.lake.delta.commits import TableRun
    from eda_lake.lake.runtime import Lake
    from eda_lake.provisioning.embedded import Action
    from eda_lake.provisioning.runtime import Mode
    from eda_lake.settings import Settings
    from eda_lake.simulation.runtime import Simulation

Handler = TypeVar("Handler", bound=Callable[..., int])
# What a command that ends in a one-line error exits with, a mistake in what it was given
# or a fault of the environment, as click exits on a usage error (a finding about sound
# input, an incompatible schema, is 1).
ERROR_EXIT = 2
SIGPIPE_EXIT = 141  # what a shell reports for a writer whose reader left (128 + SIGPIPE)
INTERRUPTED_EXIT = 130  # what a shell reports for a command stopped by Ctrl-C (128 + SIGINT)


def _settings() -> Settings:
    """The environment's settings, this process's telemetry configured from them."""
    from eda_lake import telemetry
    from eda_lake.settings import Settings

    settings = Settings.from_env()
    telemetry.configure(settings.telemetry)
    return settings


def _catalogue() -> Catalogue:
    """The catalogue alone: a command that reads nothing else needs no usable home."""
    from eda_lake.catalogue import load_catalogue
    from eda_lake.settings import catalogue_from_env

    return load_catalogue(*catalogue_from_env())


@contextmanager
def _progress() -> Iterator[TerminalBar | LogLines]:
    from eda_lake.console.progress import progress_for

    renderer = progress_for(sys.stderr)
    try:
        yield renderer
    finally:
        renderer.close()


@contextmanager
def _simulation() -> Iterator[Simulation]:
    from eda_lake.simulation.runtime import Simulation

    simulation = Simulation(_settings())
    try:
        yield simulation
    finally:
        simulation.close()


def _lake(settings: Settings, *, existing: bool = False) -> Lake:
    """`existing`: the command only reads or extends a lake, so a home or container that
    holds none is refused rather than taken for an empty lake."""
    from eda_lake.lake.runtime import Lake

    lake = Lake(settings)
    if existing:
        lake.layout.require_lake()
    return lake


def _existing_home(settings: Settings) -> Settings:
    """`settings`, or an error when their home is not there: a command that only reads state
    creates no home, so a mistyped one is named rather than read as a new, empty one."""
    from eda_lake.settings import HOME_VAR
    from eda_lake.shared.errors import UserError

    if not settings.home.is_dir():
        raise UserError(
            f"no home at {settings.home}: {HOME_VAR} names a folder that is not there; export "
            f"the {HOME_VAR} your state is in (a mistyped one is not created)"
        )
    return settings


def _finished(command: str, *layers: Mapping[str, TableRun]) -> int:
    """0, or after one line per failed table on stderr, the status of a run some of whose
    tables failed."""
    from eda_lake.console.faults import TABLE_FAILED, failed_tables
    from eda_lake.lake.delta.commits import failed_runs

    lines = failed_tables(failed_runs(*layers), command)
    for line in lines:
        print(f"eda-lake: error: {line}", file=sys.stderr)
    return TABLE_FAILED if lines else 0


def _from_partner_file(origin: str) -> bool:
    from eda_lake.simulation.partners import ORIGIN_PREFIX

    return origin.startswith(ORIGIN_PREFIX)


def _from_a_hub(origin: str) -> bool:
    """A letter a subscriber read from a hub (not a partner's row, nor an event its own
    team's hub refused): what `subscribe TEAM --replay` hands back."""
    from eda_lake.simulation.relay import OUTBOX_ORIGIN_PREFIX

    return not (_from_partner_file(origin) or origin.startswith(OUTBOX_ORIGIN_PREFIX))


def _summary(command: click.Command) -> str:
    """A command's whole first paragraph: the list of commands wraps it rather than cut it."""
    return " ".join((command.help or "").split("\n\n")[0].split())


class _Command(click.Command):
    """A command whose faults end in one line (`console.faults.describe`); a bug keeps its
    traceback."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return _summary(self)

    def invoke(self, ctx: click.Context) -> Any:
        from eda_lake.console.faults import describe, quiet_sign_in_warnings
        from eda_lake.shared.errors import UserError

        quiet_sign_in_warnings()
        _show_lake_notes()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # Every write is one atomic commit (a Delta commit, a capture file renamed into
            # place after its ledger row): what was not committed is done again on a rerun.
            print(
                "eda-lake: interrupted: nothing committed is lost; run the command again and it "
                "resumes where it stopped",
                file=sys.stderr,
            )
            return INTERRUPTED_EXIT
        except BrokenPipeError:
            # The reader left (`| head`): end quietly, and keep Python from complaining at exit
            # about the stdout it can no longer flush.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return SIGPIPE_EXIT
        except Exception as exc:
            # A person's error names its own thing: no settings read again to find the
            # folders a fault of the disk would name (a Key Vault secret would be asked for
            # again).
            near = [] if isinstance(exc, UserError) else _state_directories(_top_command(ctx))
            message = describe(exc, near=near)
            if message is None:
                raise  # a bug of our own: its traceback shows where
            print(f"eda-lake: error: {message}", file=sys.stderr)
            return ERROR_EXIT


def _top_command(ctx: click.Context) -> str:
    """`capture` for `eda-lake capture run`: the command right under `eda-lake`."""
    return ctx.find_root().invoked_subcommand or ""


class _Group(click.Group):
    """Commands listed in the order they are declared (the order of a walk through the
    lake); a group given no command shows its help and succeeds, as `--help` does."""

    command_class = _Command
    group_class = type  # subgroups are of this class too

    def get_short_help_str(self, limit: int = 45) -> str:
        return _summary(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:
            click.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(0)
        return super().parse_args(ctx, args)


TEAM_HELP = f"TEAM is one of: {', '.join(TEAMS_WITH_SUBSCRIPTIONS)}."
TEAM = click.Choice(TEAMS_WITH_SUBSCRIPTIONS)
STORE_TEAM = click.Choice(TEAMS_WITH_STORES)
FORMAT = click.Choice(list(WRITERS))


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
@click.version_option(package_name="eda-lake", message="%(prog)s %(version)s")
def commands() -> None:
    """Event Hubs, Capture and a medallion lake, on a laptop or on Azure. State lives under
    EDA_LAKE_HOME (default ./.eda_lake)."""


@commands.group()
def registry() -> None:
    """schema registry tools"""


@registry.command("check")
@click.option(
    "--mode",
    required=True,
    type=click.Choice([mode.value.lower() for mode in Compatibility], case_sensitive=False),
    help="the schema group's compatibility mode",
)
@click.argument("old", metavar="OLD.avsc")
@click.argument("new", metavar="NEW.avsc")
def _registry_check(mode: str, old: str, new: str) -> int:
    """exit 0 if NEW is compatible with OLD in the mode, 1 with the reasons if not"""
    from eda_lake.registry.compatibility import compatibility_problems
    from eda_lake.registry.schema import AvroSchema, SchemaDefinitionError, load_schema_file

    loaded: list[AvroSchema] = []
    unreadable: list[str] = []  # every file's problem at once, not the first one's
    for path in (old, new):
        try:
            loaded.append(load_schema_file(Path(path)))
        except SchemaDefinitionError as exc:
            unreadable.append(str(exc))
    if unreadable:
        raise SchemaDefinitionError("; ".join(unreadable))
    compatibility = Compatibility.parse(mode)
    old_schema, new_schema = loaded
    problems = compatibility_problems(compatibility, new_schema, [old_schema])
    if problems:
        print(f"INCOMPATIBLE ({compatibility.value}): {new} against {old}")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print(f"compatible ({compatibility.value}): {new} against {old}")
    return 0


@commands.command("catalogue")
def _catalogue_show() -> int:
    """print the event catalogue (JSON)"""
    from eda_lake.catalogue import describe

    print(describe(_catalogue()))
    return 0


@commands.command("describe")
@click.argument("table", required=False, metavar="[TABLE]")
def _describe(table: str | None) -> int:
    """what a lake table holds and what each column means (without TABLE: every table; a
    layer, such as gold, lists its tables)"""
    import shutil

    from eda_lake.lake.dictionary import describe

    width = shutil.get_terminal_size().columns
    print(describe(table, _catalogue(), width=width))
    return 0


@commands.command("provision")
@click.option(
    "--target",
    type=click.Choice(["local", "azure"]),
    help="the embedded default (local) or Azure; default: EDA_LAKE_TARGET, else local",
)
@click.option("--plan", is_flag=True, help="print what would change and touch nothing")
@click.option(
    "--offline",
    is_flag=True,
    help="with --plan on Azure: the whole desired state, with no sign-in and nothing read "
    "(needs only the location, environment and name suffix)",
)
@click.option(
    "--verify",
    is_flag=True,
    help="compare what exists with the desired state; exit 1 naming each difference",
)
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text")
def _provision(target: str | None, plan: bool, offline: bool, verify: bool, output: str) -> int:
    """create (or plan, or verify) the platform: on the embedded default the schema group,
    schemas, capture target, hubs and consumer groups; on Azure every resource, lock, role
    assignment, diagnostic setting and alert, then the runtime's variables as export lines"""
    from eda_lake.provisioning.runtime import Mode
    from eda_lake.settings import target_from_env

    if plan and verify:
        raise click.UsageError("--plan and --verify: choose one")
    if offline and not plan:
        raise click.UsageError("--offline is a kind of plan: add --plan")
    target = target or target_from_env().value
    if offline and target != "azure":
        raise click.UsageError("--offline plans Azure: add --target azure")
    mode = (
        Mode.OFFLINE_PLAN if offline else Mode.PLAN if plan
        else Mode.VERIFY if verify else Mode.APPLY
    )  # fmt: skip
    if target == "azure":
        return _provision_azure(mode, output)
    return _provision_locally(mode, output)


def _provision_azure(mode: Mode, output: str) -> int:
    from eda_lake.provisioning.runtime import Mode, provision_azure

    done = provision_azure(_catalogue(), mode)
    where = {"subscription": done.subscription_id, "resource_group": done.names.resource_group}
    return _print_provisioned(
        mode, output, done.actions, {"target": "azure", **where},
        [f"target          azure: subscription {done.subscription_id}, resource group "
         f"{done.names.resource_group}"],
        done.exports if mode is Mode.APPLY else None,
    )  # fmt: skip


def _provision_locally(mode: Mode, output: str) -> int:
    from eda_lake.provisioning.runtime import Mode, provision
    from eda_lake.settings import TARGET_VAR, Settings

    settings = Settings.from_env({**os.environ, TARGET_VAR: "local"})
    actions = provision(settings, plan_only=mode is not Mode.APPLY)
    return _print_provisioned(
        mode, output, actions, {"target": "local", "home": str(settings.home)},
        ["target          local", home_line(settings)], None,
    )  # fmt: skip


def _print_provisioned(
    mode: Mode,
    output: str,
    actions: Sequence[Action],
    where: dict[str, str],
    where_lines: Sequence[str],
    exports: Mapping[str, str] | None,
) -> int:
    """What provisioning did or would do, as text or one JSON document; with `exports` (an
    apply on Azure) the text is a shell script: its report as comments, then the runtime's
    variables as export lines. The exit status: 1 for drift found by --verify."""
    import json

    from eda_lake.provisioning.runtime import Mode

    drift = mode is Mode.VERIFY and bool(actions)
    if output == "json":
        print(json.dumps({
            **where, "mode": mode.value, "changes": [a.as_json() for a in actions],
            **({"drift": drift} if mode is Mode.VERIFY else {}),
            **({"exports": dict(exports)} if exports is not None else {}),
        }, indent=2))  # fmt: skip
        return 1 if drift else 0
    mark = "# " if exports is not None else ""
    print(mark + _provision_headline(mode, len(actions)))
    for action in actions:
        print(f"{mark}  {action}")
        for difference in action.differences:
            print(f"{mark}      {difference}")
    for line in where_lines:
        print(mark + line)
    if exports is not None:
        print("# the runtime's variables (secrets by their Key Vault reference, no value):")
        for name, value in exports.items():
            print(f"export {name}={shlex.quote(value)}")
    return 1 if drift else 0


def _provision_headline(mode: Mode, changes: int) -> str:
    from eda_lake.provisioning.runtime import Mode

    if mode is Mode.VERIFY:
        if not changes:
            return "no drift: everything matches the desired state"
        verb = "differs" if changes == 1 else "differ"
        return f"drift: {count(changes, 'resource')} {verb} from the desired state:"
    if mode is Mode.OFFLINE_PLAN:
        return f"{count(changes, 'resource')} in the desired state (an offline plan: nothing read):"
    verb = "changed" if mode is Mode.APPLY else "would change (a plan: nothing was touched)"
    return f"{count(changes, 'resource')} {verb}" + (":" if changes else "; nothing to do")


# The generators hold a run's population in memory (about 1 KB a customer) to order it.
MAX_CUSTOMERS = 1_000_000


def _population_options(command: Handler) -> Handler:
    command = click.option("--seed", default=42, help="seed of the synthetic values")(command)
    return click.option(
        "--customers", default=2000, type=click.IntRange(1, MAX_CUSTOMERS),
        help="customers to create",
    )(command)  # fmt: skip


@commands.command("publish")
@_population_options
def _publish(customers: int, seed: int) -> int:
    """publish Product's catalogue and Customer's sign-ups"""
    with _simulation() as simulation, _progress() as progress:
        products = simulation.publish_products(seed, progress)
        signed_up = simulation.publish_customers(seed, customers, progress)
    print(f"published {count(products, 'ProductUpdated event')}")
    print(f"published {count(signed_up, 'CustomerCreated event')}")
    print(home_line(simulation.settings))
    return 0


@commands.command("subscribe", epilog=TEAM_HELP)
@click.argument("team", type=TEAM, metavar="TEAM")
@click.option("--replay", is_flag=True, help="hand the team's hub dead letters back instead")
def _subscribe(team: str, replay: bool) -> int:
    """run a team's subscriber over everything new, once"""
    with _simulation() as simulation:
        subscriber = simulation.subscriber(team)
        report = subscriber.replay_dead_letters() if replay else subscriber.run()
        letters = simulation.dead_letters.list(team)
    if replay:
        print(f"{team}: replayed {count(report.replayed, 'dead letter')}")
        print(f"  reactions published     {report.reactions:,}")
        print(f"  still failing           {report.dead_lettered:,} (kept as dead letters)")
        partner_rows = sum(1 for d in letters if _from_partner_file(d.origin))
        if partner_rows:
            print(
                f"  partner-file rows       {partner_rows:,} not replayable: a partner's row "
                "is fixed by the partner sending a corrected file"
            )
    else:
        print(f"{team}: received {count(report.received, 'event')}")
        for event, received in sorted(report.by_event.items()):
            print(f"  {event:<24}{received:,}")
        if report.skipped:
            print(f"  other events skipped    {report.skipped:,} (by type, never decoded)")
        print(f"  reactions published     {report.reactions:,}")
        print(f"  dead-lettered           {report.dead_lettered:,}")
    print(home_line(simulation.settings))
    return 0


@commands.group()
def partners() -> None:
    """sales partners' files"""


@partners.command("drop")
def _partners_drop() -> int:
    """partners write files of the leads they sold"""
    with _simulation() as simulation:
        drop = simulation.drop_partner_files()
        print(f"partners dropped {count(len(drop.files), 'file')}")
        print(f"  leads handed            {drop.leads_handed:,}")
        print(f"  sales in the files      {drop.sales:,}")
        print(f"  folder                  {simulation.partner_drops}")
    print(home_line(simulation.settings))
    return 0


@partners.command("ingest")
def _partners_ingest() -> int:
    """Conversions turns the files into SaleConfirmed"""
    with _simulation() as simulation:
        ingested = simulation.ingest_partner_files()
        print(f"conversions read {count(ingested.files, 'partner file')}")
        print(f"  sales confirmed         {ingested.sales_confirmed:,}")
        print(f"  bad rows                {ingested.bad_rows:,} (dead letters)")
    print(home_line(simulation.settings))
    return 0


@commands.command("dead-letters", epilog=TEAM_HELP)
@click.argument("team", type=TEAM, metavar="[TEAM]", required=False)
# The option form of TEAM, kept working for the scripts that use it.
@click.option("--team", "team_option", type=TEAM, hidden=True)
@click.option("--all", "include_replayed", is_flag=True, help="include replayed letters")
def _dead_letters(team: str | None, team_option: str | None, include_replayed: bool) -> int:
    """list dead letters, only TEAM's if given, one JSON object per line ('none' on stderr when
    there are none)"""
    import json

    from eda_lake.simulation.dead_letters import read_dead_letters

    if team and team_option and team != team_option:
        raise click.UsageError(f"two teams given ({team} and --team {team_option}): name one")
    team = team or team_option
    settings = _existing_home(_settings())
    letters = read_dead_letters(settings, team, include_replayed=include_replayed)
    if not letters:
        scope = f" for team {team}" if team else ""
        print(f"dead letters{scope}: none", file=sys.stderr)
    for letter in letters:
        record = {
            "id": letter.id,
            "team": letter.team,
            "origin": letter.origin,
            "partition_id": letter.partition_id,
            "sequence_number": letter.sequence_number,
            "reason": letter.reason,
            "body_size": len(letter.body),
            "replayed": letter.replayed,
            # A hub's event goes back through `subscribe TEAM --replay`; a partner's row
            # only comes back in a corrected file from the partner, a refused event of the
            # team's own as a change stored again.
            "replayable": _from_a_hub(letter.origin),
        }
        print(json.dumps(record))
    # stdout holds the letters alone (one JSON object a line): the home goes aside.
    print(home_line(settings), file=sys.stderr)
    return 0


@commands.command("outbox")
@click.argument("team", type=STORE_TEAM, metavar="[TEAM]", required=False)
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text")
@click.option("--relay", is_flag=True, help="send what is pending first")
def _outbox(team: str | None, output: str, relay: bool) -> int:
    """show each team's outbox (only TEAM's if given): events stored and not yet sent, the
    age of the oldest, and those sent or refused by the hub"""
    import json
    import time

    from eda_lake.simulation.outbox import read_summary

    settings = _existing_home(_settings())
    if relay:
        with _simulation() as simulation:
            for each in [team] if team else TEAMS_WITH_STORES:
                simulation.relay(each)
    now_ms = int(time.time() * 1000)
    summaries = [
        read_summary(settings.simulation_dir, t) for t in ([team] if team else TEAMS_WITH_STORES)
    ]
    if output == "json":
        print(json.dumps([
            {"team": s.team, "pending": s.pending,
             "oldest_pending_age_s": s.oldest_age_seconds(now_ms),
             "sent": s.sent, "refused": s.refused}
            for s in summaries
        ], indent=2))  # fmt: skip
        return 0
    print(f"{'team':<14}{'pending':>9}  {'oldest pending':<16}{'sent':>9}{'refused':>9}")
    for s in summaries:
        age = s.oldest_age_seconds(now_ms)
        oldest = "-" if age is None else f"{age:,.1f} s"
        print(f"{s.team:<14}{s.pending:>9,}  {oldest:<16}{s.sent:>9,}{s.refused:>9,}")
    print(home_line(settings))
    return 0


@commands.group()
def capture() -> None:
    """the embedded hub's Capture files"""


@capture.command("run")
@click.option("--flush", is_flag=True, help="also write the open windows")
def _capture_run(flush: bool) -> int:
    """write the closed capture windows; says which are still open and when they close"""
    from eda_lake.capture.runtime import run_capture

    settings = _settings()
    with _progress() as progress:
        report = run_capture(settings, flush=flush, progress=progress)
    print(f"captured {count(report.events, 'event')} into {count(len(report.files), 'file')}")
    print(f"  empty files             {report.empty_files:,}")
    print(f"  expired from the hub    {report.expired:,} (retention, after capture)")
    if report.open_windows:
        print(
            f"  windows still open      {len(report.open_windows):,}: written once they close, "
            "or now with --flush"
        )
        by_hub: dict[tuple[str, datetime], list[str]] = {}
        for window in report.open_windows:
            by_hub.setdefault((window.hub, window.closes_at), []).append(window.partition_id)
        for (hub, closes), partitions in by_hub.items():
            print(
                f"    {hub} (partitions {', '.join(partitions)}) "
                f"closes at {closes:%Y-%m-%d %H:%M:%S} UTC"
            )
    else:
        print("  windows still open      none")
    print(f"capture files   {settings.lake_dir / 'capture'}")
    print(home_line(settings))
    return 0


@capture.command("inspect")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def _capture_inspect(files: tuple[str, ...]) -> int:
    """print one JSON object per event of capture files (Azure's too); a file that cannot be
    read is named on stderr, the others still printed, and the exit status is 2"""
    import json

    from eda_lake.capture.inspect import describe_event
    from eda_lake.capture.reader import CaptureFileError, read_capture

    limit = _settings().max_event_bytes
    failed = 0
    for name in files:
        try:
            with Path(name).open("rb") as stream:
                for event in read_capture(stream, name, limit):
                    print(json.dumps(describe_event(event)))
        except FileNotFoundError:
            print(f"eda-lake: error: no such capture file: {name}", file=sys.stderr)
            failed += 1
        except (CaptureFileError, IsADirectoryError, PermissionError) as exc:
            print(f"eda-lake: error: {exc}", file=sys.stderr)
            failed += 1
    return ERROR_EXIT if failed else 0


@commands.command("ingest")
@click.option(
    "--capture-root",
    metavar="PATH",
    help="a local folder of capture files in the archive name format "
    "(default: the configured capture container, else EDA_LAKE_HOME/lake/capture)",
)
def _ingest(capture_root: str | None) -> int:
    """land every capture file not yet ingested in bronze (full discovery)"""
    from eda_lake.shared.errors import UserError

    settings = _settings()
    root = capture_root
    if root is not None and not Path(root).is_dir():
        what = "a file, not a folder" if Path(root).exists() else "no such folder"
        raise UserError(
            f"--capture-root {root}: {what}; pass a folder that holds capture files in the "
            "archive name format (the default is the lake's own capture area)"
        )
    lake = _lake(settings)
    with _progress() as progress:
        report = lake.ingest(root, progress=progress)
    ingested = f"{count(report.files_ingested, 'file')} ingested ({count(report.rows, 'event')})"
    print_report(
        f"bronze: {ingested}",
        report,
        skip=("files_ingested", "rows", "lag_seconds", "quarantined"),
    )
    for line in report.quarantined:
        print(f"    quarantined {line}")
    if not any(v for k, v in fields_of(report) if k.startswith("files")):
        source = root or str(settings.lake_dir / "capture")
        print(f"  no capture files under {source}: run `eda-lake capture run --flush` first")
    print(f"bronze table    {lake.layout.bronze_uri}")
    print(home_line(settings))
    return 0


@commands.command("silver")
def _silver() -> int:
    """decode new bronze events into silver"""
    settings = _settings()
    lake = _lake(settings, existing=True)
    with _progress() as progress:
        run = lake.silver(progress)
    print_report("silver events:", run.events)
    print_report("silver entities:", run.entities)
    print(f"silver tables   {lake.layout.area_uri('silver')}")
    print(home_line(settings))
    return _finished("silver", run.events.runs, run.entities.runs)


@commands.command("gold")
def _gold() -> int:
    """recompute the gold days new events touch"""
    settings = _settings()
    lake = _lake(settings, existing=True)
    with _progress() as progress:
        report = lake.gold(progress=progress)
    print_report("gold:", report)
    print(f"gold tables     {lake.layout.area_uri('gold')}")
    print(home_line(settings))
    return _finished("gold", report.runs)


@commands.command("status")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text")
def _status(output: str) -> int:
    """how fresh the lake is: each table's lag behind the newest captured event, its last
    commit and rows; capture files not ingested yet; quarantined items not resolved"""
    import json

    from eda_lake.console.freshness import status_lines
    from eda_lake.lake.status import lake_status

    settings = _settings()
    status = lake_status(_lake(settings, existing=True))
    if output == "json":
        print(json.dumps(status.to_json(), indent=2))
        return 0
    for line in status_lines(status):
        print(line)
    print(home_line(settings))
    return 0


@commands.command("rebuild")
def _rebuild() -> int:
    """rebuild silver and gold from bronze (after a decoder fix, or to mask under a new PII key)"""
    settings = _settings()
    lake = _lake(settings)
    silver, gold = lake.recovery.rebuild()
    print_report("silver events (rebuilt):", silver.events)
    print_report("silver entities (rebuilt):", silver.entities)
    print_report("gold (rebuilt):", gold)
    print(home_line(settings))
    return _finished("rebuild", silver.events.runs, silver.entities.runs, gold.runs)


@commands.group()
def quarantine() -> None:
    """what the lake could not ingest or decode"""


@quarantine.command("list")
@click.option("--kind", type=click.Choice(["all", "files", "events"]), default="all")
@click.option("--resolved", is_flag=True, help="include resolved items")
@click.option("--format", "output", type=FORMAT, default="table")
def _quarantine_list(kind: str, resolved: bool, output: str) -> int:
    """list quarantined files and events with their reasons"""
    settings = _settings()
    held = _lake(settings, existing=True).quarantine
    kinds = ("files", "events") if kind == "all" else (kind,)
    for listed in kinds:
        rows = getattr(held, listed)(include_resolved=resolved)
        # The bytes stay in the table (and the file copies under quarantine/capture/):
        # listed here are where each item came from and why it is held.
        shown = rows.drop_columns([c for c in ("body",) if c in rows.column_names])
        print(
            f"quarantine/{listed}: "
            + (count(rows.num_rows, listed[:-1]) if rows.num_rows else "none")
        )
        if rows.num_rows:
            rows_of = zip(*(shown[c].to_pylist() for c in shown.column_names), strict=True)
            WRITERS[output](shown.column_names, rows_of, sys.stdout)
    print(home_line(settings))
    return 0


@quarantine.command("retry")
@click.option("--files", is_flag=True, help="only capture files")
@click.option("--events", is_flag=True, help="only events")
@click.option(
    "--capture-root",
    metavar="PATH",
    help="the folder the files were ingested from with `ingest --capture-root`",
)
def _quarantine_retry(files: bool, events: bool, capture_root: str | None) -> int:
    """reprocess quarantined files and events after a fix; what lands is marked resolved,
    nothing lands twice"""
    settings = _settings()
    both = not (files or events)
    report = _lake(settings).recovery.retry_quarantine(
        files=both or files, events=both or events, capture_root=capture_root
    )
    print_report("quarantine retry:", report)
    print(home_line(settings))
    return 0


@commands.command("vacuum")
@click.option(
    "--retention-hours",
    default=168,
    help="keep files any version of the last N hours needs (time travel, lagging readers)",
)
def _vacuum(retention_hours: int) -> int:
    """delete the lake's data files that no table version within the retention refers to"""
    settings = _settings()
    report = _lake(settings).upkeep.vacuum(retention_hours)
    print(
        f"vacuum: {count(report.total, 'file')} deleted (older than {retention_hours} h, "
        "referenced by no table version within it)"
    )
    for table, deleted in report.files_deleted.items():
        if deleted:
            print(f"  {table:<28}{deleted:,}")
    print(home_line(settings))
    return 0


@commands.command("trace")
@click.argument("event_id", required=False, metavar="[EVENT_ID]")
@click.option("--customer", "customer_id", metavar="ID", help="a customer's events instead")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text")
def _trace(event_id: str | None, customer_id: str | None, output: str) -> int:
    """follow an event (EVENT_ID, a CloudEvents id) or a customer's events through the lake:
    the causal tree, and each event's hub, capture file, bronze, silver or quarantine row,
    dead letters, entity rows and gold days, with the time each hop took"""
    import json

    from eda_lake.tracing.render import trace_document, trace_lines
    from eda_lake.tracing.runtime import tracer

    if (event_id is None) == (customer_id is None):
        raise click.UsageError("name one event (EVENT_ID) or one customer (--customer ID)")
    settings = _settings()
    follow = tracer(settings)
    if event_id is not None:
        query, roots = {"event_id": event_id}, follow.event(event_id)
    else:
        assert customer_id is not None
        query, roots = {"customer_id": customer_id}, follow.customer(customer_id)
    if output == "json":
        print(json.dumps(trace_document(query, roots), indent=2))
    else:
        for line in trace_lines(roots):
            print(line)
    # stdout holds the tree alone (a JSON reader takes it whole): the home goes aside.
    print(home_line(settings), file=sys.stderr)
    return 0


@commands.command("sql")
@click.argument("query", required=False, metavar="[QUERY]")
@click.option(
    "--format",
    "output",
    type=FORMAT,
    default="table",
    help="an aligned table, CSV with a header, or JSON (one object per row)",
)
def _sql(query: str | None, output: str) -> int:
    """query the lake's tables with DuckDB (gold.funnel_daily, silver.customers,
    bronze.events, quarantine.files...); QUERY is one SQL statement or the shell's .tables,
    none opens a shell"""
    from eda_lake.analytics.sql import LakeSql, QueryError
    from eda_lake.lake.layout import LakeLayout
    from eda_lake.shared.errors import UserError

    settings = _settings()
    engine = LakeSql(LakeLayout.from_settings(settings).require_lake())
    try:
        from eda_lake.console.shell import TABLES, run_shell, tables_line

        if query is None:
            return run_shell(engine, WRITERS[output], home_line(settings))
        if query.strip() == TABLES:
            print(tables_line(engine))
        else:
            try:
                result = engine.query(query)
            except QueryError as exc:
                raise UserError(f"{exc}; {home_line(settings)}") from None
            WRITERS[output](result.columns, result.rows, sys.stdout)
    finally:
        engine.close()
    # stdout holds the rows alone (a CSV or JSON reader takes it whole): the home goes aside.
    print(home_line(settings), file=sys.stderr)
    return 0


@commands.command("demo")
@_population_options
@click.option("--verbose", is_flag=True, help="show Dagster's log of every step (debug level)")
def _demo(customers: int, seed: int, verbose: bool) -> int:
    """run everything end to end on the embedded default"""
    from eda_lake.demo import run_demo

    settings = _settings()
    with _progress() as progress:
        report = run_demo(
            settings, customers=customers, seed=seed, progress=progress, verbose=verbose,
        )  # fmt: skip
    if report.events_before:
        print(
            f"this home already held {count(report.events_before, 'event')} in bronze: the "
            "lake's totals below include them (a new EDA_LAKE_HOME starts empty)"
        )
    chain = report.chain
    subscribers = chain.subscribers
    leads = subscribers["conversions"].reactions
    print(f"provisioned           {count(report.provisioned, 'resource')}")
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
    if report.events_before and not sum(silver.inserted.values()):
        print(
            f"                      the same --seed ({seed}) changes nothing: the teams' stores "
            "hold its products and customers already (an event sent again, silver keeps once); "
            "another --seed publishes new ones"
        )
    if report.demo_pii_key:
        print(
            "personal data masked with the demo key (the same for every --seed): "
            "set EDA_LAKE_PII_KEY for real data"
        )
    print("\ngold funnel by cohort day (gold.funnel_daily):")
    print(f"{'cohort':<12}{_cells(FUNNEL_COLUMNS)}")
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
    print(home_line(settings))
    print(
        "\nnext: `make dev` (or `dagster dev`) shows these runs and every asset in the Dagster "
        'UI; `eda-lake sql` queries the lake (`eda-lake sql "SELECT * FROM gold.funnel_daily"`)'
    )
    return 0


FUNNEL_COLUMNS = ("customers", "leads", "abandoned", "sales", "purchasers")
WIDTHS = (10, 8, 10, 7, 11)


def _cells(values: Iterable[object]) -> str:
    return "".join(f"{v:>{w}}" for v, w in zip(values, WIDTHS, strict=True))


# The lake areas each command writes (others: capture's and bronze's), named for a full disk.
AREAS_WRITTEN = {
    "capture": ("capture",),
    "ingest": ("bronze", "quarantine"),
    "silver": ("silver", "quarantine"),
    "gold": ("gold",),
    "rebuild": ("silver", "gold"),
    "quarantine": ("bronze", "silver", "quarantine"),
}


def _state_directories(command: str) -> list[Path]:
    """Where `command` writes, deepest first: a full disk is named by the first one full (on
    one file system, the area the command writes, not another that shares the disk)."""
    from eda_lake.shared.errors import UserError

    try:
        settings = _settings()
    except UserError:  # the settings' own error (a variable's, a Key Vault secret's) is reported
        return []
    lake = settings.lake_dir
    areas = [lake / area for area in AREAS_WRITTEN.get(command, ("capture", "bronze"))]
    # Silver stages its rows in the temporary folder (TMPDIR), often another disk.
    return [*areas, lake, settings.hub_dir, settings.home, Path(tempfile.gettempdir())]


class _Once(logging.Filter):
    """Lets each message through once: a wait for another writer is looked at again twice a
    second, and said once."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.shown:
            return False
        self.shown.add(message)
        return True


def _show_lake_notes() -> None:
    """The lake's notes on stderr, each once: a table upgraded to its schema, a wait for
    another writer's lease (after a killed run, up to 30 s: not a hang)."""
    logger = logging.getLogger("eda_lake")
    if any(isinstance(h, _NotesHandler) for h in logger.handlers):
        return  # main() called again in one process
    notes = _NotesHandler()
    notes.setFormatter(logging.Formatter("eda-lake: %(message)s"))
    notes.addFilter(_Once())
    logger.addHandler(notes)
    logger.setLevel(logging.INFO)


class _NotesHandler(logging.Handler):
    """Writes to the stderr of the moment (a caller may have replaced it since)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `eda-lake` with `argv` (default: the process's arguments); the exit status.

    A mistaken command line ends in its usage and one line saying what is wrong (2);
    `--help`, `--version` and a bare group show what was asked for (0)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with commands.make_context("eda-lake", args) as ctx:
            status: int = commands.invoke(ctx)
            return status
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.UsageError as mistake:
        if mistake.ctx is not None:
            print(mistake.ctx.get_usage(), file=sys.stderr)
            hint = f" (`{mistake.ctx.command_path} --help` says more)"
        else:
            hint = ""
        message = " ".join(mistake.format_message().split())
        print(f"eda-lake: error: {message}{hint}", file=sys.stderr)
        return mistake.exit_code


if __name__ == "__main__":
    sys.exit(main())
