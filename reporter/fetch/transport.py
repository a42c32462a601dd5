"""HTTP for the APIs: one shared session, capped bodies, deadlines, retries, auth and limiter.

:meth:`Transport.exchange` is one request and what came of it (the login uses it too);
:meth:`Transport.get` is a GET of any validated URL with the bearer token, retried until it
gives JSON, a final answer, or the retry budget runs out. Every failure carries a
:class:`~reporter.problems.FailureKind`.
"""

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from reporter import __version__
from reporter.errors import AuthenticationError
from reporter.fetch.auth import TokenKeeper
from reporter.fetch.contract import decode_json
from reporter.fetch.deadline import TIMEOUTS_PER_REQUEST, WATCHDOG, DeadlineAdapter, Watchdog
from reporter.fetch.failures import describe_failure
from reporter.fetch.limiter import AdaptiveLimiter
from reporter.fetch.state import FetchState, Stopped
from reporter.logs import redact
from reporter.problems import FailureKind

log = logging.getLogger("reporter.client")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_BASE = 0.25  # seconds before the first retry, at most (full jitter)
BACKOFF_CAP = 20.0  # no single backoff is longer than this
RETRY_AFTER_CAP = 60.0  # a server asking for a longer pause gets this much
MAX_BODY_BYTES = 64 * 1024 * 1024  # no execution detail comes near this; a larger body is hostile
CHUNK_BYTES = 64 * 1024
MAX_REFUSALS = 4  # 401s in a row for one request, each with a new token: the API rejects us


def build_session(concurrency: int, user_agent: str | None = None) -> requests.Session:
    """One keep-alive session for every worker, with a connection pool as large as the workers.

    urllib3's own retries are off (``max_retries=0``): :class:`Transport` retries, because
    it must also retry on status codes and bodies and share what it learns between workers.
    Its connections can be cut by a request's deadline (:mod:`reporter.fetch.deadline`).
    """
    session = requests.Session()
    adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=max(1, concurrency), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update(
        {"Accept": "application/json", "User-Agent": user_agent or f"reporter/{__version__}"}
    )
    session.verify = True
    return session


def attempts(count: int) -> str:
    """``"1 attempt"``, ``"6 attempts"``."""
    return f"{count} attempt{'' if count == 1 else 's'}"


def backoff_delay(failures: int, rng: random.Random) -> float:
    """Seconds to wait before retry number ``failures``: exponential backoff, full jitter."""
    return rng.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, failures - 1)))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date), capped.

    >>> parse_retry_after("1")
    1.0
    >>> now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now)
    30.0
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def api_message(body: bytes, limit: int = 200) -> str:
    """The ``message`` of a JSON error body, cut to ``limit`` characters ('' if none)."""
    try:
        data = decode_json(body)
    except ValueError:
        return ""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and key.lower() == "message" and value is not None:
                text = " ".join(str(value).split())
                return redact(text if len(text) <= limit else text[: limit - 3] + "...")
    return ""


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP exchange: the status and body, or (``status`` None) why there was none."""

    status: int | None
    body: bytes = b""
    failure: FailureKind | None = None  # no answer, or a body over the cap
    detail: str = ""  # "HTTP 503", "connection refused", ...: for messages only
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """How one GET ended after its retries: a decoded JSON body, or a failure and its reason."""

    payload: Any = None
    body: bytes | None = None
    failure: FailureKind | None = None  # None when the request succeeded
    reason: str = ""
    status: int | None = None  # the last HTTP status received (None: no answer)
    attempts: int = 0
    last_error: str | None = None  # what went wrong with the last attempt that failed

    @property
    def ok(self) -> bool:
        """Whether the request succeeded (``payload`` and ``body`` are set)."""
        return self.failure is None


class Transport:
    """Requests with retries, auth and the shared limiter; every worker of every fetch uses it.

    Args:
        session: from :func:`build_session`.
        tokens: the bearer token the workers share.
        limiter: requests in flight at most.
        timeout: seconds to wait for a connection or for the next bytes of an answer; a whole
            request (connect, headers and body) is cut at ``TIMEOUTS_PER_REQUEST`` times this.
        retries: extra attempts after a transient failure, whatever it was (429 included).
        sleep: waits between attempts (tests inject a recorder).
        rng: jitter source for the backoff.
        watchdog: cuts requests that pass their deadline.
    """

    def __init__(
        self,
        session: requests.Session,
        tokens: TokenKeeper,
        limiter: AdaptiveLimiter,
        *,
        timeout: float,
        retries: int,
        sleep: Callable[[float], None],
        rng: random.Random,
        watchdog: Watchdog = WATCHDOG,
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.limiter = limiter
        self.timeout = timeout
        self.retries = max(0, retries)
        self._sleep = sleep
        self._rng = rng
        self._watchdog = watchdog

    @property
    def request_deadline(self) -> float:
        """Seconds a whole request may take."""
        return TIMEOUTS_PER_REQUEST * self.timeout

    def backoff(self, failures: int) -> float:
        """Seconds to wait before retry number ``failures``."""
        return backoff_delay(failures, self._rng)

    def pause(self, seconds: float, stop: threading.Event) -> None:
        """Wait ``seconds``, ending early (with :class:`Stopped`) when ``stop`` is set."""
        if seconds > 0:
            # The real clock waits on the stop event so Ctrl-C ends the wait at once; an
            # injected sleep (tests) is called as given so it can record the delay.
            if self._sleep is time.sleep:
                stop.wait(seconds)
            else:
                self._sleep(seconds)
        if stop.is_set():
            raise Stopped

    def get(self, url: str, missing: str, state: FetchState) -> Reply:
        """GET ``url`` with the bearer token until it gives JSON, a final error, or the retry
        budget runs out.

        Every retry counts against the budget: after a connection failure, a timeout, a 5xx,
        a 429 or a body that is not JSON. A 401 is answered with a new token instead (it is the
        token that failed, not the request), at most ``MAX_REFUSALS`` times in a row.

        Args:
            url: any full request URL :func:`~reporter.fetch.auth.check_url` accepted (IDs
                already validated and encoded).
            missing: what a 404 means, e.g. "execution not found".
            state: the fetch this request belongs to (its stop event and counters).

        Raises:
            AuthenticationError: the token was refused and could not be renewed.
            Stopped: the fetch was interrupted.
        """
        failures = 0  # transient failures; more than `retries` of them ends the request
        refusals = 0  # 401s in a row, each answered by a new token
        sends = 0
        last_error: str | None = None
        stop = state.stop
        while True:
            state.check()
            ticket = self.limiter.acquire(stop, lambda seconds: self.pause(seconds, stop))
            token, generation = self.tokens.acquire(stop)
            sends += 1
            answer = self.exchange("GET", url, token=token, attempt=sends)
            status = answer.status
            self.tokens.release(generation, accepted=status != 401)
            self.limiter.release(ticket, rate_limited=status == 429, answered=status is not None)
            state.counters.add(requests=1, retries=int(sends > 1), rate_limited=int(status == 429))

            kind, detail = answer.failure, answer.detail
            if kind is FailureKind.TOO_LARGE:
                return Reply(
                    failure=kind, reason=detail, status=status, attempts=sends, last_error=detail
                )
            if status == 200:
                try:
                    payload = decode_json(answer.body)
                except ValueError:
                    kind = FailureKind.NOT_JSON
                    body = answer.body
                    detail = f"first bytes {body[:16]!r}" + ("..." if len(body) > 16 else "")
                else:
                    return Reply(
                        payload, answer.body, status=200, attempts=sends, last_error=last_error
                    )
            elif status == 401:
                refusals += 1
                if refusals > MAX_REFUSALS:
                    raise AuthenticationError(
                        f"the API refused {refusals} tokens in a row for {url} (HTTP 401)"
                    )
                if self.tokens.refused(generation, stop):
                    state.counters.add(relogins=1)
                continue  # the token expired, not the request: this attempt does not count
            elif status is not None and status not in RETRY_STATUSES:
                return final_reply(status, answer.body, missing, sends)
            elif status is not None:
                kind = FailureKind.RATE_LIMITED if status == 429 else FailureKind.HTTP_STATUS
            refusals = 0
            failures += 1
            last_error = detail
            if failures > self.retries:
                assert kind is not None  # every path that gets here has named its failure
                if kind is FailureKind.NOT_JSON:
                    reason = f"not JSON after {attempts(sends)}: {detail}"
                else:
                    reason = f"gave up after {attempts(sends)}: {detail}"
                return Reply(
                    body=answer.body if status is not None else None,
                    failure=kind,
                    reason=reason,
                    status=status,
                    attempts=sends,
                    last_error=detail,
                )
            delay = answer.retry_after if answer.retry_after is not None else self.backoff(failures)
            if status == 429:
                # Everyone waits: another request now would only be refused too.
                self.limiter.pause_for(delay)
            else:
                self.pause(delay, stop)

    def exchange(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        json: Any = None,
        attempt: int = 1,
    ) -> Answer:
        """Send one request and read its whole (capped, streamed) body; never raises for a failure.

        The whole request is cut at :attr:`request_deadline` and then counts as a timeout,
        however steadily the bytes were trickling in.

        Args:
            method: "GET", "POST", ...
            url: any URL :func:`~reporter.fetch.auth.check_url` accepted.
            token: the bearer token to send, if any.
            json: a body to send as JSON, if any.
            attempt: which attempt this is, for the debug log.
        """
        started = time.perf_counter()
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        status: int | None = None
        with self._watchdog.deadline(self.request_deadline) as deadline:
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=headers,
                    json=json,
                    timeout=self.timeout,
                    allow_redirects=False,
                    verify=True,
                    stream=True,
                )
                with response:
                    status = response.status_code
                    body = read_body(response)
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    answer = Answer(status, body, None, f"HTTP {status}", retry_after)
            except requests.RequestException as error:
                kind, detail = describe_failure(error, self.timeout)
                answer = Answer(None, b"", kind, detail)
            except BodyTooLarge:
                detail = f"response larger than {MAX_BODY_BYTES >> 20} MiB"
                answer = Answer(status, b"", FailureKind.TOO_LARGE, detail)
            except Exception:
                if not deadline.expired:
                    raise
                answer = Answer(None)  # the cut socket failed in a way the library did not wrap
        if deadline.expired:
            # Whatever the cut left (an error, or a body ended early): not an answer.
            detail = f"timed out after {self.request_deadline:g} s (the whole request)"
            answer = Answer(None, b"", FailureKind.TIMEOUT, detail)
        if log.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
            shown = answer.status if answer.failure is None else answer.detail
            log.debug("%s %s -> %s in %.0f ms (attempt %d)", method, url, shown, elapsed, attempt)
        return answer


class BodyTooLarge(Exception):
    """A response body exceeded MAX_BODY_BYTES."""


def read_body(response: requests.Response) -> bytes:
    """The whole body of a streamed response, refusing one larger than MAX_BODY_BYTES."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge
    chunks = []
    size = 0
    for chunk in response.iter_content(CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def final_reply(status: int, body: bytes, missing: str, sends: int) -> Reply:
    """The failure for a status that retrying cannot fix (400, 403, 404, redirects, ...)."""
    message = api_message(body)
    detail = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status == 404:
        kind, reason = FailureKind.NOT_FOUND, f"{missing} ({detail})"
    elif status == 403:
        kind, reason = FailureKind.FORBIDDEN, f"access denied ({detail})"
    elif status == 400:
        kind, reason = FailureKind.REJECTED, f"the API rejected the request ({detail})"
    elif 300 <= status < 400:
        kind = FailureKind.REDIRECT
        reason = f"the API answered with a redirect ({detail}); not followed"
    else:
        kind, reason = FailureKind.HTTP_STATUS, f"the API answered {detail}"
    return Reply(
        body=body, failure=kind, reason=reason, status=status, attempts=sends, last_error=detail
    )
