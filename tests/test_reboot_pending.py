"""Reboot pending (SPEC 4, 9): its own status in every format, and the policy that decides how
it counts in the compliance %."""

import email
import socket
import sqlite3
import time
from email import policy

import openpyxl
import pytest
from aiosmtpd.controller import Controller
from handmade import OK, REBOOT, fleet, inventory, reporter_run, run, server
from pypdf import PdfReader
from readers import sheet_rows

R1, R2, R3, R4 = (server(f"VA1OSDAPP0{n}", "Windows Server 2019") for n in (1, 2, 3, 4))
TITLE = "Security Update for Windows Server 2019 (KB5031361)"
FAIL_REBOOT = "Result Code: 4, HResult: 0x80070BC9"  # failed because a restart is pending
EXECUTIONS = [
    run(R1, "VA1-100001", "2026-10-14 02:00", [(TITLE, REBOOT)]),
    run(R2, "VA1-100002", "2026-10-14 02:00", [(TITLE, REBOOT)]),
    run(R2, "VA1-100012", "2026-10-20 02:00", []),  # completed after: the server restarted
    run(R3, "VA1-100003", "2026-10-14 02:00", [(TITLE, FAIL_REBOOT)]),
    run(R4, "VA1-100004", "2026-10-14 02:00", [(TITLE, OK)]),
]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def relay(monkeypatch):
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("REPORTER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("REPORTER_SMTP_PORT", str(port))
    monkeypatch.setenv("REPORTER_SMTP_SECURITY", "none")
    monkeypatch.setenv("REPORTER_SMTP_FROM", "reports@example.com")
    yield mailbox
    controller.stop()


def test_reboot_pending_is_its_own_status_in_every_format(
    tmp_path, sim_factory, credentials, relay
):
    sim = sim_factory(fleet([R1, R2, R3, R4], EXECUTIONS))
    servers = inventory(tmp_path / "servers.csv", [R1, R2, R3, R4])
    out = tmp_path / "out"
    code, output = reporter_run(
        sim,
        str(servers),
        "--period",
        "2026-10",
        "--out",
        str(out),
        "--email-to",
        "audit@example.com",
        "--email-attach",
        "xlsx",
    )
    assert code == 0, output
    assert "75.0% compliant (3/4 servers)" in output
    assert "reboot pending 1" in output

    book = openpyxl.load_workbook(out / "patch-compliance-2026-10.xlsx")
    status = {row["Server ID"]: row for row in sheet_rows(book, "Servers")}
    assert status[R1.server_id]["Compliance"] == "Reboot pending"
    assert "restart pending: KB5031361" in status[R1.server_id]["Reason"]
    assert status[R2.server_id]["Compliance"] == "Compliant"  # restarted by the later run
    assert status[R3.server_id]["Compliance"] == "Non-compliant"  # a failure code: failed
    summary = {row["Item"]: row["Value"] for row in sheet_rows(book, "Summary")}
    assert summary["Reboot pending servers"] == 1
    assert summary["Servers counted as compliant"] == 3
    [trend] = sheet_rows(book, "Trend")
    assert trend["Reboot pending"] == 1 and trend["Counted compliant"] == 3

    html = (out / "patch-compliance-2026-10.html").read_text(encoding="utf-8")
    assert 'id="reboot-pending"' in html
    assert '<span class="badge info">Reboot pending</span>' in html

    reader = PdfReader(out / "patch-compliance-2026-10.pdf")
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    assert "Reboot pending" in text and R1.server_id in text
    servers_csv = reader.attachments["servers.csv"][0].decode("utf-8")
    assert f"OSD,{R1.server_id},Reboot pending," in servers_csv

    for _ in range(50):  # the relay hands the message over on its own thread
        if relay.messages:
            break
        time.sleep(0.1)
    message = email.message_from_bytes(relay.messages[0], policy=policy.default)
    body = message.get_body(("plain",)).get_content()
    assert "Reboot pending: 1" in body and "Counted as compliant: 3 (75.0%)" in body

    with sqlite3.connect(out / "history.sqlite") as connection:
        stored = dict(connection.execute("SELECT status, servers FROM run_statuses"))
    assert stored["Reboot pending"] == 1 and stored["Compliant"] == 2


def test_the_policy_moves_reboot_pending_out_of_the_compliance_percentage(
    tmp_path, sim_factory, credentials
):
    sim = sim_factory(fleet([R1, R2, R3, R4], EXECUTIONS))
    servers = inventory(tmp_path / "servers.csv", [R1, R2, R3, R4])
    config = tmp_path / "reporter.toml"
    config.write_text('reboot_pending = "non-compliant"\n', encoding="utf-8")
    out = tmp_path / "out"
    code, output = reporter_run(
        sim,
        str(servers),
        "--period",
        "2026-10",
        "--out",
        str(out),
        "--format",
        "xlsx,html",
        "--config",
        str(config),
    )
    assert code == 0, output
    assert "50.0% compliant (2/4 servers)" in output
    book = openpyxl.load_workbook(out / "patch-compliance-2026-10.xlsx")
    summary = {row["Item"]: row["Value"] for row in sheet_rows(book, "Summary")}
    assert summary["Reboot pending counts as"] == "non-compliant"
    assert summary["Reboot pending servers"] == 1 and summary["Compliant (% of servers)"] == 0.5
    html = (out / "patch-compliance-2026-10.html").read_text(encoding="utf-8")
    assert "1 waiting for a restart (counted as non-compliant)" in html
    # The trend and the history count the same way.
    [trend] = sheet_rows(book, "Trend")
    assert trend["Counted compliant"] == 2 and trend["Compliance %"] == 50.0


@pytest.mark.parametrize("value", ['"sometimes"', "true"])
def test_a_bad_policy_is_refused_before_anything_is_fetched(
    tmp_path, simulator, credentials, value
):
    config = tmp_path / "reporter.toml"
    config.write_text(f"reboot_pending = {value}\n", encoding="utf-8")
    servers = inventory(tmp_path / "servers.csv", [R1])
    code, _ = reporter_run(simulator, str(servers), "--config", str(config), "--out", str(tmp_path))
    assert code == 2
    assert simulator.stats.snapshot()["requests"] == 0
