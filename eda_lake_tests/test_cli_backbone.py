"""The backbone's commands, run as a user would, on the embedded default."""

from __future__ import annotations

import json
import re
from pathlib import Path

from eda_lake.cli import main


def _counter(out: str, label: str) -> int:
    """The number a summary line gives for `label` (`  sales confirmed   42`)."""
    match = re.search(rf"^\s*{re.escape(label)}\s+([\d,]+)", out, re.MULTILINE)
    assert match is not None, (label, out)
    return int(match.group(1).replace(",", ""))


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()
    }


def test_provision_publish_subscribe_capture_by_command(capsys, tmp_path: Path) -> None:
    home = tmp_path / "eda_lake_home"
    assert main(["provision", "--plan"]) == 0
    assert "would change (a plan: nothing was touched)" in capsys.readouterr().out
    assert not home.exists()  # a plan creates no file, not even the embedded state's
    assert main(["provision"]) == 0
    assert main(["provision"]) == 0
    out = capsys.readouterr().out
    assert "no resources changed; nothing to do" in out
    assert f"EDA_LAKE_HOME   {home}" in out
    files_before = _files(home)
    assert main(["provision", "--plan"]) == 0
    assert "no resources would change" in capsys.readouterr().out
    assert _files(home) == files_before  # nothing created, changed or left behind
    assert main(["publish", "--customers", "60", "--seed", "2"]) == 0
    assert "published 60 CustomerCreated events" in capsys.readouterr().out
    assert main(["subscribe", "conversions"]) == 0
    assert _counter(capsys.readouterr().out, "reactions published") == 60
    assert main(["partners", "drop"]) == 0
    assert main(["partners", "ingest"]) == 0
    sales = _counter(capsys.readouterr().out, "sales confirmed")
    assert main(["subscribe", "conversions"]) == 0
    assert _counter(capsys.readouterr().out, "reactions published") == sales
    assert main(["dead-letters"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == ["dead letters: none", f"EDA_LAKE_HOME   {home}"]
    assert main(["capture", "run", "--flush"]) == 0
    out = capsys.readouterr().out
    assert "windows still open      none" in out
    assert re.search(r"captured [\d,]+ events into [\d,]+ files", out)


def test_capture_run_names_the_open_windows_and_when_they_close(capsys) -> None:
    assert main(["provision"]) == 0
    assert main(["publish", "--customers", "5", "--seed", "1"]) == 0
    capsys.readouterr()
    assert main(["capture", "run"]) == 0
    out = capsys.readouterr().out
    assert "captured no events into no files" in out
    assert "written once they close, or now with --flush" in out
    assert re.search(r"customer-created \(partitions [\d, ]+\) closes at \d{4}-\d\d-\d\d", out)
    assert main(["capture", "run", "--flush"]) == 0
    assert "captured 13 events" in capsys.readouterr().out  # 8 products, 5 customers


def test_demo_reports_the_chain_and_same_seed_gives_same_events(
    capsys, monkeypatch, tmp_path: Path
) -> None:
    outputs = []
    for run in ("first", "second"):
        monkeypatch.setenv("EDA_LAKE_HOME", str(tmp_path / run))
        assert main(["demo", "--customers", "150", "--seed", "9"]) == 0
        out = capsys.readouterr().out
        assert "customers created     150" in out
        outputs.append([line for line in out.splitlines() if str(tmp_path) not in line])
    assert outputs[0] == outputs[1]


def test_unknown_team_is_refused(capsys) -> None:
    assert main(["provision"]) == 0
    capsys.readouterr()
    assert main(["subscribe", "platform"]) == 2
    assert "'platform' is not one of 'conversions', 'customer'" in capsys.readouterr().err


def test_dead_letters_say_which_can_be_replayed(capsys, tmp_path: Path) -> None:
    assert main(["provision"]) == 0
    assert main(["publish", "--customers", "80", "--seed", "5"]) == 0
    assert main(["subscribe", "conversions"]) == 0
    assert main(["partners", "drop"]) == 0
    [first, *_] = sorted((tmp_path / "eda_lake_home/teams/partner_drops/incoming").glob("*.csv"))
    with first.open("a") as partner_file:
        partner_file.write("not,a,sale\n")
    assert main(["partners", "ingest"]) == 0
    assert _counter(capsys.readouterr().out, "bad rows") == 1
    assert main(["dead-letters", "--team", "conversions"]) == 0
    [letter] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert letter["origin"] == f"partner-file:{first.name}" and letter["replayable"] is False
    assert "expected 2 columns" in letter["reason"]
    assert main(["subscribe", "conversions", "--replay"]) == 0
    out = capsys.readouterr().out
    assert "conversions: replayed no dead letters" in out
    assert "partner-file rows       1 not replayable" in out
    assert main(["dead-letters", "customer"]) == 0
    assert capsys.readouterr().err.splitlines()[0] == "dead letters for team customer: none"
    assert main(["dead-letters", "--team", "customer"]) == 0  # the option form still works
    assert capsys.readouterr().err.splitlines()[0] == "dead letters for team customer: none"
