"""The ``reporter`` command line: parses arguments and calls the library. Nothing else."""

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from reporter import __version__
from reporter.errors import ExitCode, ReporterError
from reporter.logs import configure, redact

log = logging.getLogger("reporter")

RUN_EXAMPLE = """\
examples:
  export CLC_USER=jdoe CLC_PASSWORD=...
  reporter run --all-servers --period 2026-10 --out reports --email-to audit@example.com
  reporter run servers.csv --period 2026-10 --group Web
"""
INVENTORY_EXAMPLE = """\
examples:
  export CLC_USER=jdoe CLC_PASSWORD=...
  reporter inventory --out servers.csv
  reporter inventory --out web.csv --data-center VA1,UC1 --group Web
"""
DEMO_EXAMPLE = """\
example:
  reporter demo --out demo-reports
"""
SIMULATE_EXAMPLE = """\
example:
  reporter simulate --port 8080 --servers 50 --inventory inventory.csv
  # in another shell, with the exports the simulator prints:
  reporter run inventory.csv --period 2026-11 --out reports
  curl -s -X POST http://127.0.0.1:8080/v2/authentication/login \\
       -d '{"username": "demo", "password": "demo"}'
"""
HISTORY_EXAMPLE = """\
examples:
  reporter history --history /srv/patch-reports/history.sqlite
  reporter history import /srv/patch-reports-2025 --history /srv/patch-reports/history.sqlite
"""
EXPLAIN_EXAMPLE = """\
examples:
  reporter explain "Result Code: 4"
  reporter explain 0x80240022
  reporter explain -2145124318
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command (also used by the documentation test)."""
    parser = argparse.ArgumentParser(
        prog="reporter",
        description="Patch-compliance reports from CenturyLink Cloud Patching-as-a-Service.",
    )
    parser.add_argument("--version", action="version", version=f"reporter {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="fetch the executions in an inventory and write the reports",
        description="Load INVENTORY (or, with --all-servers, list the account's active "
        "servers), fetch every execution from the Patching API, check the inventory against "
        "the account's server list, and write the patch-compliance reports. Credentials come "
        "from CLC_USER/CLC_PASSWORD or CLC_BEARER_TOKEN.",
        epilog=RUN_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "inventory",
        metavar="INVENTORY.csv",
        nargs="?",
        help="inventory CSV of servers (or --all-servers instead; with --from-archive: default "
        "the archive's saved copy)",
    )
    add_run_options(run)

    inventory = commands.add_parser(
        "inventory",
        help="write an inventory CSV of the account's servers from the CLC API",
        description="List the account's servers with the CLC v2 servers API and write them "
        "as an inventory CSV (account_alias, server_id, data_center, group, os, os_type, "
        "status, power_state, description, then one column per custom field) that "
        "reporter run reads. Credentials come from CLC_USER/CLC_PASSWORD or CLC_BEARER_TOKEN.",
        epilog=INVENTORY_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_inventory_options(inventory)

    demo = commands.add_parser(
        "demo",
        help="run the whole pipeline against the built-in simulator",
        description="Start the built-in simulator with a sample fleet and write every report "
        "from it. Needs no network and no credentials.",
        epilog=DEMO_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--out", metavar="DIR", help="output folder (default: ./reports)")
    demo.add_argument("--debug", action="store_true", help="show tracebacks and request logs")

    simulate = commands.add_parser(
        "simulate",
        help="serve a simulated Patching API and Login API on loopback",
        description="Serve a deterministic simulated fleet over HTTP, with optional faults. "
        "The fleet is seen as on 2026-11-20: each server's executions started in the months "
        "up to 2026-11 (2026-08 to 2026-11 with the default 4 per server), so report it with "
        "--period 2026-11 or an earlier one of those months. When it starts it prints the "
        "months that hold data, the URLs and credentials to export, and the reporter run "
        "command to point at it.",
        epilog=SIMULATE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_simulate_options(simulate)

    add_history_command(commands)

    explain = commands.add_parser(
        "explain",
        help="explain a Windows Update result code or HRESULT",
        description="Explain a result code (2, 'Result Code: 4') or an HRESULT "
        "(0x80240022, -2145124318, 2149842978).",
        epilog=EXPLAIN_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument("code", metavar="CODE", help="the code, as the API or a log shows it")
    return parser


def add_run_options(run: argparse.ArgumentParser) -> None:
    """Options of ``reporter run``; their defaults come from the config file, then built-ins."""
    run.add_argument("--out", metavar="DIR", help="output folder (default: ./reports)")
    run.add_argument(
        "--format",
        metavar="LIST",
        help="comma-separated formats to write: html,pdf,xlsx,csv (default: all)",
    )
    run.add_argument(
        "--period", metavar="YYYY-MM", help="report executions that started in this month (UTC)"
    )
    run.add_argument(
        "--account", metavar="ALIAS", help="account alias for rows that do not give one"
    )
    run.add_argument(
        "--api-url", metavar="URL", help="Patching API base URL (env REPORTER_API_URL)"
    )
    run.add_argument("--login-url", metavar="URL", help="Login API URL (env REPORTER_LOGIN_URL)")
    run.add_argument(
        "--servers-api-url",
        metavar="URL",
        help="CLC v2 servers API base URL (env REPORTER_SERVERS_API_URL; default: beside the "
        "Login API, https://api.ctl.io/v2)",
    )
    run.add_argument(
        "--all-servers",
        action="store_true",
        default=None,
        help="report every active server of the account (no inventory file)",
    )
    run.add_argument(
        "--no-completeness-check",
        dest="completeness_check",
        action="store_false",
        default=None,
        help="do not check the inventory against the account's server list",
    )
    run.add_argument(
        "--data-center",
        metavar="DC,...",
        help="limit --all-servers and the completeness check to these data centers",
    )
    run.add_argument(
        "--group",
        metavar="NAME",
        help="limit --all-servers and the completeness check to this group (a name or "
        "a path such as Web/Prod)",
    )
    run.add_argument("--concurrency", type=int, metavar="N", help="parallel requests (default: 8)")
    run.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="per-request timeout (default: 30)"
    )
    run.add_argument(
        "--retries",
        type=int,
        metavar="N",
        help="retries per request on transient errors (default: 5)",
    )
    run.add_argument(
        "--from-archive",
        metavar="DIR",
        help="re-render from saved evidence instead of the network: an output folder (its "
        "--period's label, else the newest), its evidence folder, or one label's folder",
    )
    run.add_argument("--title", metavar="TEXT", help="report title")
    run.add_argument(
        "--email-to", metavar="ADDR,...", help="e-mail the PDF to these addresses (REPORTER_SMTP_*)"
    )
    run.add_argument(
        "--email-attach",
        metavar="LIST",
        help="extra attachments for the e-mail besides the PDF: xlsx, csv",
    )
    run.add_argument(
        "--pdf-detail",
        choices=["none", "all"],
        help="include every patch attempt in the PDF appendix (default: none)",
    )
    run.add_argument(
        "--pdf-variant",
        metavar="VARIANT",
        help="PDF variant: pdf/a-3u (default, archival) or none",
    )
    run.add_argument("--page-size", choices=["A4", "Letter"], help="PDF page size (default: A4)")
    run.add_argument(
        "--baseline",
        metavar="FILE",
        help="CSV of required patches to measure every server against (see the README)",
    )
    run.add_argument(
        "--exceptions",
        metavar="FILE",
        help="CSV of approved exceptions: server, patch, reason, approver, expiry",
    )
    run.add_argument(
        "--group-by",
        metavar="ATTR,...",
        help="show compliance by these inventory attributes (e.g. owner,environment)",
    )
    run.add_argument(
        "--columns",
        metavar="ATTR,...",
        help="inventory attributes shown as columns in HTML and PDF (default: the first 3)",
    )
    run.add_argument(
        "--timezone",
        metavar="ZONE",
        help="IANA time zone for the times in HTML, PDF and Excel (default: UTC)",
    )
    run.add_argument(
        "--sign-key",
        metavar="FILE.p12",
        help="sign the PDF (PAdES) with this PKCS#12 key and certificate; the password "
        "comes from REPORTER_SIGN_PASSWORD",
    )
    history = run.add_mutually_exclusive_group()
    history.add_argument(
        "--history",
        metavar="PATH",
        help="history database to record the period in (default: OUT/history.sqlite)",
    )
    history.add_argument(
        "--no-history", action="store_true", help="neither read nor record any history"
    )
    run.add_argument("--config", metavar="FILE", help="TOML config file (default: ./reporter.toml)")
    run.add_argument("--timings", action="store_true", help="print the time each stage took")
    run.add_argument("--debug", action="store_true", help="show tracebacks and request logs")


def add_history_command(commands: argparse._SubParsersAction) -> None:
    """``reporter history`` (list the recorded periods) and ``reporter history import``."""
    history = commands.add_parser(
        "history",
        help="list the periods recorded in the history database, or import earlier ones",
        description="List every period recorded in the history database with its headline "
        "figures, one line each; 'history import' records periods from earlier evidence.",
        epilog=HISTORY_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    history.add_argument(
        "--history",
        metavar="PATH",
        help="history database (default: history.sqlite in the config's out, else ./reports)",
    )
    history.add_argument(
        "--config", metavar="FILE", help="TOML config file (default: ./reporter.toml)"
    )
    history.add_argument("--debug", action="store_true", help="show tracebacks")
    actions = history.add_subparsers(
        dest="history_command", metavar="import", help="record periods from evidence archives"
    )
    backfill = actions.add_parser(
        "import",
        help="record periods from earlier evidence archives",
        description="Record in the history database every period found in each DIR (an "
        "earlier --out folder, its evidence folder, or one label's folder), rebuilt from its "
        "run.json, manifest and saved answers as --from-archive rebuilds them. A period "
        "recorded before is replaced. Archives from before run.json need --inventory and "
        "--period.",
        epilog=HISTORY_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    backfill.add_argument("dirs", metavar="DIR", nargs="+", help="an evidence archive")
    backfill.add_argument(
        "--history", metavar="PATH", default=argparse.SUPPRESS, help="history database"
    )
    backfill.add_argument(
        "--config", metavar="FILE", default=argparse.SUPPRESS, help="TOML config file"
    )
    backfill.add_argument(
        "--inventory",
        metavar="FILE",
        help="the inventory of an archive without run.json (from an older reporter)",
    )
    backfill.add_argument(
        "--period", metavar="YYYY-MM", help="the period of an archive without run.json"
    )
    backfill.add_argument(
        "--account", metavar="ALIAS", help="account alias for rows without one (no run.json)"
    )
    backfill.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )


def add_inventory_options(inventory: argparse.ArgumentParser) -> None:
    """Options of ``reporter inventory``; URLs and limits also come from the config file."""
    inventory.add_argument(
        "--out", metavar="FILE", help="the CSV to write (default: ./account-servers.csv)"
    )
    inventory.add_argument(
        "--data-center", metavar="DC,...", help="only the servers of these data centers"
    )
    inventory.add_argument(
        "--group", metavar="NAME", help="only the servers of this group (a name or a path)"
    )
    inventory.add_argument(
        "--account", metavar="ALIAS", help="the account alias (default: the login's account)"
    )
    inventory.add_argument(
        "--all-statuses",
        action="store_true",
        help="also list servers that are not active (archived, under construction, ...)",
    )
    inventory.add_argument(
        "--login-url", metavar="URL", help="Login API URL (env REPORTER_LOGIN_URL)"
    )
    inventory.add_argument(
        "--servers-api-url",
        metavar="URL",
        help="CLC v2 servers API base URL (env REPORTER_SERVERS_API_URL)",
    )
    inventory.add_argument(
        "--concurrency", type=int, metavar="N", help="parallel requests (default: 8)"
    )
    inventory.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="per-request timeout (default: 30)"
    )
    inventory.add_argument(
        "--retries", type=int, metavar="N", help="retries per request (default: 5)"
    )
    inventory.add_argument(
        "--config", metavar="FILE", help="TOML config file (default: ./reporter.toml)"
    )
    inventory.add_argument("--debug", action="store_true", help="show tracebacks and request logs")


def add_simulate_options(simulate: argparse.ArgumentParser) -> None:
    """Options of ``reporter simulate``."""
    simulate.add_argument(
        "--host",
        metavar="HOST",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1)",
    )
    simulate.add_argument(
        "--port",
        type=int,
        metavar="PORT",
        default=8080,
        help="port (default: 8080; 0 picks a free one)",
    )
    simulate.add_argument(
        "--servers", type=int, metavar="N", default=50, help="servers in the fleet (default: 50)"
    )
    simulate.add_argument(
        "--executions-per-server",
        type=int,
        metavar="N",
        default=4,
        help="executions per server, one a month over the last four months (default: 4)",
    )
    simulate.add_argument(
        "--seed", type=int, metavar="N", default=1, help="fleet and fault seed (default: 1)"
    )
    simulate.add_argument(
        "--account",
        metavar="ALIAS",
        default="OSD",
        help="account alias of the fleet (default: OSD)",
    )
    simulate.add_argument(
        "--inventory", metavar="FILE", help="write the fleet's inventory CSV here"
    )
    simulate.add_argument(
        "--baseline", metavar="FILE", help="write a sample baseline that fits the fleet here"
    )
    simulate.add_argument(
        "--exceptions", metavar="FILE", help="write sample exceptions that fit the fleet here"
    )
    simulate.add_argument(
        "--user", metavar="USER", default="demo", help="login user name (default: demo)"
    )
    simulate.add_argument(
        "--password", metavar="PASSWORD", default="demo", help="login password (default: demo)"
    )
    simulate.add_argument(
        "--latency-ms",
        type=float,
        metavar="MS",
        default=0.0,
        help="added latency per request, in milliseconds",
    )
    simulate.add_argument(
        "--error-rate",
        type=float,
        metavar="RATE",
        default=0.0,
        help="share of requests answered 500/502/503/504 (0 to 1)",
    )
    simulate.add_argument(
        "--rate-limit",
        type=float,
        metavar="RPS",
        default=0.0,
        help="answer 429 above this many requests per second",
    )
    simulate.add_argument(
        "--malformed-rate",
        type=float,
        metavar="RATE",
        default=0.0,
        help="share of 200s with a truncated body (0 to 1)",
    )
    simulate.add_argument(
        "--hang-rate",
        type=float,
        metavar="RATE",
        default=0.0,
        help="share of requests that hang for minutes (0 to 1)",
    )
    simulate.add_argument(
        "--token-ttl-requests",
        type=int,
        default=0,
        metavar="N",
        help="tokens expire after N requests",
    )


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    """Run the command line and return the exit code (never raises for expected errors)."""
    stdout = stdout or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    configure_logging(debug)
    try:
        return int(dispatch(args, stdout))
    except ReporterError as error:
        if debug:
            log.exception("stopped")
        print(redact(f"reporter: error: {error}"), file=sys.stderr)
        return int(error.exit_code)
    except BrokenPipeError:
        # The reader went away (``reporter explain ... | head``): nothing left to say.
        sys.stderr.close()
        return int(ExitCode.OK)
    except KeyboardInterrupt:
        print("reporter: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except Exception as error:  # a bug: say so in one line unless asked for the traceback
        if debug:
            raise
        print(
            redact(
                f"reporter: internal error: {type(error).__name__}: {error} (rerun with --debug)"
            ),
            file=sys.stderr,
        )
        return int(ExitCode.INTERNAL_ERROR)


def dispatch(args: argparse.Namespace, stdout: TextIO) -> int:
    """Call the library function behind the chosen command."""
    if args.command == "explain":
        from reporter.codes import explain

        print(explain(args.code), file=stdout)
        return ExitCode.OK
    if args.command == "simulate":
        from reporter.simulator.cli import simulate

        return simulate(args, stdout)
    if args.command == "demo":
        from reporter.demo import demo

        return demo(out=args.out, stdout=stdout)
    if args.command == "history":
        from reporter.backfill import history_command

        return history_command(args, stdout)
    if args.command == "inventory":
        from reporter.account_run import write_account_inventory
        from reporter.config import inventory_settings_from_args

        return write_account_inventory(inventory_settings_from_args(args), stdout)
    from reporter.config import settings_from_args
    from reporter.pipeline import run

    return run(settings_from_args(args), stdout=stdout)


def configure_logging(debug: bool) -> None:
    """Log to stderr: progress lines normally, request logs too with --debug."""
    configure(debug)


def entry_point() -> None:
    """Console-script entry: exit with :func:`main`'s code."""
    sys.exit(main())
