"""Property-based fuzzing of what the parser tests do not already cover.

tests/test_inventory.py fuzzes the loader with arbitrary bytes and text, tests/test_parse.py
the payload reader with arbitrary JSON values, tests/test_codes.py the end-message and HRESULT
parsers with arbitrary text. Added here: title facts (KB numbers, classification), the
vectorised result columns, the JSON decoding every API answer goes through, and two end-to-end
properties: a generated payload served by the simulator, and a generated inventory, each through
the whole ``reporter run``.
"""

import contextlib
import csv
import io
import itertools
import json
import re
from collections.abc import Iterator

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reporter.cli import main
from reporter.derive import CLASSIFICATIONS, RESULTS, derive_results, factorize, title_facts
from reporter.fetch import decode_json
from reporter.render.cells import FORMULA_TRIGGERS
from reporter.simulator import Fleet, SimulatorServer

KB = re.compile(r"KB\d{6,8}")
HRESULT = re.compile(r"0x[0-9A-F]{8}")
SERVER = "VA1OSDFUZZ01"
NUMERIC_CSV_COLUMNS = {"patch_seq", "result_code", "duration_s"}

TITLE_PARTS = st.sampled_from(
    [
        "Installing",
        "Installing:",
        " ",
        "(",
        ")",
        "KB",
        "kb ",
        "KB 1234567",
        "KB3135998",
        "KB123456789",
        "/kb/2961858",
        "KB12345",
        "Security Update",
        "Cumulative Update",
        "Security Intelligence Update",
        "Driver",
        "openssl-libs-1.0.2k-26.el7_9.x86_64",
        "-",
        ".noarch",
        "\u00a0",
        "\n",
    ]
)
TITLES = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.lists(TITLE_PARTS | st.text(max_size=6), max_size=12).map("".join),
)
END_PARTS = st.sampled_from(
    [
        "Result Code:",
        "result code ",
        "Result Code: 2",
        "Result Code: 4",
        "HResult:",
        "0x80240022",
        "0x00240005",
        "0xFFFFFFFFFF",
        "-2145124318",
        "2149842978",
        "99999999999",
        " ",
        ",",
        "(",
        ")",
    ]
)
END_MESSAGES = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.lists(END_PARTS | st.integers(-(2**40), 2**40).map(str), max_size=8).map(" ".join),
)


@settings(max_examples=300, deadline=None)
@given(TITLES)
def test_title_facts_invariants(message):
    facts = title_facts(message)
    assert facts.classification in CLASSIFICATIONS
    assert isinstance(facts.patch_key, str) and facts.patch_key
    if facts.title is not None:
        assert facts.title == facts.title.strip() and facts.title
    kbs = facts.kbs.split(";") if facts.kbs else []
    assert all(KB.fullmatch(kb) for kb in kbs)
    assert len(kbs) == len(set(kbs))
    assert all(kb[2:] in message for kb in kbs)  # every KB number is in the text
    assert (facts.kb is None) == (not kbs)
    assert facts.kb is None or facts.kb in kbs
    if facts.rpm is not None:
        assert facts.classification == "Linux package" and all(facts.rpm)


@settings(max_examples=200, deadline=None)
@given(st.lists(END_MESSAGES, min_size=1, max_size=12))
def test_result_columns_invariants(messages):
    codes, uniques = factorize(messages)
    columns = derive_results(codes, uniques)
    assert all(len(column) == len(messages) for column in columns.values())
    for value in pd.Series(columns["result"]).dropna():
        assert value in RESULTS
    assert pd.Series(columns["result"]).notna().all()
    for value in pd.Series(columns["hresult"]).dropna():
        assert HRESULT.fullmatch(value)
    for value in pd.Series(columns["result_code"]).dropna():
        assert 0 <= value <= 5
    assert pd.Series(columns["reboot_required"]).notna().all()
    known = pd.Series(columns["result_code"]).notna().to_numpy()
    assert np.all(pd.Series(columns["result"]).to_numpy()[~known] == "Unknown")


def json_documents() -> st.SearchStrategy[bytes]:
    """Bytes that are JSON, nearly JSON, deeply nested JSON, or JSON with raw escapes."""
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=10,
    )
    escapes = st.lists(
        st.sampled_from(["\\ud800", "\\udfff", "\\ud83d\\ude00", "\\u0000", "a", "\\n", "é"]),
        max_size=6,
    ).map(lambda parts: ('"' + "".join(parts) + '"').encode())
    deep = st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth)
    return st.one_of(
        st.binary(max_size=60), values.map(lambda v: json.dumps(v).encode()), escapes, deep
    )


def strings_in(value) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())


@settings(max_examples=300, deadline=None)
@given(json_documents())
def test_decode_json_raises_only_value_error_and_gives_encodable_text(body):
    try:
        value = decode_json(body)
    except ValueError:
        return
    for text in strings_in(value):
        text.encode("utf-8")  # a lone surrogate would raise here


# --- end to end ----------------------------------------------------------------------------

FIELD_NAMES = st.sampled_from(
    [
        "execution_id",
        "Execution_id",
        "status",
        "STATUS",
        "start_time",
        "startTime",
        "end_time",
        "duration",
        "patches",
        "Patches",
        "patch_begin_message",
        "Patch_end_message",
        "patch_end_message",
        "x",
    ]
)
HOSTILE_TEXT = st.sampled_from(
    [
        "=1+1",
        "@SUM(1)",
        "<script>alert(1)</script>",
        "Result Code: 4, HResult: 0x80240022",
        "Result Code: 2",
        "2026-10-14T03:00:00Z",
        "2026-10-14 03:00:00",
        "20m 4s",
        "-5m",
        "COMPLETED",
        "in_progress",
        "Installing Security Update (KB3135998)",
        "",
    ]
)
LEAVES = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | HOSTILE_TEXT
)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELD_NAMES, inner, max_size=4),
    max_leaves=12,
)
PATCHES = st.lists(st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=6), max_size=5)
PAYLOADS = st.one_of(
    JSON_VALUES,
    st.dictionaries(FIELD_NAMES, JSON_VALUES | PATCHES, max_size=8),
)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    with (
        pytest.MonkeyPatch.context() as env,
        SimulatorServer(Fleet.generate(servers=1, executions_per_server=1, seed=1)) as server,
    ):
        for name in ("CLC_V2_API_USERNAME", "CLC_V2_API_PASSWD", "CLC_BEARER_TOKEN"):
            env.delenv(name, raising=False)
        env.setenv("CLC_USER", "demo")
        env.setenv("CLC_PASSWORD", "demo")
        yield server


def run_quietly(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv, stdout=io.StringIO())
    return code, err.getvalue()


_numbers = itertools.count(400000)


@pytest.mark.slow
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(payload=PAYLOADS)
def test_generated_payload_through_the_whole_run(payload, sim, tmp_path_factory):
    folder = tmp_path_factory.mktemp("payload")
    execution_id = f"VA1-{next(_numbers)}"
    sim.fleet.override("OSD", SERVER, execution_id, json.dumps(payload).encode())
    inventory = folder / "inventory.csv"
    inventory.write_text(f"server_id,execution_id,account_alias\n{SERVER},{execution_id},OSD\n")
    argv = ["run", str(inventory), "--out", str(folder / "out"), "--format", "csv,xlsx"]
    code, err = run_quietly([*argv, "--api-url", sim.api_url, "--login-url", sim.login_url])
    assert code in (0, 3), err
    assert "Traceback" not in err

    [csv_path] = (folder / "out").glob("*.csv")
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        assert row["execution_id"] == execution_id
        assert row["kb"] == "" or KB.fullmatch(row["kb"])
        assert row["hresult"] == "" or HRESULT.fullmatch(row["hresult"])
        assert row["result"] in RESULTS
        assert row["reboot_required"] in ("true", "false")
        for column, value in row.items():
            assert column in NUMERIC_CSV_COLUMNS or not value.startswith(FORMULA_TRIGGERS)
    workbook = openpyxl.load_workbook(next((folder / "out").glob("*.xlsx")), read_only=True)
    seen = set()
    for name in ("Executions", "Problems"):
        rows = workbook[name].iter_rows(values_only=True)
        column = next(rows).index("Execution ID")
        seen |= {row[column] for row in rows}
    workbook.close()
    assert execution_id in seen  # as data or as a problem, never lost


INVENTORY_TEXT = st.lists(
    st.sampled_from(
        [
            "server_id",
            "execution_id",
            "account_alias",
            "owner",
            "VA1OSDFUZZ01",
            "VA1-1",
            "OSD",
            "../x",
            "=1+1",
            ",",
            ";",
            '"',
            "\n",
            "\r\n",
            " ",
            "\ufeff",
        ]
    )
    | st.text(max_size=5),
    max_size=40,
).map("".join)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=INVENTORY_TEXT)
def test_generated_inventory_through_the_whole_run(text, sim, tmp_path_factory):
    folder = tmp_path_factory.mktemp("inventory")
    inventory = folder / "inventory.csv"
    inventory.write_bytes(text.encode("utf-8", "surrogatepass"))
    argv = ["run", str(inventory), "--out", str(folder / "out"), "--format", "csv"]
    code, err = run_quietly([*argv, "--api-url", sim.api_url, "--login-url", sim.login_url])
    assert code in (0, 2, 3), err
    assert "Traceback" not in err and "internal error" not in err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(inventory) in lines[0]
        assert not (folder / "out").exists()
