"""Reading payloads with the tolerances of SPEC 1, through build_report and directly."""

import copy
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reporter.frames import execution_frame, patch_frame, server_table
from reporter.inventory import Inventory, InventoryRow
from reporter.notes import SHOWN, Notes
from reporter.parse import normalise_status, parse_duration, read_payloads
from reporter.problems import BAD_PAYLOAD
from reporter.records import FetchedExecution
from reporter.report import build_report

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def fetched(payload, execution_id="VA1-100001", server_id="VA1OSDWEB01", line=2):
    return FetchedExecution("OSD", server_id, execution_id, payload, "http://x/", NOW, line=line)


def inventory_for(items) -> Inventory:
    rows = [
        InventoryRow(item.line, item.server_id, item.execution_id, None, {"owner": "ops"})
        for item in items
    ]
    return Inventory(Path("inventory.csv"), "0" * 64, rows, [], ["owner"], len(rows))


def report(*items, problems=()):
    return build_report(
        inventory_for(items),
        list(items),
        list(problems),
        period=None,
        title="Patch compliance",
        accounts=["OSD"],
        data_source="test",
        manifest_sha256=None,
        generated_at=NOW,
        default_alias="OSD",
    )


def payload(**overrides):
    body = {
        "execution_id": "VA1-100001",
        "status": "completed",
        "start_time": "2026-10-14T03:00:00Z",
        "end_time": "2026-10-14T03:20:04Z",
        "duration": "20m 4s",
        "begin_message": "Update Process BEGIN",
        "end_message": "Updating Complete",
        "patches": [
            {
                "start_time": "2026-10-14T03:00:10Z",
                "end_time": "2026-10-14T03:05:10Z",
                "patch_begin_message": "Installing Security Update for Windows (KB3135998)",
                "patch_end_message": "Result Code: 2",
                "status": "completed",
            }
        ],
    }
    body.update(overrides)
    return body


def capitalized(body: dict) -> dict:
    """The official Go CLI's spelling: Execution_id, Patches, Patch_end_message, ..."""
    out = {key[0].upper() + key[1:]: value for key, value in body.items()}
    out["Patches"] = [
        {key[0].upper() + key[1:]: value for key, value in patch.items()}
        for patch in body["patches"]
    ]
    return out


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@pytest.mark.parametrize(
    "spell",
    [
        lambda body: body,
        capitalized,
        lambda body: {k.upper(): v for k, v in body.items()},
        lambda body: {camel(k): v for k, v in body.items()},
    ],
    ids=["snake", "Capitalized", "UPPER", "camelCase"],
)
def test_key_spellings_read_the_same(spell):
    model = report(fetched(spell(payload())))
    execution = model.executions.iloc[0]
    assert execution["status"] == "completed"
    assert execution["start"] == pd.Timestamp("2026-10-14T03:00:00Z")
    assert execution["duration_s"] == 1204
    assert execution["issues"] == ""
    patch = model.patches.iloc[0]
    assert patch["kb"] == "KB3135998"
    assert patch["result"] == "Succeeded"
    assert model.problems.empty


def test_same_key_in_two_cases_takes_the_first_and_notes_it():
    body = payload()
    body["Status"] = "failed"
    model = report(fetched(body))
    assert model.executions["status"].iloc[0] == "completed"
    assert (
        "keys 'status' and 'Status' both given; used the first"
        in model.executions["issues"].iloc[0]
    )
    assert model.problems["kind"].tolist() == [BAD_PAYLOAD]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-04-05T04:14:10Z", "2016-04-05T04:14:10Z"),
        ("2016-04-05T06:14:10+02:00", "2016-04-05T04:14:10Z"),
        ("2016-04-05 04:14:10", "2016-04-05T04:14:10Z"),
        ("2016-04-05T04:14:10.5Z", "2016-04-05T04:14:10.5Z"),
    ],
)
def test_time_formats(text, expected):
    model = report(fetched(payload(start_time=text, end_time=None, duration=None)))
    assert model.executions["start"].iloc[0] == pd.Timestamp(expected)
    assert str(model.executions["start"].dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize("empty", ["", None, "   "])
def test_empty_time_is_unknown_without_a_note_while_running(empty):
    model = report(fetched(payload(status="running", end_time=empty, duration=None)))
    assert pd.isna(model.executions["end"].iloc[0])
    assert model.executions["issues"].iloc[0] == ""


@pytest.mark.parametrize("text", ["yesterday-ish", "now", "today", "1204", "2026-13-45 00:00:00"])
def test_unparseable_time_is_unknown_and_noted(text):
    model = report(fetched(payload(start_time=text)))
    execution = model.executions.iloc[0]
    assert pd.isna(execution["start"])
    assert f"start_time {text!r} is not a date and time" in execution["issues"]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("COMPLETED", "completed"),
        ("Completed", "completed"),
        ("success", "completed"),
        ("done", "completed"),
        ("RUNNING", "running"),
        ("in_progress", "running"),
        ("In Progress", "running"),
        ("In-Progress", "running"),
        ("inprogress", "running"),
        ("executing", "running"),
        ("queued", "pending"),
        ("Pending", "pending"),
        ("waiting", "pending"),
        ("FAILED", "failed"),
        ("error", "failed"),
        ("errored", "failed"),
        ("sideways", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_status_normalised(raw, status):
    assert normalise_status(raw) == status


def test_raw_status_is_kept_and_unknown_status_noted():
    model = report(fetched(payload(status=" Sideways ")))
    execution = model.executions.iloc[0]
    assert execution["status"] == "unknown"
    assert execution["status_raw"] == " Sideways "
    assert "is not a known status" in execution["issues"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20m 4s", 1204),
        ("1h 2m 3s", 3723),
        ("45s", 45),
        ("00:20:04", 1204),
        ("20:04", 1204),
        ("1204", 1204),
        ("2 minutes 5 seconds", 125),
        ("20m4s", 1204),
        ("", None),
        ("soon", None),
        ("20 months", None),
        (None, None),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_duration_contradicting_the_times_is_flagged():
    model = report(fetched(payload(duration="25m 0s")))
    execution = model.executions.iloc[0]
    assert execution["duration_s"] == 1204  # the times win
    assert bool(execution["duration_mismatch"])
    assert "duration '25m 0s' does not match the times (1204 s)" in execution["issues"]
    # A flag, not a problem: the times are known, so nothing is missing from the figures.
    assert model.problems.empty
    assert model.kpis.problems == 0


@pytest.mark.parametrize(
    ("text", "mismatch"), [("20m 5s", False), ("20m 3s", False), ("20m 6s", True), ("20m", True)]
)
def test_durations_may_differ_by_one_second(text, mismatch):
    model = report(fetched(payload(duration=text)))
    assert bool(model.executions["duration_mismatch"].iloc[0]) is mismatch
    assert (model.executions["issues"].iloc[0] != "") is mismatch


def test_missing_duration_is_computed_and_reported_duration_used_without_times():
    computed = report(fetched(payload(duration=None)))
    assert computed.executions["duration_s"].iloc[0] == 1204
    reported = report(fetched(payload(end_time="", duration="00:10:00", status="running")))
    assert reported.executions["duration_s"].iloc[0] == 600


def test_patch_count_instead_of_list():
    model = report(fetched(payload(patches=12)))
    execution = model.executions.iloc[0]
    assert execution["patch_count"] == 12
    assert bool(execution["details_missing"])
    assert "the API gave a patch count (12) instead of the patch list" in execution["issues"]
    assert model.patches.empty
    # Judged by its status and flagged as a warning; not a problem (SPEC 9: exit 0).
    assert model.problems.empty
    assert model.kpis.unknown_outcome == 12
    [reason] = model.servers["reason"].tolist()
    assert "patch details not returned" in reason


@pytest.mark.parametrize(
    ("value", "count"),
    [("12", 12), (12.0, 12), (0, 0), (12.5, None), (-1, None), (9.2e18, None), (True, None)],
)
def test_patches_as_a_number_or_something_else(value, count):
    execution = report(fetched(payload(patches=value))).executions.iloc[0]
    if count is None:
        assert execution["patch_count"] == 0 and not execution["details_missing"]
        assert "not a list; read as 0 patches" in execution["issues"]
    else:
        assert execution["patch_count"] == count and execution["details_missing"]


def test_missing_patches_is_zero_with_a_note_unless_running():
    completed = report(fetched(payload(patches=None)))
    assert completed.executions["patch_count"].iloc[0] == 0
    assert "no patch list" in completed.executions["issues"].iloc[0]
    running = report(fetched(payload(patches=None, status="running", end_time="")))
    assert running.executions["issues"].iloc[0] == ""


def test_non_object_patch_items_are_skipped_and_positions_kept():
    body = payload()
    good = body["patches"][0]
    body["patches"] = ["junk", good, 7, {**good, "patch_end_message": "Result Code: 4"}]
    model = report(fetched(body))
    assert model.patches["patch_seq"].tolist() == [2, 4]
    notes = model.executions["issues"].iloc[0]
    assert "patch 1 is a string ('junk'), not an object; skipped" in notes
    assert "patch 3 is a number (7), not an object; skipped" in notes


def test_wrong_types_are_read_as_text_or_ignored():
    body = payload(status=200, start_time=["2026-10-14"])
    body["patches"][0]["patch_begin_message"] = 3135998
    body["patches"][0]["status"] = {"x": 1}
    model = report(fetched(body))
    execution = model.executions.iloc[0]
    assert execution["status_raw"] == "200"
    assert pd.isna(execution["start"])
    notes = execution["issues"]
    assert "status is a number (200); read as text" in notes
    assert "start_time is a list of 1 item; ignored" in notes
    assert "patch 1 patch_begin_message is a number (3135998); read as text" in notes
    assert "patch 1 status is an object; ignored" in notes
    assert model.patches["title"].iloc[0] == "3135998"


@pytest.mark.parametrize("body", [[], "oops", None, 12, [{"execution_id": "VA1-1"}]])
def test_payload_that_is_not_an_object_is_a_problem_and_not_in_the_figures(body):
    model = report(fetched(body))
    assert model.executions.empty
    assert model.problems["kind"].tolist() == [BAD_PAYLOAD]
    assert "instead of an execution object; not in the figures" in model.problems["reason"][0]
    assert model.servers["compliance"].tolist() == ["No data"]


def test_response_for_another_execution_is_noted_and_reported_under_the_requested_id():
    model = report(fetched(payload(execution_id="VA1-999999")))
    assert model.executions["execution_id"].iloc[0] == "VA1-100001"
    assert "the response is for execution 'VA1-999999'" in model.executions["issues"].iloc[0]
    same_but_lower = report(fetched(payload(execution_id="va1-100001")))
    assert same_but_lower.executions["issues"].iloc[0] == ""


@pytest.mark.parametrize(
    ("message", "note"),
    [
        (None, "patch 1 patch_begin_message missing"),
        ("", "patch 1 patch_begin_message missing"),
        ("Installing:", "patch 1 patch_begin_message 'Installing:' names no patch"),
    ],
)
def test_patch_without_a_title_is_kept_and_noted(message, note):
    body = payload()
    body["patches"][0]["patch_begin_message"] = message
    model = report(fetched(body))
    assert model.patches["patch_key"].tolist() == ["(no title)"]
    assert note in model.executions["issues"].iloc[0]


def test_read_payloads_keeps_api_order_and_owner():
    third = payload(execution_id="VA1-100003")
    items = [fetched(payload()), fetched("bad", "VA1-100002"), fetched(third, "VA1-100003")]
    batch, notes = read_payloads(items)
    assert [item.execution_id for item in batch.fetched] == ["VA1-100001", "VA1-100003"]
    assert batch.patch_owners().tolist() == [0, 1]
    assert batch.patch_seqs().tolist() == [1, 1]
    assert [problem.execution_id for problem in notes.problems] == ["VA1-100002"]
    assert notes.faults == {} and notes.flags == {}


def test_read_payloads_gives_patch_fields_by_name_whatever_the_layout():
    plain = payload()["patches"][0]
    odd = {"Status": "failed", "Patch_Begin_Message": "Installing Update (KB5031361)"}
    batch, notes = read_payloads([fetched(payload(patches=[plain, "junk", odd]))])
    assert batch.patch_values == {
        "patch_begin_message": [plain["patch_begin_message"], odd["Patch_Begin_Message"]],
        "patch_end_message": ["Result Code: 2", None],
        "status": ["completed", "failed"],
        "start_time": [plain["start_time"], None],
        "end_time": [plain["end_time"], None],
    }
    assert batch.patch_seqs().tolist() == [1, 3]
    assert notes.fault_text(0) == "patch 2 is a string ('junk'), not an object; skipped"


def test_each_stage_returns_its_own_notes_and_leaves_the_others_alone():
    servers = server_table(inventory_for([fetched(payload())]), "OSD")
    body = payload(status=7, start_time="soon")
    body["patches"][0]["patch_begin_message"] = None
    batch, read_notes = read_payloads([fetched(body)])
    read_before = copy.deepcopy(read_notes)
    executions, execution_notes = execution_frame(batch, servers)
    patches, patch_notes = patch_frame(batch, executions, np.arange(1))
    assert patches["patch_key"].tolist() == ["(no title)"]
    assert read_notes == read_before
    assert read_notes.fault_text(0) == "status is a number (7); read as text"
    assert execution_notes.fault_text(0) == (
        "start_time 'soon' is not a date and time; status '7' is not a known status"
    )
    assert patch_notes.fault_text(0) == "patch 1 patch_begin_message missing"
    merged = Notes.merged(read_notes, execution_notes, patch_notes)
    assert merged.remarks(0) == "; ".join(
        notes.fault_text(0) for notes in (read_notes, execution_notes, patch_notes)
    )
    assert read_notes == read_before  # merging copies, it does not extend the parts


def empty_patches(count: int, execution_id: str = "VA1-100001") -> dict:
    return payload(execution_id=execution_id, patches=[{} for _ in range(count)])


@pytest.mark.parametrize("count", [1, SHOWN])
def test_few_faults_of_a_kind_are_each_written_out(count):
    model = report(fetched(empty_patches(count)))
    issues = model.executions["issues"].iloc[0]
    for seq in range(1, count + 1):
        assert f"patch {seq} patch_begin_message missing" in issues
        assert f"patch {seq} has no result code and no known status" in issues
    assert "patches without a title" not in issues


def test_repeated_faults_are_summarised_per_execution_and_kind():
    model = report(
        fetched(empty_patches(10_000)),
        fetched(empty_patches(SHOWN + 1, "VA1-100002"), "VA1-100002", line=3),
    )
    assert len(model.patches) == 10_000 + SHOWN + 1
    issues = model.executions.set_index("execution_id")["issues"]
    assert issues["VA1-100001"] == (
        "10,000 patches without a title (patch_begin_message missing): patches 1, 2, 3 and "
        "9,997 more; 10,000 patches with no result code and no known status (counted as "
        "warnings): patches 1, 2, 3 and 9,997 more"
    )
    assert issues["VA1-100002"].startswith(
        "4 patches without a title (patch_begin_message missing): patches 1, 2, 3 and 1 more; "
    )
    # One warning per execution, its reason the same summary: proportional to executions.
    assert model.problems["kind"].tolist() == [BAD_PAYLOAD, BAD_PAYLOAD]
    assert model.problems["reason"].tolist() == [issues["VA1-100001"], issues["VA1-100002"]]


def test_summary_counts_skipped_items_and_keeps_other_notes_in_order():
    good = payload()["patches"][0]
    body = payload(status=None, patches=[good, *range(2, 9)])
    issues = report(fetched(body)).executions["issues"].iloc[0]
    assert issues == (
        "7 patches that are not objects (skipped): patches 2, 3, 4 and 4 more; no status"
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "execution_id",
        "Status",
        "status",
        "start_time",
        "End_time",
        "duration",
        "patches",
        "Patches",
        "patch_begin_message",
        "Patch_end_message",
        "startTime",
    ]
)
payload_like = st.dictionaries(
    keys,
    json_values
    | st.lists(st.dictionaries(keys, json_values, max_size=6), max_size=4)
    | st.sampled_from(["2026-10-14T03:00:00Z", "2026-10-14 03:00:00", "Result Code: 4", "20m"]),
    max_size=8,
)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payload_like | json_values, min_size=1, max_size=4))
def test_arbitrary_payloads_never_raise_and_every_execution_is_accounted_for(bodies):
    items = [fetched(body, f"VA1-{100000 + n}", line=n + 2) for n, body in enumerate(bodies)]
    model = report(*items)
    in_figures = set(model.executions["execution_id"].astype(str))
    unreadable = set(model.problems.loc[model.problems["kind"] == BAD_PAYLOAD, "execution_id"])
    assert {item.execution_id for item in items} <= in_figures | unreadable
    assert len(model.servers) == 1
    assert model.kpis.patches_attempted == len(model.patches)
