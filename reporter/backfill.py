"""``reporter history``: list the recorded periods, or record earlier ones from their evidence.

``history import`` rebuilds each period's model from its label folder exactly as
``reporter run --from-archive`` does (its run.json, manifest and saved answers) and records
them all in one transaction, so a new user gets last year's trend on day one.
"""

import argparse
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from reporter.config import history_file_for_listing
from reporter.errors import ArchiveError, ExitCode, UsageError
from reporter.history import HistoryStore, PeriodRecord, RecordedPeriod, period_record
from reporter.inventory import load_inventory
from reporter.records import Period
from reporter.runrecord import RUN_RECORD, LabelFolder, label_folders, saved_inventory
from reporter.schema import COMPLIANCE_STATUSES
from reporter.sources import archive_model

DEFAULT_TITLE = "Patch compliance"


def history_command(
    args: argparse.Namespace,
    stdout: TextIO,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """``reporter history [import DIR...]``: the exit code."""
    path = history_file_for_listing(args)
    if getattr(args, "history_command", None) == "import":
        return import_history(
            path,
            [Path(folder) for folder in args.dirs],
            stdout,
            inventory=Path(args.inventory) if args.inventory else None,
            period=Period.parse(args.period) if args.period else None,
            account=args.account.upper() if args.account else None,
            clock=clock,
        )
    return list_history(path, stdout)


def list_history(path: Path, stdout: TextIO) -> int:
    """Print each recorded period on one line, by accounts and then label."""
    with HistoryStore.open(path, read_only=True) as store:
        periods = store.periods()
    if not periods:
        print(f"No period is recorded in {path}.", file=stdout)
    for period in periods:
        print(period_line(period), file=stdout)
    return ExitCode.OK


def period_line(period: RecordedPeriod) -> str:
    """``2026-10  OSD  93.5% compliant (187/200 servers): Compliant 187, ...; ...``."""
    known = [status for status in COMPLIANCE_STATUSES if status in period.statuses]
    others = sorted(set(period.statuses) - set(known))
    statuses = ", ".join(f"{status} {period.statuses[status]:,}" for status in known + others)
    problems = "problem" if period.problems == 1 else "problems"
    generated = period.generated_at.replace("T", " ").replace("Z", " UTC")
    return (
        f"{period.label:<10} {period.accounts or '-':<8} {period.compliance_pct:5.1f}% compliant "
        f"({period.compliant:,}/{period.servers:,} servers): {statuses}; "
        f"{period.executions:,} executions, {period.patches_attempted:,} patch attempts, "
        f"{period.problems:,} {problems}; generated {generated}"
    )


def import_history(
    path: Path,
    archives: Sequence[Path],
    stdout: TextIO,
    *,
    inventory: Path | None = None,
    period: Period | None = None,
    account: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Record every period of every archive in ``path`` (one transaction).

    Every archive is checked before any is read: a folder without evidence, or one without
    run.json when ``inventory`` and ``period`` are not given, stops the import (nothing
    recorded). The evidence of a run that did not finish is passed over.

    Raises:
        ArchiveError, UsageError, HistoryError: one line saying why.
    """
    with HistoryStore.open(path) as store:
        folders = []
        for folder in (folder for archive in archives for folder in archive_folders(archive)):
            if folder.record is not None and not folder.record.finished:
                # A run that was stopped wrote no report: its evidence is not a period.
                print(f"  skipped {folder.path}: its run did not finish", file=stdout)
                continue
            folders.append(folder)
        for folder in folders:
            if folder.record is None and (inventory is None or period is None):
                raise UsageError(
                    f"{folder.path} has no {RUN_RECORD} (an archive from an older reporter): "
                    "give --inventory FILE and --period YYYY-MM"
                )
        records: list[PeriodRecord] = []
        for folder in folders:
            record = rebuilt_period(folder, inventory, period, account, clock)
            records.append(record)
            print(
                f"  {record.label} ({record.accounts or '-'}): "
                f"{record.run['compliance_pct']:.1f}% compliant "
                f"({record.run['compliant']:,}/{record.run['servers']:,} servers) "
                f"from {folder.path}",
                file=stdout,
            )
        store.record(records)
    noun = "period" if len(records) == 1 else "periods"
    print(f"Recorded {len(records)} {noun} in {path}", file=stdout)
    return ExitCode.OK


def archive_folders(archive: Path) -> list[LabelFolder]:
    """Every label folder in ``archive`` (an error if there is none)."""
    folders = label_folders(archive)
    if not folders:
        raise ArchiveError(
            f"{archive} holds no evidence archive (no manifest.json in it, in evidence/ or in "
            "its label folders)"
        )
    return folders


def rebuilt_period(
    folder: LabelFolder,
    inventory: Path | None,
    period: Period | None,
    account: str | None,
    clock: Callable[[], datetime],
) -> PeriodRecord:
    """One label folder's period, rebuilt as ``--from-archive`` rebuilds it."""
    record = folder.record
    if record is not None:
        model = archive_model(
            folder,
            load_inventory(saved_inventory(folder.path, record)),
            period=record.period,
            title=record.title or DEFAULT_TITLE,
            account=record.account,
            generated_at=record.generated_at,
            data_source=f"evidence archive {folder.path}",
        )
    else:
        assert inventory is not None and period is not None  # checked by the caller
        model = archive_model(
            folder,
            load_inventory(inventory),
            period=period,
            title=DEFAULT_TITLE,
            account=account,
            generated_at=clock(),
            data_source=f"evidence archive {folder.path}",
        )
    return period_record(model, clock())
