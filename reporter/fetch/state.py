"""What belongs to one fetch: the event that stops it and the counters behind its stats."""

import threading
import time
from collections.abc import Callable

from reporter.fetch.contract import FetchStats

# Waits on a held condition for a notification or a timeout. The limiter and the token keeper
# take one, so that a test can learn that a worker is waiting without sleeping itself.
Wait = Callable[[threading.Condition, float], object]


def wait_on(condition: threading.Condition, seconds: float) -> object:
    """Wait on ``condition`` (held) for a notification or ``seconds``, whichever comes first."""
    return condition.wait(seconds)


class Stopped(Exception):
    """The fetch was interrupted; the worker that sees this stops without an outcome."""


class Counters:
    """Thread-safe counts of what a fetch cost."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = self.retries = self.rate_limited = self.relogins = self.reused = 0

    def add(
        self,
        requests: int = 0,
        retries: int = 0,
        rate_limited: int = 0,
        relogins: int = 0,
        reused: int = 0,
    ) -> None:
        """Add to the counters."""
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.rate_limited += rate_limited
            self.relogins += relogins
            self.reused += reused


class FetchState:
    """One fetch's stop event, counters and start time; made afresh for every fetch.

    Every worker of the fetch shares it; nothing else holds on to it, so two fetches (or a
    login outside any fetch) never see each other's counts or stop.
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.counters = Counters()
        self._started = time.perf_counter()

    def check(self) -> None:
        """Raise :class:`Stopped` once the fetch has been told to stop."""
        if self.stop.is_set():
            raise Stopped

    def stats(self, final_concurrency: int = 0) -> FetchStats:
        """What the fetch cost so far."""
        counters = self.counters
        return FetchStats(
            requests=counters.requests,
            retries=counters.retries,
            rate_limited=counters.rate_limited,
            relogins=counters.relogins,
            reused=counters.reused,
            seconds=round(time.perf_counter() - self._started, 3),
            final_concurrency=final_concurrency,
        )
