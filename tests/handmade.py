"""A small fleet written by hand, for tests that need to know every patch of every server.

The simulator serves it like any fleet; the tests write its inventory (servers only: the
monthly flow), baseline and exceptions as CSV files and run ``reporter run`` through ``main``.
"""

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reporter.cli import main
from reporter.simulator import Fleet, SimExecution, SimPatch, SimServer
from reporter.simulator.records import PayloadStyle

OK = "Result Code: 2"
FAIL = "Result Code: 4, HResult: 0x80240022"
REBOOT = "Result Code: 2, HResult: 0x00240005"


def server(server_id: str, os_name: str, environment: str = "prod") -> SimServer:
    """A server of account OSD with owner, environment and os attributes."""
    return SimServer(
        server_id,
        "OSD",
        "VA1",
        "WEB",
        os_name,
        {"owner": "ops", "environment": environment, "os": os_name},
    )


def when(text: str) -> datetime:
    """``"2026-10-14 03:00"`` as a UTC moment."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run(
    host: SimServer,
    execution_id: str,
    start: str,
    patches: list[tuple[str, str]],
    *,
    status: str = "completed",
    as_number: bool = False,
) -> SimExecution:
    """A finished execution of ``host`` whose patches are (title, end message), a minute each."""
    begin = when(start)
    attempts = [
        SimPatch(
            title,
            begin + timedelta(minutes=n),
            begin + timedelta(minutes=n, seconds=50),
            "failed" if "Code: 4" in message else "completed",
            message,
        )
        for n, (title, message) in enumerate(patches, 1)
    ]
    return SimExecution(
        account="OSD",
        server_id=host.server_id,
        execution_id=execution_id,
        start=begin,
        end=begin + timedelta(hours=1),
        status=status,
        patches=attempts,
        windows=host.windows,
        init_end=begin + timedelta(seconds=30),
        style=replace(PayloadStyle(), patches_as_number=as_number),
    )


def fleet(servers: list[SimServer], executions: list[SimExecution]) -> Fleet:
    """A fleet of exactly these servers and executions."""
    return Fleet("OSD", servers, executions, now=when("2026-11-20 00:00"))


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """Write a CSV file (the tests' inventories, baselines and exceptions)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def inventory(path: Path, servers: list[SimServer]) -> Path:
    """An inventory listing the servers only (their executions are found by period)."""
    return write_csv(
        path,
        ["server_id", "execution_id", "account_alias", "owner", "environment", "os"],
        [
            [s.server_id, "", "OSD", s.attributes["owner"], s.attributes["environment"], s.os]
            for s in servers
        ],
    )


BASELINE_HEADER = ["patch", "title", "classification", "severity", "released", "applies_to"]
EXCEPTIONS_HEADER = ["server_id", "patch", "reason", "approved_by", "expires"]


def reporter_run(sim, *argv: str) -> tuple[int, str]:
    """``reporter run ARGV`` against ``sim`` without the completeness check: exit code, stdout."""
    out = io.StringIO()
    code = main(
        [
            "run",
            *argv,
            "--api-url",
            sim.api_url,
            "--login-url",
            sim.login_url,
            "--no-completeness-check",
        ],
        stdout=out,
    )
    return code, out.getvalue()
