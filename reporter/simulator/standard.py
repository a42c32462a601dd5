"""A sample standard that fits a simulated fleet: a baseline of required patches and a file of
exceptions, drawn from the fleet's own monthly catalogues so that every state shows up.

Measured at the end of the fleet's latest month, the baseline has patches most servers
installed this month or earlier (the history ledger and the look-back find the earlier ones),
one no server has (overdue on some servers), ones still within their deadline (due where
missing), alternatives and a Linux minimum version. The exceptions hold one in force, one
expired and one stale, plus one that covers a failing update everywhere.
"""

import csv
import io
import os
import re
from datetime import date, timedelta
from pathlib import Path

from reporter.simulator import catalogue
from reporter.simulator.fleet import Fleet, write_text_file
from reporter.simulator.generator import patch_tuesday
from reporter.simulator.records import SimServer

OUT_OF_BAND_KB = "KB5099999"  # a fictitious update no simulated server ever installs
DEFENDER_KB = "KB2267602"
RETIRED = "VA1OSDLEGACY01"  # an exception for a server the fleet no longer has: stale
BASELINE_COLUMNS = ["patch", "title", "classification", "severity", "released", "applies_to"]
EXCEPTION_COLUMNS = ["server_id", "patch", "reason", "approved_by", "expires"]
_KB = re.compile(r"\(KB(\d+)\)")


def latest_month(fleet: Fleet) -> tuple[int, int]:
    """The month the fleet's latest execution started in."""
    latest = max(execution.start for execution in fleet.executions)
    return latest.year, latest.month


def month_before(year: int, month: int, back: int) -> tuple[int, int]:
    """The month ``back`` months before ``year-month``."""
    total = year * 12 + month - 1 - back
    return total // 12, total % 12 + 1


def period_end(year: int, month: int) -> date:
    """The first day after the month: the reference date of its report."""
    following = month_before(year, month, -1)
    return date(following[0], following[1], 1)


def _offer(fleet: Fleet, month: tuple[int, int], os_name: str, words: str) -> tuple[str, str]:
    """(KB number, title) of the month's update for ``os_name`` whose title has ``words``."""
    offers = catalogue.windows_catalogue(*month, fleet.seed)[os_name]
    title = next(offer.title for offer in offers if words in offer.title)
    found = _KB.search(title)
    assert found is not None  # the catalogue's titles end with their KB number
    return "KB" + found.group(1), title


def _released(month: tuple[int, int]) -> str:
    return f"{patch_tuesday(*month):%Y-%m-%d}"


def sample_baseline(fleet: Fleet) -> str:
    """The sample baseline CSV for ``fleet``."""
    latest = latest_month(fleet)
    previous, older = month_before(*latest, 1), month_before(*latest, 2)
    cu_2022 = _offer(fleet, latest, "Windows Server 2022", "Cumulative Update for Windows")
    cu_2019 = _offer(fleet, previous, "Windows Server 2019", "Cumulative Update for Windows")
    ssu_now = _offer(fleet, latest, "Windows Server 2019", "Servicing Stack")
    ssu_then = _offer(fleet, previous, "Windows Server 2019", "Servicing Stack")
    release = 26 + catalogue.month_index(*older) // 2  # openssl's el7 release that month
    oob_release = patch_tuesday(*previous) + timedelta(days=7)
    rows = [
        [
            cu_2022[0],
            cu_2022[1],
            "Cumulative Update",
            "Critical",
            _released(latest),
            "os=Windows Server 2022",
        ],
        [
            cu_2019[0],
            cu_2019[1],
            "Cumulative Update",
            "Critical",
            _released(previous),
            "os=Windows Server 2019",
        ],
        [
            "KB890830",
            "Windows Malicious Software Removal Tool x64",
            "Update",
            "Important",
            _released(month_before(*latest, 10)),
            "",
        ],
        [
            OUT_OF_BAND_KB,
            "Out-of-band Security Update for Windows Server 2016 (KB5099999)",
            "Security Update",
            "Important",
            f"{oob_release:%Y-%m-%d}",
            "os=Windows Server 2016;environment=prod",
        ],
        [
            f"{ssu_now[0]}|{ssu_then[0]}",
            "Servicing Stack Update for Windows Server 2019 (either)",
            "Servicing Stack Update",
            "Moderate",
            _released(previous),
            "os=Windows Server 2019",
        ],
        [
            f"openssl.x86_64>=1.0.2k-{release}.el7_9",
            "OpenSSL (CVE fixes)",
            "Linux package",
            "Moderate",
            _released(older),
            "os=RHEL 7",
        ],
        [
            "kernel.x86_64",
            "Linux kernel",
            "Linux package",
            "Low",
            _released(month_before(*latest, 10)),
            "",
        ],
    ]
    return _csv(BASELINE_COLUMNS, rows)


def _prod_2016(fleet: Fleet) -> list[SimServer]:
    return sorted(
        (
            server
            for server in fleet.servers
            if server.os == "Windows Server 2016" and server.attributes["environment"] == "prod"
        ),
        key=lambda server: server.server_id,
    )


def sample_exceptions(fleet: Fleet) -> str:
    """The sample exceptions CSV for ``fleet``: judged at the end of its latest month."""
    reference = period_end(*latest_month(fleet))
    servers = _prod_2016(fleet)
    rows = [
        [
            "*",
            DEFENDER_KB,
            "Defender definitions update several times a day; a failed one is retried by the next",
            "Security Operations",
            f"{reference + timedelta(days=30)}",
        ],
        [
            RETIRED,
            "*",
            "Decommissioned; removal from the inventory pending",
            "J. Smith (CISO)",
            f"{reference + timedelta(days=180)}",
        ],
    ]
    if servers:
        rows.insert(
            0,
            [
                servers[0].server_id,
                OUT_OF_BAND_KB,
                "Breaks the line-of-business "
                "application; mitigated by a firewall rule until the vendor's fix",
                "J. Smith (CISO)",
                f"{reference + timedelta(days=60)}",
            ],
        )
    if len(servers) > 1:
        rows.insert(
            1,
            [
                servers[1].server_id,
                OUT_OF_BAND_KB,
                "Change freeze for the quarter-end close",
                "A. Jones (IT director)",
                f"{reference - timedelta(days=10)}",
            ],
        )
    return _csv(EXCEPTION_COLUMNS, rows)


def _csv(columns: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def write_sample_baseline(fleet: Fleet, path: str | os.PathLike[str]) -> Path:
    """Write :func:`sample_baseline` of ``fleet`` to ``path``, whole or not at all."""
    return write_text_file(path, sample_baseline(fleet))


def write_sample_exceptions(fleet: Fleet, path: str | os.PathLike[str]) -> Path:
    """Write :func:`sample_exceptions` of ``fleet`` to ``path``, whole or not at all."""
    return write_text_file(path, sample_exceptions(fleet))
