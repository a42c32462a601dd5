"""The tables of the standard's sections (SPEC 4, 4a), the same in HTML and PDF: servers awaiting
a restart, required patches, exceptions, and executions outside the period."""

from reporter.model import REBOOT_PENDING, ReportModel
from reporter.render.history_tables import MORE, ROWS
from reporter.render.table import Column, Table, records
from reporter.render.view import capped, zoned
from reporter.schema import OVERDUE


def standard_tables(model: ReportModel) -> dict[str, Table]:
    """Every table of the reboot-pending, required, exceptions and outside-period sections."""
    servers = model.servers
    pending = servers[(servers["compliance"] == REBOOT_PENDING).to_numpy()]
    required = model.required
    overdue = required[(required["state"] == OVERDUE).to_numpy()]
    return {
        "reboot-pending": capped(
            "reboot-pending",
            [
                Column("server_id", "Server", "id", width="18%", sub="account_alias"),
                Column("reason", "Waiting for a restart", width="52%"),
                Column(
                    "latest_execution_id",
                    "Latest execution",
                    "id",
                    width="18%",
                    sub="latest_execution_start",
                    sub_kind="time",
                ),
                Column("last_success", zoned("Last success", model), "time", width="12%"),
            ],
            pending,
            ROWS,
            f"servers awaiting a restart; {MORE}",
            empty="No server is waiting for a restart.",
        ),
        "required-rollup": Table(
            "required-rollup",
            [
                Column("patch", "Patch", "kb", width="17%", sub="title"),
                Column("severity", "Severity", width="10%"),
                Column("released", "Released", "day", width="10%", sub="deadline", sub_kind="day"),
                Column("servers", "Servers", "number", width="9%"),
                Column("installed", "Installed", "number", width="9%"),
                Column("failed", "Failed", "number", width="9%"),
                Column("due", "Due", "number", width="9%"),
                Column("overdue", "Overdue", "number", width="9%"),
                Column("excepted", "Excepted", "number", width="9%"),
            ],
            records(model.required_rollup),
            len(model.required_rollup),
            empty="The baseline lists no patch that can be judged.",
            interactive=False,
        ),
        "required-overdue": capped(
            "required-overdue",
            [
                Column("server_id", "Server", "id", width="17%", sub="account_alias"),
                Column("patch", "Patch", "kb", width="17%", sub="title"),
                Column("severity", "Severity", width="10%"),
                Column("deadline", "Deadline", "day", width="11%", sub="released", sub_kind="day"),
                Column("age_days", "Age (days)", "number", width="10%"),
                Column("detail", "Latest attempt", width="35%"),
            ],
            overdue,
            ROWS,
            f"overdue required patches; {MORE}",
            empty="No required patch is overdue.",
        ),
        "required": capped(
            "required",
            [
                Column("server_id", "Server", "id", width="16%", sub="account_alias"),
                Column("patch", "Patch", "kb", width="16%", sub="title"),
                Column("state", "State", "status", width="10%"),
                Column("deadline", "Deadline", "day", width="11%"),
                Column("evidence", "From", width="11%"),
                Column("detail", "Attempt", width="20%"),
                Column("exception", "Exception", width="16%"),
            ],
            required,
            ROWS,
            f"required patches on servers; {MORE}",
            empty="No required patch applies to a server with data.",
        ),
        "exceptions": Table(
            "exceptions",
            [
                Column("line", "Line", "number", width="6%"),
                Column("server_id", "Server", "id", width="13%"),
                Column("patch", "Patch", "kb", width="12%"),
                Column("state", "State", "status", width="9%", sub="expires", sub_kind="day"),
                Column("reason", "Reason", width="20%", sub="approved_by"),
                Column("matched", "Matched", "number", width="8%"),
                Column("matches", "What it covers", width="32%"),
            ],
            records(model.exceptions),
            len(model.exceptions),
            empty="The exceptions file lists no usable exception.",
        ),
        "outside-period": capped(
            "outside-period",
            [
                Column("line", "Line", "number", width="7%"),
                Column("server_id", "Server", "id", width="20%", sub="account_alias"),
                Column("execution_id", "Execution", "id", width="15%"),
                Column("status", "Status", "status", width="12%"),
                Column("start", zoned("Start", model), "time", width="16%"),
                Column("reason", "Why it is not in the figures", width="30%"),
            ],
            model.outside_period,
            ROWS,
            f"executions outside the period; {MORE}",
            empty="Every listed execution started in the period.",
        ),
    }
