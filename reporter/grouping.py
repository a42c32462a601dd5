"""Grouping for the reports: problems by kind, servers by an inventory attribute.

The order problems are grouped in is :data:`reporter.problems.PROBLEM_KINDS`, most serious
first, and every format shows it so. ``--group-by`` and ``--columns`` name inventory
attributes as the inventory heads them; :func:`resolve_attributes` finds them (letter case,
spaces, ``_`` and ``-`` aside, as the inventory's own columns are matched) or says which exist.
"""

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from reporter.errors import UsageError
from reporter.frames import attribute_name
from reporter.problems import PROBLEM_KINDS, kind_rank
from reporter.schema import (
    BY_GROUP_SCHEMA,
    COMPLIANCE_STATUSES,
    COUNTED_AS_COMPLIANT,
    PROBLEM_KIND_SCHEMA,
    conform,
    empty_frame,
)

NO_VALUE = "(none)"  # the group of servers without a value for the attribute


def _folded(name: str) -> str:
    return " ".join(re.split(r"[\s_-]+", name.strip().lower())).strip()


def resolve_attributes(available: Sequence[str], wanted: Sequence[str], option: str) -> list[str]:
    """The report's names (:func:`reporter.frames.attribute_name`) of the attributes ``wanted``.

    Args:
        available: the inventory's attribute headers, as written.
        wanted: names as the user gave them (``business_unit`` finds "Business Unit").
        option: the option or config key that named them, for the message.

    Raises:
        UsageError: a name matches no attribute of the inventory (exit 2, nothing fetched).

    >>> resolve_attributes(["Owner", "Business Unit"], ["business_unit", "owner"], "--group-by")
    ['Business Unit', 'Owner']
    """
    by_folded = {_folded(header): header for header in available}
    by_folded.update({_folded(attribute_name(header)): header for header in available})
    found: list[str] = []
    for name in wanted:
        header = by_folded.get(_folded(name))
        if header is None:
            known = ", ".join(available) or "none"
            raise UsageError(
                f"{option}: the inventory has no attribute {name!r} (its attributes: {known})"
            )
        if attribute_name(header) not in found:
            found.append(attribute_name(header))
    return found


def problem_kinds(problems: pd.DataFrame) -> pd.DataFrame:
    """How many problems of each kind there are, most serious first, with what each means.

    Only the kinds present are listed.
    """
    if problems.empty:
        return empty_frame(PROBLEM_KIND_SCHEMA)
    counts = problems["kind"].astype(object).value_counts(sort=False)
    kinds = sorted(counts.index, key=lambda kind: (kind_rank(kind), kind))
    frame = pd.DataFrame(
        {
            "kind": kinds,
            "problems": [int(counts[kind]) for kind in kinds],
            "meaning": [PROBLEM_KINDS.get(kind, "") for kind in kinds],
        }
    )
    return conform(frame, PROBLEM_KIND_SCHEMA)


def compliance_by_group(servers: pd.DataFrame, attributes: Sequence[str]) -> pd.DataFrame:
    """Servers by compliance status for each value of each attribute, one breakdown per
    attribute in the order given; within one, the biggest groups first.

    ``servers`` is the model's servers frame; ``attributes`` are its attribute columns.
    """
    if not attributes or servers.empty:
        return empty_frame(BY_GROUP_SCHEMA)
    status = pd.Categorical(servers["compliance"], categories=COMPLIANCE_STATUSES)
    parts = []
    for attribute in attributes:
        groups = servers[attribute].astype(object).where(servers[attribute].notna(), NO_VALUE)
        groups = groups.map(lambda value: str(value).strip() or NO_VALUE)
        table = pd.crosstab(groups.to_numpy(), status, dropna=False)
        table = table.reindex(columns=COMPLIANCE_STATUSES, fill_value=0)
        total = table.sum(axis=1)
        order = np.lexsort((table.index.to_numpy(dtype=str), -total.to_numpy()))
        table, total = table.iloc[order], total.iloc[order]
        counted = table[list(COUNTED_AS_COMPLIANT)].sum(axis=1).to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "attribute": attribute,
                    "group": table.index.astype(str),
                    "servers": total.to_numpy(),
                    **{status: table[status].to_numpy() for status in COMPLIANCE_STATUSES},
                    "counted_compliant": counted,
                    "compliance_pct": 100.0 * counted / total.to_numpy(),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    return conform(frame, BY_GROUP_SCHEMA)
