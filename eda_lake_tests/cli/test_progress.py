"""Progress on long work: a bar on a terminal, periodic log lines elsewhere, never on stdout."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

from eda_lake.console.progress import LogLines, TerminalBar, progress_for

EDA_LAKE = str(Path(sys.executable).parent / "eda-lake")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # colours and cursor moves


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_log_lines_every_few_seconds_and_at_the_end_with_rates() -> None:
    out, clock = io.StringIO(), Clock()
    log = LogLines(out, clock, every=5.0)
    for done in range(0, 10_001, 1000):
        clock.now += 1.0
        log("publish CustomerCreated", done, 10_000)
    log("publish CustomerCreated", 10_000, 10_000)  # the same end, reported again
    clock.now += 2.0
    log("capture", 700)  # a stage of unknown total: its line comes at close
    log("dagster runs", 0, 4, "runs")
    clock.now += 4.0
    log("dagster runs", 2, 4, "runs")  # a slow stage, its line at close
    log.close()
    lines = out.getvalue().splitlines()
    assert lines == [
        "progress: publish CustomerCreated 5,000/10,000 events (1,000 events/s)",
        "progress: publish CustomerCreated 10,000/10,000 events (1,000 events/s)",
        "progress: capture 700 events",
        "progress: dagster runs 2/4 runs (0.5 runs/s)",
    ]


def test_a_stage_whose_last_line_said_where_it_stopped_is_not_said_again_at_close() -> None:
    out, clock = io.StringIO(), Clock()
    log = LogLines(out, clock, every=5.0)
    log("dagster runs", 0, 4, "runs")
    clock.now += 6.0
    log("dagster runs", 2, 4, "runs")  # said: the periodic line
    clock.now += 6.0
    log.close()  # interrupted there: nothing new to say
    assert out.getvalue().splitlines() == ["progress: dagster runs 2/4 runs (0.33 runs/s)"]


def test_the_bars_show_each_stage_with_counts_and_rate() -> None:
    out, clock = io.StringIO(), Clock()
    bar = TerminalBar(out, clock)
    bar("ingest", 0, 400, "files")
    clock.now += 0.5
    bar("ingest", 200, 400, "files")
    clock.now += 0.5
    bar("ingest", 400, 400, "files")
    bar("capture", 700)  # a new stage: a line of its own, below
    clock.now += 1.0
    bar("capture", 900)
    bar.close()
    # The last frame, drawn when the bars close: one line per stage.
    *_, ingest, capture = ANSI.sub("", out.getvalue()).splitlines()
    assert re.fullmatch(r"ingest  ━{20} 400/400 files 400 files/s\s*", ingest), ingest
    assert re.fullmatch(r"capture ━{20} 900 events\s+200 events/s\s*", capture), capture


def test_bars_that_were_never_shown_leave_nothing() -> None:
    out = io.StringIO()
    TerminalBar(out).close()
    assert out.getvalue() == ""


def test_the_kind_follows_the_stream() -> None:
    assert isinstance(progress_for(io.StringIO()), LogLines)


def test_a_terminal_sees_a_bar_and_stdout_keeps_only_the_results(tmp_path: Path) -> None:
    env = {**os.environ, "EDA_LAKE_HOME": str(tmp_path / "home")}
    subprocess.run([EDA_LAKE, "provision"], env=env, capture_output=True, check=True)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [EDA_LAKE, "publish", "--customers", "30000"],
        env={**env, "COLUMNS": "72"},  # a narrow terminal: the bar gives way
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    os.close(follower)
    terminal = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        terminal += chunk
    stdout, _ = process.communicate(timeout=120)
    os.close(leader)
    assert process.returncode == 0
    shown = ANSI.sub("", terminal.decode())
    assert re.search(r"publish CustomerCreated ━+ [\d,]+/30,000 events [\d,]+ events/s", shown)
    assert "publish CustomerCreated" not in stdout
    assert "published 30,000 CustomerCreated events" in stdout


def test_a_log_sees_lines(tmp_path: Path) -> None:
    env = {**os.environ, "EDA_LAKE_HOME": str(tmp_path / "home")}
    subprocess.run([EDA_LAKE, "provision"], env=env, capture_output=True, check=True)
    result = subprocess.run(
        [EDA_LAKE, "publish", "--customers", "2000"], env=env, capture_output=True, text=True
    )
    assert "progress: publish CustomerCreated 2,000/2,000 events" in result.stderr
    assert "\r" not in result.stderr
