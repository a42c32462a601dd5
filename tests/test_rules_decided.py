"""The rules SPEC 4 decided, through ``reporter run``: an up-to-date run clears earlier failures,
a count-only execution is a warning with an unknown-outcome count, a listed execution outside
the period is listed apart (not a problem), and without a baseline the summary says what
compliant means."""

import csv

import openpyxl
from handmade import FAIL, OK, fleet, reporter_run, run, server, write_csv
from readers import sheet_rows

A, B, C = (server(f"VA1OSDWEB0{n}", "Windows Server 2019") for n in (1, 2, 3))
TITLE = "Security Update for Windows Server 2019 (KB5031361)"
OTHER = "Cumulative Update for Windows Server 2019 (KB5031362)"
EXECUTIONS = [
    # A: a failure, then a run that had nothing to install: up to date.
    run(A, "VA1-100001", "2026-10-10 02:00", [(TITLE, FAIL)]),
    run(A, "VA1-100002", "2026-10-20 02:00", []),
    # B: the API gives only a count of its patches.
    run(B, "VA1-200001", "2026-10-12 02:00", [(TITLE, OK), (OTHER, OK)], as_number=True),
    # C: October, and a September run listed on its own row.
    run(C, "VA1-300001", "2026-09-20 02:00", [(TITLE, OK)]),
    run(C, "VA1-300002", "2026-10-14 02:00", [(OTHER, OK)]),
]


def test_the_rules_decided(tmp_path, sim_factory, credentials):
    sim = sim_factory(fleet([A, B, C], EXECUTIONS))
    servers = write_csv(
        tmp_path / "servers.csv",
        ["server_id", "execution_id", "account_alias"],
        [
            [A.server_id, "", "OSD"],
            [B.server_id, "", "OSD"],
            [C.server_id, "VA1-300001", "OSD"],
            [C.server_id, "VA1-300002", "OSD"],
        ],
    )
    out = tmp_path / "out"
    code, output = reporter_run(
        sim, str(servers), "--period", "2026-10", "--out", str(out), "--format", "xlsx,html,csv"
    )
    # Neither the count-only execution nor the one outside the period makes it exit 3.
    assert code == 0, output
    assert "2 patches of unknown outcome" in output
    assert "1 listed executions started outside the period" in output

    book = openpyxl.load_workbook(out / "patch-compliance-2026-10.xlsx")
    status = {row["Server ID"]: row for row in sheet_rows(book, "Servers")}
    assert status[A.server_id]["Compliance"] == "Compliant"
    assert status[A.server_id]["Reason"].startswith(
        "up to date: a later run needed no patches, which clears the earlier failures of KB5031361"
    )
    [failed] = sheet_rows(book, "Failed")
    assert failed["Still failing"] is False
    assert status[B.server_id]["Compliance"] == "Compliant"
    assert "patch details not returned" in status[B.server_id]["Reason"]
    assert sheet_rows(book, "Problems") == []
    executions = {row["Execution ID"]: row for row in sheet_rows(book, "Executions")}
    assert "patch details not returned" in executions["VA1-200001"]["Issues"]
    summary = {row["Item"]: row["Value"] for row in sheet_rows(book, "Summary")}
    assert summary["Patches of unknown outcome (only counted; not rows of Patches)"] == 2
    assert summary["Executions outside the period"] == 1
    assert summary["Compliant means"] == "the latest attempt of every patch that ran succeeded"
    # No rows are made up: the CSV and the Patches sheet hold the listed attempts only.
    with (out / "patch-compliance-2026-10.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["execution_id"] for row in rows) == ["VA1-100001", "VA1-300002"]
    [outside] = sheet_rows(book, "Outside period")
    assert (outside["Line"], outside["Execution ID"]) == (4, "VA1-300001")
    assert outside["Reason"] == "started 2026-09-20, outside 2026-10"

    html = (out / "patch-compliance-2026-10.html").read_text(encoding="utf-8")
    assert 'id="outside-period"' in html
    assert "compliant means that the latest attempt of every patch that ran succeeded" in html
    assert "2 more patches have an unknown outcome" in html
