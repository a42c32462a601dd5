"""The servers API (SPEC 1a) as a source, over the network or from an evidence archive, and what
is read from it: an account's listing (data centers and groups only) and its servers' records.

Example::

    source = client.servers_api("https://api.ctl.io/v2")   # after client.login()
    listing = list_account(source, "OSD")
    records, problems = fetch_records(source, listing.active())

The network source shares the patch client's login, transport (concurrency, retries, 401
re-login, deadlines, size caps) and evidence store: every final answer, data or not, is saved
as evidence under ``{ALIAS}/_account/``, and a server record saved by a run in the last
:data:`RESUME_WINDOW` is reused when a run resumes.
"""

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from reporter.account import DEFAULT_GROUP, AccountListing, ListedServer, ServerRecord
from reporter.fetch.archive import ArchiveSource
from reporter.fetch.contract import Body, Failure, decode_json
from reporter.fetch.evidence import EvidenceStore
from reporter.fetch.network import keep_reply
from reporter.fetch.progress import Progress
from reporter.fetch.servers_contract import (
    GroupStub,
    ServersRequest,
    datacenter_ids,
    datacenter_request,
    datacenters_request,
    group_request,
    read_group,
    root_group_ids,
    server_record,
    server_request,
)
from reporter.fetch.state import FetchState, Stopped
from reporter.fetch.transport import Transport
from reporter.fetch.workers import in_parallel
from reporter.problems import FailureKind, Problem

log = logging.getLogger("reporter.client")

RESUME_WINDOW = timedelta(hours=12)  # a saved server record this recent stands for a new one
MAX_GROUP_REQUESTS = 5000  # per data center: nested groups fetched one by one, at most


class ServersSource(Protocol):
    """Where answers of the servers API come from: the network, or an evidence archive."""

    workers: int  # threads that may ask at once; 0 asks in the calling thread

    def answer(self, request: ServersRequest, state: FetchState) -> Body | Failure:
        """The decoded answer to ``request``, or why there is none."""
        ...


class NetworkServers:
    """The servers API over the network, each answer saved as evidence as it arrives.

    Args:
        api_url: the servers API base URL (already checked), e.g. ``https://api.ctl.io/v2``.
        transport: sends the requests (the patch client's: one login for both APIs).
        evidence: where to save every answer, or None.
        workers: requests that may be in flight.
        clock: the current time (tests inject one), for :data:`RESUME_WINDOW`.
    """

    def __init__(
        self,
        api_url: str,
        transport: Transport,
        evidence: EvidenceStore | None,
        workers: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api_url = api_url
        self.transport = transport
        self.evidence = evidence
        self.workers = workers
        self._clock = clock

    def answer(self, request: ServersRequest, state: FetchState) -> Body | Failure:
        """GET ``request`` (or reuse a recent saved answer, if it may be), saving what arrives."""
        url = self.api_url + request.path
        if request.reusable and self.evidence is not None:
            saved = self._recent(request.relative, url)
            if saved is not None:
                state.counters.add(reused=1)
                return saved
        reply = self.transport.get(url, request.missing, state)
        fetched_at = self._clock()
        keep_reply(self.evidence, request.relative, url, reply, request.fields, fetched_at)
        if not reply.ok:
            assert reply.failure is not None
            return Failure(reply.failure, reply.reason)
        return Body(reply.payload, url, fetched_at)

    def _recent(self, relative: str, url: str) -> Body | None:
        assert self.evidence is not None
        saved = self.evidence.load(relative, url)
        if saved is None or saved.fetched_at < self._clock() - RESUME_WINDOW:
            return None
        try:
            payload = decode_json(saved.data)
        except ValueError:
            return None
        return Body(payload, saved.url, saved.fetched_at, reused=True)


class ArchiveServers:
    """The servers API's answers as a saved evidence folder holds them (no threads)."""

    workers = 0

    def __init__(self, archive: ArchiveSource) -> None:
        self.archive = archive

    def answer(self, request: ServersRequest, state: FetchState) -> Body | Failure:
        """The saved answer to ``request``, checked against the manifest."""
        return self.archive.saved(request.relative)


def _failed(failure: Failure, what: str) -> Failure:
    return Failure(failure.kind, f"{what}: {failure.reason}")


def list_account(source: ServersSource, alias: str) -> AccountListing | Failure:
    """Every server of the account ``alias`` by its data center and group listings.

    A few requests per data center: the data center list, then each data center's answer and
    its root group, whose answer nests the whole tree (a nested group given without contents
    is fetched by its ID). Data centers are read in parallel.

    Returns:
        The listing, or the failure that stopped it (any one request that failed for good).

    Raises:
        AuthenticationError: the API refused a fresh token.
        KeyboardInterrupt: after stopping the workers.
    """
    state = FetchState()
    answer = source.answer(datacenters_request(alias), state)
    if isinstance(answer, Failure):
        return _failed(answer, f"the data centers of account {alias.upper()}")
    try:
        data_centers, notes = datacenter_ids(answer.payload)
    except ValueError as error:
        return Failure(FailureKind.UNEXPECTED_JSON, str(error))

    def one(index: int) -> tuple[list[ListedServer], list[str]] | Failure:
        try:
            return _list_data_center(source, alias.upper(), data_centers[index], state)
        except Stopped:
            return Failure(FailureKind.UNREACHABLE, "stopped")

    indexes = list(range(len(data_centers)))
    if source.workers > 0 and len(indexes) > 1:
        finished = dict(in_parallel(one, indexes, source.workers, state))
    else:
        finished = {index: one(index) for index in indexes}
    servers: dict[str, ListedServer] = {}
    for index in indexes:
        outcome = finished[index]
        if isinstance(outcome, Failure):
            return outcome
        found, more = outcome
        notes += more
        for server in found:
            servers.setdefault(server.server_id, server)  # linked twice: the first place counts
    return AccountListing(alias.upper(), tuple(data_centers), tuple(servers.values()), tuple(notes))


def _list_data_center(
    source: ServersSource, alias: str, data_center: str, state: FetchState
) -> tuple[list[ListedServer], list[str]] | Failure:
    """The servers of one data center's group tree, and notes; or the failure that stopped it."""
    what = f"data center {data_center} of account {alias}"
    answer = source.answer(datacenter_request(alias, data_center), state)
    if isinstance(answer, Failure):
        return _failed(answer, what)
    try:
        roots, notes = root_group_ids(answer.payload)
    except ValueError as error:
        return Failure(FailureKind.UNEXPECTED_JSON, f"{what}: {error}")
    queue = [GroupStub(root, (), DEFAULT_GROUP) for root in roots]
    seen: set[str] = set()
    servers: list[ListedServer] = []
    while queue:
        stub = queue.pop(0)
        if stub.group_id in seen:
            continue
        if len(seen) >= MAX_GROUP_REQUESTS:
            notes.append(f"{what}: more than {MAX_GROUP_REQUESTS} groups to fetch one by one")
            break
        seen.add(stub.group_id)
        answer = source.answer(group_request(alias, stub.group_id), state)
        if isinstance(answer, Failure):
            return _failed(answer, f"group {stub.group_id} of {what}")
        try:
            walk = read_group(answer.payload, alias, data_center, stub.path, stub.inherited_type)
        except ValueError as error:
            return Failure(FailureKind.UNEXPECTED_JSON, f"group {stub.group_id}: {error}")
        servers += walk.servers
        notes += walk.notes
        queue += walk.stubs
    return servers, notes


def fetch_records(
    source: ServersSource,
    servers: Sequence[ListedServer],
    progress: Progress | None = None,
) -> tuple[list[ServerRecord], list[Problem]]:
    """Each listed server's record, in listing order; a problem for each that cannot be read.

    Raises:
        AuthenticationError: the API refused a fresh token.
        KeyboardInterrupt: after stopping the workers.
    """
    state = FetchState()
    outcomes: list[ServerRecord | Problem | None] = [None] * len(servers)

    def one(index: int) -> ServerRecord | Problem | None:
        server = servers[index]
        alias, server_id = server.account_alias, server.server_id
        try:
            answer = source.answer(server_request(alias, server_id), state)
        except Stopped:
            return None
        if isinstance(answer, Failure):
            return _failed(answer, "server record").problem(None, alias, server_id)
        try:
            return server_record(server, answer.payload)
        except ValueError as error:
            failure = Failure(FailureKind.UNEXPECTED_JSON, str(error))
            return failure.problem(None, alias, server_id)

    indexes = list(range(len(servers)))
    if progress is not None:
        progress.start(len(servers))
    try:
        if source.workers > 0:
            finished = in_parallel(one, indexes, source.workers, state)
        else:
            finished = ((index, one(index)) for index in indexes)
        for done, (index, outcome) in enumerate(finished, start=1):
            outcomes[index] = outcome
            if progress is not None:
                progress.update(done, state.counters.retries)
    finally:
        if progress is not None:
            progress.finish()
    records = [item for item in outcomes if isinstance(item, ServerRecord)]
    problems = [item for item in outcomes if isinstance(item, Problem)]
    log.debug("server records: %s", state.stats())
    return records, problems
