"""The completeness check (SPEC 2a): the inventory against the account's own server listings.

Two findings, each a row of the ``completeness`` frame (``COMPLETENESS_SCHEMA``):

- **not in the inventory**: an active server of the account, in the check's scope, that the
  inventory does not list;
- **not in the account**: a server the inventory lists that the account does not have, or
  holds only in a group that is not ``default`` (archived, a template).

The check reads listings only (data centers and groups, no per-server record), so "active" is
what the listings can tell: a server in a ``default`` group. The scope (some data centers, one
group) limits which active servers the inventory is expected to list; whether an inventory
server exists is judged against the whole account. Findings are reported, never problems: they
do not change the exit code (SPEC 9).
"""

from collections.abc import Mapping

import pandas as pd

from reporter.account import AccountListing, ListedServer, Scope
from reporter.inventory import Inventory
from reporter.model import AccountCoverage, Coverage
from reporter.schema import COMPLETENESS_SCHEMA, NOT_IN_ACCOUNT, NOT_IN_INVENTORY, conform

GROUP_KINDS = {"archive": "archived", "templates": "a template"}
ACTIVE_TEXT = "active"
NO_SUCH_SERVER = "no such server"


def inventory_servers(inventory: Inventory, default_alias: str | None) -> dict[str, dict[str, int]]:
    """The inventory's servers per account alias (upper case): server ID (upper) -> first line."""
    servers: dict[str, dict[str, int]] = {}
    for row in inventory.rows:
        alias = (row.account_alias or default_alias or "").upper()
        servers.setdefault(alias, {}).setdefault(row.server_id.upper(), row.line)
    return servers


def check_completeness(
    inventory: Inventory,
    default_alias: str | None,
    listings: Mapping[str, AccountListing | str],
    scope: Scope,
) -> tuple[pd.DataFrame, Coverage]:
    """Compare the inventory's servers with each account's listing.

    Args:
        inventory: the inventory of the run (its valid rows).
        default_alias: the alias of rows that give none.
        listings: per account alias (upper case), its listing, or why it could not be read.
        scope: the part of each account the inventory is expected to cover.

    Returns:
        The findings frame (not in the inventory first, then not in the account; by account
        and server) and the coverage figures.
    """
    listed_by_alias = inventory_servers(inventory, default_alias)
    rows: list[dict] = []
    accounts: list[AccountCoverage] = []
    skipped: list[tuple[str, str]] = []
    for alias in sorted(listings):
        listing = listings[alias]
        if isinstance(listing, str):
            skipped.append((alias, listing))
            continue
        unknown = scope.unknown(listing)
        if unknown is not None:
            skipped.append((alias, unknown))
            continue
        listed = listed_by_alias.get(alias, {})
        active = listing.active(scope)
        missing = [server for server in active if server.server_id not in listed]
        rows += [_row(server, NOT_IN_INVENTORY, ACTIVE_TEXT) for server in missing]
        by_id = {server.server_id: server for server in listing.servers}
        foreign = 0
        for server_id, line in sorted(listed.items()):
            found = by_id.get(server_id)
            if found is None:
                rows.append(_missing(alias, server_id, line))
            elif not found.active:
                kind = GROUP_KINDS.get(found.group_type, f"in a group of type {found.group_type}")
                rows.append(_row(found, NOT_IN_ACCOUNT, kind, line))
            else:
                continue
            foreign += 1
        accounts.append(AccountCoverage(alias, len(active), len(active) - len(missing), foreign))
    order = {NOT_IN_INVENTORY: 0, NOT_IN_ACCOUNT: 1}
    rows.sort(key=lambda row: (order[row["finding"]], row["account_alias"], row["server_id"]))
    reason = "; ".join(f"account {alias}: {why}" for alias, why in skipped)
    if len(skipped) == 1:
        reason = skipped[0][1]
    coverage = Coverage(
        reason="" if accounts else reason or "no account to check",
        scope=scope.describe(),
        accounts=tuple(accounts),
        skipped=tuple(skipped) if accounts else (),
    )
    return findings_frame(rows), coverage


def not_performed(reason: str, scope: Scope | None = None) -> tuple[pd.DataFrame, Coverage]:
    """The empty findings and the coverage of a check that was not performed, and why."""
    described = (scope or Scope()).describe()
    return findings_frame([]), Coverage(reason=reason, scope=described)


def _row(server: ListedServer, finding: str, reason: str, line: int | None = None) -> dict:
    return {
        "account_alias": server.account_alias,
        "server_id": server.server_id,
        "finding": finding,
        "data_center": server.data_center,
        "group": server.group,
        "reason": reason,
        "line": line,
    }


def _missing(alias: str, server_id: str, line: int) -> dict:
    return {
        "account_alias": alias,
        "server_id": server_id,
        "finding": NOT_IN_ACCOUNT,
        "data_center": None,
        "group": None,
        "reason": NO_SUCH_SERVER,
        "line": line,
    }


def findings_frame(rows: list[dict]) -> pd.DataFrame:
    """The findings as the ``completeness`` frame of the model."""
    frame = pd.DataFrame(rows, columns=COMPLETENESS_SCHEMA.names, dtype=object)
    return conform(frame, COMPLETENESS_SCHEMA).reset_index(drop=True)
