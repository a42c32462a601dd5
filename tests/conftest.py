"""Shared fixtures: simulated Patching API servers on loopback, and reporter's log."""

import logging
from collections.abc import Callable, Iterator

import pytest
from logins import use_demo_login

from reporter.simulator import FaultConfig, Fleet, SimulatorServer

StartSimulator = Callable[..., SimulatorServer]


def small_fleet() -> Fleet:
    """A fresh 20-server, 60-execution fleet (seed 7): each test may override it freely."""
    return Fleet.generate(servers=20, executions_per_server=3, seed=7)


@pytest.fixture
def sim_factory() -> Iterator[StartSimulator]:
    """Start simulators: ``sim_factory(fleet=None, faults=None, **kw)`` -> a running server.

    ``kw`` goes to :class:`SimulatorServer` (user, password, host, port). Without a fleet, a
    fresh :func:`small_fleet`. Every server started is stopped at teardown.
    """
    started: list[SimulatorServer] = []

    def start(
        fleet: Fleet | None = None, faults: FaultConfig | None = None, **kwargs
    ) -> SimulatorServer:
        sim = SimulatorServer(fleet or small_fleet(), faults=faults, **kwargs).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(sim_factory: StartSimulator) -> SimulatorServer:
    """A running simulator of :func:`small_fleet`, no faults, login demo/demo."""
    return sim_factory()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator's demo login in CLC_USER/CLC_PASSWORD, and no other credential or URL."""
    use_demo_login(monkeypatch)


@pytest.fixture
def reporter_warnings() -> Iterator[list[logging.LogRecord]]:
    """What reporter logs at WARNING and above during the test.

    Listened to on the "reporter" logger itself: once a CLI run has configured the log in
    this process, its records no longer reach the root logger, where caplog listens (pytest
    before 9 does not follow them), so caplog would see them or not by the order of tests.
    """
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("reporter")
    level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)
