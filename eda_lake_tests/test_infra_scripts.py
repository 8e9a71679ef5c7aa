from __future__ import annotations

from infra_scripts.provision import main


def test_plan_then_apply_then_nothing_to_do(capsys) -> None:
    assert main(["plan"]) == 0
    planned = capsys.readouterr().out
    assert "create  event hub       customer-created" in planned
    assert main(["plan", "--target", "azure"]) == 2  # no subscription configured
    assert main(["apply"]) == 0
    applied = capsys.readouterr().out
    assert applied.splitlines()[-1] == planned.splitlines()[-1].replace("would change", "changed")
    assert main(["apply"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 resource(s) changed"
