"""build_report end to end: the model's schema, reconciliation with the inventory, a fleet."""

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from factories import make_model

from reporter import __version__, sources
from reporter.account import AccountListing, ListedServer, Scope
from reporter.cli import main
from reporter.completeness import check_completeness
from reporter.inventory import Inventory, InventoryRow, load_inventory
from reporter.model import FRAME_SCHEMAS, Presentation, validate_model
from reporter.problems import (
    BAD_PAYLOAD,
    DUPLICATE_ROW,
    FETCH_FAILED,
    FORBIDDEN,
    INVALID_ROW,
    NOT_FOUND,
    Problem,
)
from reporter.records import FetchedExecution, Period
from reporter.report import build_report
from reporter.schema import (
    EXECUTION_SCHEMA,
    PATCH_SCHEMA,
    PROBLEM_SCHEMA,
    SchemaError,
    empty_frame,
    validate,
)
from reporter.simulator import Fleet

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
ATTRIBUTES = ["owner", "environment", "business_unit", "os"]


def fetch_like_the_client(fleet: Fleet, inventory: Inventory):
    """What the client would hand over: detail bodies, 404 problems, discovered executions."""
    fetched, problems = [], []
    for row in inventory.rows:
        alias = (row.account_alias or fleet.account).upper()
        if row.execution_id is None:
            latest = max(fleet.server_executions(alias, row.server_id), key=lambda e: e.start)
            execution_ids, discovered = [latest.execution_id], True
        else:
            execution_ids, discovered = [row.execution_id], False
        for execution_id in execution_ids:
            body = fleet.detail_bytes(alias, row.server_id, execution_id)
            if body is None:
                problems.append(
                    Problem(
                        NOT_FOUND,
                        "execution not found (HTTP 404)",
                        row.line,
                        alias,
                        row.server_id,
                        execution_id,
                    )
                )
                continue
            fetched.append(
                FetchedExecution(
                    alias,
                    row.server_id,
                    execution_id,
                    json.loads(body),
                    "http://127.0.0.1/rest",
                    NOW,
                    row.line,
                    discovered,
                )
            )
    return fetched, problems


@pytest.fixture(scope="module")
def fleet_report(tmp_path_factory):
    fleet = Fleet.generate(servers=40, executions_per_server=3, seed=11)
    path = fleet.write_inventory(tmp_path_factory.mktemp("inventory") / "inventory.csv")
    inventory = load_inventory(path)
    fetched, problems = fetch_like_the_client(fleet, inventory)
    listing = AccountListing(
        "OSD",
        tuple(sorted(fleet.directory.roots)),
        tuple(
            ListedServer(
                "OSD",
                server.server_id,
                server.datacenter,
                fleet.directory.group_path(server.server_id),
                fleet.directory.group_of[server.server_id].kind,
            )
            for server in [*fleet.active_servers, *fleet.archived_servers]
        ),
    )
    model = build_report(
        inventory,
        fetched,
        problems,
        period=None,
        title="Patch compliance",
        accounts=["OSD"],
        data_source="built-in simulator",
        manifest_sha256="f" * 64,
        generated_at=NOW,
        default_alias="OSD",
        completeness=check_completeness(inventory, "OSD", {"OSD": listing}, Scope()),
        presentation=Presentation(group_by=("environment", "Owner")),
    )
    return fleet, inventory, fetched, model


def test_the_model_follows_its_schema(fleet_report):
    _, _, _, model = fleet_report
    assert model.attribute_columns == ATTRIBUTES
    validate_model(model)
    # Every frame is checked, and none of them is trivially empty here.
    assert set(FRAME_SCHEMAS) == {
        "servers",
        "executions",
        "patches",
        "failed",
        "patch_rollup",
        "problems",
        "problem_kinds",
        "by_group",
        "failure_summary",
        "hresults",
        "trend",
        "changes",
        "persistent_failures",
        "completeness",
    }
    history = {"trend", "changes", "persistent_failures"}  # filled in from the history store
    assert all(len(getattr(model, name)) for name in set(FRAME_SCHEMAS) - history)


def test_a_run_fetched_from_the_simulator_follows_the_schema(
    simulator, tmp_path, credentials, monkeypatch
):
    built = []

    def keep(*args, **kwargs):
        built.append(build_report(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(sources, "build_report", keep)
    inventory = simulator.fleet.write_inventory(tmp_path / "inventory.csv")
    argv = ["run", str(inventory), "--out", str(tmp_path / "out"), "--format", "csv"]
    argv += ["--api-url", simulator.api_url, "--login-url", simulator.login_url]
    assert main(argv, stdout=io.StringIO()) in (0, 3)
    [model] = built
    assert len(model.patches) and len(model.failed) and len(model.problems)
    validate_model(model)


@pytest.mark.parametrize(
    "options", [{}, {"hostile": True}, {"servers": 0}], ids=["plain", "hostile", "empty"]
)
def test_the_test_factory_follows_the_schema(options):
    validate_model(make_model(**options))


def test_validate_names_each_difference():
    frame = empty_frame(PATCH_SCHEMA).assign(owner=pd.Categorical([]))
    validate(frame, PATCH_SCHEMA, ["owner"])
    with pytest.raises(SchemaError, match="columns"):
        validate(frame, PATCH_SCHEMA)  # an attribute the model does not list
    with pytest.raises(SchemaError, match="attribute 'owner' is object"):
        validate(frame.astype({"owner": object}), PATCH_SCHEMA, ["owner"])
    with pytest.raises(SchemaError, match="columns"):
        validate(frame[["server_id", "account_alias", *PATCH_SCHEMA.names[2:]]], PATCH_SCHEMA)
    with pytest.raises(SchemaError, match="'patch_seq' is int64, not Int64"):
        validate(frame.astype({"patch_seq": "int64"}), PATCH_SCHEMA, ["owner"])
    with pytest.raises(SchemaError, match="'outcome' has categories"):
        recoded = frame.assign(outcome=pd.Categorical([], categories=["failed", "succeeded"]))
        validate(recoded, PATCH_SCHEMA, ["owner"])
    with pytest.raises(SchemaError, match="'start' is datetime64\\[us, UTC\\]"):
        executions = empty_frame(EXECUTION_SCHEMA)
        executions["start"] = executions["start"].dt.as_unit("us")
        validate(executions, EXECUTION_SCHEMA)
    with pytest.raises(SchemaError, match="the problems frame"):
        validate(empty_frame(PROBLEM_SCHEMA).astype({"reason": object}), PROBLEM_SCHEMA)


def test_every_inventory_row_is_in_the_figures_or_a_problem(fleet_report):
    fleet, inventory, fetched, model = fleet_report
    assert len(inventory.rows) + len(inventory.problems) == inventory.data_rows
    reported = {item.line for item in fetched}
    hard_problems = model.problems[model.problems["kind"] != BAD_PAYLOAD]
    for row in inventory.rows:
        in_data = row.line in reported
        in_problems = row.line in set(hard_problems["line"].dropna())
        assert in_data != in_problems, row
    assert set(model.executions["execution_id"].astype(str)) == {f.execution_id for f in fetched}
    assert len(model.problems) == model.kpis.problems
    assert fleet.unknown_executions  # the fleet does contain 404 rows: the check is not empty


def test_every_server_once_with_its_attributes(fleet_report):
    fleet, _, _, model = fleet_report
    assert sorted(model.servers["server_id"].astype(str)) == sorted(
        server.server_id for server in fleet.servers
    )
    assert model.servers["account_alias"].astype(str).unique().tolist() == ["OSD"]
    by_id = model.servers.set_index("server_id")
    for server in fleet.servers:
        assert by_id.loc[server.server_id, "owner"] == server.attributes["owner"]
    kpis = model.kpis
    assert kpis.servers == len(fleet.servers)
    assert kpis.compliant + kpis.non_compliant + kpis.in_progress + kpis.no_data == kpis.servers
    assert kpis.non_compliant > 0 and kpis.compliant > 0


def test_figures_agree_across_frames(fleet_report):
    _, _, _, model = fleet_report
    patches, executions, servers = model.patches, model.executions, model.servers
    assert model.kpis.patches_attempted == len(patches) == int(servers["patches_attempted"].sum())
    assert int(executions["failed"].sum()) == model.kpis.failed == len(model.failed)
    listed = executions.loc[~executions["details_missing"], "patch_count"].sum()
    assert int(listed) == len(patches)
    assert model.patch_rollup["attempts"].sum() == len(patches)
    assert int(model.results_by_classification.to_numpy().sum()) == len(patches)
    failing = model.failed[model.failed["still_failing"]]
    assert len(failing) == int(model.patch_rollup["servers_failed"].sum())
    non_compliant = servers[servers["compliance"] == "Non-compliant"]
    assert set(failing["server_id"].astype(str)) <= set(non_compliant["server_id"].astype(str))
    assert (patches.groupby("execution_id", observed=True)["patch_seq"].min() == 1).all()


def test_meta(fleet_report):
    _, inventory, _, model = fleet_report
    meta = model.meta
    assert meta.label == "2026-11-26" and meta.period is None
    assert meta.tool_version == __version__
    assert (meta.input_name, meta.input_sha256) == ("inventory.csv", inventory.sha256)
    assert meta.manifest_sha256 == "f" * 64
    assert meta.span_start == model.executions["start"].min()
    assert meta.span_end == model.executions["start"].max()


def test_patch_rollup_columns_add_up_to_the_servers_attempted(fleet_report):
    # SPEC 4: succeeded, warnings, in progress and failed add up to the servers attempted.
    rollup = fleet_report[3].patch_rollup
    parts = ["servers_succeeded", "servers_warnings", "servers_in_progress", "servers_failed"]
    for row in rollup.itertuples(index=False):
        assert sum(getattr(row, part) for part in parts) == row.servers_attempted, row
    assert (rollup[parts].sum() > 0).all()  # every column is exercised by the fleet


def test_still_failing_is_the_latest_failed_attempt(fleet_report):
    model = fleet_report[3]
    patches = model.patches
    assert patches["still_failing"].sum() == model.failed["still_failing"].sum() > 0
    assert (patches.loc[patches["still_failing"], "outcome"] == "failed").all()
    still = patches[patches["still_failing"]]
    per_server = still.groupby("server_id", observed=True)["patch_key"].apply(
        lambda keys: "; ".join(sorted(keys.astype(str)))
    )
    servers = model.servers.set_index("server_id")["failed_kbs"]
    assert per_server.to_dict() == {k: v for k, v in servers.items() if v}


def test_problems_are_grouped_by_kind_most_serious_first():
    rows = [InventoryRow(2, "WEB01", "VA1-1", "OSD", {"owner": "ann"})]
    noted = [
        Problem(DUPLICATE_ROW, "listed twice", 3, "OSD", "WEB01", "VA1-1"),
        Problem(INVALID_ROW, "server ID 'a/b' is not valid", 4),
        Problem(NOT_FOUND, "execution not found", 6, "OSD", "WEB02", "VA1-2"),
        Problem("a kind yet unnamed", "something new", 7),
        Problem(FORBIDDEN, "HTTP 403", 5, "OSD", "WEB03", "VA1-3"),
        Problem(INVALID_ROW, "execution ID 'x' is not valid", 1),
    ]
    model = build_report(
        small_inventory(rows, noted),
        [FetchedExecution("OSD", "WEB01", "VA1-1", body("VA1-1"), "u", NOW, 2)],
        [],
        period=None,
        title="t",
        accounts=["OSD"],
        data_source="test",
        manifest_sha256=None,
        generated_at=NOW,
        default_alias=None,
    )
    kinds = model.problems["kind"].tolist()
    assert kinds == [
        NOT_FOUND,
        FORBIDDEN,
        INVALID_ROW,
        INVALID_ROW,
        "a kind yet unnamed",  # unknown kinds after the known errors, before the warnings
        DUPLICATE_ROW,
    ]
    assert model.problems["line"].tolist()[2:4] == [1, 4]  # by line within a kind
    counts = model.problem_kinds
    assert counts["kind"].tolist() == list(dict.fromkeys(kinds))
    assert counts["problems"].tolist() == [1, 1, 2, 1, 1]
    assert int(counts["problems"].sum()) == model.kpis.problems
    assert all(counts["meaning"].iloc[[0, 1, 2, 4]])


def test_compliance_by_group_adds_up(fleet_report):
    model = fleet_report[3]
    by_group = model.by_group
    # One breakdown per attribute, in the order asked ("Owner" names the owner attribute).
    assert list(dict.fromkeys(by_group["attribute"])) == ["environment", "owner"]
    statuses = ["Compliant", "Non-compliant", "In progress", "No data"]
    assert (by_group[statuses].sum(axis=1) == by_group["servers"]).all()
    for attribute, rows in by_group.groupby("attribute"):
        assert int(rows["servers"].sum()) == model.kpis.servers
        assert int(rows["counted_compliant"].sum()) == model.kpis.compliant
        expected = model.servers[attribute].astype(str).value_counts()
        assert dict(zip(rows["group"], rows["servers"], strict=True)) == expected.to_dict()
    first = by_group.iloc[0]
    expected = 100 * first["counted_compliant"] / first["servers"]
    assert first["compliance_pct"] == pytest.approx(expected)


def test_scope_says_what_was_counted(fleet_report):
    model = fleet_report[3]
    # The fleet's inventory lists some executions and leaves others to be discovered.
    assert model.meta.scope == "every listed execution, else the latest per server"
    assert model.shown_attributes == ATTRIBUTES[:3]


def small_inventory(rows, problems=()):
    return Inventory(
        Path("servers.csv"), "a" * 64, rows, list(problems), ["owner"], len(rows) + len(problems)
    )


def body(execution_id, start="2026-10-14T03:00:00Z"):
    return {
        "execution_id": execution_id,
        "status": "completed",
        "start_time": start,
        "end_time": start.replace("03:", "04:"),
        "patches": [
            {
                "patch_begin_message": "Installing Update (KB5031361)",
                "patch_end_message": "Result Code: 2",
                "status": "completed",
            }
        ],
    }


def test_default_alias_join_failed_fetches_and_problem_order():
    invalid = Problem("invalid row", "server ID 'a/b' may only contain letters", 5, None, "a/b")
    rows = [
        InventoryRow(2, "web01", "VA1-1", None, {"owner": "ann"}),  # fetched under OSD
        InventoryRow(3, "WEB02", "VA1-2", "osd", {"owner": "bob"}),
        InventoryRow(4, "WEB03", "VA1-3", "OSD", {"owner": "cy"}),
    ]
    fetched = [
        FetchedExecution("OSD", "WEB01", "VA1-1", body("VA1-1"), "u", NOW, 2),
        FetchedExecution("OSD", "WEB02", "VA1-2", body("VA1-2"), "u", NOW, 3),
        # the same execution again, found by discovery: reported once
        FetchedExecution("OSD", "WEB02", "VA1-2", body("VA1-2"), "u", NOW, 3, True),
    ]
    failure = Problem(FETCH_FAILED, "connection refused", 4, "OSD", "WEB03", "VA1-3")
    model = build_report(
        small_inventory(rows, [invalid]),
        fetched,
        [failure],
        period=Period(2026, 10),
        title="t",
        accounts=["OSD"],
        data_source="test",
        manifest_sha256=None,
        generated_at=NOW,
        default_alias="osd",
    )
    by_id = model.servers.set_index("server_id")
    assert by_id.loc["web01", "owner"] == "ann" and by_id.loc["web01", "compliance"] == "Compliant"
    assert by_id.loc["WEB03", "compliance"] == "No data"
    assert by_id.loc["WEB03", "reason"] == "no execution in the figures: fetch failed (1)"
    assert len(model.servers) == 3  # the invalid row is a problem, not a server
    assert len(model.executions) == 2
    assert model.executions.set_index("execution_id").loc["VA1-1", "owner"] == "ann"
    assert model.problems["line"].tolist() == [4, 5]
    assert model.meta.label == "2026-10"


def test_empty_run_still_builds_a_model():
    rows = [InventoryRow(2, "WEB01", "VA1-1", "OSD", {"owner": "ann"})]
    failure = Problem(NOT_FOUND, "execution not found", 2, "OSD", "WEB01", "VA1-1")
    model = build_report(
        small_inventory(rows),
        [],
        [failure],
        period=None,
        title="t",
        accounts=["OSD"],
        data_source="test",
        manifest_sha256=None,
        generated_at=NOW,
        default_alias=None,
    )
    assert model.patches.empty and model.executions.empty and model.patch_rollup.empty
    assert model.servers["compliance"].tolist() == ["No data"]
    assert (model.meta.span_start, model.meta.span_end) == (None, None)
    assert model.kpis.compliant_pct == 0.0
    assert model.failure_summary.empty and model.hresults.empty
    validate_model(model)
    assert model.results_by_classification.empty
    assert pd.api.types.is_integer_dtype(model.failures_by_kb.dtype)


def test_an_attribute_named_like_a_report_column_is_renamed():
    rows = [InventoryRow(2, "WEB01", "VA1-1", "OSD", {"status": "decommissioning", "_x": "1"})]
    inventory = Inventory(Path("s.csv"), "a" * 64, rows, [], ["status", "_x"], 1)
    fetched = [FetchedExecution("OSD", "WEB01", "VA1-1", body("VA1-1"), "u", NOW, 2)]
    model = build_report(
        inventory,
        fetched,
        [],
        period=None,
        title="t",
        accounts=["OSD"],
        data_source="test",
        manifest_sha256=None,
        generated_at=NOW,
        default_alias=None,
    )
    assert model.attribute_columns == ["status (inventory)", "_x (inventory)"]
    assert model.executions["status"].tolist() == ["completed"]
    assert model.executions["status (inventory)"].tolist() == ["decommissioning"]
    assert list(model.servers.columns[-2:]) == model.attribute_columns
