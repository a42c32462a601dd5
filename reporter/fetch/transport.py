"""HTTP for the APIs: one shared session, capped bodies, retries with backoff, auth and limiter.

:meth:`Transport.exchange` is one request and what came of it; :meth:`Transport.get` is a GET
of any validated URL with the bearer token, retried until it gives JSON, a final answer, or the
retry budget runs out. Every failure carries a :class:`~reporter.problems.FailureKind`.
"""

import email.utils
import errno
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from reporter import __version__
from reporter.errors import AuthenticationError
from reporter.fetch.auth import TokenKeeper
from reporter.fetch.contract import decode_json
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
MAX_THROTTLED = 20  # 429s one request waits through before giving up
MAX_REFUSALS = 4  # 401s in a row for one request, each with a new token: the API rejects us


def build_session(concurrency: int, user_agent: str | None = None) -> requests.Session:
    """One keep-alive session for every worker, with a connection pool as large as the workers.

    urllib3's own retries are off (``max_retries=0``): :class:`Transport` retries, because
    it must also retry on status codes and bodies and share what it learns between workers.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(1, concurrency), max_retries=0)
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


def describe_failure(error: requests.RequestException, timeout: float) -> tuple[FailureKind, str]:
    """What kind of failure a request that got no usable answer met, and a secret-free text.

    The kind comes from the exception types alone; the text may be reworded at will.
    """
    chain = causes(error)
    if isinstance(error, requests.Timeout):
        return FailureKind.TIMEOUT, f"timed out after {timeout:g} s"
    if isinstance(error, requests.exceptions.SSLError) or _any(chain, ssl.SSLError):
        text = " ".join(str(item) for item in chain).lower()
        if _any(chain, ssl.SSLCertVerificationError) or "certificate verify failed" in text:
            return FailureKind.TLS, "connection failed: the server's TLS certificate is not trusted"
        return FailureKind.TLS, "connection failed: TLS error"
    if any(_timed_out(item) for item in chain):
        # A read timeout while the body streams arrives wrapped in a ConnectionError.
        return FailureKind.TIMEOUT, f"timed out after {timeout:g} s"
    return FailureKind.UNREACHABLE, _connection_failure(error, chain)


def _connection_failure(error: BaseException, chain: list[BaseException]) -> str:
    for item in chain:
        code = getattr(item, "errno", None)
        if code == errno.ECONNREFUSED:
            return "connection refused"
        if code == errno.ECONNRESET:
            return "connection reset"
    if _any(chain, socket.gaierror):
        return "connection failed: host not found"
    text = " ".join(str(item) for item in chain).lower()
    if "refused" in text:
        return "connection refused"
    if "remote end closed" in text or "connection aborted" in text:
        return "connection closed by the server"
    return f"connection failed ({type(error).__name__})"


def _timed_out(error: BaseException) -> bool:
    # urllib3 2 makes NewConnectionError (refused, unreachable, ...) a kind of
    # ConnectTimeoutError for old callers' sake: it is not a timeout.
    if isinstance(error, urllib3.exceptions.NewConnectionError):
        return False
    return isinstance(error, TimeoutError | urllib3.exceptions.TimeoutError)


def _any(chain: list[BaseException], *types: type[BaseException]) -> bool:
    return any(isinstance(item, types) for item in chain)


def causes(error: BaseException) -> list[BaseException]:
    """``error`` and the exceptions it wraps (requests wraps urllib3 wraps socket errors)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        nested = [arg for arg in current.args if isinstance(arg, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            nested.append(reason)
        current = nested[0] if nested else current.__cause__ or current.__context__
    return chain


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

    @property
    def ok(self) -> bool:
        """Whether the request succeeded (``payload`` and ``body`` are set)."""
        return self.failure is None


class Transport:
    """GET with retries, auth and the shared limiter; every worker of every fetch uses the same one.

    Args:
        session: from :func:`build_session`.
        tokens: the bearer token the workers share.
        limiter: requests in flight at most.
        timeout: seconds to wait for a connection or for the next bytes of an answer.
        retries: extra attempts after a transient failure.
        sleep: waits between attempts (tests inject a recorder).
        rng: jitter source for the backoff.
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
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.limiter = limiter
        self.timeout = timeout
        self.retries = max(0, retries)
        self._sleep = sleep
        self._rng = rng

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
        """GET ``url`` until it gives JSON, a final error, or the retries run out.

        Args:
            url: the full request URL (IDs already validated and encoded).
            missing: what a 404 means, e.g. "execution not found".
            state: the fetch this request belongs to (its stop event and counters).

        Raises:
            AuthenticationError: the token was refused and could not be renewed.
            Stopped: the fetch was interrupted.
        """
        failures = 0  # transient failures; more than `retries` of them ends the request
        throttled = 0  # 429s: being slowed down is not failing, but it cannot go on forever
        refusals = 0  # 401s in a row, each answered by a new token
        sends = 0
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
                return Reply(failure=kind, reason=detail, status=status, attempts=sends)
            if status == 200:
                try:
                    payload = decode_json(answer.body)
                except ValueError:
                    kind = FailureKind.NOT_JSON
                    body = answer.body
                    detail = f"first bytes {body[:16]!r}" + ("..." if len(body) > 16 else "")
                else:
                    return Reply(payload, answer.body, status=200, attempts=sends)
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
            if status == 429:
                throttled += 1
                if throttled <= MAX_THROTTLED:
                    delay = (
                        answer.retry_after
                        if answer.retry_after is not None
                        else self.backoff(throttled)
                    )
                    # Everyone waits: another request now would only be refused too.
                    self.limiter.pause_for(delay)
                    continue
            failures += 1
            if failures > self.retries or throttled > MAX_THROTTLED:
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
                )
            delay = answer.retry_after if answer.retry_after is not None else self.backoff(failures)
            self.pause(delay, stop)

    def exchange(
        self, method: str, url: str, *, token: str | None = None, attempt: int = 1
    ) -> Answer:
        """Send one request and read its whole (capped) body; never raises for a failure.

        Args:
            method: "GET" (or another method without a body).
            url: any URL :func:`~reporter.fetch.auth.check_url` accepted.
            token: the bearer token to send, if any.
            attempt: which attempt this is, for the debug log.
        """
        started = time.perf_counter()
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        status: int | None = None
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
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
    return Reply(body=body, failure=kind, reason=reason, status=status, attempts=sends)
