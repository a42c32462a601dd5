"""A simulated CLC Patching API and Login API, served over loopback HTTP for tests and demos.

It shares only the API contract (SPEC 1) with the client, never its code::

    from reporter.simulator import Fleet, FaultConfig, SimulatorServer

    fleet = Fleet.generate(servers=20, executions_per_server=3, seed=7)
    with SimulatorServer(fleet, faults=FaultConfig(error_rate=0.1)) as sim:
        print(sim.api_url, sim.login_url)
"""

from reporter.simulator.faults import FaultConfig
from reporter.simulator.fleet import Fleet
from reporter.simulator.records import PayloadStyle, SimExecution, SimPatch, SimServer
from reporter.simulator.server import SimulatorServer
from reporter.simulator.standard import write_sample_baseline, write_sample_exceptions
from reporter.simulator.stats import SimulatorStats

__all__ = [
    "FaultConfig",
    "Fleet",
    "PayloadStyle",
    "SimExecution",
    "SimPatch",
    "SimServer",
    "SimulatorServer",
    "SimulatorStats",
    "write_sample_baseline",
    "write_sample_exceptions",
]
