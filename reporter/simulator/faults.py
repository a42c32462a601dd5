"""Faults the simulated API can inject: latency, server errors, rate limits, bad bodies, hangs.

Every fault is off by default and applies to every API request but the login (the Patching API
under ``/rest`` and the servers API under ``/v2``; the login stays simple and reliable). Each one
is drawn per request from a seeded RNG, so a retry of the same request can succeed.
"""

import random
import threading
import time
from dataclasses import dataclass

ERROR_STATUSES = (500, 502, 503, 504)


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Which faults to inject, and how often.

    Attributes:
        latency_ms: Delay before every answer, in milliseconds.
        error_rate: Share of requests answered 500, 502, 503 or 504.
        rate_limit: API requests per second allowed (a token bucket with one second of
            burst); above it the answer is 429 with ``Retry-After: 1``. 0 turns it off. Logins
            are neither limited nor counted, so a client can always get a token.
        malformed_rate: Share of 200 answers whose JSON body is cut part-way.
        hang_rate: Share of requests answered only after ``hang_seconds``.
        hang_seconds: How long a hanging request waits (longer than any sane client timeout).
        token_ttl_requests: A bearer token expires after this many authenticated requests
            (then 401 until the client logs in again). 0 turns it off.
        seed: Seed of the per-request draws.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    rate_limit: float = 0.0
    malformed_rate: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = 120.0
    token_ttl_requests: int = 0
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("error_rate", "malformed_rate", "hang_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in ("latency_ms", "rate_limit", "hang_seconds", "token_ttl_requests"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")

    def describe(self) -> str:
        """One line naming the faults that are on, e.g. ``latency 50 ms, errors 10%``."""
        parts = []
        if self.latency_ms:
            parts.append(f"latency {self.latency_ms:g} ms")
        if self.error_rate:
            parts.append(f"errors {self.error_rate:.0%}")
        if self.rate_limit:
            parts.append(f"rate limit {self.rate_limit:g}/s")
        if self.malformed_rate:
            parts.append(f"malformed bodies {self.malformed_rate:.0%}")
        if self.hang_rate:
            parts.append(f"hangs {self.hang_rate:.0%} for {self.hang_seconds:g} s")
        if self.token_ttl_requests:
            parts.append(f"tokens expire after {self.token_ttl_requests} requests")
        return ", ".join(parts) or "none"


@dataclass(frozen=True, slots=True)
class FaultDraw:
    """The faults drawn for one request.

    ``cut`` is the share of a 200 body to keep (None: send it whole).
    """

    error_status: int | None = None
    hang: bool = False
    cut: float | None = None


class FaultInjector:
    """Draws faults per request and keeps the rate limiter; safe to share between threads."""

    def __init__(self, config: FaultConfig) -> None:
        """Start drawing from ``config.seed``, with a full token bucket."""
        self.config = config
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()
        self._capacity = max(1.0, config.rate_limit)
        self._tokens = self._capacity
        self._refilled = time.monotonic()

    def draw(self) -> FaultDraw:
        """Draw the error, hang and truncation faults for one request."""
        config = self.config
        if not (config.error_rate or config.hang_rate or config.malformed_rate):
            return FaultDraw()
        with self._lock:
            # Always three draws, so one fault's rate never shifts another's sequence.
            error, hang, malformed = self._rng.random(), self._rng.random(), self._rng.random()
            status = self._rng.choice(ERROR_STATUSES)
            cut = self._rng.uniform(0.05, 0.95)
        return FaultDraw(
            error_status=status if error < config.error_rate else None,
            hang=hang < config.hang_rate,
            cut=cut if malformed < config.malformed_rate else None,
        )

    def admit(self) -> bool:
        """Take a token from the rate limiter's bucket; False means answer 429."""
        rate = self.config.rate_limit
        if not rate:
            return True
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._refilled) * rate)
            self._refilled = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False
