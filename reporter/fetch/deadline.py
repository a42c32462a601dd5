"""A deadline for a whole request: connect, headers and body, however slowly the bytes come.

A socket timeout bounds each wait for bytes only: a server that sends one byte now and then
holds a worker forever. Each request therefore runs under a :class:`Deadline`; one watchdog
thread shuts down the socket of any request still running when its deadline passes, which
ends the transfer at once (in whichever phase it is), and the request counts as timed out.

The socket is found without reaching into the HTTP library's internals: the session's
connection pools make connections of the classes below, which report themselves to the
deadline of the thread that uses them (the worker that sends the request).
"""

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager, ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection

TIMEOUTS_PER_REQUEST = 4  # a whole request may take this many --timeout in all

_current = threading.local()  # the deadline of the request this thread is sending


class Deadline:
    """When one request must be over, and the connection it is using meanwhile."""

    __slots__ = ("_connection", "_done", "_lock", "expired", "when")

    def __init__(self, when: float, lock: threading.Lock) -> None:
        self.when = when
        self.expired = False  # set by the watchdog: the request was cut
        self._done = False
        self._connection: Any = None
        self._lock = lock

    def attach(self, connection: Any) -> None:
        """Note the connection the request uses; cut it at once if the deadline has passed."""
        with self._lock:
            if self._done:
                return
            self._connection = connection
            if self.expired:
                _cut(connection)

    def expire(self) -> None:
        """Cut the request (called by the watchdog when the deadline passes)."""
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._connection is not None:
                _cut(self._connection)

    def finish(self) -> None:
        """The request is over: its connection (back in the pool, maybe reused) is left alone."""
        with self._lock:
            self._done = True
            self._connection = None

    @property
    def done(self) -> bool:
        """Whether the request is over."""
        return self._done


def _cut(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    # The plain socket's shutdown, also for a TLS socket: it wakes the worker blocked in a
    # read without touching the TLS object the worker is using.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """Expires deadlines from one thread, started on first use, for every transport.

    Args:
        clock: monotonic seconds.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._condition = threading.Condition()
        self._lock = threading.Lock()  # guards each deadline's connection
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._live = 0
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[Deadline]:
        """Run the block (one request, in this thread) under a deadline ``seconds`` away."""
        deadline = Deadline(self._clock() + seconds, self._lock)
        self._add(deadline)
        _current.deadline = deadline
        try:
            yield deadline
        finally:
            _current.deadline = None
            deadline.finish()
            self._remove()

    def _add(self, deadline: Deadline) -> None:
        with self._condition:
            heapq.heappush(self._heap, (deadline.when, next(self._order), deadline))
            self._live += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="reporter-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._condition.notify()  # earlier than any the watchdog waits for

    def _remove(self) -> None:
        with self._condition:
            self._live -= 1
            # Finished deadlines stay in the heap until due; drop them when they pile up.
            if len(self._heap) > 64 + 2 * self._live:
                self._heap = [item for item in self._heap if not item[2].done]
                heapq.heapify(self._heap)

    def _run(self) -> None:
        with self._condition:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                wait = self._heap[0][0] - self._clock()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._heap)[2].expire()

    def _after_fork(self) -> None:
        # A forked child has no watchdog thread: it starts its own if it ever needs one.
        self._condition, self._lock = threading.Condition(), threading.Lock()
        self._heap, self._live, self._thread = [], 0, None


WATCHDOG = Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=WATCHDOG._after_fork)


def _watch(connection: Any) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.attach(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        _watch(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        _watch(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _watch_pools(manager: Any) -> None:
    # Only the plain managers: a SOCKS proxy's pools are its own, and keep per-read timeouts.
    if type(manager) in (PoolManager, ProxyManager):
        manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with connections a :class:`Deadline` can cut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Make the pool manager, then have its pools make watched connections."""
        super().init_poolmanager(*args, **kwargs)
        _watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The proxy's pool manager, with watched connections."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _watch_pools(manager)
        return manager
