"""HTTP for the Patching API: one shared session, retries with backoff, and adaptive concurrency."""

import email.utils
import errno
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from reporter import __version__
from reporter.api import decode_json
from reporter.auth import TokenKeeper
from reporter.errors import AuthenticationError
from reporter.logs import redact
from reporter.problems import FETCH_FAILED, FORBIDDEN, NOT_FOUND, NOT_JSON

log = logging.getLogger("reporter.client")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_BASE = 0.25  # seconds before the first retry, at most (full jitter)
BACKOFF_CAP = 20.0  # no single backoff is longer than this
RETRY_AFTER_CAP = 60.0  # a server asking for a longer pause gets this much
MAX_BODY_BYTES = 64 * 1024 * 1024  # no execution detail comes near this; a larger body is hostile
CHUNK_BYTES = 64 * 1024
MAX_THROTTLED = 20  # 429s one request waits through before giving up
MAX_REFUSALS = 4  # 401s in a row for one request, each with a new token: the API rejects us
TOO_LARGE = -1  # stands for the status of a response whose body exceeded MAX_BODY_BYTES


class Stopped(Exception):
    """The fetch was interrupted; the worker that sees this stops without an outcome."""


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


def describe_failure(error: requests.RequestException, timeout: float) -> str:
    """A short, secret-free description of a request that got no usable answer."""
    if isinstance(error, requests.Timeout):
        return f"timed out after {timeout:g} s"
    chain = causes(error)
    text = " ".join(str(item) for item in chain).lower()
    if isinstance(error, requests.exceptions.SSLError):
        if "certificate_verify_failed" in text or "certificate verify failed" in text:
            return "connection failed: the server's TLS certificate is not trusted"
        return "connection failed: TLS error"
    if "timed out" in text:
        return f"timed out after {timeout:g} s"
    for item in chain:
        code = getattr(item, "errno", None)
        if code == errno.ECONNREFUSED:
            return "connection refused"
        if code == errno.ECONNRESET:
            return "connection reset"
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "connection failed: host not found"
    if "remote end closed" in text or "connection aborted" in text:
        return "connection closed by the server"
    return f"connection failed ({type(error).__name__})"


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


class AdaptiveLimiter:
    """How many requests may be in flight, shared by every worker (AIMD on HTTP 429).

    A 429 halves the limit (at most once per round: 429s for requests sent before the last
    cut do not cut again) and pauses every worker until the server's ``Retry-After``; each
    run of ``limit`` answered requests adds one back, up to the configured concurrency.
    """

    def __init__(self, maximum: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.maximum = max(1, maximum)
        self._limit = self.maximum
        self._in_flight = 0
        self._round = 0
        self._answered = 0
        self._not_before = 0.0
        self._clock = clock
        self._condition = threading.Condition()

    @property
    def limit(self) -> int:
        """Requests currently allowed in flight."""
        return self._limit

    def acquire(self, stop: threading.Event, pause: Callable[[float], None]) -> int:
        """Wait for any rate-limit pause and a free slot; return a ticket for :meth:`release`."""
        wait = self._not_before - self._clock()
        if wait > 0:
            pause(wait)  # once, outside the lock: an injected sleep may not really sleep
        with self._condition:
            while self._in_flight >= self._limit:
                if stop.is_set():
                    raise Stopped
                self._condition.wait(0.2)
            self._in_flight += 1
            return self._round

    def release(self, ticket: int, rate_limited: bool, answered: bool) -> None:
        """Give the slot back; ``rate_limited`` for a 429, ``answered`` for any other reply."""
        with self._condition:
            self._in_flight -= 1
            if rate_limited:
                if ticket == self._round:
                    self._limit = max(1, self._limit // 2)
                    self._round += 1
                    self._answered = 0
                    log.debug("rate limited: %d requests in flight at most", self._limit)
            elif answered:
                self._answered += 1
                if self._answered >= self._limit and self._limit < self.maximum:
                    self._limit += 1
                    self._answered = 0
                    self._condition.notify_all()
            self._condition.notify()

    def pause_for(self, seconds: float) -> None:
        """Send nothing for the next ``seconds``."""
        with self._condition:
            self._not_before = max(self._not_before, self._clock() + seconds)


@dataclass(frozen=True, slots=True)
class Reply:
    """How one GET ended after its retries: a decoded JSON body, or a problem kind and reason."""

    payload: Any = None
    body: bytes | None = None
    kind: str | None = None  # None when the request succeeded
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether the request succeeded (``payload`` and ``body`` are set)."""
        return self.kind is None


class Counters:
    """Thread-safe request counters behind FetchStats."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = self.retries = self.rate_limited = 0

    def add(self, requests: int = 0, retries: int = 0, rate_limited: int = 0) -> None:
        """Add to the counters."""
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.rate_limited += rate_limited


class Transport:
    """GET with retries, auth and the shared limiter; every worker uses the same one."""

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
        self.counters = Counters()
        self.stop = threading.Event()
        self._sleep = sleep
        self._rng = rng

    def backoff(self, failures: int) -> float:
        """Seconds to wait before retry number ``failures``."""
        return backoff_delay(failures, self._rng)

    def pause(self, seconds: float) -> None:
        """Wait ``seconds``, ending early (with :class:`Stopped`) when the fetch is stopped."""
        if seconds > 0:
            # The real clock waits on the stop event so Ctrl-C ends the wait at once; an
            # injected sleep (tests) is called as given so it can record the delay.
            if self._sleep is time.sleep:
                self.stop.wait(seconds)
            else:
                self._sleep(seconds)
        if self.stop.is_set():
            raise Stopped

    def get(self, url: str, missing: str) -> Reply:
        """GET ``url`` until it gives JSON, a final error, or the retries run out.

        Args:
            url: the full request URL (IDs already validated and encoded).
            missing: what a 404 means, e.g. "execution not found".

        Raises:
            AuthenticationError: the token was refused and could not be renewed.
            Stopped: the fetch was interrupted.
        """
        failures = 0  # transient failures; more than `retries` of them ends the request
        throttled = 0  # 429s: being slowed down is not failing, but it cannot go on forever
        refusals = 0  # 401s in a row, each answered by a new token
        sends = 0
        while True:
            if self.stop.is_set():
                raise Stopped
            ticket = self.limiter.acquire(self.stop, self.pause)
            token, generation = self.tokens.acquire()
            sends += 1
            status, body, failure, retry_after = self._send(url, token, sends)
            self.tokens.release(generation, accepted=status != 401)
            self.limiter.release(ticket, rate_limited=status == 429, answered=status is not None)
            self.counters.add(requests=1, retries=int(sends > 1), rate_limited=int(status == 429))

            kind = FETCH_FAILED
            if status == 200:
                try:
                    return Reply(payload=decode_json(body), body=body)
                except ValueError:
                    kind = NOT_JSON
                    failure = f"first bytes {body[:16]!r}" + ("..." if len(body) > 16 else "")
            elif status == 401:
                refusals += 1
                if refusals > MAX_REFUSALS:
                    raise AuthenticationError(
                        f"the API refused {refusals} tokens in a row for {url} (HTTP 401)"
                    )
                self.tokens.refused(generation, self.stop)
                continue  # the token expired, not the request: this attempt does not count
            elif status is not None and status not in RETRY_STATUSES:
                return final_reply(status, body, missing)
            refusals = 0
            if status == 429:
                throttled += 1
                if throttled <= MAX_THROTTLED:
                    delay = retry_after if retry_after is not None else self.backoff(throttled)
                    # Everyone waits: another request now would only be refused too.
                    self.limiter.pause_for(delay)
                    continue
            failures += 1
            if failures > self.retries or throttled > MAX_THROTTLED:
                if kind == NOT_JSON:
                    reason = f"not JSON after {attempts(sends)}: {failure}"
                    return Reply(kind=NOT_JSON, reason=reason)
                return Reply(
                    kind=FETCH_FAILED, reason=f"gave up after {attempts(sends)}: {failure}"
                )
            self.pause(retry_after if retry_after is not None else self.backoff(failures))

    def _send(
        self, url: str, token: str, attempt: int
    ) -> tuple[int | None, bytes, str, float | None]:
        """One request: (status or None, body, failure description, Retry-After seconds)."""
        started = time.perf_counter()
        status: int | None = None
        body = b""
        failure = ""
        retry_after = None
        try:
            response = self.session.get(
                url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout,
                allow_redirects=False,
                verify=True,
                stream=True,
            )
            with response:
                body = read_body(response)
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                failure = f"HTTP {status}"
        except requests.RequestException as error:
            failure = describe_failure(error, self.timeout)
        except BodyTooLarge:
            status = TOO_LARGE
        if log.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
            log.debug(
                "GET %s -> %s in %.0f ms (attempt %d)", url, status or failure, elapsed, attempt
            )
        return status, body, failure, retry_after


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


def final_reply(status: int, body: bytes, missing: str) -> Reply:
    """The problem for a status that retrying cannot fix (400, 403, 404, redirects, ...)."""
    if status == TOO_LARGE:
        return Reply(kind=FETCH_FAILED, reason=f"response larger than {MAX_BODY_BYTES >> 20} MiB")
    message = api_message(body)
    detail = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status == 404:
        return Reply(kind=NOT_FOUND, reason=f"{missing} ({detail})")
    if status == 403:
        return Reply(kind=FORBIDDEN, reason=f"access denied ({detail})")
    if status == 400:
        return Reply(kind=FETCH_FAILED, reason=f"the API rejected the request ({detail})")
    if 300 <= status < 400:
        return Reply(
            kind=FETCH_FAILED, reason=f"the API answered with a redirect ({detail}); not followed"
        )
    return Reply(kind=FETCH_FAILED, reason=f"the API answered {detail}")
