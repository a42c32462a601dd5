"""Counters of what the simulated API was asked and how it answered (thread-safe)."""

import threading
import time
from collections import Counter
from typing import Any

ExecutionKey = tuple[str, str, str]


class SimulatorStats:
    """Requests by status, by kind (login/detail/summary/other), by execution and by path.

    Tests read :meth:`snapshot`; every method is safe to call from any thread.
    """

    def __init__(self) -> None:
        """Start with every counter at zero."""
        self._lock = threading.Lock()
        self._requests = 0
        self._by_status: Counter[int] = Counter()
        self._by_kind: Counter[str] = Counter()
        self._by_execution: Counter[ExecutionKey] = Counter()
        self._paths: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._connections = 0
        self._logins = 0
        self._login_failures = 0
        self._rate_limited_at: list[float] = []

    def connected(self) -> None:
        """Count a new TCP connection (keep-alive clients open few)."""
        with self._lock:
            self._connections += 1

    def arrived(self, kind: str, path: str, key: ExecutionKey | None = None) -> None:
        """Count a request as it arrives (``key``: alias upper-cased, server, execution)."""
        with self._lock:
            self._requests += 1
            self._by_kind[kind] += 1
            self._paths[path] += 1
            if key is not None:
                self._by_execution[key] += 1

    def answered(self, status: int) -> None:
        """Count an answer by status; a 429 also records when (``time.monotonic()``)."""
        with self._lock:
            self._by_status[status] += 1
            if status == 429:
                self._rate_limited_at.append(time.monotonic())

    def login(self, succeeded: bool) -> None:
        """Count a login attempt."""
        with self._lock:
            if succeeded:
                self._logins += 1
            else:
                self._login_failures += 1

    def fault(self, name: str) -> None:
        """Count an injected fault (error, hang, malformed, rate_limited, token_expired)."""
        with self._lock:
            self._faults[name] += 1

    @property
    def requests(self) -> int:
        """Requests received so far."""
        with self._lock:
            return self._requests

    @property
    def logins(self) -> int:
        """Successful logins so far."""
        with self._lock:
            return self._logins

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of every counter.

        Keys: ``requests``, ``by_status`` ({status: n}), ``by_kind`` ({"login"|"detail"|
        "summary"|"other": n}), ``by_execution`` ({(ALIAS, server, execution): n}), ``paths``
        ({raw request path: n}), ``faults`` ({name: n}), ``connections`` (TCP connections
        accepted), ``logins``, ``login_failures``,
        ``rate_limited_at`` (``time.monotonic()`` of each 429).
        """
        with self._lock:
            return {
                "requests": self._requests,
                "by_status": dict(self._by_status),
                "by_kind": dict(self._by_kind),
                "by_execution": dict(self._by_execution),
                "paths": dict(self._paths),
                "faults": dict(self._faults),
                "connections": self._connections,
                "logins": self._logins,
                "login_failures": self._login_failures,
                "rate_limited_at": list(self._rate_limited_at),
            }
