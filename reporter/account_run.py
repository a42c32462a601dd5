"""The account's own servers in a run (SPEC 2a): the inventory from the account (``--all-servers``
and ``reporter inventory``) and the completeness check, over the network or from an archive.

The run's steps call these; none of them decides the exit code: a completeness check that
cannot be performed is reported as such, never as a failure.
"""

import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import pandas as pd

from reporter.account import AccountListing, Scope, ServerRecord, inventory_csv
from reporter.completeness import check_completeness, not_performed
from reporter.config import InventorySettings
from reporter.errors import (
    AccountListError,
    ArchiveError,
    AuthenticationError,
    ExitCode,
    UsageError,
)
from reporter.fetch import (
    ArchiveServers,
    ArchiveSource,
    PatchingClient,
    Progress,
    ServersSource,
    credentials_from_env,
    fetch_records,
    list_account,
)
from reporter.fetch.contract import Failure
from reporter.fileio import atomic_write, atomic_write_bytes, output_errors
from reporter.inventory import Inventory, load_inventory
from reporter.logs import register_environment_secrets
from reporter.model import Coverage
from reporter.problems import FailureKind, Problem
from reporter.runrecord import SAVED_INPUT

log = logging.getLogger("reporter")

ACCOUNT_LIST = "account-servers.csv"  # the --all-servers inventory, kept with the evidence
ALL_SERVERS = "all_servers"  # the run.json setting that says the inventory is the account's
ACCOUNT_INPUT_NAME = "account server list (API)"
TURNED_OFF = "turned off (--no-completeness-check)"


def account_records(
    source: ServersSource,
    alias: str,
    scope: Scope,
    *,
    all_statuses: bool = False,
    progress: Progress | None = None,
) -> tuple[AccountListing, list[ServerRecord], list[Problem]]:
    """The records of the account's servers in ``scope``: active ones, or all with
    ``all_statuses``; a server whose record cannot be read is kept with what the listing says,
    and a problem says why.

    Raises:
        AccountListError: the account's listing cannot be read.
        UsageError: the scope names a data center or group the account does not have.
    """
    try:
        listing = list_account(source, alias)
    except ValueError as error:  # an alias that cannot be part of a request path
        raise UsageError(str(error)) from None
    if isinstance(listing, Failure):
        raise AccountListError(f"cannot list the servers of account {alias}: {listing.reason}")
    unknown = scope.unknown(listing)
    if unknown is not None:
        raise UsageError(unknown)
    wanted = [s for s in listing.servers if scope.covers(s) and (all_statuses or s.active)]
    records, problems = fetch_records(source, wanted, progress)
    by_id = {record.listed.server_id: record for record in records}
    kept = []
    for server in wanted:
        record = by_id.get(server.server_id)
        if record is None:
            kept.append(ServerRecord(server, status=""))  # unread: its listing is all we know
        elif all_statuses or record.active:
            kept.append(record)
    for note in listing.notes:
        log.warning("account %s: %s", listing.account_alias, note)
    return listing, kept, problems


def inventory_from_account(
    source: ServersSource, alias: str, scope: Scope, folder: Path
) -> tuple[Inventory, AccountListing, list[Problem]]:
    """``--all-servers``: the account's active servers in ``scope`` as the run's inventory.

    The inventory CSV is kept in the label's evidence folder as the run's saved inventory
    (``_input/account-servers.csv``): its SHA-256 is the report's input hash, and
    ``--from-archive`` reads it back like any saved inventory.
    """
    listing, records, problems = account_records(
        source, alias, scope, progress=Progress(what="server records")
    )
    path = Path(folder) / SAVED_INPUT / ACCOUNT_LIST
    atomic_write_bytes(path, inventory_csv(records))
    return load_inventory(path), listing, problems


def completeness(
    source: ServersSource,
    inventory: Inventory,
    default_alias: str | None,
    aliases: Iterable[str],
    scope: Scope,
    listings: dict[str, AccountListing] | None = None,
) -> tuple[pd.DataFrame, Coverage]:
    """The completeness check of ``inventory`` for the accounts ``aliases``.

    Accounts whose listing is given in ``listings`` are not asked again. An account whose
    listing cannot be read (403, 404, no answer, a refused token, nothing in the archive) is
    reported as not checked, with the reason.
    """
    found: dict[str, AccountListing | str] = dict(listings or {})
    for alias in sorted({alias.upper() for alias in aliases} - set(found)):
        try:
            listing = list_account(source, alias)
        except AuthenticationError as error:
            found[alias] = f"the servers API refused the login's token ({error})"
            continue
        except ValueError as error:  # an alias that cannot be part of a request path
            found[alias] = str(error)
            continue
        if isinstance(listing, Failure):
            missing = listing.kind is FailureKind.MISSING_EVIDENCE
            found[alias] = (
                f"the evidence holds no server listing of account {alias}"
                if missing
                else listing.reason
            )
        else:
            found[alias] = listing
    if not found:
        return not_performed("no account to check", scope)
    return check_completeness(inventory, default_alias, found, scope)


def archived_completeness(
    archive_dir: Path,
    inventory: Inventory,
    default_alias: str | None,
    aliases: Iterable[str],
    scope: Scope,
) -> tuple[pd.DataFrame, Coverage]:
    """The completeness check re-read from the listings an evidence archive holds."""
    try:
        source = ArchiveServers(ArchiveSource.open(archive_dir))
    except ArchiveError as error:
        return not_performed(str(error), scope)
    return completeness(source, inventory, default_alias, aliases, scope)


def write_account_inventory(settings: InventorySettings, stdout: TextIO) -> int:
    """``reporter inventory``: write the account's servers as an inventory CSV.

    Returns:
        0, or 3 when some servers' records could not be read (their rows carry only what the
        listings say, and a line on stderr names each).

    Raises:
        AccountListError, AuthenticationError, UsageError: nothing was written.
    """
    register_environment_secrets(settings.env)
    if settings.out.is_dir():
        raise UsageError(f"--out {settings.out} is a folder; give a file name")
    credentials = credentials_from_env(settings.env)
    # The client's Patching API URL is not used here: the servers API URL stands in for it.
    client = PatchingClient(
        settings.servers_api_url,
        settings.login_url,
        credentials,
        concurrency=settings.concurrency,
        timeout=settings.timeout,
        retries=settings.retries,
    )
    scope = Scope.of(settings.data_centers, settings.group)
    with client:
        login = client.login()
        alias = (settings.account or login.account_alias or "").upper()
        if not alias:
            raise UsageError("the login does not say which account: pass --account")
        source = client.servers_api(settings.servers_api_url)
        _, records, problems = account_records(
            source,
            alias,
            scope,
            all_statuses=settings.all_statuses,
            progress=Progress(what="server records"),
        )
    data = inventory_csv(records)
    with output_errors(settings.out), atomic_write(settings.out) as handle:
        handle.write(data)
    which = "servers" if settings.all_statuses else "active servers"
    print(
        f"Wrote {len(records):,} {which} of account {alias} ({scope.describe()}) to {settings.out}",
        file=stdout,
    )
    for problem in problems:
        print(f"reporter: warning: {problem.server_id}: {problem.reason}", file=sys.stderr)
    return ExitCode.PROBLEMS if problems else ExitCode.OK
