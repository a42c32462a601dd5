"""AdaptiveLimiter on its own: an injected clock and real threads, no sleeping, no timing."""

import threading

import pytest

from reporter.fetch.limiter import AdaptiveLimiter
from reporter.fetch.state import Stopped

RUNNING = threading.Event()  # never set: a fetch that is not stopped


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Waits:
    """A wait for the limiter that tells the test each time a worker starts waiting."""

    def __init__(self) -> None:
        self.waiting = threading.Event()
        self.count = 0

    def __call__(self, condition: threading.Condition, seconds: float) -> object:
        self.count += 1
        self.waiting.set()
        return condition.wait(seconds)


def no_pause(seconds: float) -> None:
    raise AssertionError(f"nothing asked for a pause, yet the limiter paused {seconds} s")


def take(limiter: AdaptiveLimiter, count: int) -> list[int]:
    return [limiter.acquire(RUNNING, no_pause) for _ in range(count)]


def test_a_429_halves_the_limit_once_per_round():
    limiter = AdaptiveLimiter(8, Clock())
    tickets = take(limiter, 4)
    assert tickets == [0, 0, 0, 0]
    limiter.release(tickets[0], rate_limited=True, answered=True)
    assert limiter.limit == 4
    # Requests sent before that cut were refused for the same reason: no second cut.
    for ticket in tickets[1:]:
        limiter.release(ticket, rate_limited=True, answered=True)
    assert limiter.limit == 4
    # A request sent after the cut and refused again halves it again.
    (later,) = take(limiter, 1)
    assert later == 1
    limiter.release(later, rate_limited=True, answered=True)
    assert limiter.limit == 2
    for _ in range(5):
        (ticket,) = take(limiter, 1)
        limiter.release(ticket, rate_limited=True, answered=True)
    assert limiter.limit == 1  # never below one


def test_answers_add_one_back_per_round_up_to_the_maximum():
    limiter = AdaptiveLimiter(4, Clock())
    (ticket,) = take(limiter, 1)
    limiter.release(ticket, rate_limited=True, answered=True)
    (ticket,) = take(limiter, 1)
    limiter.release(ticket, rate_limited=True, answered=True)
    assert limiter.limit == 1
    seen = []
    for _ in range(20):
        (ticket,) = take(limiter, 1)
        limiter.release(ticket, rate_limited=False, answered=True)
        seen.append(limiter.limit)
    # One answer at limit 1 adds one, two at limit 2, three at limit 3; then the maximum holds.
    assert seen[:6] == [2, 2, 3, 3, 3, 4]
    assert set(seen[6:]) == {4}


def test_requests_without_an_answer_add_nothing():
    limiter = AdaptiveLimiter(4, Clock())
    (ticket,) = take(limiter, 1)
    limiter.release(ticket, rate_limited=True, answered=True)
    assert limiter.limit == 2
    for _ in range(10):
        (ticket,) = take(limiter, 1)
        limiter.release(ticket, rate_limited=False, answered=False)  # a connection error
    assert limiter.limit == 2


def test_pause_for_holds_every_worker_until_the_time_has_passed():
    clock = Clock(100.0)
    limiter = AdaptiveLimiter(4, clock)
    limiter.pause_for(5.0)
    limiter.pause_for(2.0)  # a shorter pause does not shorten the longer one
    paused: list[float] = []
    limiter.release(limiter.acquire(RUNNING, paused.append), rate_limited=False, answered=True)
    clock.now = 103.0
    limiter.release(limiter.acquire(RUNNING, paused.append), rate_limited=False, answered=True)
    clock.now = 105.5
    limiter.release(limiter.acquire(RUNNING, paused.append), rate_limited=False, answered=True)
    assert paused == [5.0, 2.0]


def test_a_worker_waits_for_a_free_slot_and_gets_the_one_released():
    waits = Waits()
    limiter = AdaptiveLimiter(1, Clock(), wait=waits)
    (first,) = take(limiter, 1)
    tickets: list[int] = []
    worker = threading.Thread(target=lambda: tickets.append(limiter.acquire(RUNNING, no_pause)))
    worker.start()
    assert waits.waiting.wait(10), "the second worker never waited"
    assert tickets == []
    limiter.release(first, rate_limited=False, answered=True)
    worker.join(10)
    assert not worker.is_alive() and tickets == [0]


def test_stop_ends_the_wait_for_a_slot():
    waits = Waits()
    limiter = AdaptiveLimiter(1, Clock(), wait=waits)
    take(limiter, 1)
    stop = threading.Event()
    raised: list[BaseException] = []

    def worker() -> None:
        try:
            limiter.acquire(stop, no_pause)
        except Stopped as error:
            raised.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    assert waits.waiting.wait(10), "the worker never waited"
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert len(raised) == 1


def test_a_stopped_fetch_gets_no_slot():
    stop = threading.Event()
    stop.set()
    limiter = AdaptiveLimiter(1, Clock())
    take(limiter, 1)
    with pytest.raises(Stopped):
        limiter.acquire(stop, no_pause)
