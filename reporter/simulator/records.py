"""The simulated fleet's records: servers, patch attempts, executions, and how each is written.

Plain values shared by the fleet, its generator, the payload writers and the servers API; this
module imports nothing else of the simulator, so each of those can import it.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class PayloadStyle:
    """How the API writes one execution (chosen once per execution, from the fleet seed).

    Attributes:
        capitalized: ``Execution_id``/``Patches`` keys (as the official Go CLI prints them)
            instead of the documented snake_case.
        time_format: ``"Z"`` (``2016-04-05T04:14:10Z``), ``"+00:00"``, ``"offset"`` (the same
            instant at ``offset`` from UTC) or ``"space"`` (``2016-04-05 04:14:10``, UTC).
        offset: The UTC offset used by the ``"offset"`` format.
        status_case: ``"lower"``, ``"upper"`` or ``"title"``.
        running_word: How a running execution calls itself: ``running`` or ``in_progress``.
        duration: The ``duration`` text, ``None`` to leave the field out.
        unknown_time: What a time not known yet is written as: ``""`` or ``None`` (null).
        patches_as_number: Write ``patches`` as a count instead of a list.
    """

    capitalized: bool = False
    time_format: str = "Z"
    offset: timedelta = timedelta(0)
    status_case: str = "lower"
    running_word: str = "running"
    duration: str | None = None
    unknown_time: str | None = ""
    patches_as_number: bool = False


ExecutionKey = tuple[str, str, str]
"""(account alias in upper case, server ID, execution ID)."""


@dataclass(slots=True)
class SimServer:
    """One simulated server and its inventory attributes (owner, environment, business_unit, os).

    ``status``, ``power_state`` and ``in_maintenance`` are what the servers API says of it.
    """

    server_id: str
    account: str
    datacenter: str
    role: str
    os: str
    attributes: dict[str, str]
    status: str = "active"
    power_state: str = "started"
    in_maintenance: bool = False

    @property
    def windows(self) -> bool:
        """True for Windows servers, False for the Linux ones."""
        return self.os.startswith("Windows")


@dataclass(slots=True)
class SimPatch:
    """One patch attempt: ``title`` is the whole ``patch_begin_message``; times are UTC."""

    title: str
    start: datetime | None
    end: datetime | None
    status: str  # pending / completed / failed
    end_message: str  # "" while pending


@dataclass(slots=True)
class SimExecution:
    """One patch execution: the facts; ``style`` says how the API writes them.

    ``status`` is normalised (pending/running/completed/failed); ``start`` and ``end`` are UTC
    (``end`` is None while the execution runs).
    """

    account: str
    server_id: str
    execution_id: str
    start: datetime
    end: datetime | None
    status: str
    patches: list[SimPatch]
    windows: bool
    init_end: datetime | None = None
    style: PayloadStyle = field(default_factory=PayloadStyle)

    @property
    def patch_count(self) -> int:
        """Number of patches attempted (also when the payload writes ``patches`` as a number)."""
        return len(self.patches)

    @property
    def key(self) -> ExecutionKey:
        """(alias in upper case, server ID, execution ID): how the API finds this execution."""
        return (self.account.upper(), self.server_id, self.execution_id)


@dataclass(frozen=True, slots=True)
class FleetParts:
    """What a generated fleet is made of (see :class:`~reporter.simulator.fleet.Fleet`)."""

    account: str
    servers: list[SimServer]
    executions: list[SimExecution]
    inventory_rows: list[dict[str, str]]
    seed: int
    now: datetime
    unlisted_servers: list[SimServer]
    unlisted_executions: list[SimExecution]
    archived_servers: list[SimServer]
