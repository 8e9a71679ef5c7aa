"""The backbone's commands, run as a user would, on the embedded default."""

from __future__ import annotations

import json
from pathlib import Path

from eda_lake.cli import main


def test_provision_publish_subscribe_capture_by_command(capsys, tmp_path: Path) -> None:
    assert main(["provision", "--plan"]) == 0
    assert "would change" in capsys.readouterr().out
    assert main(["provision"]) == 0
    assert main(["provision"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["publish", "--customers", "60", "--seed", "2"]) == 0
    assert "60 CustomerCreated" in capsys.readouterr().out
    assert main(["subscribe", "conversions"]) == 0
    assert json.loads(capsys.readouterr().out)["reactions"] == 60
    assert main(["partners", "drop"]) == 0
    assert main(["partners", "ingest"]) == 0
    sales = json.loads(capsys.readouterr().out.split("}\n", 1)[1])["sales_confirmed"]
    assert main(["subscribe", "conversions"]) == 0
    assert json.loads(capsys.readouterr().out)["reactions"] == sales
    assert main(["dead-letters"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["capture", "run", "--flush"]) == 0
    assert "captured" in capsys.readouterr().out


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
    try:
        main(["subscribe", "platform"])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "invalid choice" in capsys.readouterr().err
