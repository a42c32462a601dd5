"""The stages of a run in order: inventory, login, fetch, report model, renderers, delivery."""

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from reporter.config import RunSettings
from reporter.deliver import (
    SmtpSettings,
    build_message,
    parse_recipients,
    send_report,
    smtp_settings_from_env,
)
from reporter.errors import ApiUnreachableError, ExitCode, UsageError
from reporter.fetch import (
    EvidenceStore,
    PatchingClient,
    Progress,
    check_url,
    credentials_from_env,
    decode_json,
    read_archive,
)
from reporter.fileio import output_errors
from reporter.grouping import resolve_attributes
from reporter.inventory import Inventory, load_inventory
from reporter.logs import register_environment_secrets
from reporter.model import Presentation, ReportModel, SignOff
from reporter.outfolder import claim_output_folder
from reporter.problems import Problem
from reporter.records import Target
from reporter.report import build_report

log = logging.getLogger("reporter")

DEMO_SEED = 2026
DEMO_SERVERS = 60
DEMO_EXECUTIONS_PER_SERVER = 4
DEMO_USER = "demo"


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
    with timings.stage("inventory"):
        inventory = load_inventory(settings.inventory)
    check_attributes(inventory, settings)  # a usage error before anything is fetched
    generated_at = clock()
    user_name: str | None = None  # who logged in: "Prepared by" unless the config names someone

    if settings.from_archive:
        with timings.stage("archive"):
            default_alias = settings.account or archive_alias(settings.from_archive)
            targets = targets_for(inventory, default_alias)
            result = read_archive(settings.from_archive, targets, settings.period)
            manifest_path = archive_manifest(settings.from_archive)
            data_source = f"evidence archive {settings.from_archive}"
    else:
        api_url = check_url(settings.api_url, "API URL")
        login_url = check_url(settings.login_url, "login URL")
        credentials = credentials_from_env(settings.env)
        evidence = EvidenceStore(settings.out / "evidence")
        client = PatchingClient(
            api_url,
            login_url,
            credentials,
            concurrency=settings.concurrency,
            timeout=settings.timeout,
            retries=settings.retries,
            evidence=evidence,
            progress=Progress(),
        )
        try:
            with timings.stage("login"):
                login = client.login()
            user_name = login.user
            default_alias = settings.account or login.account_alias
            targets = targets_for(inventory, default_alias)
            with timings.stage("fetch"), output_errors(evidence.path):
                result = client.fetch(targets, settings.period)
        finally:
            evidence.close()
            client.close()
        if targets and not result.executions and all_unreachable(result.problems):
            dead = next(problem for problem in result.problems if problem.cause is not None)
            raise ApiUnreachableError(
                f"could not fetch any execution from {api_url}: {dead.reason}"
            )
        manifest_path = evidence.path / "manifest.json"
        data_source = api_url

    with timings.stage("model"):
        model = build_report(
            inventory,
            result.executions,
            result.problems,
            period=settings.period,
            title=settings.title,
            accounts=sorted({target.account_alias for target in targets}),
            data_source=data_source,
            manifest_sha256=file_sha256(manifest_path),
            generated_at=generated_at,
            default_alias=default_alias,
            presentation=presentation(settings, user_name),
        )
        # The decoded payloads hold more memory than the model built from them: let them go
        # before the renderers (the PDF above all) need memory.
        del result
    written = render_all(model, settings, manifest_path, timings)
    print_summary(model, written, stdout)
    if delivery:
        with timings.stage("e-mail"):
            deliver(model, delivery, settings, written)
        print(f"E-mailed the PDF to {', '.join(settings.email_to)}", file=stdout)
    if settings.timings:
        print(timings.table(), file=stdout)
    return ExitCode.PROBLEMS if model.kpis.problems else ExitCode.OK


def check_attributes(inventory: Inventory, settings: RunSettings) -> None:
    """Raise a UsageError if ``--group-by`` or ``--columns`` names an attribute the inventory
    lacks."""
    resolve_attributes(inventory.attribute_columns, settings.group_by, "--group-by")
    resolve_attributes(inventory.attribute_columns, settings.columns or (), "--columns")


def presentation(settings: RunSettings, user_name: str | None) -> Presentation:
    """The user's choices for the reports; "Prepared by" falls back to the login's user name."""
    return Presentation(
        timezone=settings.timezone,
        group_by=settings.group_by,
        columns=settings.columns,
        sign_off=SignOff(
            prepared_by=settings.prepared_by or user_name,
            reviewed_by=settings.reviewed_by,
            approved_by=settings.approved_by,
        ),
        classification=settings.classification,
    )


def targets_for(inventory: Inventory, default_alias: str | None) -> list[Target]:
    """One fetch target per valid inventory row, with the account alias resolved."""
    targets = []
    for row in inventory.rows:
        alias = row.account_alias or default_alias
        if not alias:
            raise UsageError(
                f"{inventory.path.name} line {row.line}: no account alias; add an "
                "account_alias column or pass --account"
            )
        targets.append(Target(alias.upper(), row.server_id, row.execution_id, row.line))
    return targets


def all_unreachable(problems: Sequence[Problem]) -> bool:
    """Whether every fetch failed the way a dead API fails: no answer at all.

    Decided by each problem's cause, never by its wording.
    """
    causes = [problem.cause for problem in problems if problem.cause is not None]
    return bool(causes) and all(cause.no_answer for cause in causes)


def render_all(
    model: ReportModel, settings: RunSettings, manifest_path: Path | None, timings: Timings
) -> dict[str, Path]:
    """Write each requested format; return the paths by format."""
    from reporter.render.csv import render_csv
    from reporter.render.excel import render_xlsx
    from reporter.render.html import render_html
    from reporter.render.pdf import render_pdf

    stem = settings.out / f"patch-compliance-{model.meta.label}"
    written: dict[str, Path] = {}
    for fmt in settings.formats:
        path = stem.with_suffix(f".{fmt}")
        with timings.stage(fmt), output_errors(path):
            if fmt == "html":
                render_html(model, path)
            elif fmt == "pdf":
                render_pdf(
                    model,
                    path,
                    page_size=settings.page_size,
                    detail=settings.pdf_detail,
                    variant=settings.pdf_variant,
                    manifest_path=manifest_path
                    if manifest_path and manifest_path.is_file()
                    else None,
                )
            elif fmt == "xlsx":
                render_xlsx(model, path)
            elif fmt == "csv":
                render_csv(model, path)
        written[fmt] = path
    return written


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
    print(
        f"  compliant {kpis.compliant}, non-compliant {kpis.non_compliant}, "
        f"in progress {kpis.in_progress}, no data {kpis.no_data}",
        file=stdout,
    )
    print(
        f"  {kpis.executions:,} executions, {kpis.patches_attempted:,} patch attempts "
        f"({kpis.succeeded:,} succeeded, {kpis.warnings:,} with warnings, {kpis.failed:,} failed)",
        file=stdout,
    )
    if kpis.problems:
        noun = "problem" if kpis.problems == 1 else "problems"
        print(f"  {kpis.problems:,} {noun}: see the Problems section of the reports", file=stdout)
    print("Wrote:", file=stdout)
    for path in written.values():
        print(f"  {path}", file=stdout)


def file_sha256(path: Path | None) -> str | None:
    """SHA-256 of a file's bytes, or None when there is no such file."""
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def archive_manifest(archive: Path) -> Path:
    """The manifest of an evidence archive given as the out folder or its evidence/ folder."""
    for candidate in (archive / "manifest.json", archive / "evidence" / "manifest.json"):
        if candidate.is_file():
            return candidate
    return archive / "evidence" / "manifest.json"


def archive_alias(archive: Path) -> str | None:
    """The account alias an archive was fetched under, when it holds exactly one."""
    try:
        entries = decode_json(archive_manifest(archive).read_bytes())["entries"]
        aliases = {entry.get("account_alias") for entry in entries} - {None}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return aliases.pop() if len(aliases) == 1 else None


def demo(out: str | None, stdout: TextIO) -> int:
    """Run the whole pipeline against the built-in simulator serving the bundled sample fleet."""
    from reporter.simulator import Fleet, SimulatorServer

    out_dir = Path(out or "reports")
    fleet = Fleet.generate(
        servers=DEMO_SERVERS, executions_per_server=DEMO_EXECUTIONS_PER_SERVER, seed=DEMO_SEED
    )
    inventory = out_dir / "demo-inventory.csv"
    out_dir.mkdir(parents=True, exist_ok=True)
    fleet.write_inventory(inventory)
    # A fresh password for the in-process simulator: it guards nothing, but a fixed one would
    # be registered as a secret and blanked out of every log line that happens to contain it.
    password = secrets.token_urlsafe(16)
    with SimulatorServer(fleet, host="127.0.0.1", port=0, user=DEMO_USER, password=password) as sim:
        print(
            f"Simulated Patching API at {sim.api_url} ({len(fleet.executions)} executions)",
            file=stdout,
        )
        settings = RunSettings(
            inventory=inventory,
            out=out_dir,
            api_url=sim.api_url,
            login_url=sim.login_url,
            title="Patch compliance (demo fleet)",
            env={"CLC_USER": DEMO_USER, "CLC_PASSWORD": password},
        )
        code = run(settings, stdout)
    if code == ExitCode.PROBLEMS:
        # The sample inventory lists a few unknown executions on purpose, to show the Problems
        # section; for the demo that is the expected outcome, not a failure.
        print("(The demo inventory includes rows the API does not know, on purpose.)", file=stdout)
        return ExitCode.OK
    return code
