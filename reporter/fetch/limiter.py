"""How many requests may be in flight: shared by every worker, lowered while the API answers 429."""

import logging
import threading
import time
from collections.abc import Callable

from reporter.fetch.state import Stopped, Wait, wait_on

log = logging.getLogger("reporter.client")


class AdaptiveLimiter:
    """Requests in flight at most, shared by every worker (AIMD on HTTP 429).

    A 429 halves the limit (at most once per round: 429s for requests sent before the last
    cut do not cut again) and pauses every worker until the server's ``Retry-After``; each
    run of ``limit`` answered requests adds one back, up to the configured concurrency.

    Args:
        maximum: the configured concurrency, and the limit to start with.
        clock: monotonic seconds (tests inject a fake one).
        wait: waits on the limiter's condition; tests inject one that reports each wait.
    """

    POLL_SECONDS = 0.2  # how often a worker waiting for a slot looks at the stop event

    def __init__(
        self,
        maximum: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        wait: Wait = wait_on,
    ) -> None:
        self.maximum = max(1, maximum)
        self._limit = self.maximum
        self._in_flight = 0
        self._round = 0
        self._answered = 0
        self._not_before = 0.0
        self._clock = clock
        self._wait = wait
        self._condition = threading.Condition()

    @property
    def limit(self) -> int:
        """Requests currently allowed in flight."""
        return self._limit

    def acquire(self, stop: threading.Event, pause: Callable[[float], None]) -> int:
        """Wait for any rate-limit pause and a free slot; return a ticket for :meth:`release`.

        Raises:
            Stopped: ``stop`` was set while waiting for a slot.
        """
        wait = self._not_before - self._clock()
        if wait > 0:
            pause(wait)  # once, outside the lock: an injected sleep may not really sleep
        with self._condition:
            while self._in_flight >= self._limit:
                if stop.is_set():
                    raise Stopped
                self._wait(self._condition, self.POLL_SECONDS)
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
