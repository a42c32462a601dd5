"""Shared fixtures: simulated Patching API servers on loopback."""

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
