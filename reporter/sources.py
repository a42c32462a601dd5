"""Where a run's figures come from: the Patching API, or the evidence a run saved.

:func:`fetch_model` logs in and fetches into the label's evidence folder (with its run.json);
:func:`archive_model` rebuilds a run from a label folder, as ``--from-archive`` and
``reporter history import`` do. Both apply the same rules and build the same report model,
the completeness check (SPEC 2a) included: over the servers API, or from its saved answers.
"""

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from reporter import __version__
from reporter.account import AccountListing, Scope
from reporter.account_run import (
    ACCOUNT_INPUT_NAME,
    ALL_SERVERS,
    TURNED_OFF,
    archived_completeness,
    completeness,
    inventory_from_account,
)
from reporter.completeness import not_performed
from reporter.config import PRESENTATION_SETTINGS, RunSettings, servers_api_beside
from reporter.errors import ApiUnreachableError, UsageError
from reporter.fetch import (
    ArchiveSource,
    EvidenceStore,
    PatchingClient,
    Progress,
    check_url,
    credentials_from_env,
    decode_json,
    fetch_executions,
)
from reporter.fileio import output_errors
from reporter.grouping import resolve_attributes
from reporter.inventory import Inventory
from reporter.model import Presentation, ReportModel, SignOff
from reporter.problems import Problem
from reporter.records import Period, Target
from reporter.report import build_report
from reporter.runrecord import (
    RUN_RECORD,
    STANDARD_FILES,
    LabelFolder,
    RunRecord,
    discard_run_record,
    label_folder,
    label_to_resume,
    save_inventory,
    save_standard_file,
    saved_inventory,
    saved_standard_file,
    write_run_record,
)
from reporter.standard import DEFAULT_SLA_DAYS, Standard, reference_date
from reporter.standard.ledger import (
    LEDGER_SETTING,
    LedgerReader,
    RecordingLedger,
    save_ledger,
    saved_ledger,
)
from reporter.standard.lookback import measure


def fetch_model(
    settings: RunSettings,
    inventory: Inventory | None,
    generated_at: datetime,
    stage: Callable[[str], AbstractContextManager[None]],
    standard: Standard | None = None,
    ledger: LedgerReader | None = None,
) -> tuple[ReportModel, tuple[Path, RunRecord]]:
    """Log in, fetch into the label's evidence folder, check completeness, build the model,
    and measure it against ``standard`` if there is one (looking back through the same client,
    and in the history ``ledger``).

    Without an ``inventory`` (``--all-servers``), the account's active servers are listed
    first and become it. ``stage(name)`` times each step (login, servers, fetch, completeness,
    model, standard). Returns the model, and the label folder with the run.json written there
    (unfinished).
    """
    standard = standard or Standard()
    api_url = check_url(settings.api_url, "API URL")
    login_url = check_url(settings.login_url, "login URL")
    servers_api_url = settings.servers_api_url or servers_api_beside(settings.login_url)
    uses_servers_api = inventory is None or settings.completeness_check
    if uses_servers_api:  # checked before the login, like the other URLs
        servers_api_url = check_url(servers_api_url, "servers API URL")
    credentials = credentials_from_env(settings.env)
    label = str(settings.period) if settings.period else None
    label = label or label_to_resume(settings.out) or f"{generated_at:%Y-%m-%d}"
    folder = label_folder(settings.out, label)
    evidence = EvidenceStore(folder)
    client = PatchingClient(
        api_url,
        login_url,
        credentials,
        concurrency=settings.concurrency,
        timeout=settings.timeout,
        retries=settings.retries,
        evidence=evidence,
        # It counts the inventory's rows done: a server-only row may give several executions
        # (or none), so "executions" would not be what the reports count.
        progress=Progress(what="inventory rows"),
    )
    scope = Scope.of(settings.data_centers, settings.group)
    from_account = inventory is None
    record_problems: list[Problem] = []
    listings: dict[str, AccountListing] = {}
    try:
        with stage("login"):
            login = client.login()
        default_alias = settings.account or login.account_alias
        servers_api = client.servers_api(servers_api_url) if uses_servers_api else None
        if inventory is None:
            with stage("servers"), output_errors(folder):
                assert servers_api is not None  # --all-servers always uses it
                if not default_alias:
                    raise UsageError("the login does not say which account: pass --account")
                inventory, listing, record_problems = inventory_from_account(
                    servers_api, default_alias, scope, folder
                )
                listings[listing.account_alias] = listing
        check_choices(settings, inventory)  # the account's list is known only now
        targets = targets_for(inventory, default_alias)
        # The account's list is read now: check the baseline's attributes against it.
        standard = standard.for_inventory(inventory.attribute_columns)
        record = RunRecord(
            label=label,
            generated_at=generated_at,
            tool_version=__version__,
            user_name=login.user,
            inventory_name=inventory.path.name,
            inventory_sha256=inventory.sha256,
            settings={
                "period": str(settings.period) if settings.period else None,
                "title": settings.title,
                "account": default_alias,
                "api_url": api_url,
                ALL_SERVERS: from_account,
                "data_centers": sorted(scope.data_centers),
                "group": scope.group,
                **standard_settings(settings),
                **presentation_settings(settings),
            },
        )
        with output_errors(folder / RUN_RECORD):
            if not from_account:  # the account's list is in the folder already
                save_inventory(folder, inventory.path, inventory.sha256)
            for kind, kept in (
                ("baseline", standard.baseline),
                ("exceptions", standard.exceptions),
            ):
                if kept is not None:
                    record.settings[kind] = save_standard_file(folder, kind, kept.path, kept.sha256)
            write_run_record(folder, record)
        with stage("fetch"), output_errors(evidence.path):
            result = client.fetch(targets, settings.period)
        if targets and not result.executions and all_unreachable(result.problems):
            dead = next(problem for problem in result.problems if problem.cause is not None)
            raise ApiUnreachableError(
                f"could not fetch any execution from {api_url}: {dead.reason}"
            )
        with stage("completeness"), output_errors(evidence.path):
            if servers_api is not None and settings.completeness_check:
                aliases = {target.account_alias for target in targets} | set(listings)
                findings, coverage = completeness(
                    servers_api, inventory, default_alias, aliases, scope, listings
                )
            else:
                findings, coverage = not_performed(TURNED_OFF, scope)
        with stage("model"):
            model = build_report(
                inventory,
                result.executions,
                [*record_problems, *result.problems],
                period=settings.period,
                title=settings.title,
                accounts=sorted({target.account_alias for target in targets}),
                data_source=api_url,
                manifest_sha256=None,  # known once the look-back's evidence is in
                generated_at=generated_at,
                default_alias=default_alias,
                label=label,
                input_name=ACCOUNT_INPUT_NAME if from_account else None,
                completeness=(findings, coverage),
                reboot_pending_compliant=settings.reboot_pending_compliant,
                presentation=presentation_of(settings, login.user),
            )
        if standard.active:
            recording = RecordingLedger(ledger) if ledger is not None else None
            with stage("standard"), output_errors(evidence.path):
                model = measure(
                    model,
                    standard,
                    reference=reference_date(settings.period, generated_at),
                    period=settings.period,
                    fetched=result.executions,
                    fetch_earlier=lambda wanted, window, had: client.fetch(
                        wanted, window, had, progress=Progress(what="servers looked back on")
                    ),
                    ledger=recording,
                    names=standard_names(settings),
                )
                if recording is not None and recording.read:
                    # What the history said is evidence too: a re-render reads the same.
                    record.settings[LEDGER_SETTING] = save_ledger(folder, recording.entries)
        # The decoded payloads hold more memory than the model built from them: let them go
        # before the renderers (the PDF above all) need memory.
        del result
    finally:
        evidence.close()
        client.close()
        if not evidence.answered():  # the API said nothing at all: leave no label behind
            evidence.discard()
            discard_run_record(folder)
    meta = dataclasses.replace(model.meta, manifest_sha256=file_sha256(evidence.manifest_path))
    return dataclasses.replace(model, meta=meta), (folder, record)


def standard_settings(settings: RunSettings) -> dict[str, Any]:
    """What run.json records of the standard's settings (the files are added as they are
    saved)."""
    return {
        "baseline": None,
        "exceptions": None,
        "sla_days": dict(settings.sla_days),
        "reboot_pending": settings.reboot_pending,
        "baseline_lookback_months": settings.baseline_lookback_months,
    }


def standard_names(settings: RunSettings) -> tuple[str | None, str | None]:
    """The baseline's and exceptions' file names, as the title block shows them."""
    return (
        settings.baseline.name if settings.baseline else None,
        settings.exceptions.name if settings.exceptions else None,
    )


def archive_model(
    archive: LabelFolder,
    inventory: Inventory,
    *,
    period: Period | None,
    title: str,
    account: str | None,
    generated_at: datetime,
    data_source: str,
    completeness_check: bool = True,
    scope: Scope | None = None,
    settings: RunSettings | None = None,
    standard: Standard | None = None,
    ledger: LedgerReader | None = None,
    presentation: Presentation | None = None,
) -> ReportModel:
    """The model of a run rebuilt from its evidence, with the same rules as over the network.

    Rows without an account alias take ``account``, else the archive's one alias. The
    completeness check is read from the servers API's saved answers (``scope``: as the run
    recorded it, unless given). ``presentation`` carries the user's choices (sign-off, time
    zone, grouping, columns). Measured against ``standard`` (judged with ``settings``) as the
    run was: the look-back reads what the run saved, and, without a period, the reference
    date is the run's own.
    """
    settings = settings or RunSettings(inventory=None)
    standard = standard or Standard()
    default_alias = account or manifest_alias(archive.manifest)
    targets = targets_for(inventory, default_alias)
    source = ArchiveSource.open(archive.path)
    result = fetch_executions(source, targets, period)
    label = archive.label if period is None or archive.label == str(period) else None
    scope = scope if scope is not None else recorded_scope(archive.record)
    if completeness_check:
        aliases = {target.account_alias for target in targets}
        checked = archived_completeness(archive.path, inventory, default_alias, aliases, scope)
    else:
        checked = not_performed(TURNED_OFF, scope)
    from_account = archive.record is not None and archive.record.settings.get(ALL_SERVERS) is True
    model = build_report(
        inventory,
        result.executions,
        result.problems,
        period=period,
        title=title,
        accounts=sorted({target.account_alias for target in targets}),
        data_source=data_source,
        manifest_sha256=file_sha256(archive.manifest),
        generated_at=generated_at,
        default_alias=default_alias,
        label=label,
        input_name=ACCOUNT_INPUT_NAME if from_account else None,
        completeness=checked,
        reboot_pending_compliant=settings.reboot_pending_compliant,
        presentation=presentation,
    )
    if not standard.active:
        return model
    ran_at = archive.record.generated_at if archive.record is not None else generated_at
    # The history ledger as the run read it, when it kept it; else the store's.
    ledger = saved_ledger(archive.path, archive.record) or ledger
    return measure(
        model,
        standard,
        reference=reference_date(period, ran_at),
        period=period,
        fetched=result.executions,
        fetch_earlier=lambda wanted, window, had: fetch_executions(
            source, wanted, window, skip=had
        ),
        ledger=ledger,
        names=standard_names(settings),
        from_archive=True,
    )


def check_choices(settings: RunSettings, inventory: Inventory) -> None:
    """Raise a UsageError if ``--group-by`` or ``--columns`` names an attribute the inventory
    lacks (before anything is fetched)."""
    resolve_attributes(inventory.attribute_columns, settings.group_by, "--group-by")
    resolve_attributes(inventory.attribute_columns, settings.columns or (), "--columns")


def presentation_of(settings: RunSettings, user_name: str | None) -> Presentation:
    """The user's choices for the reports. "Prepared by" is ``prepared_by`` from the config,
    else ``user_name`` (the Login API's userName of the run, kept in its run.json)."""
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


def recorded_scope(record: RunRecord | None) -> Scope:
    """The completeness check's scope a run recorded in its run.json (the whole account if
    none, or if what it holds is not a scope)."""
    if record is None:
        return Scope()
    data_centers = record.settings.get("data_centers") or []
    group = record.settings.get("group")
    if not isinstance(data_centers, list) or not all(isinstance(d, str) for d in data_centers):
        data_centers = []
    return Scope.of(data_centers, group if isinstance(group, str) else None)


def presentation_settings(settings: RunSettings) -> dict[str, object]:
    """The run.json settings that say how the reports present the figures (time zone,
    grouping, columns, sign-off, classification), so that a re-render looks the same."""
    return {
        "timezone": settings.timezone,
        "group_by": list(settings.group_by),
        "columns": None if settings.columns is None else list(settings.columns),
        "prepared_by": settings.prepared_by,
        "reviewed_by": settings.reviewed_by,
        "approved_by": settings.approved_by,
        "classification": settings.classification,
    }


def recorded_presentation(settings: RunSettings, record: RunRecord) -> dict[str, Any]:
    """The presentation settings of the archived run that the user did not choose again."""
    recorded = record.settings
    chosen: dict[str, Any] = {}
    for name in PRESENTATION_SETTINGS:
        if name in settings.given or name not in recorded:
            continue
        value = recorded[name]
        if name == "group_by":
            value = tuple(value or ())
        elif name == "columns" and value is not None:
            value = tuple(value)
        elif name == "timezone" and not value:
            continue
        chosen[name] = value
    return chosen


def with_recorded_settings(settings: RunSettings, archive: LabelFolder) -> RunSettings:
    """``settings`` with what the archived run used wherever the user chose nothing: its
    period, title, account and scope, and the standard it was measured against (the saved
    copies of its baseline and exceptions files, checked against run.json).

    Raises:
        ArchiveError: a saved copy is missing or changed.
    """
    record = archive.record
    assert record is not None
    given = settings.given
    scope = recorded_scope(record)
    recorded = record.settings

    def chosen(name: str, value: Any) -> Any:
        return getattr(settings, name) if name in given or value is None else value

    files = {
        kind: chosen(kind, saved_standard_file(archive.path, record, kind))
        for kind in STANDARD_FILES
    }
    days = recorded.get("sla_days")
    return dataclasses.replace(
        settings,
        **recorded_presentation(settings, record),
        period=settings.period if "period" in given else record.period,
        title=settings.title if "title" in given or not record.title else record.title,
        account=settings.account if "account" in given or not record.account else record.account,
        data_centers=settings.data_centers
        if "data_center" in given
        else tuple(sorted(scope.data_centers)),
        group=settings.group if "group" in given else scope.group,
        baseline=files["baseline"],
        exceptions=files["exceptions"],
        sla_days=chosen("sla_days", {**DEFAULT_SLA_DAYS, **days} if days else None),
        reboot_pending=chosen("reboot_pending", recorded.get("reboot_pending")),
        baseline_lookback_months=chosen(
            "baseline_lookback_months", recorded.get("baseline_lookback_months")
        ),
    )


def inventory_path(settings: RunSettings, archive: LabelFolder | None) -> Path:
    """The inventory to read: the one given, else the copy the archived run saved.

    Raises:
        UsageError: none given, and the archive has no run.json (an older archive).
        ArchiveError: the saved copy is missing or changed.
    """
    if settings.inventory is not None:
        return settings.inventory
    if archive is None or archive.record is None:
        where = archive.path if archive is not None else settings.from_archive
        raise UsageError(
            f"{where} has no {RUN_RECORD} (an archive from an older reporter): give the "
            "inventory CSV, and --period if the run had one"
        )
    return saved_inventory(archive.path, archive.record)


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


def file_sha256(path: Path | None) -> str | None:
    """SHA-256 of a file's bytes, or None when there is no such file."""
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_alias(manifest: Path) -> str | None:
    """The account alias an archive was fetched under, when its manifest holds exactly one."""
    try:
        entries = decode_json(manifest.read_bytes())["entries"]
        aliases = {entry.get("account_alias") for entry in entries} - {None}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return aliases.pop() if len(aliases) == 1 else None
