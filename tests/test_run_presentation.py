"""`reporter run` with --group-by, --columns and --timezone, against the simulator: a name the
inventory lacks is a usage error before anything is fetched; otherwise every format shows the
choice, read back from the files."""

import csv
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from reporter.cli import main
from reporter.simulator import Fleet


@pytest.fixture
def fleet() -> Fleet:
    return Fleet.generate(servers=10, executions_per_server=2, seed=5)


def run(argv: list[str]) -> int:
    return main(argv, stdout=io.StringIO())


def urls(sim) -> list[str]:
    return ["--api-url", sim.api_url, "--login-url", sim.login_url]


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--group-by", "owner,colour", "--group-by: the inventory has no attribute 'colour'"),
        ("--columns", "team", "--columns: the inventory has no attribute 'team'"),
        ("--timezone", "Europe/Atlantis", "is not an IANA time zone name"),
    ],
)
def test_a_bad_choice_stops_the_run_before_anything_is_fetched(
    tmp_path, fleet, sim_factory, credentials, capsys, option, value, said
):
    sim = sim_factory(fleet)
    inventory = fleet.write_inventory(tmp_path / "inventory.csv")
    out = tmp_path / "out"
    assert run(["run", str(inventory), "--out", str(out), *urls(sim), option, value]) == 2
    assert sim.stats.snapshot()["requests"] == 0
    assert not list(out.glob("patch-compliance-*"))
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


def test_grouping_columns_and_zone_in_every_format(tmp_path, fleet, sim_factory, credentials):
    sim = sim_factory(fleet)
    inventory = fleet.write_inventory(tmp_path / "inventory.csv")
    out = tmp_path / "out"
    (tmp_path / "reporter.toml").write_text('classification = "Internal"\n', encoding="utf-8")
    argv = [
        "run",
        str(inventory),
        "--out",
        str(out),
        *urls(sim),
        "--config",
        str(tmp_path / "reporter.toml"),
        "--group-by",
        "Environment,owner",
        "--columns",
        "os",
        "--timezone",
        "Asia/Tokyo",
    ]
    assert run(argv) in (0, 3)
    [html] = out.glob("*.html")
    page = html.read_text(encoding="utf-8")
    assert "Compliance by environment" in page and "Compliance by owner" in page
    assert "Start (Asia/Tokyo)</th>" in page and "(UTC)</th>" not in page
    servers = page[page.index('id="t-servers"') :]
    header = servers[: servers.index("</thead>")]
    assert ">os<" in header and ">owner<" not in header  # only the attribute asked for
    assert "Internal" in page

    [pdf] = out.glob("*.pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "Compliance by environment" in text
    # pypdf before 7 may read the kerned "To" of Tokyo as two words.
    assert re.search(r"TIME ZONE\nAsia/T ?okyo", text)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d JST", text)  # the cover's times, in Tokyo

    [xlsx] = out.glob("*.xlsx")
    book = openpyxl.load_workbook(xlsx, read_only=True)
    assert "By group" in book.sheetnames
    servers_sheet = next(book["Servers"].iter_rows(max_row=1, values_only=True))
    assert "Latest execution start (Asia/Tokyo)" in servers_sheet
    assert {"owner", "environment", "os"} <= set(servers_sheet)  # Excel keeps every attribute

    [csv_file] = out.glob("*.csv")
    with csv_file.open(encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    assert first["execution_start"].endswith("Z")  # the CSV stays UTC


@pytest.mark.slow
def test_a_re_render_keeps_who_prepared_the_report(tmp_path, fleet, sim_factory, credentials):
    # SPEC 9: "Prepared by" is the login's user name, kept in run.json for re-renders.
    sim = sim_factory(fleet)
    inventory = fleet.write_inventory(tmp_path / "inventory.csv")
    first = tmp_path / "first"
    assert run(["run", str(inventory), "--out", str(first), *urls(sim), "--format", "pdf"]) in (
        0,
        3,
    )
    again = tmp_path / "again"
    argv = ["run", "--from-archive", str(first), "--out", str(again), "--format", "pdf"]
    assert run(argv) in (0, 3)
    for folder in (first, again):
        [pdf] = folder.glob("*.pdf")
        cover = PdfReader(pdf).pages[0].extract_text()
        assert re.search(r"Prepared by\s+demo\b", cover), folder.name


def test_a_re_render_presents_the_report_as_the_run_did(tmp_path, fleet, sim_factory, credentials):
    # The time zone, grouping, columns, sign-off names and classification are kept in
    # run.json: a re-render without them on its command line looks the same; one given wins.
    sim = sim_factory(fleet)
    inventory = fleet.write_inventory(tmp_path / "inventory.csv")
    config = tmp_path / "reporter.toml"
    config.write_text(
        'classification = "Internal"\nreviewed_by = "Rita Reviewer"\n'
        'approved_by = "Anna Approver"\nprepared_by = "Pat Preparer"\n',
        encoding="utf-8",
    )
    first = tmp_path / "first"
    argv = ["run", str(inventory), "--out", str(first), *urls(sim), "--format", "html"]
    argv += ["--config", str(config), "--group-by", "owner", "--columns", "os"]
    assert run([*argv, "--timezone", "Asia/Tokyo"]) in (0, 3)
    [record] = first.glob("evidence/*/run.json")
    settings = json.loads(record.read_text(encoding="utf-8"))["settings"]
    assert settings["timezone"] == "Asia/Tokyo" and settings["columns"] == ["os"]
    assert settings["group_by"] == ["owner"] and settings["classification"] == "Internal"

    def page(folder: Path, *options: str) -> str:
        again = ["run", "--from-archive", str(first), "--out", str(folder), "--format", "html"]
        assert run([*again, *options]) in (0, 3)
        [html] = folder.glob("*.html")
        text = html.read_text(encoding="utf-8")
        # The time the report was generated differs from run to run.
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? [A-Z]{3}", "TIME", text)

    original = page(tmp_path / "original-copy", "--config", str(config))
    again = page(tmp_path / "again")
    for said in (
        "Compliance by owner",
        "Start (Asia/Tokyo)</th>",
        "Internal",
        "Rita Reviewer",
        "Anna Approver",
        "Pat Preparer",
    ):
        assert said in original and said in again, said
    servers = again[again.index('id="t-servers"') :]
    header = servers[: servers.index("</thead>")]
    assert ">os<" in header and ">owner<" not in header

    chosen = page(tmp_path / "chosen", "--timezone", "UTC", "--columns", "owner")
    assert "Start (UTC)</th>" in chosen and "(Asia/Tokyo)" not in chosen
    servers = chosen[chosen.index('id="t-servers"') :]
    assert ">owner<" in servers[: servers.index("</thead>")]
    assert "Rita Reviewer" in chosen  # what the command line left alone still comes from run.json
