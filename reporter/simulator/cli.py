"""``reporter simulate``: serve a simulated fleet until Ctrl-C."""

import argparse
import ipaddress
import re
import shlex
import sys
from functools import partial
from typing import TextIO

from reporter.errors import ExitCode, UsageError
from reporter.simulator.faults import FaultConfig
from reporter.simulator.fleet import Fleet
from reporter.simulator.server import SimulatorServer
from reporter.simulator.standard import write_sample_baseline, write_sample_exceptions

MAX_SERVERS = 100_000
MAX_EXECUTIONS_PER_SERVER = 120
_ALIAS = re.compile(r"[A-Za-z0-9]+")
DEMO_LOGIN = "demo"  # the published default user name and password


def faults_from_args(args: argparse.Namespace) -> FaultConfig:
    """The fault settings of the command line, checked (UsageError names the bad option)."""
    for option in ("error_rate", "malformed_rate", "hang_rate"):
        value = getattr(args, option)
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"--{option.replace('_', '-')} must be between 0 and 1, got {value}")
    for option in ("latency_ms", "rate_limit", "token_ttl_requests"):
        value = getattr(args, option)
        if value < 0:
            raise UsageError(f"--{option.replace('_', '-')} must not be negative, got {value}")
    return FaultConfig(
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        rate_limit=args.rate_limit,
        malformed_rate=args.malformed_rate,
        hang_rate=args.hang_rate,
        token_ttl_requests=args.token_ttl_requests,
        seed=args.seed,
    )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_args(args: argparse.Namespace) -> None:
    """Refuse option values the simulator cannot serve, with a UsageError naming the option."""
    if not 1 <= args.servers <= MAX_SERVERS:
        raise UsageError(f"--servers must be between 1 and {MAX_SERVERS}, got {args.servers}")
    if not 1 <= args.executions_per_server <= MAX_EXECUTIONS_PER_SERVER:
        raise UsageError(
            f"--executions-per-server must be between 1 and {MAX_EXECUTIONS_PER_SERVER}, "
            f"got {args.executions_per_server}"
        )
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if not _ALIAS.fullmatch(args.account):
        raise UsageError(f"--account must be letters and digits, got {args.account!r}")
    if not args.user or not args.password:
        raise UsageError("--user and --password must not be empty")


def start_simulator(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO | None = None
) -> SimulatorServer:
    """Check the options, build the fleet, write the inventory if asked, start serving.

    Prints both URLs, a credentials hint and the fault settings to ``stdout``; returns the
    running server (the caller stops it).
    """
    stderr = stderr or sys.stderr
    faults = faults_from_args(args)
    check_args(args)
    if not is_loopback(args.host):
        print(
            f"reporter: warning: the simulator is for testing; it listens on {args.host}, "
            "reachable beyond this machine, with a published login",
            file=stderr,
        )
    fleet = Fleet.generate(
        servers=args.servers,
        executions_per_server=args.executions_per_server,
        seed=args.seed,
        account=args.account,
    )
    if args.inventory:
        try:
            written = fleet.write_inventory(args.inventory)
        except OSError as error:
            raise UsageError(
                f"cannot write the inventory {args.inventory}: {error.strerror}"
            ) from None
        rows = len(fleet.inventory_rows())
        print(f"inventory:    {written} ({rows} rows)", file=stdout)
    for option, write in (
        ("baseline", partial(write_sample_baseline, fleet)),
        ("exceptions", partial(write_sample_exceptions, fleet)),
    ):
        target = getattr(args, option, None)
        if target:
            try:
                written = write(target)
            except OSError as error:
                raise UsageError(f"cannot write the {option} {target}: {error.strerror}") from None
            print(f"{option + ':':<13} {written}", file=stdout)
    sim = SimulatorServer(
        fleet, faults, host=args.host, port=args.port, user=args.user, password=args.password
    )
    try:
        sim.start()
    except OSError as error:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}"
        ) from None
    patches = sum(execution.patch_count for execution in fleet.executions)
    password = args.password if args.password == DEMO_LOGIN else "<the --password given>"
    print(
        f"simulating {len(fleet.servers)} servers, {len(fleet.executions)} executions, "
        f"{patches} patches (account {fleet.account}, seed {args.seed})",
        file=stdout,
    )
    if fleet.unlisted_servers or fleet.archived_servers:
        print(
            f"the account also has {len(fleet.unlisted_servers)} active servers the inventory "
            f"leaves out and {len(fleet.archived_servers)} archived ones",
            file=stdout,
        )
    print(f"Patching API: {sim.api_url}", file=stdout)
    print(f"Login API:    {sim.login_url}", file=stdout)
    print(f"Servers API:  {sim.servers_api_url}", file=stdout)
    print(
        f"credentials:  export CLC_USER={args.user} CLC_PASSWORD={password} "
        f"REPORTER_API_URL={sim.api_url} REPORTER_LOGIN_URL={sim.login_url} "
        f"REPORTER_SERVERS_API_URL={sim.servers_api_url}",
        file=stdout,
    )
    print(f"faults:       {faults.describe()}", file=stdout)
    months = fleet_months(fleet)
    print(
        f"data:         executions started in {', '.join(months)} (the fleet as on "
        f"{fleet.now:%Y-%m-%d})",
        file=stdout,
    )
    inventory = shlex.quote(str(args.inventory)) if args.inventory else "--all-servers"
    print(
        f"report it:    reporter run {inventory} --period {months[-1]} --out reports  "
        "(after the export above)",
        file=stdout,
    )
    print("press Ctrl-C to stop", file=stdout, flush=True)
    return sim


def fleet_months(fleet: Fleet) -> list[str]:
    """The months (``YYYY-MM``) in which the fleet's executions started, oldest first."""
    return sorted({f"{execution.start:%Y-%m}" for execution in fleet.executions})


def simulate(args: argparse.Namespace, stdout: TextIO) -> int:
    """Run ``reporter simulate``: serve until Ctrl-C, then shut down cleanly and return 0."""
    sim = start_simulator(args, stdout)
    try:
        # Short waits keep the main thread responsive to Ctrl-C on every platform.
        while not sim.wait(0.5):
            pass
    except KeyboardInterrupt:
        print("stopping the simulator", file=stdout, flush=True)
    finally:
        sim.stop()
    return int(ExitCode.OK)
