"""The stages of a run in order: inventory, history check, login and fetch (or an archive),
report model, history figures, renderers, delivery, history record."""

import dataclasses
import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from reporter.account import Scope
from reporter.checksums import write_checksum
from reporter.config import RunSettings
from reporter.deliver import (
    SmtpSettings,
    build_message,
    parse_recipients,
    send_report,
    smtp_settings_from_env,
)
from reporter.errors import ExitCode, UsageError
from reporter.fetch import MANIFEST
from reporter.fileio import output_errors
from reporter.history import HistoryStore, period_record, with_history
from reporter.inventory import load_inventory
from reporter.logs import register_environment_secrets
from reporter.model import ReportModel
from reporter.outfolder import claim_output_folder
from reporter.runrecord import RUN_RECORD, RunRecord, choose_label_folder, write_run_record
from reporter.signature import SigningKey, load_signing_key
from reporter.sources import (
    archive_model,
    check_choices,
    fetch_model,
    inventory_path,
    presentation_of,
    with_recorded_settings,
)
from reporter.standard import load_standard

log = logging.getLogger("reporter")

# The module that writes each format. Each is imported only when its format is asked for:
# WeasyPrint alone takes about a second to import, which a CSV run has no use for.
RENDERERS = {
    "html": "reporter.render.html",
    "pdf": "reporter.render.pdf",
    "xlsx": "reporter.render.excel",
    "csv": "reporter.render.csv",
}


class Timings:
    """Wall-clock seconds per stage, for ``--timings``."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - started
            log.debug("stage %s took %.2f s", name, self.stages[name])

    def table(self) -> str:
        total = sum(self.stages.values())
        lines = [f"  {name:<12} {seconds:8.2f} s" for name, seconds in self.stages.items()]
        return "\n".join(["Timings:", *lines, f"  {'total':<12} {total:8.2f} s"])


def run(
    settings: RunSettings,
    stdout: TextIO,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Run the whole pipeline and return the exit code (raises ReporterError for expected stops).

    The output folder is checked and held for the whole run before anything else happens.
    """
    with claim_output_folder(settings.out):
        return run_in(settings, stdout, clock)


def run_in(
    settings: RunSettings,
    stdout: TextIO,
    clock: Callable[[], datetime],
) -> int:
    """:func:`run`, once the output folder is held."""
    timings = Timings()
    register_environment_secrets(settings.env)  # before any file is read or message written
    # E-mail settings are checked before anything is fetched or written (exit 2, nothing done).
    delivery = prepare_delivery(settings) if settings.email_to else None
    signing = prepare_signing(settings)  # the key too: a run that cannot sign fetches nothing
    archive = None
    if settings.from_archive:
        archive = choose_label_folder(settings.from_archive, settings.period)
        if archive.record is not None:
            settings = with_recorded_settings(settings, archive)
    with timings.stage("inventory"):
        # With --all-servers (and no archive) the account's server list is the inventory.
        listed = settings.inventory is not None or archive is not None
        inventory = load_inventory(inventory_path(settings, archive)) if listed else None
        # The standard's files are checked before anything is fetched, like the inventory
        # (with --all-servers, its applies_to attributes once the account's list is read).
        standard = load_standard(
            settings.baseline,
            settings.exceptions,
            inventory.attribute_columns if inventory is not None else None,
            sla_days=settings.sla_days,
            lookback_months=settings.baseline_lookback_months,
        )
    if inventory is not None:  # --group-by and --columns checked before anything is fetched
        check_choices(settings, inventory)
    store = open_history(settings)  # checked before anything is fetched, like the inputs
    try:
        generated_at = clock()
        run_record: tuple[Path, RunRecord] | None = None
        preloading: threading.Thread | None = None
        ledger = store.ledger if store is not None else None
        if archive is not None:
            assert inventory is not None  # an archive always has one (given, or saved)
            with timings.stage("archive"):
                model = archive_model(
                    archive,
                    inventory,
                    period=settings.period,
                    title=settings.title,
                    account=settings.account,
                    generated_at=generated_at,
                    data_source=f"evidence archive {settings.from_archive}",
                    completeness_check=settings.completeness_check,
                    scope=Scope.of(settings.data_centers, settings.group),
                    settings=settings,
                    standard=standard,
                    ledger=ledger,
                    presentation=presentation_of(
                        settings, archive.record.user_name if archive.record else None
                    ),
                )
            manifest_path = archive.manifest
        else:
            # The renderers' imports (WeasyPrint, XlsxWriter: a second or more of CPU) overlap
            # the fetch, which mostly waits on the network.
            preloading = import_renderers(settings.formats)
            model, run_record = fetch_model(
                settings, inventory, generated_at, timings.stage, standard, ledger
            )
            manifest_path = run_record[0] / MANIFEST
        with timings.stage("history"):
            earlier = store.earlier(model.meta.accounts, model.meta.label) if store else None
            model = with_history(model, earlier, history_note(model, store))
        if preloading is not None:
            # Done by now, as a rule; and no thread may hold the import lock when the PDF
            # appendix forks its workers.
            preloading.join()
        written = render_all(model, settings, manifest_path, timings, signing)
        if run_record is not None:
            folder, record = run_record
            with output_errors(folder / RUN_RECORD):
                write_run_record(folder, dataclasses.replace(record, finished=True))
        print_summary(model, written, stdout)
        if signing is not None and "pdf" in written:
            print(f"Signed {written['pdf'].name} as {signing.subject} (PAdES)", file=stdout)
        try:
            if delivery:
                with timings.stage("e-mail"):
                    deliver(model, delivery, settings, written)
                print(f"E-mailed the PDF to {', '.join(settings.email_to)}", file=stdout)
        finally:
            # The reports exist whatever became of the e-mail: their period is recorded.
            if store is not None:
                with timings.stage("history"):
                    store.record([period_record(model, clock())])
                print(f"Recorded {model.meta.label} in {store.path}", file=stdout)
    finally:
        if store is not None:
            store.close()
    if settings.timings:
        print(timings.table(), file=stdout)
    return ExitCode.PROBLEMS if model.kpis.problems else ExitCode.OK


def import_renderers(formats: Sequence[str]) -> threading.Thread:
    """Start importing the renderers of ``formats`` in a background thread, and return it.

    Python's import lock makes this safe: a renderer the run needs before the thread is done
    waits for the import under way instead of starting another. A failed import is left for
    the run to meet (and report) when it imports the renderer itself.
    """

    def load() -> None:
        for fmt in formats:
            try:
                importlib.import_module(RENDERERS[fmt])
            except Exception as error:  # reported when the renderer is imported for real
                log.debug("importing the %s renderer ahead of time: %r", fmt, error)

    thread = threading.Thread(target=load, name="import-renderers", daemon=True)
    thread.start()
    return thread


def open_history(settings: RunSettings) -> HistoryStore | None:
    """The history store this run records into, checked now (None with --no-history)."""
    path = settings.history_file
    return HistoryStore.open(path) if path is not None else None


def history_note(model: ReportModel, store: HistoryStore | None) -> str:
    """What the reports say when there is no earlier period to compare with."""
    if store is None:
        return "History is not kept for this run (--no-history): there is no trend to show."
    accounts = ", ".join(model.meta.accounts) or "these accounts"
    return f"No earlier period is recorded for {accounts}: this is the first one in the history."


def render_all(
    model: ReportModel,
    settings: RunSettings,
    manifest_path: Path | None,
    timings: Timings,
    signing: SigningKey | None = None,
) -> dict[str, Path]:
    """Write each requested format, each with its ``.sha256`` line beside it (the PDF's once
    it is signed, with ``signing``); return the paths by format."""
    from reporter.render.progress import StageProgress

    stem = settings.out / f"patch-compliance-{model.meta.label}"
    written: dict[str, Path] = {}
    for fmt in settings.formats:
        path = stem.with_suffix(f".{fmt}")
        with timings.stage(fmt), output_errors(path):
            renderer = importlib.import_module(RENDERERS[fmt])
            if fmt == "html":
                renderer.render_html(model, path)
            elif fmt == "pdf":
                with StageProgress("PDF") as progress:
                    renderer.render_pdf(
                        model,
                        path,
                        page_size=settings.page_size,
                        detail=settings.pdf_detail,
                        variant=settings.pdf_variant,
                        manifest_path=manifest_path
                        if manifest_path and manifest_path.is_file()
                        else None,
                        finish=signing.sign if signing is not None else None,
                        progress=progress,
                    )
            elif fmt == "xlsx":
                with StageProgress("Excel") as progress:
                    renderer.render_xlsx(model, path, progress=progress)
            elif fmt == "csv":
                renderer.render_csv(model, path)
            write_checksum(path)
        written[fmt] = path
    return written


def prepare_signing(settings: RunSettings) -> SigningKey | None:
    """The checked signing key of ``--sign-key``, or None; raise a ReporterError if it cannot
    sign."""
    if settings.sign_key is None:
        return None
    if "pdf" not in settings.formats:
        raise UsageError("--sign-key signs the PDF: add pdf to --format")
    return load_signing_key(settings.sign_key, settings.env)


def prepare_delivery(settings: RunSettings) -> tuple[SmtpSettings, list[str]]:
    """Check the e-mail settings and recipients up front; raise a ReporterError if wrong."""
    if "pdf" not in settings.formats:
        raise UsageError("--email-to sends the PDF: add pdf to --format")
    recipients = parse_recipients(",".join(settings.email_to))
    return smtp_settings_from_env(settings.env), recipients


def deliver(
    model: ReportModel,
    delivery: tuple[SmtpSettings, list[str]],
    settings: RunSettings,
    written: dict[str, Path],
) -> None:
    """E-mail the PDF (and the requested extra attachments) to the recipients."""
    smtp, recipients = delivery
    attachments = [written["pdf"]] + [written[f] for f in settings.email_attach if f in written]
    message = build_message(model, recipients, smtp.sender, attachments)
    send_report(smtp, recipients, message)


def print_summary(model: ReportModel, written: dict[str, Path], stdout: TextIO) -> None:
    """The short end-of-run summary: compliance, status counts, problems, files."""
    kpis = model.kpis
    meta = model.meta
    print(
        f"{meta.title} {meta.label}: {kpis.compliant_pct:.1f}% compliant "
        f"({kpis.compliant}/{kpis.servers} servers)",
        file=stdout,
    )
    counts = ", ".join(f"{status.lower()} {n}" for status, n in kpis.status_counts().items())
    print(f"  {counts}", file=stdout)
    if model.standard.has_baseline:
        print(
            f"  required patches: {kpis.overdue:,} overdue on {kpis.overdue_servers:,} "
            f"servers, {kpis.due:,} due",
            file=stdout,
        )
    print(
        f"  {kpis.executions:,} executions, {kpis.patches_attempted:,} patch attempts "
        f"({kpis.succeeded:,} succeeded, {kpis.warnings:,} with warnings, {kpis.failed:,} failed)",
        file=stdout,
    )
    for line in model.coverage.lines:
        print(f"  {line}", file=stdout)
    if kpis.unknown_outcome:
        print(
            f"  {kpis.unknown_outcome:,} patches of unknown outcome: the API gave only their count",
            file=stdout,
        )
    if kpis.outside_period:
        print(
            f"  {kpis.outside_period:,} listed executions started outside the period: listed apart",
            file=stdout,
        )
    history = model.history
    if history.compared:
        print(
            f"  vs {history.previous_label}: {history.previous_pct:.1f}% -> "
            f"{kpis.compliant_pct:.1f}% ({history.points:+.1f} points), {history.fixed} fixed, "
            f"{history.newly_non_compliant} newly non-compliant",
            file=stdout,
        )
    if kpis.problems:
        noun = "problem" if kpis.problems == 1 else "problems"
        print(f"  {kpis.problems:,} {noun}: see the Problems section of the reports", file=stdout)
    print("Wrote:", file=stdout)
    for path in written.values():
        print(f"  {path}", file=stdout)
