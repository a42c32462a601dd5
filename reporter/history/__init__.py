"""History (SPEC 5a): every run's period recorded in a SQLite file, and the trend it gives.

- :mod:`~reporter.history.store`: the file: checked before a run fetches, written after its
  reports, read for the trend and by ``reporter history``;
- :mod:`~reporter.history.database`: the file checked (ours, not newer, not locked) and
  migrated, its errors one line each;
- :mod:`~reporter.history.migrations`: its tables, as forward migrations;
- :mod:`~reporter.history.rows`: a report model as the rows that record its period;
- :mod:`~reporter.history.compare`: the trend, changes and persistent failures of a period.
"""

from reporter.history.compare import with_history
from reporter.history.rows import PeriodRecord, accounts_key, period_record
from reporter.history.store import EarlierPeriods, HistoryStore, RecordedPeriod

__all__ = [
    "EarlierPeriods",
    "HistoryStore",
    "PeriodRecord",
    "RecordedPeriod",
    "accounts_key",
    "period_record",
    "with_history",
]
