"""The CSV export, read back: columns, cell rules, neutralisation, a pandas round trip."""

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from factories import make_model

from reporter.model import PATCH_COLUMNS
from reporter.render.csv import frame_to_csv_bytes, render_csv


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def hostile_csv(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    model = make_model(hostile=True)
    return render_csv(model, tmp_path / "patch-compliance-2026-10.csv"), model.patches


def test_header_is_the_spec_columns_then_the_attributes(hostile_csv) -> None:
    path, _ = hostile_csv
    raw = path.read_bytes()
    assert raw.startswith(b"account_alias,server_id,execution_id,")  # UTF-8, no BOM
    header = raw.split(b"\n", 1)[0].decode()
    assert header.split(",") == [*PATCH_COLUMNS, "owner", "environment"]
    assert b"\r\n" not in raw


def test_the_reports_vocabulary_ends_the_spec_columns() -> None:
    # SPEC 5: outcome, patch_key and still_failing after the other columns, before attributes.
    assert PATCH_COLUMNS[-3:] == ["outcome", "patch_key", "still_failing"]
    assert PATCH_COLUMNS[:3] == ["account_alias", "server_id", "execution_id"]


def test_counts_reconcile_with_the_reports(tmp_path: Path) -> None:
    model = make_model(servers=40, failing_share=0.3)
    rows = read_rows(render_csv(model, tmp_path / "r.csv"))
    outcomes = pd.Series([row["outcome"] for row in rows]).value_counts()
    kpis = model.kpis
    assert outcomes.get("succeeded", 0) == kpis.succeeded
    assert outcomes.get("warning", 0) == kpis.warnings
    assert outcomes.get("failed", 0) == kpis.failed
    assert outcomes.get("in progress", 0) == kpis.in_progress_patches
    still = {(row["server_id"], row["patch_key"]) for row in rows if row["still_failing"] == "true"}
    expected = {
        (str(server), key)
        for server, keys in zip(
            model.servers["server_id"], model.servers["failed_kbs"], strict=True
        )
        for key in keys.split("; ")
        if key
    }
    assert still == expected and still
    assert {row["still_failing"] for row in rows} == {"true", "false"}


def test_one_row_per_patch_attempt_with_the_cell_rules(hostile_csv) -> None:
    path, patches = hostile_csv
    rows = read_rows(path)
    assert len(rows) == len(patches)
    first = rows[0]
    assert first["execution_start"] == "2026-10-14T02:00:00Z"
    assert first["patch_start"] == "2026-10-14T02:02:00Z"
    assert first["patch_seq"] == "1"
    assert first["reboot_required"] == "false"
    assert first["duration_s"] == "95"
    assert first["hresult"] == ""  # unknown -> empty
    failed = next(row for row in rows if row["result_code"] == "4")
    assert failed["hresult"] == "0x80240022"
    running = [row for row in rows if row["execution_status"] == "running"]
    assert running and any(row["execution_end"] == "" for row in running)
    assert any(row["result_code"] == "" and row["duration_s"] == "" for row in running)
    assert {row["patch_seq"] for row in rows} == {"1", "2", "3", "4", "5", "6"}


def test_formula_payloads_are_neutralised(hostile_csv) -> None:
    path, _ = hostile_csv
    owners = {row["owner"] for row in read_rows(path)}
    assert '\'=HYPERLINK("http://attacker.invalid","x")' in owners
    assert {"'+1+2", "'-2+3", "'@SUM(A1)", "'\tTAB"} <= owners
    assert "<script>alert(1)</script>" in owners  # not a formula: left alone
    for owner in owners:
        assert not owner.startswith(("=", "+", "-", "@", "\t", "\r", "\n"))


def test_round_trip_with_pandas(hostile_csv) -> None:
    path, patches = hostile_csv
    back = pd.read_csv(path, keep_default_na=False, dtype=str)
    assert list(back.columns) == [*PATCH_COLUMNS, "owner", "environment"]
    assert len(back) == len(patches)
    assert back["server_id"].tolist() == patches["server_id"].astype(str).tolist()
    typed = pd.read_csv(path)
    assert typed["patch_seq"].dtype == np.int64
    assert typed["kb"].iloc[0] == "KB5031364"
    start = pd.to_datetime(typed["execution_start"], utc=True)
    assert (start == patches["execution_start"]).all()


def test_cell_rules_for_every_kind_of_column() -> None:
    frame = pd.DataFrame(
        {
            "text": ["=1+2", "-2", "a,b", 'say "hi"', "line\nbreak", "\rCR", None],
            "code": pd.array([-2, 0, 4, None, 1, 2, 3], dtype="Int8"),
            "hresult": pd.Categorical(["0x80240022", None, "-2145124318", "x", "y", "z", "w"]),
            "flag": pd.array([True, False, None, True, True, True, True], dtype="boolean"),
            "when": pd.to_datetime(
                [
                    "2026-10-14T03:12:09.75Z",
                    None,
                    "2026-10-14T05:12:09+02:00",
                    None,
                    None,
                    None,
                    None,
                ],
                utc=True,
                format="ISO8601",
            ),
            "kbs": [["KB1", "KB2"], ["KB3"], None, [], ["=KB"], ["KB4"], ["KB5"]],
            "ratio": [0.5, float("nan"), 3.0, float("inf"), -1.25, 2.0, 0.0],
            "naive": [datetime(2026, 10, 1, tzinfo=UTC).replace(tzinfo=None)] * 7,
        }
    )
    rows = list(csv.reader(io.StringIO(frame_to_csv_bytes(frame).decode("utf-8"))))
    assert rows[0] == list(frame.columns)
    columns = list(zip(*rows[1:], strict=True))
    assert columns[0] == ("'=1+2", "'-2", "a,b", 'say "hi"', "line\nbreak", "'\rCR", "")
    assert columns[1] == ("-2", "0", "4", "", "1", "2", "3")  # numbers are never neutralised
    assert columns[2][:3] == ("0x80240022", "", "'-2145124318")
    assert columns[3][:3] == ("true", "false", "")
    assert columns[4][:3] == ("2026-10-14T03:12:09Z", "", "2026-10-14T03:12:09Z")
    assert columns[5][:5] == ("KB1;KB2", "KB3", "", "", "'=KB")
    assert columns[6][:5] == ("0.5", "", "3", "", "-1.25")
    assert columns[7][0] == "2026-10-01T00:00:00Z"


def test_matches_the_csv_module_on_repetitive_data() -> None:
    """Neighbouring columns joined ahead of time must not change a byte of the output."""
    size = 3_000
    frame = pd.DataFrame(
        {
            "server": pd.Categorical([f"SRV{i % 7}" for i in range(size)]),
            "execution": [f"VA1-{i % 7}" for i in range(size)],
            "seq": pd.array([i % 5 + 1 for i in range(size)], dtype="Int64"),
            "title": [["a,b", 'q"t', "x\ny", None][i % 4] for i in range(size)],
            "result": [None if i % 3 else "=bad" for i in range(size)],
            "unique": [f"row {i}" for i in range(size)],
            "tail": ["t"] * size,
        }
    )
    texts = {None: "", "=bad": "'=bad"}
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(frame.columns)
    for row in frame.astype(object).itertuples(index=False):
        writer.writerow(["" if pd.isna(v) else texts.get(v, str(v)) for v in row])
    assert frame_to_csv_bytes(frame).decode("utf-8") == expected.getvalue()


def test_header_names_are_neutralised_too() -> None:
    frame = pd.DataFrame({"=cmd": ["x"], "ok": ["y"]})
    assert frame_to_csv_bytes(frame) == b"'=cmd,ok\nx,y\n"


def test_empty_patches_give_a_header_only(tmp_path: Path) -> None:
    model = make_model(servers=0)
    path = render_csv(model, tmp_path / "empty.csv")
    assert (
        path.read_text(encoding="utf-8")
        == ",".join([*PATCH_COLUMNS, "owner", "environment"]) + "\n"
    )


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("cannot format")


def test_written_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_text("previous\n", encoding="utf-8")
    model = make_model()
    titles = model.patches["title"].astype(object)
    titles.iloc[-1] = Unprintable()
    model.patches = model.patches.assign(title=titles)
    with pytest.raises(RuntimeError, match="cannot format"):
        render_csv(model, path)
    assert path.read_text(encoding="utf-8") == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]
