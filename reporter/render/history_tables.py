"""The tables of the "Trend and changes" section (SPEC 5a), the same in HTML and PDF."""

from reporter.model import COMPLIANCE_STATUSES, ReportModel
from reporter.render.table import Column, Table, records
from reporter.render.view import capped, zoned

ROWS = 500  # changes and persistent failures shown; every one is in the Excel report
MORE = "the full list is in the Excel report."


def history_tables(model: ReportModel) -> dict[str, Table]:
    """The trend, the changes since the previous period, and the persistent failures."""
    statuses = [Column(status, status, "number", width="10%") for status in COMPLIANCE_STATUSES]
    return {
        "trend": Table(
            "trend",
            [
                Column("label", "Period", width="14%"),
                Column("servers", "Servers", "number", width="9%"),
                *statuses,
                Column("compliance_pct", "Compliant %", "percent", width="11%"),
                Column("change_points", "Change (points)", "points", width="12%"),
            ],
            records(model.trend),
            len(model.trend),
            empty="No period is recorded.",
            interactive=False,
        ),
        "changes": capped(
            "changes",
            [
                Column("server_id", "Server", "id", width="17%", sub="account_alias"),
                Column("change", "Change", width="17%"),
                Column("previous_status", "Before", "status", width="13%"),
                Column("status", "Now", "status", width="13%"),
                Column("reason", "Reason now", width="40%"),
            ],
            model.changes,
            ROWS,
            f"changes; {MORE}",
            empty="No server changed status, joined or left the inventory.",
        ),
        "persistent": capped(
            "persistent",
            [
                Column("server_id", "Server", "id", width="17%", sub="account_alias"),
                Column("patch_key", "Patch", "kb", width="35%", sub="title"),
                Column("failing_since", "Failing since", width="14%"),
                Column("periods", "Periods", "number", width="10%"),
                Column("last_attempt", zoned("Latest attempt", model), "time", width="24%"),
            ],
            model.persistent_failures,
            ROWS,
            f"persistent failures; {MORE}",
            empty="No patch failed on the same server in two or more consecutive periods.",
        ),
    }
