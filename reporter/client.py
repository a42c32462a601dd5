"""The Patching API client: log in, then fetch many executions concurrently, keeping evidence.

Example::

    client = PatchingClient(api_url, login_url, credentials_from_env(os.environ))
    client.login()
    result = client.fetch(targets, Period.parse("2026-10"))

Every target ends as fetched execution(s) or exactly one problem; only an authentication
failure (the API refuses a fresh token) or Ctrl-C stops the whole fetch.
"""

import concurrent.futures
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests

from reporter.api import (
    FetchResult,
    FetchStats,
    Outcome,
    collect,
    decode_json,
    detail_path,
    field_value,
    plan_discovery,
    screen_targets,
    summary_path,
)
from reporter.auth import Credentials, LoginInfo, TokenKeeper, check_url, credentials_from_env
from reporter.errors import ApiUnreachableError, AuthenticationError
from reporter.http import (
    RETRY_STATUSES,
    AdaptiveLimiter,
    Counters,
    Stopped,
    Transport,
    api_message,
    build_session,
    describe_failure,
    parse_retry_after,
)
from reporter.logs import register_secret
from reporter.problems import Problem
from reporter.records import FetchedExecution, Period, Target

if TYPE_CHECKING:
    from reporter.evidence import EvidenceStore
    from reporter.progress import Progress

__all__ = [
    "Credentials",
    "FetchResult",
    "FetchStats",
    "LoginInfo",
    "PatchingClient",
    "check_url",
    "credentials_from_env",
]

log = logging.getLogger("reporter.client")

STOP_GRACE = 2.0  # seconds Ctrl-C waits for requests already on the wire


class PatchingClient:
    """Fetches executions from the Patching API with a bounded pool of workers.

    Args:
        api_url: Patching API base URL (https, or http to loopback).
        login_url: Login API URL.
        credentials: from :func:`credentials_from_env`.
        concurrency: most requests in flight; lowered automatically while the API answers 429.
        timeout: seconds to wait for a connection or for the next bytes of an answer.
        retries: extra attempts after a transient failure (connection, timeout, 429, 5xx, a
            body that is not JSON).
        evidence: where to save every response body; also lets a rerun reuse finished
            executions instead of fetching them again.
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
        evidence: "EvidenceStore | None" = None,
        user_agent: str | None = None,
        progress: "Progress | None" = None,
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
        self._reused = 0
        self._reused_lock = threading.Lock()

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
        token, info = self._post_login()
        self.tokens.set_token(token)
        return info

    def _new_token(self) -> str:
        token, _ = self._post_login()
        return token

    def _post_login(self) -> tuple[str, LoginInfo]:
        """POST the credentials, retrying transient failures; return the token and who we are."""
        url = self.login_url
        body = {"username": self.credentials.username, "password": self.credentials.password}
        failures = 0
        while True:
            started = time.perf_counter()
            status, content, retry_after = None, b"", None
            try:
                response = self.session.post(
                    url, json=body, timeout=self.timeout, allow_redirects=False, verify=True
                )
                status, content = response.status_code, response.content
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                failure = f"HTTP {status}"
            except requests.RequestException as error:
                failure = describe_failure(error, self.timeout)
            elapsed = (time.perf_counter() - started) * 1000
            log.debug("POST %s -> %s in %.0f ms", url, status or failure, elapsed)
            if status == 200:
                return self._login_answer(content)
            message = api_message(content)
            detail = f"HTTP {status}: {message}" if message else failure
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
                    raise ApiUnreachableError(f"cannot reach the Login API at {url}: {failure}")
                raise AuthenticationError(
                    f"login at {url} failed after {failures} attempts ({detail})"
                )
            self.transport.pause(
                retry_after if retry_after is not None else self.transport.backoff(failures)
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

    def fetch(self, targets: Sequence[Target], period: Period | None = None) -> FetchResult:
        """Fetch every target's execution(s); see :class:`FetchResult` for the outcome rules.

        Raises:
            AuthenticationError: the API refused a fresh token (nothing more can be fetched).
            KeyboardInterrupt: after stopping the workers; the evidence so far is kept.
        """
        started = time.perf_counter()
        transport = self.transport
        transport.stop = threading.Event()
        transport.counters = Counters()
        relogins_before = self.tokens.relogins
        self._reused = 0
        outcomes, to_fetch, explicit = screen_targets(targets)
        done = len(targets) - len(to_fetch)
        if self.progress is not None:
            self.progress.start(len(targets), done)
        executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="reporter-fetch"
        )
        futures = {
            executor.submit(self._fetch_target, targets[index], period, explicit): index
            for index in to_fetch
        }
        try:
            for future in concurrent.futures.as_completed(futures):
                outcomes[futures[future]] = future.result()
                done += 1
                if self.progress is not None:
                    self.progress.update(done, transport.counters.retries)
        except BaseException:
            # Ctrl-C or a fatal login failure: stop the workers between attempts, drop the
            # queue, give requests on the wire a moment, keep what was saved.
            transport.stop.set()
            executor.shutdown(wait=False, cancel_futures=True)
            running = [future for future in futures if not future.cancelled()]
            concurrent.futures.wait(running, timeout=STOP_GRACE)
            raise
        finally:
            if self.evidence is not None:
                self.evidence.flush()
            if self.progress is not None:
                self.progress.finish()
        executor.shutdown()
        result = collect(outcomes, self._stats(started, relogins_before))
        log.debug("fetch stats: %s", result.stats)
        return result

    def _fetch_target(self, target: Target, period: Period | None, explicit: frozenset) -> Outcome:
        """One target's outcome (runs in a worker thread): its execution, the executions its
        server's summary selects, or a problem."""
        try:
            if target.execution_id is not None:
                return [self._fetch_detail(target, target.execution_id, discovered=False)]
            alias, server = target.account_alias, target.server_id
            url = self.api_url + summary_path(alias, server)
            reply = self.transport.get(url, "server not found")
            if not reply.ok:
                return [Problem(reply.kind, reply.reason, target.line, alias, server)]
            if self.evidence is not None:
                self.evidence.save("summary", alias, server, None, url, reply.body, _now(), None)
            outcome: Outcome = []
            problems, execution_ids = plan_discovery(target, reply.payload, period, explicit)
            outcome.extend(problems)
            for execution_id in execution_ids:
                outcome.append(self._fetch_detail(target, execution_id, discovered=True))
            return outcome
        except Stopped:
            return []

    def _fetch_detail(
        self, target: Target, execution_id: str, discovered: bool
    ) -> FetchedExecution | Problem:
        alias, server = target.account_alias, target.server_id
        url = self.api_url + detail_path(alias, server, execution_id)
        if self.evidence is not None:
            saved = self.evidence.reusable(alias, server, execution_id, url)
            if saved is not None:
                with self._reused_lock:
                    self._reused += 1
                return FetchedExecution(
                    alias,
                    server,
                    execution_id,
                    saved.payload,
                    saved.url,
                    saved.fetched_at,
                    target.line,
                    discovered,
                )
        reply = self.transport.get(url, "execution not found")
        if not reply.ok:
            return Problem(reply.kind, reply.reason, target.line, alias, server, execution_id)
        fetched_at = _now()
        if self.evidence is not None:
            self.evidence.save(
                "detail", alias, server, execution_id, url, reply.body, fetched_at, reply.payload
            )
        return FetchedExecution(
            alias, server, execution_id, reply.payload, url, fetched_at, target.line, discovered
        )

    def _stats(self, started: float, relogins_before: int) -> FetchStats:
        counters = self.transport.counters
        return FetchStats(
            requests=counters.requests,
            retries=counters.retries,
            rate_limited=counters.rate_limited,
            relogins=self.tokens.relogins - relogins_before,
            reused=self._reused,
            seconds=round(time.perf_counter() - started, 3),
            final_concurrency=self.transport.limiter.limit,
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()

    def __enter__(self) -> "PatchingClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
