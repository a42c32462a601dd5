"""The fetch: one loop over a source (the network or an archive), and the Patching API client.

Example::

    client = PatchingClient(api_url, login_url, credentials_from_env(os.environ))
    client.login()
    result = client.fetch(targets, Period.parse("2026-10"))

Every target ends as fetched execution(s) or exactly one problem; only an authentication
failure (the API refuses a fresh token) or Ctrl-C stops the whole fetch.
"""

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from reporter.errors import ApiUnreachableError, AuthenticationError
from reporter.fetch.archive import ArchiveSource
from reporter.fetch.auth import Credentials, LoginInfo, TokenKeeper, check_url
from reporter.fetch.contract import (
    Body,
    Failure,
    FetchResult,
    Outcome,
    collect,
    decode_json,
    field_value,
    plan_discovery,
    screen_targets,
)
from reporter.fetch.evidence import EvidenceStore
from reporter.fetch.limiter import AdaptiveLimiter
from reporter.fetch.network import NetworkSource
from reporter.fetch.progress import Progress
from reporter.fetch.state import FetchState, Stopped
from reporter.fetch.transport import RETRY_STATUSES, Transport, api_message, build_session
from reporter.fetch.workers import in_parallel
from reporter.logs import register_secret
from reporter.problems import FailureKind, Problem
from reporter.records import FetchedExecution, Period, Span, Target

if TYPE_CHECKING:
    from reporter.fetch.servers import NetworkServers

log = logging.getLogger("reporter.client")


class Source(Protocol):
    """Where the fetch loop gets answers: the network, or an evidence archive."""

    workers: int  # threads the loop may use; 0 runs it in the calling thread

    def summary(self, account_alias: str, server_id: str, state: FetchState) -> Body | Failure:
        """The list of a server's executions."""
        ...

    def detail(
        self, account_alias: str, server_id: str, execution_id: str, state: FetchState
    ) -> Body | Failure:
        """One execution's detail."""
        ...

    def final_concurrency(self) -> int:
        """Requests allowed in flight when the fetch ended (0 without a network)."""
        ...


def fetch_executions(
    source: Source,
    targets: Sequence[Target],
    period: Span | None = None,
    *,
    progress: Progress | None = None,
    skip: frozenset[tuple[str, str, str]] = frozenset(),
) -> FetchResult:
    """Every target's execution(s) from ``source``; see :class:`FetchResult` for the rules.

    Targets with bad IDs or listed twice are settled first, without asking the source; a
    server-only target's executions are chosen from its summary (those that started in
    ``period``, a month or a look-back window; else the latest), leaving out those in
    ``skip``: (ALIAS, SERVER, EXECUTION) keys, upper-cased, fetched already.

    Raises:
        AuthenticationError: the API refused a fresh token (nothing more can be fetched).
        KeyboardInterrupt: after stopping the workers; what was saved so far is kept.
    """
    state = FetchState()
    outcomes, to_fetch, explicit = screen_targets(targets)
    explicit = explicit | skip
    done = len(targets) - len(to_fetch)
    if progress is not None:
        progress.start(len(targets), done)

    def outcome_of(index: int) -> Outcome:
        try:
            return _target_outcome(source, targets[index], period, explicit, state)
        except Stopped:
            return []

    finished: Generator[tuple[int, Outcome], None, None]
    if source.workers > 0:
        finished = in_parallel(outcome_of, to_fetch, source.workers, state)
    else:
        finished = ((index, outcome_of(index)) for index in to_fetch)
    try:
        with contextlib.closing(finished):
            for index, outcome in finished:
                outcomes[index] = outcome
                done += 1
                if progress is not None:
                    progress.update(done, state.counters.retries)
    finally:
        if progress is not None:
            progress.finish()
    result = collect(outcomes, state.stats(source.final_concurrency()))
    log.debug("fetch stats: %s", result.stats)
    return result


def read_archive(
    archive_dir: Path, targets: Sequence[Target], period: Period | None
) -> FetchResult:
    """Fetch from a saved evidence folder instead of the network, with the same outcome rules.

    ``archive_dir`` may be the output folder or its ``evidence`` folder.

    Raises:
        ArchiveError: no readable manifest.
    """
    return fetch_executions(ArchiveSource.open(archive_dir), targets, period)


def _target_outcome(
    source: Source, target: Target, period: Span | None, explicit: frozenset, state: FetchState
) -> Outcome:
    """One target's outcome: its execution, the executions its summary selects, or a problem."""
    alias, server, line = target.account_alias, target.server_id, target.line
    if target.execution_id is not None:
        return [_detail_outcome(source, target, target.execution_id, False, state)]
    answer = source.summary(alias, server, state)
    if isinstance(answer, Failure):
        return [answer.problem(line, alias, server)]
    outcome: Outcome = []
    problems, execution_ids = plan_discovery(target, answer.payload, period, explicit)
    outcome.extend(problems)
    for execution_id in execution_ids:
        outcome.append(_detail_outcome(source, target, execution_id, True, state))
    return outcome


def _detail_outcome(
    source: Source, target: Target, execution_id: str, discovered: bool, state: FetchState
) -> FetchedExecution | Problem:
    alias, server, line = target.account_alias, target.server_id, target.line
    answer = source.detail(alias, server, execution_id, state)
    if isinstance(answer, Failure):
        return answer.problem(line, alias, server, execution_id)
    if answer.reused:
        state.counters.add(reused=1)
    return FetchedExecution(
        alias, server, execution_id, answer.payload, answer.url, answer.fetched_at, line, discovered
    )


class PatchingClient:
    """Logs in, then fetches executions from the Patching API with a bounded pool of workers.

    Args:
        api_url: Patching API base URL (https, or http to loopback).
        login_url: Login API URL.
        credentials: from :func:`~reporter.fetch.auth.credentials_from_env`.
        concurrency: most requests in flight; lowered automatically while the API answers 429.
        timeout: seconds to wait for a connection or for the next bytes of an answer.
        retries: extra attempts after a transient failure (connection, timeout, 429, 5xx, a
            body that is not JSON).
        evidence: where to save every response body; also lets a rerun reuse finished
            executions instead of fetching them again. The caller closes it.
        user_agent: User-Agent header (default ``reporter/VERSION``).
        progress: shows how far the fetch is.
        sleep: waits between attempts (tests inject a recorder).
        rng: jitter source for the backoff.
    """

    def __init__(
        self,
        api_url: str,
        login_url: str,
        credentials: Credentials,
        *,
        concurrency: int = 8,
        timeout: float = 30.0,
        retries: int = 5,
        evidence: EvidenceStore | None = None,
        user_agent: str | None = None,
        progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.api_url = check_url(api_url, "API URL")
        self.login_url = check_url(login_url, "login URL")
        self.credentials = credentials
        self.concurrency = max(1, int(concurrency))
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self.evidence = evidence
        self.progress = progress
        self.session = build_session(self.concurrency, user_agent)
        self.tokens = TokenKeeper(
            self._new_token if credentials.can_login else None, credentials.token
        )
        self.transport = Transport(
            self.session,
            self.tokens,
            AdaptiveLimiter(self.concurrency),
            timeout=self.timeout,
            retries=self.retries,
            sleep=sleep,
            rng=rng or random.Random(),
        )
        self.source = NetworkSource(self.api_url, self.transport, evidence, self.concurrency)

    def __repr__(self) -> str:
        return f"PatchingClient({self.api_url!r}, {self.login_url!r}, {self.credentials!r})"

    def login(self) -> LoginInfo:
        """Log in with the user name and password and keep the token for the fetch.

        With a bearer token instead, nothing is sent and the account alias is unknown (None).

        Raises:
            AuthenticationError: the Login API refused the credentials.
            ApiUnreachableError: the Login API cannot be reached.
        """
        if not self.credentials.can_login:
            return LoginInfo(self.credentials.username, None, None)
        # Outside a fetch nothing sets this event: Ctrl-C reaches the caller's thread itself.
        token, info = self._post_login(threading.Event())
        self.tokens.set_token(token)
        return info

    def fetch(
        self,
        targets: Sequence[Target],
        period: Span | None = None,
        skip: frozenset[tuple[str, str, str]] = frozenset(),
        progress: Progress | None = None,
    ) -> FetchResult:
        """Fetch every target's execution(s); see :class:`FetchResult` for the outcome rules
        and :func:`fetch_executions` for ``period`` and ``skip``. ``progress`` reports this
        fetch instead of the client's own (a second fetch that counts something else).

        Raises:
            AuthenticationError: the API refused a fresh token (nothing more can be fetched).
            KeyboardInterrupt: after stopping the workers; the evidence so far is kept.
        """
        try:
            return fetch_executions(
                self.source, targets, period, progress=progress or self.progress, skip=skip
            )
        finally:
            if self.evidence is not None:
                self.evidence.flush()

    def servers_api(self, servers_api_url: str) -> "NetworkServers":
        """The servers API (SPEC 1a) through this client's login, transport and evidence.

        Raises:
            UsageError, InsecureUrlError: the URL is not one to send the token to.
        """
        from reporter.fetch.servers import NetworkServers

        url = check_url(servers_api_url, "servers API URL")
        return NetworkServers(url, self.transport, self.evidence, self.concurrency)

    def _new_token(self, stop: threading.Event) -> str:
        token, _ = self._post_login(stop)
        return token

    def _post_login(self, stop: threading.Event) -> tuple[str, LoginInfo]:
        """POST the credentials, retrying transient failures; return the token and who we are.

        The answer is read like every other: size-capped, streamed, under a deadline.
        """
        url = self.login_url
        body = {"username": self.credentials.username, "password": self.credentials.password}
        failures = 0
        while True:
            answer = self.transport.exchange("POST", url, json=body, attempt=failures + 1)
            status = answer.status
            if answer.failure is FailureKind.TOO_LARGE:
                raise AuthenticationError(f"login at {url} failed ({answer.detail})")
            if status == 200:
                return self._login_answer(answer.body)
            message = api_message(answer.body)
            detail = f"HTTP {status}: {message}" if message else answer.detail
            if status in (400, 401, 403):
                raise AuthenticationError(
                    f"the Login API at {url} refused the credentials from "
                    f"{self.credentials.source} ({detail})"
                )
            if status is not None and status not in RETRY_STATUSES:
                raise AuthenticationError(f"login at {url} failed ({detail})")
            failures += 1
            if failures > self.retries:
                if status is None:
                    raise ApiUnreachableError(
                        f"cannot reach the Login API at {url}: {answer.detail}"
                    )
                raise AuthenticationError(
                    f"login at {url} failed after {failures} attempts ({detail})"
                )
            delay = answer.retry_after
            self.transport.pause(
                delay if delay is not None else self.transport.backoff(failures), stop
            )

    def _login_answer(self, content: bytes) -> tuple[str, LoginInfo]:
        try:
            data = decode_json(content)
        except ValueError:
            data = None
        token = field_value(data, "bearerToken")
        if not isinstance(token, str) or not token.strip():
            raise AuthenticationError(f"the Login API at {self.login_url} sent no bearer token")
        register_secret(token)
        info = LoginInfo(
            user=_text(field_value(data, "userName")),
            account_alias=_text(field_value(data, "accountAlias")),
            location_alias=_text(field_value(data, "locationAlias")),
        )
        return token.strip(), info

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()

    def __enter__(self) -> "PatchingClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
