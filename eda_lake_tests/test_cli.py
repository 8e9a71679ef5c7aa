from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eda_lake.cli import commands, main
from eda_lake.settings import Settings
from eda_lake.simulation.runtime import Simulation
from eda_lake.simulation.teams import customer_signups
from eda_lake_tests.registry.evolution import STEPS, VERSIONS


def _write_versions(tmp_path: Path) -> list[Path]:
    paths = []
    for number, schema in enumerate(VERSIONS, start=1):
        path = tmp_path / f"thing_v{number}.avsc"
        path.write_text(schema.definition)
        paths.append(path)
    return paths


@pytest.mark.parametrize(("new", "backward", "forward"), STEPS)
def test_registry_check_exit_codes(
    tmp_path: Path, capsys, new: int, backward: bool, forward: bool
) -> None:
    paths = _write_versions(tmp_path)
    old_path, new_path = str(paths[new - 2]), str(paths[new - 1])
    for mode, ok in (
        ("none", True),
        ("backward", backward),
        ("forward", forward),
        ("full", backward and forward),
    ):
        code = main(["registry", "check", "--mode", mode, old_path, new_path])
        out = capsys.readouterr().out
        assert code == (0 if ok else 1), (mode, out)
        if not ok:
            assert "Thing." in out  # the reason names the field


def test_registry_check_as_a_process_with_a_bad_file(tmp_path: Path) -> None:
    paths = _write_versions(tmp_path)
    bad = tmp_path / "bad.avsc"
    bad.write_text("{not json")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "eda_lake.cli",
            "registry",
            "check",
            "--mode",
            "backward",
            str(paths[0]),
            str(bad),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "bad.avsc: not valid JSON" in result.stderr


def test_catalogue_command(capsys) -> None:
    assert main(["catalogue"]) == 0
    assert json.loads(capsys.readouterr().out)["SaleConfirmed"]["hub"] == "sale-confirmed"


def _help_of(argv: list[str], capsys) -> str:
    assert main(argv) == 0
    shown: str = capsys.readouterr().out
    return shown


def test_a_bare_command_shows_its_help(capsys) -> None:
    listing = _help_of([], capsys)
    assert listing == _help_of(["--help"], capsys) == _help_of(["-h"], capsys)
    assert "Usage: eda-lake [OPTIONS] COMMAND" in listing
    for command in ("provision", "subscribe", "dead-letters", "ingest", "sql", "demo"):
        assert f"\n  {command} " in listing
    # a summary is wrapped, never cut short
    sql_summary = " ".join((commands.commands["sql"].help or "").split())
    assert len(sql_summary) > 100 and sql_summary in " ".join(listing.split())
    assert "Commands:\n  run " in _help_of(["capture"], capsys)


def test_version(capsys) -> None:
    from importlib.metadata import version

    import eda_lake

    assert _help_of(["--version"], capsys) == f"eda-lake {version('eda-lake')}\n"
    assert eda_lake.__version__ == version("eda-lake")  # pyproject's, not a copy of it
    with pytest.raises(AttributeError, match="no attribute 'version'"):
        eda_lake.version  # noqa: B018


def test_a_mistyped_command_is_answered_with_the_nearest_in_one_line(capsys) -> None:
    assert main(["sliver"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "eda-lake: error: No such command 'sliver'. Did you mean 'silver'? "
        "(`eda-lake --help` says more)"
    )
    assert main(["capture", "runn"]) == 2
    assert "Did you mean 'run'?" in capsys.readouterr().err


def test_choices_come_from_their_declarations(capsys) -> None:
    from eda_lake.console.rows import WRITERS
    from eda_lake.registry.modes import Compatibility
    from eda_lake.simulation.team_names import TEAMS_WITH_SUBSCRIPTIONS

    modes = "|".join(mode.value.lower() for mode in Compatibility)
    assert f"[{modes}]" in _help_of(["registry", "check", "--help"], capsys)
    assert f"[{'|'.join(WRITERS)}]" in _help_of(["sql", "--help"], capsys)
    teams = ", ".join(TEAMS_WITH_SUBSCRIPTIONS)
    for command in ("subscribe", "dead-letters"):
        assert f"TEAM is one of: {teams}." in _help_of([command, "--help"], capsys)


def test_one_team_at_a_time(capsys) -> None:
    assert "--team" not in _help_of(["dead-letters", "--help"], capsys)  # the old form, hidden
    assert main(["dead-letters", "customer", "--team", "conversions"]) == 2
    assert "two teams given (customer and --team conversions)" in capsys.readouterr().err


def test_help_loads_none_of_the_rooms() -> None:
    """`eda-lake --help` and a command's help start fast: nothing heavy is imported."""
    script = (
        "import sys\n"
        "from eda_lake.cli import main\n"
        "assert main(['--help']) == 0 and main(['ingest', '--help']) == 0\n"
        "assert main(['registry', 'check', '--help']) == 0\n"
        "print('\\n'.join(sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = {name.split(".")[0] for name in result.stderr.splitlines()}
    heavy = {"pyarrow", "deltalake", "dagster", "duckdb", "pandas", "fastavro", "azure", "rich"}
    assert not loaded & heavy, loaded & heavy
    assert "eda_lake.settings" not in result.stderr.splitlines()
    assert "importlib.metadata" not in result.stderr.splitlines()  # eda_lake.__version__'s


def test_describe_explains_each_column_and_names_a_mistyped_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from eda_lake.catalogue import load_catalogue
    from eda_lake.lake.dictionary import lake_tables
    from eda_lake.settings import Settings

    assert main(["describe", "gold.time_to_convert"]) == 0
    said = capsys.readouterr().out
    [table] = [t for t in lake_tables(load_catalogue(Settings.from_env().schema_dir))
               if t.name == "gold.time_to_convert"]  # fmt: skip
    for column in table.columns:
        assert f"\n{column.name} " in said and column.description, column.name
    assert main(["describe", "gold.funel"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "no table 'gold.funel'" in line and "did you mean gold.funnel_daily?" in line


def test_ctrl_c_ends_in_one_line_saying_a_rerun_resumes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import eda_lake.catalogue

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(eda_lake.catalogue, "load_catalogue", interrupted)
    assert main(["catalogue"]) == 130
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("eda-lake: interrupted:") and "run the command again" in line


@pytest.mark.parametrize("customers", ["0", "-5", "1000001"])
def test_a_population_out_of_range_is_refused(
    customers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish", "--customers", customers]) == 2
    assert "is not in the range 1<=x<=1000000" in capsys.readouterr().err


def test_dead_letters_read_a_home_and_create_nothing_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("EDA_LAKE_HOME", str(home))
    assert main(["dead-letters", "customer"]) == 0
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err.splitlines() == [
        "dead letters for team customer: none",
        f"EDA_LAKE_HOME   {home}",
    ]
    assert list(home.iterdir()) == []


def test_input_mistakes_exit_2_and_name_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = [str(tmp_path / "old.avsc"), str(tmp_path / "new.avsc")]
    assert main(["registry", "check", "--mode", "backward", *missing]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert all(f"{path}: schema file not found" in line for path in missing), line
    (_, not_capture), unreadable = _write_versions(tmp_path)[:2], tmp_path / "gone.avro"
    assert main(["capture", "inspect", str(unreadable), str(not_capture)]) == 2
    said = capsys.readouterr().err
    assert f"no such capture file: {unreadable}" in said and "thing_v2.avsc" in said


def test_a_capture_root_that_is_a_file_is_called_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "capture.avro"
    a_file.write_bytes(b"")
    assert main(["ingest", "--capture-root", str(a_file)]) == 2
    assert f"--capture-root {a_file}: a file, not a folder;" in capsys.readouterr().err
    assert main(["ingest", "--capture-root", str(tmp_path / "none")]) == 2
    assert "none: no such folder;" in capsys.readouterr().err


def test_describe_takes_sql_spellings_and_layers_and_needs_no_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["describe", "gold.funnel_daily"]) == 0
    lower = capsys.readouterr().out
    assert main(["describe", "GOLD.Funnel_Daily"]) == 0
    assert capsys.readouterr().out == lower
    assert main(["describe", "gold"]) == 0
    layer = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line[:1] != " "]
    assert "gold.funnel_daily" in layer and all(name.startswith("gold.") for name in layer)
    assert main(["describe", "GOLD.FUNEL"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "did you mean gold.funnel_daily?" in line and len(line) < 200
    a_file = tmp_path / "home"
    a_file.write_text("")
    monkeypatch.setenv("EDA_LAKE_HOME", str(a_file))
    assert main(["describe", "gold"]) == 0 and main(["catalogue"]) == 0


def test_outbox_reads_a_home_and_creates_nothing_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("EDA_LAKE_HOME", str(home))
    assert main(["outbox", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(t["team"], t["pending"], t["oldest_pending_age_s"]) for t in shown] == [
        ("product", 0, None),
        ("customer", 0, None),
        ("conversions", 0, None),
    ]
    assert list(home.iterdir()) == []
    assert main(["outbox", "nosuchteam"]) == 2


def test_outbox_shows_what_is_pending_and_its_age(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EDA_LAKE_HOME", str(tmp_path / "home"))
    assert main(["provision"]) == 0
    simulation = Simulation(Settings.from_env())
    store = simulation.stores["customer"]
    with store.transaction():  # stored by a Customer that was killed before its relay ran
        store.enqueue(
            simulation.publisher.prepare(e) for e in customer_signups(simulation.catalogue, 1, 7)
        )
    simulation.close()
    capsys.readouterr()
    assert main(["outbox"]) == 0
    header, product, customer = capsys.readouterr().out.splitlines()[:3]
    assert header.split() == ["team", "pending", "oldest", "pending", "sent", "refused"]
    assert product.split()[:3] == ["product", "0", "-"]
    assert customer.split()[:2] == ["customer", "7"]
    assert customer.split()[3] == "s"  # the age of the oldest, in seconds
    assert main(["outbox", "customer", "--relay", "--format", "json"]) == 0
    [sent] = json.loads(capsys.readouterr().out)
    assert (sent["pending"], sent["sent"]) == (0, 7)
    assert main(["publish", "--customers", "3", "--seed", "2"]) == 0  # its relay sends all
    assert main(["publish", "--customers", "3", "--seed", "2"]) == 0  # the same people
    assert "published no CustomerCreated events" in capsys.readouterr().out
    assert main(["outbox", "--format", "json"]) == 0
    shown = {t["team"]: t for t in json.loads(capsys.readouterr().out)}
    assert (shown["customer"]["pending"], shown["customer"]["sent"]) == (0, 10)
