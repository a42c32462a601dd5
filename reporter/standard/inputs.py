"""What a run measures against (SPEC 4a): the baseline and exceptions files with their settings,
loaded and checked against the inventory before anything is fetched."""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reporter.csvinput import header_key, shown
from reporter.problems import INVALID_BASELINE_ROW, Problem
from reporter.standard.baseline import DEFAULT_SLA_DAYS, Baseline, load_baseline
from reporter.standard.exceptions import Exceptions, load_exceptions

DEFAULT_LOOKBACK_MONTHS = 12


@dataclass(frozen=True)
class Standard:
    """A run's standard: the baseline and exceptions (either may be absent) and the settings
    that judge them."""

    baseline: Baseline | None = None
    exceptions: Exceptions | None = None
    sla_days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SLA_DAYS))
    lookback_months: int = DEFAULT_LOOKBACK_MONTHS

    @property
    def active(self) -> bool:
        """Whether there is anything to measure against."""
        return self.baseline is not None or self.exceptions is not None

    def for_inventory(self, attributes: Sequence[str]) -> "Standard":
        """This standard with the baseline's ``applies_to`` checked against the inventory's
        ``attributes`` (a row naming one it lacks becomes a problem); checking twice is
        checking once."""
        if self.baseline is None:
            return self
        return dataclasses.replace(self, baseline=with_known_attributes(self.baseline, attributes))

    @property
    def problems(self) -> list[Problem]:
        """The baseline's and exceptions' rows that cannot be used."""
        return [
            *(self.baseline.problems if self.baseline else []),
            *(self.exceptions.problems if self.exceptions else []),
        ]


def load_standard(
    baseline: Path | None,
    exceptions: Path | None,
    attributes: Sequence[str] | None,
    *,
    sla_days: Mapping[str, int] | None = None,
    lookback_months: int = DEFAULT_LOOKBACK_MONTHS,
) -> Standard:
    """Read the baseline and exceptions files (either may be None) and check the baseline's
    ``applies_to`` attributes against the inventory's ``attributes`` (None: not known yet, see
    :meth:`Standard.for_inventory`).

    Raises:
        BaselineError, ExceptionsError: a file cannot be used at all (exit 2).
    """
    standard = Standard(
        baseline=load_baseline(baseline) if baseline is not None else None,
        exceptions=load_exceptions(exceptions) if exceptions is not None else None,
        sla_days={**DEFAULT_SLA_DAYS, **(sla_days or {})},
        lookback_months=lookback_months,
    )
    return standard.for_inventory(attributes) if attributes is not None else standard


def with_known_attributes(baseline: Baseline, attributes: Sequence[str]) -> Baseline:
    """``baseline`` with each row whose ``applies_to`` names an attribute the inventory lacks
    moved to its problems (SPEC 9: a listed problem)."""
    known = {header_key(name) for name in attributes}
    rows, problems = [], list(baseline.problems)
    for row in baseline.rows:
        lacking = [name for name, _ in row.applies_to if header_key(name) not in known]
        if lacking:
            names = ", ".join(shown(name) for name in lacking)
            have = ", ".join(shown(name) for name in attributes) or "none"
            reason = f"applies_to names {names}, which the inventory does not have (it has {have})"
            problems.append(Problem(INVALID_BASELINE_ROW, reason, line=row.line))
        else:
            rows.append(row)
    problems.sort(key=lambda problem: problem.line or 0)
    return dataclasses.replace(baseline, rows=rows, problems=problems)
