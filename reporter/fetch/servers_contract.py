"""The CLC v2 servers API (SPEC 1a) as the client sees it: IDs, paths, and reading its answers.

Every request path is built from IDs validated here and percent-encoded, never from an
``href`` in an answer: a link's ``id`` (or, without one, the last segment of its ``href``) is
taken only once it passes the same check. Answers are read as tolerantly as the Patching
API's: keys in any letter case, missing fields, IDs compared case-insensitively; what cannot
be used is skipped with a note, and an answer of the wrong shape is a ValueError.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from reporter.account import ACTIVE, DEFAULT_GROUP, ListedServer, ServerRecord, clean_text
from reporter.fetch.contract import field_value, shorten
from reporter.records import ALIAS_PATTERN, MAX_ALIAS, MAX_SERVER_ID, SERVER_ID_PATTERN, valid_id

DATA_CENTER_PATTERN = re.compile(r"[A-Za-z0-9]+")  # e.g. VA1
GROUP_ID_PATTERN = re.compile(r"[A-Za-z0-9-]+")  # 32 hex digits in practice
MAX_DATA_CENTER = 16
MAX_GROUP_ID = 64
MAX_DEPTH = 64  # groups nested deeper than this are not a real account's
ACCOUNT_FOLDER = "_account"  # evidence sub-folder; no server ID starts with "_"


def _segment(value: str) -> str:
    return quote(value, safe="")


def _check(pattern: re.Pattern, limit: int, value: Any, what: str) -> str:
    if not valid_id(pattern, limit, value):
        raise ValueError(f"{what} {shorten(value)} may only contain letters, digits and '-'")
    return str(value)


def _alias(alias: str) -> str:
    if not valid_id(ALIAS_PATTERN, MAX_ALIAS, alias):
        raise ValueError(f"account alias {shorten(alias)} may only contain letters and digits")
    return alias.upper()


@dataclass(frozen=True, slots=True)
class ServersRequest:
    """One GET of the servers API: the path below its base URL, and where its answer is kept.

    ``reusable``: a saved answer may stand in for a new request when a run resumes.
    """

    path: str
    relative: str  # the evidence path
    missing: str  # what a 404 means
    fields: dict[str, Any] = field(default_factory=dict)  # manifest fields
    reusable: bool = False


def datacenters_request(alias: str) -> ServersRequest:
    """``GET /datacenters/{alias}``: the account's data centers.

    >>> datacenters_request("osd").path
    '/datacenters/OSD'
    """
    alias = _alias(alias)
    return ServersRequest(
        f"/datacenters/{_segment(alias)}",
        f"{alias}/{ACCOUNT_FOLDER}/datacenters.json",
        "account not found",
        {"kind": "datacenters", "account_alias": alias},
    )


def datacenter_request(alias: str, data_center: str) -> ServersRequest:
    """``GET /datacenters/{alias}/{dc}?groupLinks=true``: a data center and its root groups."""
    alias = _alias(alias)
    dc = _check(DATA_CENTER_PATTERN, MAX_DATA_CENTER, data_center, "data center").upper()
    return ServersRequest(
        f"/datacenters/{_segment(alias)}/{_segment(dc)}?groupLinks=true",
        f"{alias}/{ACCOUNT_FOLDER}/datacenter-{dc}.json",
        "data center not found",
        {"kind": "datacenter", "account_alias": alias, "data_center": dc},
    )


def group_request(alias: str, group_id: str) -> ServersRequest:
    """``GET /groups/{alias}/{id}``: a group with its nested groups and server links."""
    alias = _alias(alias)
    group_id = _check(GROUP_ID_PATTERN, MAX_GROUP_ID, group_id, "group ID").lower()
    return ServersRequest(
        f"/groups/{_segment(alias)}/{_segment(group_id)}",
        f"{alias}/{ACCOUNT_FOLDER}/groups/{group_id}.json",
        "group not found",
        {"kind": "group", "account_alias": alias, "group_id": group_id},
    )


def server_request(alias: str, server_id: str) -> ServersRequest:
    """``GET /servers/{alias}/{id}``: one server's record.

    >>> server_request("OSD", "va1osdweb01").relative
    'OSD/_account/servers/VA1OSDWEB01.json'
    """
    alias = _alias(alias)
    server_id = _check(SERVER_ID_PATTERN, MAX_SERVER_ID, server_id, "server ID").upper()
    return ServersRequest(
        f"/servers/{_segment(alias)}/{_segment(server_id)}",
        f"{alias}/{ACCOUNT_FOLDER}/servers/{server_id}.json",
        "server not found",
        {"kind": "server", "account_alias": alias, "server_id": server_id},
        reusable=True,
    )


def _unwrap(payload: Any) -> Any:
    """A list wrapped in an object (``{"items": [...]}``) as the list."""
    if isinstance(payload, dict):
        lists = [value for value in payload.values() if isinstance(value, list)]
        if len(lists) == 1:
            return lists[0]
    return payload


def _links(item: Any, rel: str) -> Iterator[dict]:
    links = field_value(item, "links")
    if not isinstance(links, list):
        return
    for link in links:
        value = field_value(link, "rel")
        if isinstance(value, str) and value.strip().lower() == rel.lower():
            yield link


def _link_id(link: dict) -> Any:
    """A link's ``id``, else the last segment of its ``href`` (checked by the caller)."""
    value = field_value(link, "id")
    if value is None:
        href = field_value(link, "href")
        if isinstance(href, str):
            value = href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return value


def datacenter_ids(payload: Any) -> tuple[list[str], list[str]]:
    """The data centers an account listing names (upper case, each once), and notes.

    Raises:
        ValueError: the answer is not a list of data centers.
    """
    payload = _unwrap(payload)
    if not isinstance(payload, list):
        raise ValueError(f"the data center list is not a list ({type(payload).__name__})")
    found: list[str] = []
    notes: list[str] = []
    for item in payload:
        value = field_value(item, "id")
        if not valid_id(DATA_CENTER_PATTERN, MAX_DATA_CENTER, value):
            notes.append(f"the data center list names an unusable data center {shorten(value)}")
        elif value.upper() not in found:
            found.append(value.upper())
    return found, notes


def root_group_ids(payload: Any) -> tuple[list[str], list[str]]:
    """The root groups a data center's answer links (``rel: "group"``), and notes.

    Raises:
        ValueError: the answer links no usable group.
    """
    ids: list[str] = []
    notes: list[str] = []
    for link in _links(payload, "group"):
        value = _link_id(link)
        if valid_id(GROUP_ID_PATTERN, MAX_GROUP_ID, value):
            if value.lower() not in ids:
                ids.append(value.lower())
        else:
            notes.append(f"a data center links an unusable group ID {shorten(value)}")
    if not ids:
        raise ValueError("the data center's answer links no group")
    return ids, notes


@dataclass(frozen=True, slots=True)
class GroupStub:
    """A nested group given without its contents: it must be fetched by its ID."""

    group_id: str
    path: tuple[str, ...]  # the path of its parent
    inherited_type: str  # the parent's effective type


@dataclass
class GroupWalk:
    """What one group answer holds: servers (in tree order), nested groups to fetch, notes."""

    servers: list[ListedServer] = field(default_factory=list)
    stubs: list[GroupStub] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_group(
    payload: Any,
    alias: str,
    data_center: str,
    path: tuple[str, ...] = (),
    inherited_type: str = DEFAULT_GROUP,
) -> GroupWalk:
    """Walk a group answer and its nested groups (iteratively: depth is no risk).

    Args:
        payload: the decoded answer of ``GET /groups/{alias}/{id}``.
        alias: the account alias.
        data_center: the data center the group belongs to.
        path: the names of the groups above it.
        inherited_type: ``default``, or the type of a non-default group above it.

    Raises:
        ValueError: the answer is not a group.
    """
    if not isinstance(payload, dict):
        raise ValueError(f"the group answer is not an object ({type(payload).__name__})")
    walk = GroupWalk()
    stack: list[tuple[Any, tuple[str, ...], str]] = [(payload, path, inherited_type)]
    while stack:
        group, above, above_type = stack.pop()
        if not isinstance(group, dict):
            walk.notes.append(f"a nested group is not an object ({type(group).__name__})")
            continue
        name = clean_text(field_value(group, "name")) or clean_text(field_value(group, "id"))
        here = (*above, name or "(unnamed group)")
        kind = clean_text(field_value(group, "type")).lower() or DEFAULT_GROUP
        effective = above_type if above_type != DEFAULT_GROUP else kind
        if len(here) > MAX_DEPTH:
            walk.notes.append(f"groups nested more than {MAX_DEPTH} deep under {here[0]}")
            continue
        children = field_value(group, "groups")
        if children is None and field_value(group, "links") is None:
            group_id = field_value(group, "id")
            if valid_id(GROUP_ID_PATTERN, MAX_GROUP_ID, group_id) and above:
                walk.stubs.append(GroupStub(group_id.lower(), above, above_type))
                continue
        for link in _links(group, "server"):
            value = _link_id(link)
            if valid_id(SERVER_ID_PATTERN, MAX_SERVER_ID, value):
                server = ListedServer(alias, value.upper(), data_center, "/".join(here), effective)
                walk.servers.append(server)
            else:
                walk.notes.append(f"group {name!r} links an unusable server ID {shorten(value)}")
        if isinstance(children, list):
            # Pushed in reverse so that the walk meets them in the answer's order.
            stack.extend((child, here, effective) for child in reversed(children))
    return walk


def _custom_fields(item: Any) -> list[tuple[str, str]]:
    fields = field_value(item, "customFields")
    found = []
    for entry in fields if isinstance(fields, list) else []:
        name = clean_text(field_value(entry, "name")) or clean_text(field_value(entry, "id"))
        value = clean_text(field_value(entry, "displayValue")) or clean_text(
            field_value(entry, "value")
        )
        if name:
            found.append((name, value))
    return found


def server_record(listed: ListedServer, payload: Any) -> ServerRecord:
    """A server's record read from ``GET /servers/{alias}/{id}`` (where it is: from ``listed``).

    Custom fields are read at the top level and under ``details``, the top level first. A
    record without a status is taken to be what the listings say (active, or its group's type).

    Raises:
        ValueError: the answer is not a server record.
    """
    if not isinstance(payload, dict):
        raise ValueError(f"the server record is not an object ({type(payload).__name__})")
    details = field_value(payload, "details")
    details = details if isinstance(details, dict) else {}
    custom: dict[str, str] = {}
    for name, value in [*_custom_fields(payload), *_custom_fields(details)]:
        custom.setdefault(name, value)
    power = field_value(details, "powerState")
    if power is None:
        power = field_value(payload, "powerState")
    return ServerRecord(
        listed,
        os=clean_text(field_value(payload, "os")),
        os_type=clean_text(field_value(payload, "osType")),
        status=clean_text(field_value(payload, "status"))
        or (ACTIVE if listed.active else listed.group_type),
        power_state=clean_text(power),
        description=clean_text(field_value(payload, "description")),
        custom_fields=tuple(custom.items()),
    )
