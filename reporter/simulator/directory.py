"""The account as the CLC v2 servers API shows it: data centers, nested groups, server records.

Built from the fleet's servers (listed in its inventory or not, active or archived), all drawn
from the fleet seed, so the same fleet always answers with the same bytes. Each data center has
a root hardware group (``VA1 Hardware``) holding a group per server role, each holding a group
per environment (``VA1 Hardware/Web/Prod``), plus the system groups ``Archive`` (type
``archive``, where archived servers sit) and ``Templates`` (type ``templates``).

Shapes follow the real API (SPEC 1a): a group's answer nests its whole subtree, each group with
``links`` to its servers (``rel: "server"``, an upper-case ``id`` and a lower-case ``href``);
a server's custom fields sit under ``details`` for most servers and at the top level for some,
and about one server in five is written with capitalised keys.
"""

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reporter.simulator.payloads import encode

if TYPE_CHECKING:
    from reporter.simulator.fleet import SimServer

DATACENTER_NAMES = {
    "VA1": "US East (Sterling, VA)",
    "UC1": "US West (Santa Clara, CA)",
    "GB3": "UK (Slough)",
    "CA3": "Canada (Toronto, ON)",
    "IL1": "US Central (Chicago, IL)",
    "NE1": "US East (New York, NY)",
    "WA1": "US West (Seattle, WA)",
    "DE1": "Germany (Frankfurt)",
}
ROLE_GROUPS = {
    "WEB": "Web",
    "APP": "App",
    "SQL": "SQL",
    "ADS": "Directory",
    "FS": "File",
    "RDS": "Remote Desktop",
    "IIS": "IIS",
    "DB": "Database",
    "NGX": "Nginx",
    "MQ": "Messaging",
    "LB": "Load Balancers",
}
ENVIRONMENT_GROUPS = {"prod": "Prod", "staging": "Staging", "dev": "Dev"}
# (os code, osType text) per operating system of the fleet, as CLC writes them.
OS_TYPES = {
    "Windows Server 2012 R2": ("windows2012R2Dc_64", "Windows 2012 R2 Datacenter 64-bit"),
    "Windows Server 2016": ("windows2016Dc_64", "Windows 2016 Datacenter 64-bit"),
    "Windows Server 2019": ("windows2019Dc_64", "Windows 2019 Datacenter 64-bit"),
    "Windows Server 2022": ("windows2022Dc_64", "Windows 2022 Datacenter 64-bit"),
    "RHEL 7": ("redHat7_64Bit", "RedHat Enterprise Linux 7 64-bit"),
    "RHEL 8": ("redHat8_64Bit", "RedHat Enterprise Linux 8 64-bit"),
    "CentOS 7": ("centOS7_64Bit", "CentOS 7 64-bit"),
}
COST_CENTERS = {
    "Retail": "CC-1010",
    "Finance": "CC-2020",
    "Logistics": "CC-3030",
    "HR": "CC-4040",
    "Marketing": "CC-5050",
    "Shared Services": "CC-9000",
}
CUSTOM_FIELD_IDS = {
    "Cost Center": "5a1d1e2fb0c44e7d8d0b3c1f7e9a4b21",
    "CMDB ID": "0c7f3b9e2d6a4f58a1e4b7c9d2f06e13",
}
SYSTEM_GROUPS = (("Archive", "archive"), ("Templates", "templates"))


def _hex_id(*parts: str) -> str:
    """A 32-hex-digit ID, like CLC's group IDs, that depends on ``parts`` alone."""
    return hashlib.md5(":".join(parts).encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(slots=True)
class SimGroup:
    """One group of a data center: its servers' IDs and its child groups, in order."""

    group_id: str
    name: str
    datacenter: str
    kind: str  # "default", "archive" or "templates"
    parent: "SimGroup | None" = None
    groups: list["SimGroup"] = field(default_factory=list)
    server_ids: list[str] = field(default_factory=list)

    def walk(self) -> Iterable["SimGroup"]:
        """This group and every group below it, parents first."""
        yield self
        for child in self.groups:
            yield from child.walk()

    def count(self) -> int:
        """Servers in this group and below (``serversCount``)."""
        return len(self.server_ids) + sum(child.count() for child in self.groups)


class Directory:
    """The servers API's view of one account; answer bodies are serialised on first use.

    Args:
        account: the account alias.
        seed: the fleet seed (group IDs, custom fields and key styles depend on it).
        servers: every server of the account: active ones (``status == "active"``) go into
            their role and environment group, the others into their data center's Archive.
    """

    def __init__(self, account: str, seed: int, servers: Iterable["SimServer"]) -> None:
        self.account = account
        self.seed = seed
        self.servers = {server.server_id.upper(): server for server in servers}
        self.roots: dict[str, SimGroup] = {}
        self.groups: dict[str, SimGroup] = {}
        self.group_of: dict[str, SimGroup] = {}
        for server in self.servers.values():
            group = self._group_for(server)
            group.server_ids.append(server.server_id.upper())
            self.group_of[server.server_id.upper()] = group
        self._cache: dict[tuple[str, ...], bytes] = {}

    def _group(self, datacenter: str, path: tuple[str, ...], kind: str = "default") -> SimGroup:
        root = self.roots.get(datacenter)
        if root is None:
            root_name = f"{datacenter} Hardware"
            root_id = _hex_id(str(self.seed), self.account, root_name)
            root = SimGroup(root_id, root_name, datacenter, "default")
            self.roots[datacenter] = root
            self.groups[root.group_id] = root
            for name, system_kind in SYSTEM_GROUPS:
                self._child(root, name, system_kind)
        group = root
        for name in path:
            group = next((g for g in group.groups if g.name == name), None) or self._child(
                group, name, kind
            )
        return group

    def _child(self, parent: SimGroup, name: str, kind: str) -> SimGroup:
        names = [name]
        ancestor: SimGroup | None = parent
        while ancestor is not None:
            names.append(ancestor.name)
            ancestor = ancestor.parent
        group_id = _hex_id(str(self.seed), self.account, *reversed(names))
        child = SimGroup(group_id, name, parent.datacenter, kind, parent)
        parent.groups.append(child)
        self.groups[group_id] = child
        return child

    def _group_for(self, server: "SimServer") -> SimGroup:
        if server.status != "active":
            return self._group(server.datacenter, ("Archive",), "archive")
        role = ROLE_GROUPS.get(server.role, server.role.title())
        environment = server.attributes.get("environment", "")
        return self._group(server.datacenter, (role, ENVIRONMENT_GROUPS.get(environment, "Other")))

    # --- lookups -------------------------------------------------------------------------

    def knows(self, account: str) -> bool:
        """True if ``account`` (any case) is this account's alias."""
        return account.upper() == self.account.upper()

    def group_path(self, server_id: str) -> str:
        """The group path of a server (``VA1 Hardware/Web/Prod``), or '' if unknown."""
        group = self.group_of.get(server_id.upper())
        names = []
        while group is not None:
            names.append(group.name)
            group = group.parent
        return "/".join(reversed(names))

    # --- answer bodies -------------------------------------------------------------------

    def _cached(self, key: tuple[str, ...], build: Any) -> bytes:
        body = self._cache.get(key)
        if body is None:
            body = self._cache[key] = encode(build())
        return body

    def datacenters_bytes(self) -> bytes:
        """``GET /v2/datacenters/{alias}``: every data center the account has servers in."""
        alias = self.account.lower()
        return self._cached(
            ("datacenters",),
            lambda: [
                {
                    "id": dc,
                    "name": DATACENTER_NAMES.get(dc, dc),
                    "links": [{"rel": "self", "href": f"/v2/datacenters/{alias}/{dc}"}],
                }
                for dc in sorted(self.roots)
            ],
        )

    def datacenter_bytes(self, datacenter: str, group_links: bool) -> bytes | None:
        """``GET /v2/datacenters/{alias}/{dc}``, with the root group's link if asked."""
        dc = datacenter.upper()
        root = self.roots.get(dc)
        if root is None:
            return None
        alias = self.account.lower()

        def build() -> dict[str, Any]:
            links: list[dict[str, Any]] = [{"rel": "self", "href": f"/v2/datacenters/{alias}/{dc}"}]
            if group_links:
                links.append(
                    {
                        "rel": "group",
                        "href": f"/v2/groups/{alias}/{root.group_id}",
                        "id": root.group_id,
                        "name": root.name,
                    }
                )
            return {"id": dc, "name": DATACENTER_NAMES.get(dc, dc), "links": links}

        return self._cached(("datacenter", dc, str(group_links)), build)

    def group_bytes(self, group_id: str) -> bytes | None:
        """``GET /v2/groups/{alias}/{id}``: the group with its whole subtree nested."""
        group = self.groups.get(group_id.lower())
        if group is None:
            return None
        return self._cached(("group", group.group_id), lambda: self._group_payload(group))

    def server_bytes(self, server_id: str) -> bytes | None:
        """``GET /v2/servers/{alias}/{id}``: one server's record."""
        server = self.servers.get(server_id.upper())
        if server is None:
            return None
        return self._cached(("server", server.server_id.upper()), lambda: self._server(server))

    def _group_payload(self, group: SimGroup) -> dict[str, Any]:
        alias = self.account.lower()
        links: list[dict[str, Any]] = [
            {"rel": "self", "href": f"/v2/groups/{alias}/{group.group_id}"}
        ]
        if group.parent is not None:
            links.append(
                {
                    "rel": "parentGroup",
                    "href": f"/v2/groups/{alias}/{group.parent.group_id}",
                    "id": group.parent.group_id,
                }
            )
        links += [
            {"rel": "server", "href": f"/v2/servers/{alias}/{server_id.lower()}", "id": server_id}
            for server_id in group.server_ids
        ]
        return {
            "id": group.group_id,
            "name": group.name,
            "description": f"{group.name} servers" if group.kind == "default" else group.name,
            "locationId": group.datacenter,
            "type": group.kind,
            "status": "active",
            "serversCount": group.count(),
            "groups": [self._group_payload(child) for child in group.groups],
            "links": links,
            "changeInfo": {
                "createdDate": "2023-01-16T10:21:44Z",
                "createdBy": "admin",
                "modifiedDate": "2024-06-03T08:02:10Z",
                "modifiedBy": "admin",
            },
            "customFields": [],
        }

    def _server(self, server: "SimServer") -> dict[str, Any]:
        """A server's record; its key style and custom fields' place drawn from its ID."""
        rng = random.Random(f"server:{self.seed}:{server.server_id}")
        os_code, os_type = OS_TYPES.get(server.os, ("other_64Bit", server.os))
        group = self.group_of[server.server_id.upper()]
        environment = server.attributes.get("environment", "")
        role = ROLE_GROUPS.get(server.role, server.role.title())
        cost_center = COST_CENTERS.get(server.attributes.get("business_unit", ""), "CC-0000")
        cmdb_id = f"CI{rng.randint(1_000_000, 9_999_999)}"
        custom_fields = [
            {"id": CUSTOM_FIELD_IDS[name], "name": name, "value": value, "displayValue": value}
            for name, value in (("Cost Center", cost_center), ("CMDB ID", cmdb_id))
        ]
        details: dict[str, Any] = {
            "ipAddresses": [{"internal": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.12"}],
            "alertPolicies": [],
            "cpu": rng.choice((2, 4, 8)),
            "diskCount": 3,
            "hostName": server.server_id.lower(),
            "inMaintenanceMode": server.in_maintenance,
            "memoryMB": rng.choice((4096, 8192, 16384)),
            "powerState": server.power_state,
            "storageGB": rng.choice((60, 120, 250)),
            "disks": [],
            "partitions": [],
            "snapshots": [],
        }
        record: dict[str, Any] = {
            "id": server.server_id.upper(),
            "name": server.server_id.upper(),
            "description": f"{role} server ({environment or 'unassigned'})",
            "groupId": group.group_id,
            "isTemplate": False,
            "locationId": server.datacenter,
            "osType": os_type,
            "os": os_code,
            "status": server.status,
            "details": details,
            "type": "standard",
            "storageType": "standard",
            "changeInfo": {
                "createdDate": f"202{rng.randint(1, 4)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
                "T09:30:00Z",
                "createdBy": "provisioning",
                "modifiedDate": "2026-10-02T07:45:00Z",
                "modifiedBy": "provisioning",
            },
            "links": [
                {
                    "rel": "self",
                    "href": f"/v2/servers/{self.account.lower()}/{server.server_id.lower()}",
                    "id": server.server_id.upper(),
                },
                {
                    "rel": "group",
                    "href": f"/v2/groups/{self.account.lower()}/{group.group_id}",
                    "id": group.group_id,
                },
            ],
        }
        if rng.random() < 0.25:
            record["customFields"] = custom_fields  # some answers carry them at the top level
        else:
            details["customFields"] = custom_fields
        if rng.random() < 0.2:
            record = _capitalised(record)  # the Go CLI's way of writing the same record
        return record


def _capitalised(value: Any) -> Any:
    """``value`` with every object key's first letter in capitals (``osType`` -> ``OsType``)."""
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: _capitalised(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_capitalised(item) for item in value]
    return value
