"""A deterministic simulated fleet: servers, their patch executions, and their inventory.

``Fleet.generate`` draws everything from the seed (and a fixed ``now``), so the same arguments give
the same fleet, the same response bytes and the same inventory CSV on every machine and every day.
Lookups are dictionaries and response bodies are serialised once, on first use.

Besides the servers its inventory lists, the account holds a few active servers the inventory
leaves out on purpose (:attr:`Fleet.unlisted_servers`, patched like the others) and a few
archived ones (:attr:`Fleet.archived_servers`, unknown to the Patching API): the servers API
(:attr:`Fleet.directory`) shows them all.
"""

import csv
import io
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reporter.simulator.directory import Directory
from reporter.simulator.generator import generate_fleet
from reporter.simulator.payloads import detail_payload, encode, summary_payload
from reporter.simulator.records import ExecutionKey, SimExecution, SimServer

DEFAULT_NOW = datetime(2026, 11, 20, tzinfo=UTC)
INVENTORY_COLUMNS = (
    "server_id",
    "execution_id",
    "account_alias",
    "owner",
    "environment",
    "business_unit",
    "os",
)
_ALIAS = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True, slots=True)
class Override:
    """A raw response served instead of the generated one."""

    status: int
    content_type: str
    body: bytes
    hang: bool = False  # answered only after the fault config's hang_seconds, if at all


class Fleet:
    """Servers and executions behind the simulated API, with O(1) lookups and cached bodies."""

    def __init__(
        self,
        account: str,
        servers: list[SimServer],
        executions: list[SimExecution],
        inventory_rows: list[dict[str, str]] | None = None,
        *,
        seed: int = 0,
        now: datetime = DEFAULT_NOW,
        unlisted_servers: Sequence[SimServer] = (),
        unlisted_executions: Sequence[SimExecution] = (),
        archived_servers: Sequence[SimServer] = (),
    ) -> None:
        """Index a fleet. Use :meth:`generate` for a realistic one.

        ``servers`` and ``executions`` are those the inventory lists; ``unlisted_servers``
        (with ``unlisted_executions``) are active and patched but left out of the inventory;
        ``archived_servers`` only the servers API knows.
        """
        if not _ALIAS.fullmatch(account):
            raise ValueError(f"account alias must be letters and digits, got {account!r}")
        self.account = account
        self.seed = seed
        self.now = now
        self.servers = servers
        self.executions = executions
        self.unlisted_servers = list(unlisted_servers)
        self.unlisted_executions = list(unlisted_executions)
        self.archived_servers = list(archived_servers)
        self._inventory_rows = inventory_rows if inventory_rows is not None else []
        patched = [*servers, *self.unlisted_servers]
        every_execution = [*executions, *self.unlisted_executions]
        self._servers = {(server.account.upper(), server.server_id) for server in patched}
        self._by_key = {execution.key: execution for execution in every_execution}
        if len(self._by_key) != len(every_execution):
            raise ValueError("execution keys must be unique")
        self._by_server: dict[tuple[str, str], list[SimExecution]] = {}
        for execution in every_execution:
            self._by_server.setdefault(execution.key[:2], []).append(execution)
        self.directory = Directory(account, seed, [*patched, *self.archived_servers])
        self._overrides: dict[tuple[str, str, str | None], Override] = {}
        # Filled on first request; a race only computes the same bytes twice.
        self._detail_cache: dict[ExecutionKey, bytes] = {}
        self._summary_cache: dict[tuple[str, str], bytes] = {}

    @classmethod
    def generate(
        cls,
        servers: int = 50,
        executions_per_server: int = 4,
        seed: int = 1,
        account: str = "OSD",
        now: datetime | None = None,
    ) -> "Fleet":
        """Build a realistic fleet from ``seed`` alone.

        Args:
            servers: Number of servers (about 20% Linux).
            executions_per_server: Executions per server, spread over the months before ``now``.
            seed: Everything is drawn from ``random.Random(seed)``.
            account: The account alias owning the fleet.
            now: The moment the fleet is observed; a fixed date (2026-11-20) unless given, so
                the fleet is the same every day.

        Example:
            >>> fleet = Fleet.generate(servers=3, executions_per_server=2, seed=7)
            >>> len(fleet.executions)
            6
        """
        parts = generate_fleet(servers, executions_per_server, seed, account, now or DEFAULT_NOW)
        return cls(
            parts.account,
            parts.servers,
            parts.executions,
            parts.inventory_rows,
            seed=parts.seed,
            now=parts.now,
            unlisted_servers=parts.unlisted_servers,
            unlisted_executions=parts.unlisted_executions,
            archived_servers=parts.archived_servers,
        )

    # --- lookups -------------------------------------------------------------------------

    @property
    def active_servers(self) -> list[SimServer]:
        """Every active server of the account: those the inventory lists, then the others."""
        return [*self.servers, *self.unlisted_servers]

    def execution(self, account: str, server_id: str, execution_id: str) -> SimExecution | None:
        """The execution at that API path (alias matched case-insensitively), or None."""
        return self._by_key.get((account.upper(), server_id, execution_id))

    def has_account(self, account: str) -> bool:
        """True if ``account`` (any case) is this fleet's alias."""
        return account.upper() == self.account.upper()

    def has_server(self, account: str, server_id: str) -> bool:
        """True if the server exists in this account."""
        return (account.upper(), server_id) in self._servers

    def server_executions(self, account: str, server_id: str) -> list[SimExecution]:
        """The server's executions, oldest first (empty if the server is unknown)."""
        return list(self._by_server.get((account.upper(), server_id), ()))

    # --- response bodies -----------------------------------------------------------------

    def override(
        self,
        account: str,
        server_id: str,
        execution_id: str | None,
        body: bytes = b"",
        status: int = 200,
        content_type: str = "application/json",
        *,
        hang: bool = False,
    ) -> None:
        """Serve exactly ``body`` (with ``status``) for that execution's detail URL from now on;
        with ``execution_id`` None, for the server's summary URL. With ``hang``, the request
        is answered only after the fault config's ``hang_seconds`` (a client times out first).

        Works for executions and servers the fleet does not have, too.
        """
        self._overrides[(account.upper(), server_id, execution_id)] = Override(
            status, content_type, bytes(body), hang
        )

    def clear_overrides(self) -> None:
        """Serve the generated responses again everywhere."""
        self._overrides.clear()

    def override_for(
        self, account: str, server_id: str, execution_id: str | None
    ) -> Override | None:
        """The override registered for that detail (or, with no execution, summary) URL."""
        return self._overrides.get((account.upper(), server_id, execution_id))

    def detail_payload(self, execution: SimExecution) -> dict:
        """The decoded JSON body the API returns for ``execution`` (generated, not overridden)."""
        return detail_payload(execution)

    def detail_bytes(self, account: str, server_id: str, execution_id: str) -> bytes | None:
        """The serialised detail body for that execution, or None if there is no such execution."""
        key = (account.upper(), server_id, execution_id)
        body = self._detail_cache.get(key)
        if body is None:
            execution = self._by_key.get(key)
            if execution is None:
                return None
            body = self._detail_cache[key] = encode(detail_payload(execution))
        return body

    def summary_bytes(self, account: str, server_id: str) -> bytes | None:
        """The serialised list of the server's executions, or None if the server is unknown."""
        key = (account.upper(), server_id)
        body = self._summary_cache.get(key)
        if body is None:
            if key not in self._servers:
                return None
            body = self._summary_cache[key] = encode(summary_payload(self._by_server.get(key, [])))
        return body

    # --- inventory -----------------------------------------------------------------------

    def inventory_rows(self) -> list[dict[str, str]]:
        """The inventory rows (copies), in file order, with the :data:`INVENTORY_COLUMNS` keys.

        One row per execution, except: servers listed once with an empty ``execution_id`` (their
        executions must be discovered through the summary endpoint, see
        :attr:`discovery_servers`), and about 2% extra rows naming executions the API does not
        know (see :attr:`unknown_executions`). A few rows leave ``account_alias`` empty or write
        it in lower case.
        """
        return [dict(row) for row in self._inventory_rows]

    @property
    def discovery_servers(self) -> list[str]:
        """Server IDs the inventory lists without an execution ID."""
        return [row["server_id"] for row in self._inventory_rows if not row["execution_id"]]

    @property
    def unknown_executions(self) -> list[tuple[str, str]]:
        """(server_id, execution_id) of inventory rows the API answers with 404."""
        return [
            (row["server_id"], row["execution_id"])
            for row in self._inventory_rows
            if row["execution_id"]
            and (self.account.upper(), row["server_id"], row["execution_id"]) not in self._by_key
        ]

    def inventory_csv(self) -> str:
        """The inventory as CSV text: header, LF line endings (same seed, same text)."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=INVENTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._inventory_rows)
        return buffer.getvalue()

    def write_inventory(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`inventory_csv` to ``path`` as UTF-8, whole or not at all."""
        return write_text_file(path, self.inventory_csv())


def write_text_file(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` as UTF-8, whole or not at all (an ordinary 0644 file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # an ordinary file, not the temporary file's owner-only mode
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
