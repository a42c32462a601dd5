"""Progress of the long rendering stages: a redrawn line on a terminal, one log line off it."""

import io
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import make_model
from logins import use_demo_login

from reporter.cli import main
from reporter.render.excel import render_xlsx
from reporter.render.pdf import render_pdf
from reporter.render.progress import WEASYPRINT_PROGRESS, StageProgress
from reporter.simulator import Fleet, SimulatorServer


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def ticking() -> itertools.count:
    """A clock that moves a second on every reading: no update is held back as too soon."""
    return itertools.count()


@pytest.fixture
def reporter_info() -> Iterator[list[str]]:
    """The messages logged on the "reporter" logger at INFO and above during the test."""
    messages: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("reporter")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield messages
    logger.removeHandler(handler)
    logger.setLevel(level)


def shown(stream: io.StringIO) -> list[str]:
    """The successive states of a redrawn line."""
    return [line.rstrip() for line in stream.getvalue().split("\r") if line.strip()]


def test_excel_on_a_terminal_says_each_sheet_and_its_rows(tmp_path, reporter_info):
    model = make_model(servers=30)
    stream = Terminal()
    with StageProgress("Excel", stream, clock=ticking().__next__) as progress:
        render_xlsx(model, tmp_path / "r.xlsx", progress=progress)
    states = shown(stream)
    patches = len(model.patches)
    assert patches > 0
    assert any(s.startswith(f"Excel: preparing Patches: {patches:,} rows") for s in states)
    assert any(s.startswith(f"Excel: Patches {patches:,}/{patches:,} rows") for s in states)
    assert any(s.startswith("Excel: writing the workbook") for s in states)
    assert states[-1].startswith("Excel: 13 sheets, ")
    assert "written in" in states[-1]
    assert stream.getvalue().endswith("\n")  # the next message starts a line of its own
    assert reporter_info == []  # on a terminal, the line is the progress: nothing logged


def test_excel_cell_by_cell_counts_its_rows_too(tmp_path, monkeypatch):
    from reporter.render import excel

    monkeypatch.setattr(excel, "FAST_SHEET_DATA", False)
    monkeypatch.setattr(excel, "PROGRESS_ROWS", 7)
    model = make_model(servers=30)
    stream = Terminal()
    with StageProgress("Excel", stream, clock=ticking().__next__) as progress:
        render_xlsx(model, tmp_path / "r.xlsx", progress=progress)
    patches = len(model.patches)
    states = shown(stream)
    assert any(s.startswith(f"Excel: Patches 7/{patches:,} rows") for s in states)
    assert any(s.startswith(f"Excel: Patches {patches:,}/{patches:,} rows") for s in states)


def test_pdf_on_a_terminal_says_its_steps_and_pages(tmp_path):
    stream = Terminal()
    logger = logging.getLogger(WEASYPRINT_PROGRESS)
    before = (logger.level, logger.propagate, list(logger.handlers))
    with StageProgress("PDF", stream, clock=ticking().__next__) as progress:
        render_pdf(make_model(servers=30), tmp_path / "r.pdf", progress=progress)
    states = shown(stream)
    assert states[0].startswith("PDF: preparing the tables")
    assert any(s.startswith("PDF: laying out the report, page 1 ") for s in states)
    assert any(s.startswith("PDF: laying out the report, page 2 ") for s in states)
    assert any(s.startswith("PDF: drawing the pages (the report)") for s in states)
    assert states[-1].startswith("PDF: written in ")
    # WeasyPrint's logger is left as it was found.
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


def test_off_a_terminal_one_log_line_with_the_time(tmp_path, reporter_info):
    stream = io.StringIO()
    with StageProgress("PDF", stream) as progress:
        render_pdf(make_model(), tmp_path / "r.pdf", progress=progress)
    assert stream.getvalue() == ""
    [line] = reporter_info
    assert line.startswith("PDF: written in ") and line.endswith(" s")


def test_a_failed_stage_ends_the_line_and_claims_nothing(reporter_info):
    stream = Terminal()
    with pytest.raises(RuntimeError), StageProgress("PDF", stream) as progress:
        progress.step("laying out")
        raise RuntimeError("no")
    assert stream.getvalue().endswith("\n")
    assert "written" not in stream.getvalue()
    with pytest.raises(RuntimeError), StageProgress("PDF", io.StringIO()):
        raise RuntimeError("no")
    assert reporter_info == []


def test_frequent_updates_are_held_back_but_not_the_last(tmp_path):
    readings = iter([0.0, 0.0, 0.01, 0.02, 0.03, 0.04])
    stream = Terminal()
    progress = StageProgress("Excel", stream, clock=lambda: next(readings))
    progress.__enter__()
    progress.count("Patches", 1, 3)  # the first is shown
    progress.count("Patches", 2, 3)  # too soon
    progress.count("Patches", 3, 3)  # the last is always shown
    assert [s.split(" (")[0] for s in shown(stream)] == [
        "Excel: Patches 1/3 rows",
        "Excel: Patches 3/3 rows",
    ]


def test_reporter_run_logs_one_line_per_long_stage(tmp_path, monkeypatch, capsys):
    use_demo_login(monkeypatch)
    fleet = Fleet.generate(servers=6, executions_per_server=1, seed=5)
    inventory = tmp_path / "inventory.csv"
    rows = [f"{e.server_id},{e.execution_id},{e.account}" for e in fleet.executions]
    inventory.write_text("server_id,execution_id,account_alias\n" + "\n".join(rows) + "\n")
    with SimulatorServer(fleet) as sim:
        argv = ["run", str(inventory), "--out", str(tmp_path / "out"), "--format", "pdf,xlsx"]
        argv += ["--api-url", sim.api_url, "--login-url", sim.login_url, "--no-history"]
        main([*argv, "--no-completeness-check"], stdout=io.StringIO())
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if line.startswith("reporter: PDF: written in ")]) == 1
    excel = [line for line in err if line.startswith("reporter: Excel: ")]
    assert len(excel) == 1 and " sheets, " in excel[0] and "written in" in excel[0]
    assert not any("\r" in line for line in err)
    assert Path(tmp_path / "out").is_dir()
