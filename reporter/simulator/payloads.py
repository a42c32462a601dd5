"""How the simulated API writes an execution: JSON bodies in the shapes the real service uses.

The simulated records hold facts (times, titles, results); their
:class:`~reporter.simulator.records.PayloadStyle` holds how one execution is written (key case,
time format, status case, duration form), so the variations SPEC 1 lists appear across a fleet
while each execution always reads the same.
"""

import json
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from reporter.simulator.records import PayloadStyle, SimExecution

BEGIN_MESSAGE = "Update Process BEGIN"
END_MESSAGE = "Updating Complete"
KB_URL = "https://support.microsoft.com/en-us/kb/{}"
_KB = re.compile(r"KB(\d{6,8})")


def duration_text(seconds: int, clock: bool = False) -> str:
    """Write a duration as the API does: ``20m 4s``, ``1h 2m 3s``, ``45s`` or ``00:20:04``."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    if clock:
        return f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def format_time(moment: datetime | None, style: PayloadStyle) -> str | None:
    """Write a UTC ``moment`` in the execution's time format (unknown: ``""`` or null)."""
    if moment is None:
        return style.unknown_time
    if style.time_format == "space":
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if style.time_format == "+00:00":
        return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    if style.time_format == "offset":
        return moment.astimezone(timezone(style.offset)).isoformat(timespec="seconds")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_status(status: str, style: PayloadStyle) -> str:
    """Write a normalised status (pending/running/completed/failed) in the execution's case."""
    if status == "running":
        status = style.running_word
    if style.status_case == "upper":
        return status.upper()
    if style.status_case == "title":
        return status.capitalize()
    return status


def _key(name: str, style: PayloadStyle) -> str:
    return name.capitalize() if style.capitalized else name


def detail_payload(execution: "SimExecution") -> dict[str, Any]:
    """The decoded body of ``GET .../patch/{execution_id}`` for one execution (SPEC 1 table)."""
    style = execution.style
    finished = execution.status in ("completed", "failed")
    body: dict[str, Any] = {
        _key("execution_id", style): execution.execution_id,
        _key("status", style): format_status(execution.status, style),
        _key("start_time", style): format_time(execution.start, style),
        _key("end_time", style): format_time(execution.end, style),
    }
    if style.duration is not None:
        body[_key("duration", style)] = style.duration
    body[_key("begin_message", style)] = BEGIN_MESSAGE
    body[_key("end_message", style)] = END_MESSAGE if finished else ""
    if style.patches_as_number:
        body[_key("patches", style)] = len(execution.patches)
        return body
    start_key, end_key = _key("start_time", style), _key("end_time", style)
    begin_key, result_key = _key("patch_begin_message", style), _key("patch_end_message", style)
    status_key = _key("status", style)
    body[_key("patches", style)] = [
        {
            start_key: format_time(patch.start, style),
            end_key: format_time(patch.end, style),
            begin_key: patch.title,
            result_key: patch.end_message,
            status_key: format_status(patch.status, style),
        }
        for patch in execution.patches
    ]
    return body


def init_end_message(execution: "SimExecution") -> str:
    """What the download step reports: the number of updates and their KB pages or packages."""
    if execution.status == "pending":
        return ""
    if not execution.patches:
        return "No updates to install"
    items = []
    for patch in execution.patches:
        found = _KB.search(patch.title)
        if found:
            items.append(KB_URL.format(found.group(1)) + " ")
        elif not execution.windows:
            items.append(patch.title.rsplit(" ", 1)[-1])
    listed = "".join(f"##{item}" for item in items)
    count = len(execution.patches)
    return f"Updates Downloaded Successfully downloaded {count} updates to install{listed}##"


def summary_payload(executions: Sequence["SimExecution"]) -> list[dict[str, Any]]:
    """The decoded body of ``GET .../patch`` for one server: its executions, newest first.

    Keys are always the documented snake_case; times and statuses vary per execution.
    """
    entries = []
    for execution in sorted(executions, key=lambda item: item.start, reverse=True):
        style = execution.style
        init_end = execution.init_end if execution.status != "pending" else None
        entries.append(
            {
                "execution_id": execution.execution_id,
                "status": format_status(execution.status, style),
                "start_time": format_time(execution.start, style),
                "end_time": format_time(execution.end, style),
                "init_messages": [
                    {
                        "start_time": format_time(execution.start, style),
                        "end_time": format_time(init_end, style),
                        "init_begin_message": "Downloading Updates",
                        "init_end_message": init_end_message(execution),
                    }
                ],
            }
        )
    return entries


def encode(payload: Any) -> bytes:
    """Serialise a payload the way the service does: compact UTF-8 JSON."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
