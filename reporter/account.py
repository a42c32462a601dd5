"""The account's own servers (SPEC 1a, 2a): plain values, the scope a team reports on, and the
inventory CSV written from them.

Two views of a server: :class:`ListedServer` is what the data center and group listings say
(cheap: a few requests per data center), :class:`ServerRecord` adds what the server's own
record says (one request per server). A group whose type is not ``default`` (archive,
templates) holds no active servers, so a listed server is active when every group on its path
is of type ``default``.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reporter.csvinput import header_key
from reporter.inventory import COLUMN_NAMES
from reporter.render.cells import neutralise

DEFAULT_GROUP = "default"
ACTIVE = "active"
# The inventory columns written before the custom fields (SPEC 2a), in order.
INVENTORY_COLUMNS = (
    "account_alias",
    "server_id",
    "data_center",
    "group",
    "os",
    "os_type",
    "status",
    "power_state",
    "description",
)
MAX_CUSTOM_FIELDS = 50  # columns; an account with more is not sending custom fields
MAX_TEXT = 2000  # characters kept of one value (descriptions are short; a longer one is noise)


@dataclass(frozen=True, slots=True)
class ListedServer:
    """A server as the listings show it: where it is, not what it is.

    ``group_type`` is the type of the first group on its path that is not ``default``, else
    ``default``: such a server is active.
    """

    account_alias: str  # upper case
    server_id: str  # upper case, as the listings' links write it
    data_center: str  # upper case
    group: str  # the group path, e.g. "VA1 Hardware/Web/Prod"
    group_type: str = DEFAULT_GROUP

    @property
    def active(self) -> bool:
        """Whether the listings place the server among active servers."""
        return self.group_type == DEFAULT_GROUP


@dataclass(frozen=True)
class AccountListing:
    """Every server of one account's data centers, in listing order, each once.

    ``notes`` say what in the answers could not be used (an ID that cannot be one, say).
    """

    account_alias: str
    data_centers: tuple[str, ...]
    servers: tuple[ListedServer, ...]
    notes: tuple[str, ...] = ()

    def active(self, scope: "Scope | None" = None) -> list[ListedServer]:
        """The active servers, those in ``scope`` only if given."""
        return [s for s in self.servers if s.active and (scope is None or scope.covers(s))]


@dataclass(frozen=True, slots=True)
class ServerRecord:
    """A server with the attributes its own record gives (the inventory's columns)."""

    listed: ListedServer
    os: str = ""
    os_type: str = ""
    status: str = ""
    power_state: str = ""
    description: str = ""
    custom_fields: tuple[tuple[str, str], ...] = ()  # (name, value), in the record's order

    @property
    def active(self) -> bool:
        """Whether the record says the server is active."""
        return self.status.lower() == ACTIVE


@dataclass(frozen=True)
class Scope:
    """The part of an account a report covers: some data centers, one group, or all of it.

    A group matches by name or by a path of names (``Web`` or ``Web/Prod``), case-insensitively,
    anywhere on a server's group path: ``Web`` covers ``VA1 Hardware/Web/Prod``.

    >>> web = ListedServer("OSD", "VA1OSDWEB01", "VA1", "VA1 Hardware/Web/Prod")
    >>> Scope(group="web/prod").covers(web), Scope.of(["uc1"]).covers(web)
    (True, False)
    """

    data_centers: frozenset[str] = frozenset()  # upper case; empty: every data center
    group: str | None = None

    @classmethod
    def of(cls, data_centers: Iterable[str] = (), group: str | None = None) -> "Scope":
        """A scope from option values (data center aliases in any case, a group name)."""
        names = frozenset(dc.strip().upper() for dc in data_centers if dc.strip())
        return cls(names, group.strip() if group and group.strip() else None)

    @property
    def whole(self) -> bool:
        """Whether the scope is the whole account."""
        return not self.data_centers and self.group is None

    def covers(self, server: ListedServer) -> bool:
        """Whether ``server`` is in the scope."""
        if self.data_centers and server.data_center.upper() not in self.data_centers:
            return False
        if self.group is None:
            return True
        wanted = _names(self.group)
        path = _names(server.group)
        return any(path[i : i + len(wanted)] == wanted for i in range(len(path) - len(wanted) + 1))

    def describe(self) -> str:
        """``the whole account``, ``data centers UC1, VA1``, ``group Web in data center VA1``."""
        if self.whole:
            return "the whole account"
        parts = []
        if self.group is not None:
            parts.append(f"group {self.group}")
        if self.data_centers:
            noun = "data center" if len(self.data_centers) == 1 else "data centers"
            where = f"{noun} {', '.join(sorted(self.data_centers))}"
            parts.append(f"in {where}" if parts else where)
        return " ".join(parts)

    def unknown(self, listing: AccountListing) -> str | None:
        """Why the scope names nothing in ``listing`` (an unknown data center or group), or None."""
        missing = sorted(self.data_centers - {dc.upper() for dc in listing.data_centers})
        if missing:
            known = ", ".join(listing.data_centers) or "none"
            return (
                f"account {listing.account_alias} has no data center {', '.join(missing)} "
                f"(it has: {known})"
            )
        if self.group is not None and not any(self.covers(s) for s in listing.servers):
            return f"no server of account {listing.account_alias} is in a group {self.group!r}"
        return None


def _names(path: str) -> list[str]:
    return [part.strip().casefold() for part in path.split("/") if part.strip()]


def clean_text(value: object) -> str:
    """An API value as one inventory cell: text, numbers and booleans as text, else ''."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:
        return ""
    text = text.strip()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def custom_field_columns(records: Sequence[ServerRecord]) -> dict[str, str]:
    """Column name per custom field name, sorted by name, at most :data:`MAX_CUSTOM_FIELDS`.

    A custom field named like an inventory column (``Status``, ``Server``, ``Account``)
    becomes ``Status (custom field)``, so that the file reads back as the same inventory.
    """
    names = sorted({name for record in records for name, _ in record.custom_fields})
    taken = {header_key(name) for name in INVENTORY_COLUMNS}
    taken |= {header_key(name) for names in COLUMN_NAMES.values() for name in names}
    columns: dict[str, str] = {}
    for name in names[:MAX_CUSTOM_FIELDS]:
        column = name
        if header_key(column) in taken:
            column = f"{name} (custom field)"
        number = 2
        while header_key(column) in taken:
            column = f"{name} (custom field {number})"
            number += 1
        taken.add(header_key(column))
        columns[name] = column
    return columns


def inventory_csv(records: Sequence[ServerRecord]) -> bytes:
    """The inventory CSV of ``records`` (SPEC 2a): UTF-8, LF line ends, formula-safe cells.

    Columns: :data:`INVENTORY_COLUMNS`, then one per custom field (see
    :func:`custom_field_columns`). It reads back as a ``reporter run`` inventory: one row per
    server, without execution IDs.
    """
    columns = custom_field_columns(records)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*INVENTORY_COLUMNS, *(neutralise(c) for c in columns.values())])
    for record in records:
        listed = record.listed
        fields = dict(record.custom_fields)
        cells = [
            listed.account_alias,
            listed.server_id,
            listed.data_center,
            listed.group,
            record.os,
            record.os_type,
            record.status,
            record.power_state,
            record.description,
            *(fields.get(name, "") for name in columns),
        ]
        writer.writerow([neutralise(cell) for cell in cells])
    return buffer.getvalue().encode("utf-8")
