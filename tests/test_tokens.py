"""TokenKeeper on its own: real threads and events, an injected wait, no sleeping, no timing."""

import threading

import pytest

from reporter.errors import AuthenticationError
from reporter.fetch.auth import TokenKeeper

RUNNING = threading.Event()  # never set: a fetch that is not stopped


class Login:
    """A Login API stand-in: hands out t1, t2, ...; can hold each login until released."""

    def __init__(self, hold: bool = False) -> None:
        self.calls = 0
        self.entered = threading.Event()
        self.proceed = threading.Event()
        if not hold:
            self.proceed.set()

    def __call__(self, stop: threading.Event) -> str:
        self.calls += 1
        self.entered.set()
        assert self.proceed.wait(10), "the test never let the login finish"
        return f"t{self.calls}"


class Waits:
    """A wait for the keeper that tells the test each time a worker starts waiting."""

    def __init__(self) -> None:
        self.waiting = threading.Event()

    def __call__(self, condition: threading.Condition, seconds: float) -> object:
        self.waiting.set()
        return condition.wait(seconds)


def logged_in(login: Login, **options) -> TokenKeeper:
    """A keeper holding t0 from an explicit login (generation 1)."""
    keeper = TokenKeeper(login, **options)
    keeper.set_token("t0")
    return keeper


def served(keeper: TokenKeeper) -> tuple[str, int]:
    """Send one request that the API accepts; return the token and generation it used."""
    token, generation = keeper.acquire(RUNNING)
    keeper.release(generation, accepted=True)
    return token, generation


def refuse(keeper: TokenKeeper) -> tuple[int, bool]:
    """Send one request the API refuses (401); return its generation and refused()'s answer."""
    _, generation = keeper.acquire(RUNNING)
    keeper.release(generation, accepted=False)
    return generation, keeper.refused(generation, RUNNING)


def test_the_first_request_logs_in_when_there_is_no_token_yet():
    login = Login()
    keeper = TokenKeeper(login)
    assert keeper.generation == 0
    assert served(keeper) == ("t1", 1)
    assert served(keeper) == ("t1", 1)
    assert login.calls == 1


def test_an_expired_token_is_renewed_once_for_all_the_workers_it_failed():
    login = Login(hold=True)
    keeper = logged_in(login)
    served(keeper)  # the token worked: a later 401 means it expired
    in_flight = [keeper.acquire(RUNNING) for _ in range(6)]
    assert {generation for _, generation in in_flight} == {1}
    for _, generation in in_flight:
        keeper.release(generation, accepted=False)

    renewed: list[bool] = []
    workers = [
        threading.Thread(target=lambda: renewed.append(keeper.refused(1, RUNNING)))
        for _ in in_flight
    ]
    for worker in workers:
        worker.start()
    # One worker is logging in (and holds the keeper); the others queue behind it.
    assert login.entered.wait(10)
    login.proceed.set()
    for worker in workers:
        worker.join(10)
        assert not worker.is_alive()
    assert login.calls == 1
    assert sorted(renewed) == [False] * 5 + [True]
    assert served(keeper) == ("t1", 2)


def test_a_refusal_of_an_old_generation_changes_nothing():
    login = Login()
    keeper = logged_in(login)
    _, old = keeper.acquire(RUNNING)  # sent with the first token, answered late
    served(keeper)
    assert refuse(keeper) == (1, True)  # expired: renewed
    keeper.release(old, accepted=False)
    assert keeper.refused(old, RUNNING) is False
    assert (login.calls, keeper.generation) == (1, 2)


def test_a_fresh_token_refused_before_serving_anything_stops_the_fetch():
    login = Login()
    keeper = logged_in(login)
    served(keeper)
    assert refuse(keeper) == (1, True)  # t0 expired; t1 comes from a re-login
    with pytest.raises(AuthenticationError, match="had just issued"):
        refuse(keeper)
    assert login.calls == 1


def test_a_token_from_an_explicit_login_may_be_refused_once():
    # set_token is the run's first login: a 401 right away may be an expiry, not a rejection.
    login = Login()
    keeper = TokenKeeper(login)
    keeper.set_token("t0")
    assert refuse(keeper) == (1, True)
    assert served(keeper) == ("t1", 2)


def test_a_refused_bearer_token_cannot_be_renewed():
    keeper = TokenKeeper(None, "from-the-environment")
    served(keeper)
    with pytest.raises(AuthenticationError, match="CLC_BEARER_TOKEN"):
        refuse(keeper)


def test_without_any_token_or_login_the_first_request_fails():
    keeper = TokenKeeper(None)
    with pytest.raises(AuthenticationError, match="no API credentials"):
        keeper.acquire(RUNNING)


def test_a_refused_fresh_token_waits_for_answers_still_on_their_way():
    waits = Waits()
    login = Login()
    keeper = logged_in(login, wait=waits)
    served(keeper)
    assert refuse(keeper) == (1, True)  # t1 is fresh: nothing has proved it yet
    _, other = keeper.acquire(RUNNING)  # a request with t1 still on its way
    _, refused = keeper.acquire(RUNNING)
    keeper.release(refused, accepted=False)
    outcome: list[object] = []

    def worker() -> None:
        try:
            outcome.append(keeper.refused(refused, RUNNING))
        except AuthenticationError as error:
            outcome.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    assert waits.waiting.wait(10), "the refusal did not wait for the answer in flight"
    assert outcome == []
    keeper.release(other, accepted=True)  # t1 worked after all: it expired, renew it
    thread.join(10)
    assert not thread.is_alive()
    assert outcome == [True] and login.calls == 2


def test_a_stopped_fetch_does_not_wait_for_answers_in_flight():
    login = Login()
    keeper = logged_in(login)
    served(keeper)
    refuse(keeper)
    keeper.acquire(RUNNING)  # never answered
    _, refused = keeper.acquire(RUNNING)
    keeper.release(refused, accepted=False)
    stop = threading.Event()
    stop.set()
    with pytest.raises(AuthenticationError, match="had just issued"):
        keeper.refused(refused, stop)
