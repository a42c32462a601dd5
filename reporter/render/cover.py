"""The title block (the PDF's cover): what the report covers, where its data came from, who
answers for it."""

import pandas as pd

from reporter.model import ReportModel
from reporter.render.filters import timestamp

# The sign-off block's lines: (role, field of reporter.model.SignOff).
SIGNATURE_ROLES = [
    ("Prepared by", "prepared_by"),
    ("Reviewed by", "reviewed_by"),
    ("Approved by", "approved_by"),
]


def cover_facts(model: ReportModel) -> list[tuple[str, str]]:
    """The title block's facts, in order: scope, period, accounts, provenance, hashes."""
    meta = model.meta
    zone = meta.timezone
    span = "no executions in the figures"
    if meta.span_start is not None and not pd.isna(meta.span_start):
        span = f"{timestamp(meta.span_start, zone=zone)} to {timestamp(meta.span_end, zone=zone)}"
    return [
        ("Period", meta.period or f"not limited (run of {meta.label})"),
        ("Executions counted", meta.scope),
        ("Executions started", span),
        ("Account(s)", ", ".join(meta.accounts) or "—"),
        ("Report ID", meta.report_id),
        ("Generated", timestamp(meta.generated_at, zone=zone)),
        ("Time zone", f"{zone} (times in this report; the CSV and the evidence stay in UTC)"),
        ("Tool version", f"reporter {meta.tool_version}"),
        ("Data source", meta.data_source),
        ("Input file", meta.input_name),
        ("Input SHA-256", meta.input_sha256),
        ("Evidence manifest SHA-256", meta.manifest_sha256 or "no evidence manifest"),
    ]


def sign_off_lines(model: ReportModel) -> list[tuple[str, str | None]]:
    """The sign-off block: (role, name), a name None being a line left blank to sign on."""
    sign_off = model.meta.sign_off
    return [(role, getattr(sign_off, name)) for role, name in SIGNATURE_ROLES]
