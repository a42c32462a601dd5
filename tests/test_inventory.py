"""Loading the inventory CSV: SPEC 2 rules, hostile files, rows + problems reconciliation."""

import csv
import hashlib
import io
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reporter.csvinput import FIELD_LIMIT
from reporter.errors import ExitCode, InventoryError
from reporter.inventory import COLUMN_NAMES, Inventory, load_inventory
from reporter.problems import DUPLICATE_ROW, INVALID_ROW

FIXTURES = Path(__file__).parent / "inventories"

# file -> an InventoryError message fragment, or (rows, problems) it must load to.
EXPECTED: dict[str, str | tuple[int, int]] = {
    "empty.csv": "is empty",
    "bom_only.csv": "is empty",
    "only_blank_and_commas.csv": "is empty",
    "header_only.csv": "has a header but no data rows",
    "header_then_blank_lines.csv": "has a header but no data rows",
    "binary.csv": "is not a CSV file",
    "nul_on_line_3.csv": "is not a CSV file",
    "latin1.csv": "is not UTF-8 text (byte 0xfc at offset 26, line 2); save it as UTF-8 CSV",
    "utf16_bom.csv": "is UTF-16 text",
    "utf16_no_bom.csv": "is not a CSV file",
    "unterminated_quote.csv": "the quoted value that starts on line 3 is never closed",
    "no_server_column.csv": "has no server_id column (columns found: 'host', 'execution_id'",
    "data_without_header.csv": "columns found: 'VA1SRV01', 'VA1-1', 'OSD'",
    "two_server_columns.csv": "columns 'server' and 'server_id' both name the server",
    "two_alias_columns.csv": "columns 'alias' and 'Account' both name the account alias",
    "same_attribute_twice.csv": "columns 'Business Unit' and 'business_unit' have the same name",
    "utf8_bom_crlf.csv": (2, 0),
    "lone_cr.csv": (2, 0),
    "quoted_multiline.csv": (4, 0),
    "blank_lines_everywhere.csv": (2, 0),
    "duplicates.csv": (3, 2),
    "conflicting_duplicates.csv": (2, 2),
    "path_traversal_ids.csv": (1, 10),
    "formula_attributes.csv": (2, 0),
    "bad_quotes.csv": (1, 1),
    "semicolon.csv": (2, 0),
    "tab.csv": (2, 0),
    "mixed_delimiters.csv": (2, 2),
    "synonyms.csv": (1, 0),
    "unnamed_columns.csv": (2, 0),
    "bad_execution_ids.csv": (2, 5),
    "bad_aliases.csv": (1, 3),
    "cell_counts.csv": (2, 1),
    "missing_server_id.csv": (1, 2),
    "long_server_ids.csv": (1, 1),
}


def write(tmp_path: Path, content: str | bytes, name: str = "inventory.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def reasons(inventory: Inventory) -> dict[int, str]:
    return {problem.line: problem.reason for problem in inventory.problems}


def test_every_fixture_is_listed():
    assert sorted(p.name for p in FIXTURES.iterdir()) == sorted(EXPECTED)
    assert len(EXPECTED) >= 25


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
def test_fixture(name, expected):
    path = FIXTURES / name
    if isinstance(expected, str):
        with pytest.raises(InventoryError) as raised:
            load_inventory(path)
        assert expected in str(raised.value)
        assert str(path) in str(raised.value)  # the message names the file
        assert raised.value.exit_code == ExitCode.USAGE
    else:
        inventory = load_inventory(path)
        assert (len(inventory.rows), len(inventory.problems)) == expected
        assert len(inventory.rows) + len(inventory.problems) == inventory.data_rows
        assert inventory.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_bom_crlf_and_unicode_attributes():
    # the fixture must keep its bytes (a checkout that rewrote line ends would test nothing)
    assert (FIXTURES / "utf8_bom_crlf.csv").read_bytes().startswith(b"\xef\xbb\xbfServer ID,")
    assert b"\r\n" in (FIXTURES / "utf8_bom_crlf.csv").read_bytes()
    inventory = load_inventory(FIXTURES / "utf8_bom_crlf.csv")
    first, second = inventory.rows
    assert (first.line, first.server_id, first.execution_id, first.account_alias) == (
        2,
        "VA1SRV01",
        "VA1-132457",
        "OSD",
    )
    assert first.attributes == {"Owner": "Zoë"}
    assert (second.execution_id, second.account_alias, second.attributes) == (
        None,
        None,
        {"Owner": "José"},
    )
    assert inventory.attribute_columns == ["Owner"]


def test_line_numbers_count_physical_lines():
    multiline = load_inventory(FIXTURES / "quoted_multiline.csv")
    assert [row.line for row in multiline.rows] == [2, 4, 5, 8]
    assert multiline.rows[0].attributes["notes"] == 'line one\nline two, with "quotes"'
    assert multiline.rows[1].attributes["notes"] == "a,b"
    assert [row.line for row in load_inventory(FIXTURES / "lone_cr.csv").rows] == [2, 4]
    blank = load_inventory(FIXTURES / "blank_lines_everywhere.csv")
    assert [(row.line, row.server_id) for row in blank.rows] == [(7, "VA1SRV01"), (10, "VA1SRV02")]


@pytest.mark.parametrize(
    ("field", "header"),
    [(field, name) for field, names in COLUMN_NAMES.items() for name in names]
    + [("server_id", "SERVER-ID"), ("server_id", "Server Name"), ("execution_id", "Execution_ID")]
    + [("account_alias", "Account-Alias"), ("account_alias", " ALIAS ")],
)
def test_header_synonyms(tmp_path, field, header):
    other = "server_id" if field != "server_id" else "owner"
    values = {"server_id": "VA1SRV01", "execution_id": "VA1-132457", "account_alias": "OSD"}
    text = f"{other},{header}\n{'VA1SRV01' if other == 'server_id' else 'ops'},{values[field]}\n"
    (row,) = load_inventory(write(tmp_path, text)).rows
    assert getattr(row, field) == values[field]


def test_synonyms_fixture_keeps_attribute_header_as_written():
    inventory = load_inventory(FIXTURES / "synonyms.csv")
    (row,) = inventory.rows
    assert (row.server_id, row.execution_id, row.account_alias) == ("VA1SRV01", "VA1-1", "OSD")
    assert inventory.attribute_columns == ["Owner"]  # trimmed, case kept


def test_invalid_row_reasons():
    traversal = reasons(load_inventory(FIXTURES / "path_traversal_ids.csv"))
    assert traversal[3] == "server ID 'a/b' may only contain letters, digits and '-'"
    assert "'../../etc'" in traversal[2] and "'%2e%2e'" in traversal[4]
    assert "'x?y'" in traversal[5] and "'x#y'" in traversal[6]
    assert "may only contain" in traversal[8]  # a non-ASCII digit is not a digit here
    assert "execution ID '../VA1-1'" in traversal[10]
    assert reasons(load_inventory(FIXTURES / "missing_server_id.csv")) == {
        2: "no server ID",
        3: "no server ID",
    }
    executions = reasons(load_inventory(FIXTURES / "bad_execution_ids.csv"))
    assert set(executions) == {2, 3, 4, 5, 7}
    assert "is not letters+digit-digits (like VA1-132457)" in executions[2]
    assert "the limit is 32" in executions[7]
    aliases = reasons(load_inventory(FIXTURES / "bad_aliases.csv"))
    assert "may only contain letters and digits" in aliases[2]
    assert "the limit is 32" in aliases[4]
    assert "the limit is 64" in reasons(load_inventory(FIXTURES / "long_server_ids.csv"))[3]
    assert "malformed quotes" in reasons(load_inventory(FIXTURES / "bad_quotes.csv"))[2]


def test_invalid_rows_are_problems_with_their_values():
    inventory = load_inventory(FIXTURES / "path_traversal_ids.csv")
    problem = inventory.problems[0]
    assert (problem.kind, problem.line, problem.server_id) == (INVALID_ROW, 2, "../../etc")
    assert [row.server_id for row in inventory.rows] == ["VA1SRV03"]


def test_several_reasons_in_one_row_are_all_given(tmp_path):
    text = "server_id,execution_id,account_alias\na/b,VA1,O-S\n"
    (problem,) = load_inventory(write(tmp_path, text)).problems
    assert problem.reason.count(";") == 2
    assert "server ID" in problem.reason and "execution ID" in problem.reason
    assert "account alias" in problem.reason


def test_cell_counts():
    inventory = load_inventory(FIXTURES / "cell_counts.csv")
    assert reasons(inventory) == {2: "the row has 4 values but the header has 3 columns"}
    # extra empty cells are tolerated; missing cells are empty
    assert [(row.line, row.attributes) for row in inventory.rows] == [
        (3, {"owner": "ops"}),
        (4, {"owner": ""}),
    ]


def test_duplicates_keep_the_first_row():
    inventory = load_inventory(FIXTURES / "duplicates.csv")
    assert [(p.kind, p.line, p.reason) for p in inventory.problems] == [
        (DUPLICATE_ROW, 3, "same as line 2"),
        (DUPLICATE_ROW, 4, "same as line 2"),  # IDs compare case-insensitively
    ]
    assert inventory.problems[1].server_id == "va1srv01"
    # a different execution, or no alias (resolved later), is not a repeat
    assert [(r.line, r.execution_id, r.account_alias) for r in inventory.rows] == [
        (2, "VA1-1", "OSD"),
        (5, "VA1-2", "OSD"),
        (6, "VA1-1", None),
    ]


def test_conflicting_duplicates_say_what_differs():
    inventory = load_inventory(FIXTURES / "conflicting_duplicates.csv")
    conflict, repeat = inventory.problems
    assert conflict.line == 4
    assert "different attributes" in conflict.reason
    assert "owner 'carol' here, 'alice' there" in conflict.reason
    assert "line 2 is used" in conflict.reason
    assert (repeat.line, repeat.reason) == (5, "same as line 3")
    assert inventory.rows[0].attributes["owner"] == "alice"


def test_formula_payloads_are_kept_verbatim():
    # Neutralising belongs to the CSV/Excel writers; the inventory keeps what it was given.
    first, second = load_inventory(FIXTURES / "formula_attributes.csv").rows
    assert first.attributes == {
        "owner": '=HYPERLINK("http://evil.example/x","click")',
        "link": "+cmd|' /C calc'!A0",
        "cost": "-2+3",
        "contact": "@SUM(A1:A2)",
    }
    assert second.attributes["owner"] == "=1+2"
    assert second.attributes["link"] == "tab"  # trimmed


@pytest.mark.parametrize("name", ["semicolon.csv", "tab.csv"])
def test_semicolon_and_tab_files_are_read_when_the_header_says_so(name):
    inventory = load_inventory(FIXTURES / name)
    assert [(r.server_id, r.execution_id) for r in inventory.rows] == [
        ("VA1SRV01", "VA1-1"),
        ("VA1SRV02", None),
    ]
    assert inventory.attribute_columns == ["owner"]
    if name == "semicolon.csv":
        assert inventory.rows[0].attributes["owner"] == "ops, team"  # a comma is data here


def test_mixed_delimiters_make_row_problems():
    inventory = load_inventory(FIXTURES / "mixed_delimiters.csv")
    assert sorted(reasons(inventory)) == [3, 4]
    assert "'VA1SRV02;VA1-2'" in reasons(inventory)[3]


def test_unnamed_columns_are_ignored():
    inventory = load_inventory(FIXTURES / "unnamed_columns.csv")
    assert inventory.attribute_columns == ["owner"]
    assert [row.attributes for row in inventory.rows] == [{"owner": "ops"}, {"owner": "dba"}]


def test_large_field_is_a_row_problem(tmp_path):
    big = "x" * (FIELD_LIMIT + 1)
    text = f'server_id,notes\nVA1SRV01,{big}\nVA1SRV02,"{big}"\nVA1SRV03,ok\n'
    inventory = load_inventory(write(tmp_path, text))
    assert reasons(inventory) == {
        2: "a value is larger than 64 KiB",
        3: "a value is larger than 64 KiB",
    }
    assert [(row.line, row.server_id) for row in inventory.rows] == [(4, "VA1SRV03")]


def test_field_past_the_csv_module_limit_is_a_row_problem(tmp_path):
    limit = csv.field_size_limit()
    text = f"server_id,notes\nVA1SRV01,{'y' * (limit + 10)}\nVA1SRV02,ok\n"
    inventory = load_inventory(write(tmp_path, text))
    assert reasons(inventory) == {2: "a value is larger than 64 KiB"}
    assert [row.server_id for row in inventory.rows] == ["VA1SRV02"]


def test_huge_unclosed_quote_is_a_file_error(tmp_path):
    text = 'server_id,notes\nVA1SRV01,"open\n' + ("filler line\n" * 20_000) + "VA1SRV02,x\n"
    with pytest.raises(InventoryError, match="starts on line 2 runs over several lines"):
        load_inventory(write(tmp_path, text))


def test_line_without_end_is_skipped_not_swallowed(tmp_path):
    text = "server_id\n" + "z" * (3 * 1024 * 1024) + "\nVA1SRV01\n"
    inventory = load_inventory(write(tmp_path, text))
    assert reasons(inventory) == {2: "line is longer than 1 MiB"}
    assert [(row.line, row.server_id) for row in inventory.rows] == [(3, "VA1SRV01")]


def test_a_million_blank_lines_are_skipped_and_counted(tmp_path):
    # How fast they are read is a benchmark figure (benchmarks/bench_tabular.py).
    path = write(tmp_path, "server_id,owner\n" + "\n , ,\r\n" * 500_000 + "VA1SRV01,ops\n")
    inventory = load_inventory(path)
    assert [(row.line, row.server_id) for row in inventory.rows] == [(1_000_002, "VA1SRV01")]
    assert inventory.data_rows == 1


def test_20k_rows_load_in_order_with_their_attributes(tmp_path):
    # How fast 100,000 rows load is a benchmark figure (benchmarks/bench_tabular.py).
    lines = ["server_id,execution_id,account_alias,owner,environment,os"]
    lines += [f"VA1SRV{i:06d},VA1-{i + 100000},OSD,team{i % 9},prod,Windows" for i in range(20_000)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    inventory = load_inventory(path)
    assert len(inventory.rows) == inventory.data_rows == 20_000 and not inventory.problems
    last = inventory.rows[-1]
    assert (last.line, last.server_id, last.execution_id) == (20_001, "VA1SRV019999", "VA1-119999")
    assert last.attributes == {"owner": "team1", "environment": "prod", "os": "Windows"}


def test_missing_file(tmp_path):
    with pytest.raises(InventoryError, match=r"inventory file .*nope\.csv does not exist"):
        load_inventory(tmp_path / "nope.csv")


def test_folder(tmp_path):
    with pytest.raises(InventoryError, match="is a folder, not a CSV file"):
        load_inventory(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            load_inventory(fifo)
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "opening a FIFO blocked"
    (error,) = outcome
    assert isinstance(error, InventoryError)
    assert str(error) == f"inventory file {fifo} is not a regular file"


def load_as_nobody(path: Path) -> str:
    """Load ``path`` in a child process without root's right to read anything; its outcome."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, try, report, exit without pytest's cleanup
        try:
            os.setgid(65534)
            os.setuid(65534)
            load_inventory(path)
            outcome = "loaded"
        except BaseException as error:
            outcome = f"{type(error).__name__}: {error}"
        os.write(write_end, outcome.encode()[:4000])
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        outcome = pipe.read().decode()
    os.waitpid(pid, 0)
    return outcome


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_unreadable_file(tmp_path):
    path = write(tmp_path, "server_id\nVA1SRV01\n")
    path.chmod(0)
    try:
        if os.geteuid() == 0:  # root reads anything
            outcome = load_as_nobody(path)
        else:
            with pytest.raises(InventoryError) as raised:
                load_inventory(path)
            outcome = f"InventoryError: {raised.value}"
    finally:
        path.chmod(0o600)
    assert outcome.startswith("InventoryError: ")
    assert outcome.endswith(f"inventory file {path} is not readable (permission denied)")


def test_accepts_str_paths_and_hashes_the_bytes(tmp_path):
    content = "\ufeffserver_id\r\nVA1SRV01\r\n".encode()
    inventory = load_inventory(str(write(tmp_path, content)))
    assert inventory.path == tmp_path / "inventory.csv"
    assert inventory.sha256 == hashlib.sha256(content).hexdigest()


# Property tests: nothing but InventoryError escapes, and every data row is accounted for.
HEADER = "server_id,execution_id,account_alias,owner\n"
CSV_TEXT = st.text(
    alphabet=st.sampled_from(list(',;"\t \r\n-./#?%=') + list("AVa019xé\u2028\x85\ufeff")),
    max_size=300,
)


def check_loads_or_refuses(path: Path) -> None:
    try:
        inventory = load_inventory(path)
    except InventoryError as error:
        assert str(error)
        return
    assert len(inventory.rows) + len(inventory.problems) == inventory.data_rows
    assert inventory.data_rows > 0
    for row in inventory.rows:
        assert row.server_id and set(inventory.attribute_columns) == set(row.attributes)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=400))
def test_arbitrary_bytes(tmp_path_factory, content):
    check_loads_or_refuses(write(tmp_path_factory.mktemp("bytes"), content))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(CSV_TEXT, st.text(st.characters(blacklist_categories=["Cs"]), max_size=300)),
    with_header=st.booleans(),
)
def test_arbitrary_text(tmp_path_factory, body, with_header):
    content = (HEADER if with_header else "") + body
    check_loads_or_refuses(write(tmp_path_factory.mktemp("text"), content))


ID = st.text(alphabet="ABCabc0123456789-", min_size=1, max_size=12)
EXECUTION = st.from_regex(r"[A-Z]{1,3}[0-9]-[0-9]{1,6}", fullmatch=True)
VALUE = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=20
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            ID, st.one_of(st.just(""), EXECUTION), st.sampled_from(["", "OSD", "abc1"]), VALUE
        ),
        min_size=1,
        max_size=15,
    ),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_rows_written_by_a_csv_writer_read_back(tmp_path_factory, rows, newline):
    buffer = io.StringIO()
    # The csv module quotes only the line ends in its own lineterminator; quote everything
    # when a value holds another one, as spreadsheet programs do.
    breaks = any("\r" in value or "\n" in value for row in rows for value in row)
    writer = csv.writer(
        buffer, lineterminator=newline, quoting=csv.QUOTE_ALL if breaks else csv.QUOTE_MINIMAL
    )
    writer.writerow(["server_id", "execution_id", "account_alias", "owner"])
    writer.writerows(rows)
    # A value of only spaces trims to "", which may turn a whole row blank: such rows vanish.
    expected = [r for r in rows if "".join(r).strip()]
    inventory = load_inventory(write(tmp_path_factory.mktemp("rows"), buffer.getvalue()))
    assert inventory.data_rows == len(expected)
    seen = set()
    unique = []
    for server, execution, alias, owner in expected:
        key = (alias.upper(), server.upper(), execution.upper())
        if key not in seen:
            seen.add(key)
            unique.append((server, execution or None, alias or None, owner.strip()))
    got = [
        (r.server_id, r.execution_id, r.account_alias, r.attributes["owner"])
        for r in inventory.rows
    ]
    assert got == unique
    assert all(p.kind == DUPLICATE_ROW for p in inventory.problems)
