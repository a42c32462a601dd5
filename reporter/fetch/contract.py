"""The Patching API as the client sees it: IDs, request paths, answers and a fetch's outcome.

The one fetch loop (:mod:`reporter.fetch.client`) applies these rules to answers from either
source, the network or an evidence archive (:mod:`reporter.fetch.archive`), so both treat the
same responses the same way.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from reporter.problems import (
    BAD_PAYLOAD,
    DUPLICATE_ROW,
    INVALID_ROW,
    NO_EXECUTIONS,
    FailureKind,
    Problem,
)
from reporter.records import (
    ALIAS_PATTERN,
    EXECUTION_ID_PATTERN,
    MAX_ALIAS,
    MAX_EXECUTION_ID,
    MAX_SERVER_ID,
    SERVER_ID_PATTERN,
    FetchedExecution,
    Span,
    Target,
    normalise_status,
    valid_id,
)

# A JSON escape of a UTF-16 surrogate (\ud800-\udfff): a pair is one character, a lone one
# decodes to a str that no UTF-8 writer accepts.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def decode_json(body: bytes | str) -> Any:
    """Decode a JSON body the way every reader of API answers must: hostile input is a ValueError.

    Nesting too deep for the decoder (``[[[...]]]`` ten thousand levels down) raises
    ValueError, not RecursionError, and a lone surrogate (``"\\ud800"``) in a string or key
    becomes U+FFFD, so that no report writer fails on it later.

    >>> decode_json(b'{"status": "\\\\ud800ok"}')
    {'status': '\ufffdok'}
    """
    try:
        data = json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if b"\\u" in raw and _SURROGATE_ESCAPE.search(raw):
        data = _without_lone_surrogates(data)
    return data


def _fix_text(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _without_lone_surrogates(data: Any) -> Any:
    """``data`` with every string (keys too) made encodable; iterative, so depth is no risk."""
    root = [data]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        value = container[key]
        if isinstance(value, str):
            container[key] = _fix_text(value)
        elif isinstance(value, list):
            stack.extend((value, index) for index in range(len(value)))
        elif isinstance(value, dict):
            fixed = {
                _fix_text(name) if isinstance(name, str) else name: item
                for name, item in value.items()
            }
            container[key] = fixed
            stack.extend((fixed, name) for name in fixed)
    return root[0]


def id_problem(account_alias: str, server_id: str, execution_id: str | None) -> str | None:
    """Why these IDs cannot be used in a request path, or None when they all can.

    >>> id_problem("OSD", "VA1OSDWEB01", "VA1-132457") is None
    True
    >>> id_problem("OSD", "a/b", None)
    "server ID 'a/b' may only contain letters, digits and '-'"
    """
    if not valid_id(ALIAS_PATTERN, MAX_ALIAS, account_alias):
        return f"account alias {shorten(account_alias)} may only contain letters and digits"
    if not valid_id(SERVER_ID_PATTERN, MAX_SERVER_ID, server_id):
        return f"server ID {shorten(server_id)} may only contain letters, digits and '-'"
    if execution_id is not None and not valid_id(
        EXECUTION_ID_PATTERN, MAX_EXECUTION_ID, execution_id
    ):
        return (
            f"execution ID {shorten(execution_id)} is not letters, a digit, '-' and digits "
            "(e.g. VA1-132457)"
        )
    return None


def shorten(value: Any, limit: int = 40) -> str:
    """``repr`` of a value, cut to ``limit`` characters, for messages about bad input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _segment(value: str) -> str:
    # Every ID is one path segment: '/', '?', '#', '%' and '.' sequences are all encoded, so
    # no ID can add a segment, climb a level or start a query (defence in depth: IDs are
    # validated first).
    return quote(value, safe="")


def summary_path(account_alias: str, server_id: str) -> str:
    """The path (below the API URL) that lists one server's executions."""
    reason = id_problem(account_alias, server_id, None)
    if reason:
        raise ValueError(reason)
    return f"/servers/{_segment(account_alias)}/server/{_segment(server_id)}/patch"


def detail_path(account_alias: str, server_id: str, execution_id: str) -> str:
    """The path (below the API URL) of one execution's detail.

    >>> detail_path("OSD", "VA1OSDPATCH33", "VA1-132457")
    '/servers/OSD/server/VA1OSDPATCH33/patch/VA1-132457'
    """
    reason = id_problem(account_alias, server_id, execution_id)
    if reason:
        raise ValueError(reason)
    return f"{summary_path(account_alias, server_id)}/{_segment(execution_id)}"


def _key(name: Any) -> str:
    return name.lower().replace("_", "") if isinstance(name, str) else ""


def field_value(mapping: Any, name: str) -> Any:
    """The value of ``name`` in a JSON object, whatever the key's letter case or underscores.

    >>> field_value({"Execution_id": "VA1-1"}, "execution_id")
    'VA1-1'
    """
    if not isinstance(mapping, dict):
        return None
    if name in mapping:
        return mapping[name]
    wanted = _key(name)
    for key, value in mapping.items():
        if _key(key) == wanted:
            return value
    return None


def parse_time(value: Any) -> datetime | None:
    """A timezone-aware UTC datetime from the API's time formats, or None when unknown.

    Accepts ISO 8601 with ``Z`` or an offset, and ``YYYY-MM-DD HH:MM:SS`` (read as UTC). A
    value that is no time in UTC (year 0 or 10000 once its offset is applied) is not a date
    and time either.

    >>> parse_time("2016-04-05 04:14:10")
    datetime.datetime(2016, 4, 5, 4, 14, 10, tzinfo=datetime.timezone.utc)
    >>> parse_time("9999-12-31T23:59:59-01:00") is None
    True
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def payload_status(payload: Any) -> str | None:
    """An execution's status as sent (stripped, lower case), when the payload is an object."""
    status = field_value(payload, "status")
    if status is None or isinstance(status, dict | list):
        return None
    return str(status).strip().lower()


def is_final(payload: Any) -> bool:
    """Whether a saved execution detail has reached a status that will not change."""
    return normalise_status(payload_status(payload)) in ("completed", "failed")


@dataclass(frozen=True, slots=True)
class SummaryEntry:
    """One execution listed by a server's summary."""

    execution_id: str
    start: datetime | None


def summary_entries(payload: Any) -> tuple[list[SummaryEntry], list[str]]:
    """The executions a summary lists, and a reason for each entry that cannot be used.

    Raises:
        ValueError: the payload is not a list of executions.
    """
    if isinstance(payload, dict):
        # Tolerate a list wrapped in an object, e.g. {"executions": [...]}.
        lists = [value for value in payload.values() if isinstance(value, list)]
        if len(lists) == 1:
            payload = lists[0]
    if not isinstance(payload, list):
        raise ValueError(
            f"the server summary is not a list of executions ({type(payload).__name__})"
        )
    entries: list[SummaryEntry] = []
    bad: list[str] = []
    for item in payload:
        execution_id = field_value(item, "execution_id")
        if not valid_id(EXECUTION_ID_PATTERN, MAX_EXECUTION_ID, execution_id):
            bad.append(f"the server summary lists an unusable execution ID {shorten(execution_id)}")
            continue
        entries.append(SummaryEntry(execution_id, parse_time(field_value(item, "start_time"))))
    return entries, bad


def select_executions(entries: list[SummaryEntry], period: Span | None) -> list[SummaryEntry]:
    """The executions to report for a server: all that started in ``period`` (a month or a
    look-back window), else the latest.

    Repeated IDs are listed once. Without a period, the latest is the one with the latest
    start; executions without a known start only count when none has one.
    """
    unique = list({entry.execution_id: entry for entry in entries}.values())
    if period is not None:
        chosen = [entry for entry in unique if period.contains(entry.start)]
        return sorted(chosen, key=lambda entry: (entry.start, entry.execution_id))
    if not unique:
        return []
    started = [entry for entry in unique if entry.start is not None]
    if not started:
        return [unique[-1]]
    return [max(started, key=_start)]


def _start(entry: SummaryEntry) -> datetime:
    assert entry.start is not None  # only entries with a known start are compared
    return entry.start


def no_executions_reason(period: Span | None) -> str:
    """The reason given when a server has nothing to report."""
    if period is not None:
        return f"no executions in {period}"
    return "the server has no executions"


Outcome = list[FetchedExecution | Problem]


def screen_targets(targets: Sequence[Target]) -> tuple[list[Outcome], list[int], frozenset]:
    """Settle the targets that must not be fetched: bad IDs, or an execution listed twice.

    Returns:
        (outcomes, to_fetch, explicit): one outcome list per target (a problem for the
        settled ones, empty for the rest), the indexes still to fetch, and the keys
        (alias, server, execution), upper-cased, of every explicitly listed execution.
    """
    outcomes: list[Outcome] = [[] for _ in targets]
    to_fetch: list[int] = []
    # The line of each server (alias, server) and execution (alias, server, execution) seen.
    seen: dict[tuple[str, ...], int | None] = {}
    for index, target in enumerate(targets):
        ids = (target.account_alias, target.server_id, target.execution_id)
        reason = id_problem(*ids)
        if reason:
            alias, server_id, execution_id = (None if v is None else str(v) for v in ids)
            problem = Problem(INVALID_ROW, reason, target.line, alias, server_id, execution_id)
            outcomes[index] = [problem]
            continue
        # IDs compare case-insensitively, as the API matches them; only now, with every row's
        # alias resolved, can rows that differed only by a missing alias be seen as repeats.
        what: tuple[str, ...] = (target.account_alias.upper(), target.server_id.upper())
        if target.execution_id is not None:
            what = (*what, target.execution_id.upper())
        if what in seen:
            where = f" on line {seen[what]}" if seen[what] is not None else ""
            thing = "execution" if target.execution_id else "server (without an execution ID)"
            reason = f"the same {thing} is listed{where}"
            problem = Problem(DUPLICATE_ROW, reason, target.line, *ids)
            outcomes[index] = [problem]
            continue
        seen[what] = target.line
        to_fetch.append(index)
    return outcomes, to_fetch, frozenset(key for key in seen if len(key) == 3)


def plan_discovery(
    target: Target, payload: Any, period: Span | None, explicit: frozenset
) -> tuple[list[Problem], list[str]]:
    """From a server's summary, the execution IDs to fetch for a server-only target.

    ``explicit`` holds the (ALIAS, SERVER, EXECUTION) keys, upper-cased, not to fetch again.

    Returns:
        (problems, execution_ids). With no ID to fetch there is exactly one problem that
        says why (besides warnings about unusable summary entries).
    """
    alias, server, line = target.account_alias, target.server_id, target.line
    try:
        entries, unusable = summary_entries(payload)
    except ValueError as error:
        failure = Failure(FailureKind.UNEXPECTED_JSON, str(error))
        return [failure.problem(line, alias, server)], []
    problems = [Problem(BAD_PAYLOAD, reason, line, alias, server) for reason in unusable]
    chosen = select_executions(entries, period)
    if not chosen:
        problems.append(Problem(NO_EXECUTIONS, no_executions_reason(period), line, alias, server))
        return problems, []
    # An execution also listed on its own row is reported once, under that row.
    new = [
        entry.execution_id
        for entry in chosen
        if (alias.upper(), server.upper(), entry.execution_id.upper()) not in explicit
    ]
    if not new:
        reason = "every execution it selects is listed on its own row"
        problems.append(Problem(DUPLICATE_ROW, reason, line, alias, server))
    return problems, new


@dataclass(frozen=True, slots=True)
class Body:
    """A usable answer from a source: the decoded JSON body, where it came from and when."""

    payload: Any
    url: str
    fetched_at: datetime
    reused: bool = False  # read back from saved evidence, not fetched now


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a source has no usable answer for a request."""

    kind: FailureKind
    reason: str

    def problem(
        self,
        line: int | None,
        account_alias: str,
        server_id: str,
        execution_id: str | None = None,
    ) -> Problem:
        """The problem that reports this failure for one inventory row."""
        return Problem(
            self.kind.problem_kind,
            self.reason,
            line,
            account_alias,
            server_id,
            execution_id,
            cause=self.kind,
        )


def collect(outcomes: Sequence[Outcome], stats: "FetchStats") -> "FetchResult":
    """One result from the targets' outcomes, in target order."""
    result = FetchResult(stats=stats)
    for outcome in outcomes:
        for item in outcome:
            if isinstance(item, Problem):
                result.problems.append(item)
            else:
                result.executions.append(item)
    return result


@dataclass(frozen=True, slots=True)
class FetchStats:
    """What a fetch cost: requests sent, retries, 429s, re-logins, executions reused, time."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    relogins: int = 0
    reused: int = 0
    seconds: float = 0.0
    final_concurrency: int = 0


@dataclass(frozen=True, slots=True)
class FetchResult:
    """Every target's outcome: fetched executions, or exactly one problem for the target.

    A server-only target (no execution ID) yields one execution per execution it selected
    from the server's summary, or one problem. An execution found that way which another
    target lists explicitly is reported once, under the explicit target (when that leaves a
    server-only target nothing, its problem says so). Unusable entries in a summary add a
    ``bad payload`` warning each. ``executions`` and ``problems`` are in target order.
    """

    executions: list[FetchedExecution] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    stats: FetchStats = field(default_factory=FetchStats)
