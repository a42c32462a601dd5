"""Hostile inventories (SPEC 2, 6, 7) through `reporter run`: refused in one line, or reconciled.

Every file of the loader's corpus (tests/inventories/) and of the corpus below runs through
``main(["run", ...])`` against the simulator, which answers every execution it is asked for.
A file that cannot be used exits 2 with one stderr line naming the file and the reason, and
writes nothing. Any other file exits 0 or 3, and every data row ends in exactly one place:
the Executions sheet or the Problems sheet (read back with openpyxl). Never a traceback.
"""

import io
import json
from pathlib import Path

import openpyxl
import pytest
from readers import sheet_rows

from reporter.cli import main
from reporter.errors import InventoryError
from reporter.inventory import load_inventory
from reporter.simulator import Fleet, SimulatorServer

LOADER_CORPUS = Path(__file__).parent / "inventories"
HEADER = b"server_id,execution_id,account_alias,owner\n"


def body_for(execution_id: str) -> bytes:
    """A well-formed execution detail with one succeeded patch."""
    patch = {
        "patch_begin_message": "Installing Security Update for Windows (KB3135998)",
        "patch_end_message": "Result Code: 2",
        "status": "completed",
        "start_time": "2026-10-14T03:00:00Z",
        "end_time": "2026-10-14T03:05:00Z",
    }
    return json.dumps(
        {
            "execution_id": execution_id,
            "status": "completed",
            "start_time": "2026-10-14T03:00:00Z",
            "end_time": "2026-10-14T03:10:00Z",
            "duration": "10m 0s",
            "patches": [patch],
        }
    ).encode()


# name -> file bytes. The loader's own corpus adds 35 more files.
CORPUS: dict[str, bytes] = {
    "gzip.csv": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)),
    "xlsx_saved_as_csv.csv": b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + b"\x00" * 64,
    "utf32.csv": "server_id\nVA1SRV01\n".encode("utf-32"),
    "invalid_utf8_in_row.csv": HEADER + b"VA1SRV01,VA1-1,OSD,\xc3\x28 owner\n",
    "overlong_utf8_slash.csv": HEADER + b"VA1\xc0\xafSRV,VA1-1,OSD,x\n",
    "excel_sep_line.csv": b"sep=,\nserver_id,execution_id\nVA1SRV01,VA1-1\n",
    "pdf_magic.csv": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n",
    "html_page.csv": b"<!DOCTYPE html><html><body><p>Sign in</p></body></html>\n",
    "json_array.csv": b'[{"server_id": "VA1SRV01", "execution_id": "VA1-1"}]\n',
    "header_of_quotes.csv": b'""\n""\n',
    # Attributes used to be added one insert at a time: 10,000 columns took 40 s.
    "five_thousand_columns.csv": (
        b"server_id,execution_id,"
        + b",".join(b"attr%d" % n for n in range(5_000))
        + b"\nVA1SRV01,VA1-1,"
        + b",".join(b"v%d" % n for n in range(5_000))
        + b"\n"
    ),
    "two_megabyte_line.csv": HEADER + b"VA1SRV01,VA1-1,OSD," + b"A" * 2_000_000 + b"\n"
    b"VA1SRV02,VA1-2,OSD,ok\n",
    "terminal_escapes.csv": HEADER + b"VA1\x1b[31mSRV,VA1-1,OSD,\x1b]0;pwned\x07\n"
    b"VA1SRV01,VA1-1,OSD,ok\n",
    "homoglyph_ids.csv": HEADER
    + "VA1SRV\u041001,VA1-1,OSD,cyrillic A\n".encode()
    + "VA1SRV01,VA1\uff0d1,OSD,fullwidth dash\n".encode()
    + b"VA1SRV01,VA1-1,OSD,ok\n",
    "bidi_and_zero_width.csv": HEADER
    + "VA1\u202eSRV01,VA1-1,OSD,x\n".encode()
    + "VA1SRV01\u200b,VA1-2,OSD,x\n".encode()
    + b"VA1SRV03,VA1-3,OSD,ok\n",
    "hostile_execution_ids.csv": HEADER + b"VA1SRV01,VA1-1/../../x,OSD,a\n"
    b"VA1SRV01,%2e%2e,OSD,b\nVA1SRV01,VA1-1?x=1,OSD,c\nVA1SRV01,VA1-1#top,OSD,d\n"
    b"VA1SRV01,VA1-9,OSD,ok\n",
    "hostile_aliases.csv": HEADER + b"VA1SRV01,VA1-1,OSD;DROP,a\nVA1SRV01,VA1-2,../OSD,b\n"
    b"VA1SRV01,VA1-3,O%53D,c\nVA1SRV01,VA1-4,osd,ok\n",
    "quotes_around_everything.csv": b'"server_id","execution_id","account_alias"\r\n'
    b'"  VA1SRV01  ","VA1-1","OSD"\r\n"VA1SRV02",  "VA1-2"  ,"OSD"\r\n',
    "headers_in_odd_case.csv": b"SERVER ID,Execution-ID,AccountAlias,Business Unit\n"
    b"VA1SRV01,VA1-1,OSD,Finance\n",
    "ragged_rows.csv": HEADER + b"VA1SRV01\nVA1SRV02,VA1-2,OSD,x,extra,cells\n,,,\n"
    b"VA1SRV03,VA1-3,OSD,ok\n",
    "five_thousand_duplicates.csv": HEADER + b"VA1SRV01,VA1-1,OSD,x\n" * 5000,
    "mixed_line_ends.csv": HEADER.replace(b"\n", b"\r\n") + b"VA1SRV01,VA1-1,OSD,a\r"
    b"VA1SRV02,VA1-2,OSD,b\nVA1SRV03,VA1-3,OSD,c\r\n",
    "unicode_line_separators.csv": HEADER + "VA1SRV01,VA1-1,OSD,a\u2028b\u0085c\n".encode(),
    "formula_and_script_cells.csv": HEADER
    + b'VA1SRV01,VA1-1,OSD,"=HYPERLINK(""http://x.invalid"")"\n'
    + b"VA1SRV02,VA1-2,OSD,<script>alert(1)</script>\n",
    "only_server_ids.csv": b"server\nVA1SRV01\nVA1SRV02\n",
    "long_ids.csv": HEADER + b"V" * 65 + b",VA1-1,OSD,x\nVA1SRV01,VA1-" + b"9" * 40 + b",OSD,x\n"
    b"VA1SRV01,VA1-1,OSD,ok\n",
}

# The files of CORPUS that must be refused, and what the one line must say.
REFUSED = {
    "gzip.csv": "is not a CSV file",
    "xlsx_saved_as_csv.csv": "is not a CSV file",
    "utf32.csv": "is UTF-32 text",
    "invalid_utf8_in_row.csv": "is not UTF-8 text (byte 0xc3",
    "overlong_utf8_slash.csv": "is not UTF-8 text (byte 0xc0",
    "excel_sep_line.csv": "has no server_id column (columns found: 'sep='",
    "pdf_magic.csv": "is not UTF-8 text",
    "html_page.csv": "has no server_id column",
    "json_array.csv": "has no server_id column",
    "header_of_quotes.csv": "is empty",
}


def all_files() -> list[tuple[str, bytes]]:
    files = [(f"loader/{p.name}", p.read_bytes()) for p in sorted(LOADER_CORPUS.iterdir())]
    return files + sorted(CORPUS.items())


@pytest.fixture(scope="module")
def sim() -> SimulatorServer:
    # The fleet's own executions do not matter: every execution asked for is overridden.
    with SimulatorServer(Fleet.generate(servers=1, executions_per_server=1, seed=1)) as server:
        yield server


def test_corpus_size():
    assert len(all_files()) >= 25 + len(list(LOADER_CORPUS.iterdir()))


# Laying out 5,000 attribute columns in the workbook is the one long case: CI's slow step.
LONG_CASES = {"five_thousand_columns.csv"}


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param(name, content, id=name, marks=[pytest.mark.slow] if name in LONG_CASES else [])
        for name, content in all_files()
    ],
)
def test_hostile_inventory(name, content, sim, tmp_path, credentials, capsys):
    path = tmp_path / Path(name).name
    path.write_bytes(content)
    out = tmp_path / "out"
    try:
        inventory = load_inventory(path)
    except InventoryError:
        inventory = None
    else:
        for row in inventory.rows:
            if row.execution_id:
                alias = row.account_alias or sim.fleet.account
                sim.fleet.override(
                    alias, row.server_id, row.execution_id, body_for(row.execution_id)
                )

    argv = ["run", str(path), "--out", str(out), "--format", "xlsx"]
    argv += ["--api-url", sim.api_url, "--login-url", sim.login_url]
    code = main(argv, stdout=io.StringIO())
    err = capsys.readouterr().err
    assert "Traceback" not in err

    if name in CORPUS:
        assert (inventory is None) == (name in REFUSED)
    if inventory is None:
        lines = err.strip().splitlines()
        print(f"\n{name}: exit {code}: {lines[-1] if lines else ''}")
        assert code == 2
        assert REFUSED.get(name, "") in lines[0]
        assert len(lines) == 1 and lines[0].startswith("reporter: error: inventory ")
        assert str(path) in lines[0]
        assert not out.exists()
        return

    assert code in (0, 3), err
    [xlsx] = out.glob("patch-compliance-*.xlsx")
    workbook = openpyxl.load_workbook(xlsx, read_only=True)
    problems = sheet_rows(workbook, "Problems")
    executions = sheet_rows(workbook, "Executions")
    print(
        f"\n{name}: exit {code}, {inventory.data_rows} data rows -> {len(executions)} "
        f"executions + {len(problems)} problems"
    )
    assert (code == 3) == bool(problems)
    # Every data row is reported exactly once: as an execution or as a problem.
    assert len(executions) + len(problems) == inventory.data_rows
    listed = {(p["Line"], p["Kind"]) for p in problems}
    assert {(p.line, p.kind) for p in inventory.problems} <= listed
    # Valid rows are never lost: each one listing an execution is in the Executions sheet.
    reported = {(e["Server ID"], e["Execution ID"]) for e in executions}
    for row in inventory.rows:
        if row.execution_id:
            assert (row.server_id, row.execution_id) in reported
    workbook.close()


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_missing_file_or_folder_is_one_line(kind, tmp_path, credentials, capsys):
    path = tmp_path / "inventory.csv"
    if kind == "folder":
        path.mkdir()
    code = main(["run", str(path), "--out", str(tmp_path / "out")], stdout=io.StringIO())
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in lines[0]
    assert not (tmp_path / "out").exists()
