"""Compliance against a standard (SPEC 4a, 9): required patches, deadlines, exceptions.

- :mod:`~reporter.standard.baseline` and :mod:`~reporter.standard.exceptions`: the two CSV
  files, read by the inventory's rules; :mod:`~reporter.standard.patches`: how they name
  patches (KB numbers, packages, minimum versions, alternatives);
- :mod:`~reporter.standard.inputs`: both files and their settings, checked before a fetch;
- :mod:`~reporter.standard.evidence`: every known attempt, from the figures, the executions
  outside the period, the history ledger and the look-back;
- :mod:`~reporter.standard.required`: each required patch on each server it applies to;
- :mod:`~reporter.standard.verdict`: exceptions applied, and the servers' statuses;
- :mod:`~reporter.standard.judge`: a report model measured against it all.
"""

from reporter.standard.baseline import DEFAULT_SLA_DAYS, SEVERITIES, Baseline, load_baseline
from reporter.standard.exceptions import Exceptions, load_exceptions
from reporter.standard.inputs import DEFAULT_LOOKBACK_MONTHS, Standard, load_standard
from reporter.standard.judge import apply_standard, period_attempts, servers_to_look_back
from reporter.standard.required import reference_date

__all__ = [
    "DEFAULT_LOOKBACK_MONTHS",
    "DEFAULT_SLA_DAYS",
    "SEVERITIES",
    "Baseline",
    "Exceptions",
    "Standard",
    "apply_standard",
    "load_baseline",
    "load_exceptions",
    "load_standard",
    "period_attempts",
    "reference_date",
    "servers_to_look_back",
]
