"""Drawing the fleet's servers: names, operating systems, roles, owners and power states, and
the account's servers beyond those its inventory lists."""

import random
import re
from collections.abc import Sequence

from reporter.simulator import catalogue
from reporter.simulator.fleet import SimServer

DATACENTERS = ("VA1", "UC1", "GB3", "CA3", "IL1", "NE1", "WA1", "DE1")
WINDOWS_ROLES = ("WEB", "APP", "SQL", "ADS", "FS", "RDS", "IIS")
LINUX_ROLES = ("WEB", "APP", "DB", "NGX", "MQ", "LB")
OWNERS = (
    "Priya Patel",
    "John Smith",
    "Maria Garcia",
    "Wei Chen",
    "José Álvarez",
    "Zoë Müller",
    "Ahmed Hassan",
    "Emily O'Brien",
    "web team",
    "dba team",
    "platform team",
)
BUSINESS_UNITS = ("Retail", "Finance", "Logistics", "HR", "Marketing", "Shared Services")
ENVIRONMENTS = (("prod", 0.5), ("staging", 0.2), ("dev", 0.3))
# Servers of the account besides those the inventory lists (fleets of 10 servers or more).
UNLISTED_SERVERS = 3  # active and patched, but left out of the inventory on purpose
ARCHIVED_SERVERS = 2  # archived: only the servers API knows them
POWER_STATES = (("started", 0.9), ("stopped", 0.07), ("paused", 0.03))
_NUMBER = re.compile(r"\d+$")  # the number at the end of a server ID


def make_servers(
    rng: random.Random,
    count: int,
    account: str,
    numbers: dict[tuple[str, str], int] | None = None,
) -> list[SimServer]:
    """``count`` servers; ``numbers`` holds the last number used per (data center, role)."""
    numbers = {} if numbers is None else numbers
    servers = []
    for _ in range(count):
        linux = rng.random() < 0.2
        os_name = rng.choice(catalogue.LINUX_OS if linux else catalogue.WINDOWS_OS)
        datacenter = rng.choice(DATACENTERS)
        role = rng.choice(LINUX_ROLES if linux else WINDOWS_ROLES)
        number = numbers[datacenter, role] = numbers.get((datacenter, role), 0) + 1
        server_id = f"{datacenter}{account.upper()}{role}{number:02d}"
        environment = rng.choices([e for e, _ in ENVIRONMENTS], [w for _, w in ENVIRONMENTS])[0]
        attributes = {
            "owner": rng.choice(OWNERS),
            "environment": environment,
            "business_unit": rng.choice(BUSINESS_UNITS),
            "os": os_name,
        }
        servers.append(SimServer(server_id, account, datacenter, role, os_name, attributes))
    return servers


def extra_servers(
    seed: int, listed: Sequence[SimServer], account: str
) -> tuple[list[SimServer], list[SimServer]]:
    """The account's servers besides ``listed``: (active ones the inventory leaves out, archived
    ones), none for a fleet of fewer than 10 servers.

    Drawn from their own generator and numbered after the listed servers, so that a seed gives
    the same listed fleet and inventory as before they existed.
    """
    if len(listed) < 10:
        return [], []
    rng = random.Random(f"account:{seed}")
    numbers: dict[tuple[str, str], int] = {}
    for server in listed:
        key = (server.datacenter, server.role)
        found = _NUMBER.search(server.server_id)
        numbers[key] = max(numbers.get(key, 0), int(found.group()) if found else 0)
    unlisted = make_servers(rng, UNLISTED_SERVERS, account, numbers)
    archived = make_servers(rng, ARCHIVED_SERVERS, account, numbers)
    for server in archived:
        server.status, server.power_state = "archived", "stopped"
    return unlisted, archived


def draw_power_states(seed: int, servers: Sequence[SimServer]) -> None:
    """Give each server a power state and maintenance mode, drawn from its ID alone."""
    states, weights = [s for s, _ in POWER_STATES], [w for _, w in POWER_STATES]
    for server in servers:
        draw = random.Random(f"power:{seed}:{server.server_id}")
        server.power_state = draw.choices(states, weights)[0]
        server.in_maintenance = draw.random() < 0.03
