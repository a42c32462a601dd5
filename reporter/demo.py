"""``reporter demo``: the monthly flow, end to end, against the built-in simulator.

The sample fleet's inventory lists servers only (the monthly flow: each run finds the month's
executions itself). Every month is measured against a sample baseline and exceptions drawn from
the fleet. Its earlier months are run first, recording only their history, so that the latest
month's reports show a trend; a server the API does not know keeps something in the Problems
section.
"""

import csv
import dataclasses
import io
import secrets
from pathlib import Path
from typing import TextIO

from reporter.config import RunSettings
from reporter.errors import ExitCode
from reporter.pipeline import run
from reporter.records import Period
from reporter.simulator import (
    Fleet,
    SimulatorServer,
    write_sample_baseline,
    write_sample_exceptions,
)

DEMO_SEED = 2026
DEMO_SERVERS = 60
DEMO_EXECUTIONS_PER_SERVER = 4
DEMO_USER = "demo"
DEMO_TITLE = "Patch compliance (demo fleet)"
# Listed in the demo inventory, unknown to the API: shows what the Problems section is for.
RETIRED_SERVER = "VA1OSDOLD01"


def write_demo_inventory(fleet: Fleet, path: Path) -> Path:
    """The fleet's servers, one row each without an execution ID, and one server the API
    does not know."""
    columns = ["server_id", "execution_id", "account_alias", *fleet.servers[0].attributes]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for server in fleet.servers:
        writer.writerow(
            {"server_id": server.server_id, "account_alias": server.account, **server.attributes}
        )
    retired = {**fleet.servers[0].attributes, "owner": "platform team"}
    writer.writerow({"server_id": RETIRED_SERVER, "account_alias": fleet.account, **retired})
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def fleet_months(fleet: Fleet) -> list[Period]:
    """The months the fleet's executions started in, oldest first."""
    return [
        Period(year, month)
        for year, month in sorted({(e.start.year, e.start.month) for e in fleet.executions})
    ]


def counts_explained(fleet: Fleet, months: list[Period]) -> str:
    """Why the executions the API holds, the rows fetched and the executions counted differ."""
    rows = len(fleet.servers) + 1  # and the retired server
    latest = months[-1]
    counted = sum(1 for execution in fleet.executions if latest.contains(execution.start))
    return (
        f"The demo inventory lists the fleet's {len(fleet.servers)} servers, and one the API "
        f"does not know, without execution IDs: each month's run fetches those {rows} "
        "inventory rows, finds each server's executions in the API's list of them, and counts "
        f"only those that started in its month ({counted} in {latest}; the others belong to "
        "the earlier months)."
    )


def demo(out: str | None, stdout: TextIO) -> int:
    """Run the monthly flow for every month of the sample fleet into ``out``; report the last."""
    out_dir = Path(out or "reports")
    fleet = Fleet.generate(
        servers=DEMO_SERVERS, executions_per_server=DEMO_EXECUTIONS_PER_SERVER, seed=DEMO_SEED
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    inventory = write_demo_inventory(fleet, out_dir / "demo-inventory.csv")
    # The standard every month is measured against: written beside the reports, like the
    # inventory, so the demo needs nothing from outside.
    baseline = write_sample_baseline(fleet, out_dir / "demo-baseline.csv")
    exceptions = write_sample_exceptions(fleet, out_dir / "demo-exceptions.csv")
    months = fleet_months(fleet)
    # A fresh password for the in-process simulator: it guards nothing, but a fixed one would
    # be registered as a secret and blanked out of every log line that happens to contain it.
    password = secrets.token_urlsafe(16)
    with SimulatorServer(fleet, host="127.0.0.1", port=0, user=DEMO_USER, password=password) as sim:
        print(
            f"Simulated Patching API at {sim.api_url} ({len(fleet.executions)} executions, "
            f"{months[0]} to {months[-1]})",
            file=stdout,
        )
        print(counts_explained(fleet, months), file=stdout)
        settings = RunSettings(
            inventory=inventory,
            out=out_dir,
            api_url=sim.api_url,
            login_url=sim.login_url,
            title=DEMO_TITLE,
            baseline=baseline,
            exceptions=exceptions,
            env={"CLC_USER": DEMO_USER, "CLC_PASSWORD": password},
        )
        print("Earlier months, recorded in the history only:", file=stdout)
        for month in months[:-1]:
            quiet = io.StringIO()
            run(dataclasses.replace(settings, period=month, formats=()), quiet)
            print(f"  {quiet.getvalue().splitlines()[0]}", file=stdout)
        code = run(dataclasses.replace(settings, period=months[-1]), stdout)
    if code == ExitCode.PROBLEMS:
        # The sample inventory lists a server the API does not know on purpose, to show the
        # Problems section; for the demo that is the expected outcome, not a failure.
        print("(The demo inventory lists a server the API does not know, on purpose.)", file=stdout)
        return ExitCode.OK
    return code
