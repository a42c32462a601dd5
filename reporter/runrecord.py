"""Evidence by label, and the run.json that lets a run be redone without its command line.

Layout of an output folder::

    {out}/evidence/{label}/manifest.json ...   every API answer of the run (fetch.evidence)
    {out}/evidence/{label}/run.json            the run: settings, inventory, login, finished
    {out}/evidence/{label}/_input/{name}       a copy of the inventory file it read
    {out}/evidence/{label}/_input/baseline/... a copy of the baseline (and exceptions/) it used
    {out}/evidence/{label}/ledger.json         the history ledger entries the baseline read
    {out}/history.sqlite                       the history store (reporter.history)

A label is the period (``2026-10``) or, without ``--period``, the run's date (``2026-11-26``):
each run resumes and attaches only its own label's evidence. Archives written before labels
existed keep one manifest in ``{out}/evidence/`` itself (the flat layout); they still read, as
a folder without a label and without run.json.
"""

import hashlib
import json
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from reporter.errors import ArchiveError, InventoryError
from reporter.fetch.contract import decode_json, parse_time
from reporter.fetch.evidence import MANIFEST, utc_text
from reporter.fileio import atomic_write_bytes
from reporter.records import ALIAS_PATTERN, Period

EVIDENCE = "evidence"
RUN_RECORD = "run.json"
SAVED_INPUT = "_input"  # cannot be an account alias (letters and digits only)
STANDARD_FILES = ("baseline", "exceptions")  # kept in _input/{kind}/ beside the inventory
LEDGER_FILE = "ledger.json"  # the history ledger entries a baseline was judged on
RECORD_FORMAT = 1  # raised only when a reader of an older format could misread the file
LABEL = re.compile(r"\d{4}-\d{2}(-\d{2})?")
DATE_LABEL = re.compile(r"\d{4}-\d{2}-\d{2}")
RECORD_MAX_BYTES = 1024 * 1024
NAME_LISTS = ("group_by", "columns", "data_centers")


@dataclass(frozen=True)
class RunRecord:
    """What ``evidence/{label}/run.json`` says about the run that wrote that folder.

    ``settings`` holds what shapes the figures (``period``, ``title``, ``account``: the alias
    for rows without one, ``api_url``) and how the reports present them
    (:data:`reporter.config.PRESENTATION_SETTINGS`); it grows with new settings, and a reader
    ignores keys it does not know.
    """

    label: str
    generated_at: datetime
    tool_version: str
    finished: bool = False
    user_name: str | None = None  # the Login API's userName ("Prepared by")
    inventory_name: str | None = None  # the inventory file's name, as given
    inventory_sha256: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def period(self) -> Period | None:
        """The month the run was limited to, if any."""
        text = self.settings.get("period")
        return Period.parse(text) if text else None

    @property
    def title(self) -> str | None:
        """The report title the run used."""
        return self.settings.get("title")

    @property
    def account(self) -> str | None:
        """The account alias used for inventory rows without one."""
        return self.settings.get("account")

    def to_json(self) -> bytes:
        """The record as run.json's bytes."""
        document = {
            "format": RECORD_FORMAT,
            "label": self.label,
            "generated_at": utc_text(self.generated_at),
            "tool_version": self.tool_version,
            "finished": self.finished,
            "user_name": self.user_name,
            "inventory": None
            if self.inventory_name is None
            else {"name": self.inventory_name, "sha256": self.inventory_sha256},
            "settings": self.settings,
        }
        return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, where: Path) -> "RunRecord":
        """Read run.json's bytes; ``where`` names the file in errors.

        Raises:
            ArchiveError: not a run record this version can read.
        """
        try:
            document = decode_json(data)
            if not isinstance(document, dict):
                raise ValueError("not a JSON object")
            if not isinstance(document.get("format"), int) or document["format"] > RECORD_FORMAT:
                raise ValueError("written by a newer reporter, or not a run record")
            settings = document.get("settings") or {}
            inventory = document.get("inventory") or {}
            if not isinstance(settings, dict) or not isinstance(inventory, dict):
                raise ValueError("settings and inventory must be objects")
            record = cls(
                label=_label(document.get("label")),
                generated_at=_moment(document.get("generated_at")),
                tool_version=str(document.get("tool_version") or ""),
                finished=document.get("finished") is True,
                user_name=_optional_text(document.get("user_name")),
                inventory_name=_file_name(inventory.get("name")),
                inventory_sha256=_optional_text(inventory.get("sha256")),
                settings=_settings(settings),
            )
        except (ValueError, TypeError) as error:
            raise ArchiveError(f"run record {where} cannot be read: {error}") from None
        return record


def _label(value: Any) -> str:
    if not isinstance(value, str) or not LABEL.fullmatch(value):
        raise ValueError(f"label {value!r} is not a month or a date")
    return value


def _moment(value: Any) -> datetime:
    moment = parse_time(value)
    if moment is None:
        raise ValueError(f"generated_at {value!r} is not a time")
    return moment


def _optional_text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def _file_name(value: Any) -> str | None:
    """A saved inventory's name: one plain file name, nothing that leaves the folder."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or value in ("", ".", "..")
        or any(mark in value for mark in ("/", "\\", "\0"))
    ):
        raise ValueError(f"inventory name {value!r} is not a file name")
    return value


def _settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings, with the ones this version uses checked."""
    texts = ("period", "title", "account", "api_url", "reboot_pending", "timezone", "prepared_by")
    for key in (*texts, "reviewed_by", "approved_by", "classification"):
        if settings.get(key) is not None and not isinstance(settings[key], str):
            raise ValueError(f"setting {key} is not text")
    for key in NAME_LISTS:
        value = settings.get(key)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(item, str) for item in value)
        ):
            raise ValueError(f"setting {key} is not a list of names")
    if settings.get("timezone"):
        try:
            zoneinfo.ZoneInfo(settings["timezone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"timezone {settings['timezone']!r} is not a time zone") from None
    for kind in STANDARD_FILES:
        saved = settings.get(kind)
        if saved is not None and not (
            isinstance(saved, dict)
            and _file_name(saved.get("name"))
            and isinstance(saved.get("sha256"), str)
        ):
            raise ValueError(f"setting {kind} is not a saved file's name and SHA-256")
    days = settings.get("sla_days")
    if days is not None and not (
        isinstance(days, dict)
        and all(isinstance(n, int) and not isinstance(n, bool) for n in days.values())
    ):
        raise ValueError("setting sla_days is not a table of days")
    months = settings.get("baseline_lookback_months")
    if months is not None and (isinstance(months, bool) or not isinstance(months, int)):
        raise ValueError("setting baseline_lookback_months is not a whole number")
    if settings.get("period"):
        try:
            Period.parse(settings["period"])
        except Exception:
            raise ValueError(f"period {settings['period']!r} is not a month") from None
    if settings.get("account") and not ALIAS_PATTERN.fullmatch(settings["account"]):
        raise ValueError(f"account {settings['account']!r} is not an account alias")
    return dict(settings)


def label_folder(out: Path, label: str) -> Path:
    """Where a run into ``out`` labelled ``label`` keeps its evidence."""
    return Path(out) / EVIDENCE / label


def write_run_record(folder: Path, record: RunRecord) -> None:
    """Write ``folder/run.json`` (atomically)."""
    atomic_write_bytes(Path(folder) / RUN_RECORD, record.to_json())


def read_run_record(folder: Path) -> RunRecord | None:
    """``folder/run.json``, or None when there is none.

    Raises:
        ArchiveError: it exists but cannot be read.
    """
    path = Path(folder) / RUN_RECORD
    if not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            data = handle.read(RECORD_MAX_BYTES + 1)
    except OSError as error:
        raise ArchiveError(f"run record {path} cannot be read: {error.strerror}") from None
    if len(data) > RECORD_MAX_BYTES:
        raise ArchiveError(f"run record {path} is too large to be one")
    return RunRecord.from_json(data, path)


def save_inventory(folder: Path, source: Path, sha256: str) -> None:
    """Keep a copy of the inventory file ``source`` (whose SHA-256 is ``sha256``) in ``folder``.

    Raises:
        InventoryError: the file changed since it was read.
    """
    _keep_copy(Path(source), sha256, Path(folder) / SAVED_INPUT / Path(source).name)


def save_standard_file(folder: Path, kind: str, source: Path, sha256: str) -> dict[str, str]:
    """Keep a copy of the ``kind`` file (``baseline`` or ``exceptions``) the run measured
    against, in ``folder/_input/{kind}/``; return what run.json records of it.

    Raises:
        InventoryError: the file changed since it was read.
    """
    source = Path(source)
    _keep_copy(source, sha256, Path(folder) / SAVED_INPUT / kind / source.name)
    return {"name": source.name, "sha256": sha256}


def _keep_copy(source: Path, sha256: str, target: Path) -> None:
    try:
        data = source.read_bytes()
    except OSError as error:
        raise InventoryError(f"cannot read {source} again to keep a copy: {error}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise InventoryError(f"{source} changed while the run read it; run again")
    atomic_write_bytes(target, data)


def saved_standard_file(folder: Path, record: RunRecord, kind: str) -> Path | None:
    """The copy of the ``kind`` file a run kept (None: it had none), checked against run.json.

    Raises:
        ArchiveError: the copy is missing or changed.
    """
    saved = record.settings.get(kind)
    if not saved:
        return None
    path = Path(folder) / SAVED_INPUT / kind / saved["name"]
    return _checked_copy(path, saved["sha256"], f"the {kind} file saved in {folder}")


def saved_inventory(folder: Path, record: RunRecord) -> Path:
    """The copy of the inventory a run kept, checked against the SHA-256 in its run.json.

    Raises:
        ArchiveError: there is none, or it changed since.
    """
    if record.inventory_name is None:
        raise ArchiveError(f"{folder / RUN_RECORD} names no saved inventory: give the inventory")
    path = Path(folder) / SAVED_INPUT / record.inventory_name
    return _checked_copy(path, record.inventory_sha256, f"the inventory saved in {folder}")


def _checked_copy(path: Path, sha256: str | None, what: str) -> Path:
    """``path``, if it still has the SHA-256 its run.json recorded."""
    try:
        data = path.read_bytes()
    except OSError:
        raise ArchiveError(f"{what} is missing ({path})") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ArchiveError(f"{what} changed since the run (its SHA-256 differs from {RUN_RECORD})")
    return path


def discard_run_record(folder: Path) -> None:
    """Remove what a run wrote besides evidence (run.json, the saved inventory) from a label
    folder that received no evidence, and the folders left empty, up to the output folder."""
    folder = Path(folder)
    (folder / RUN_RECORD).unlink(missing_ok=True)
    (folder / LEDGER_FILE).unlink(missing_ok=True)
    saved = folder / SAVED_INPUT
    if saved.is_dir():
        for kind in STANDARD_FILES:
            if (saved / kind).is_dir():
                for path in (saved / kind).iterdir():
                    path.unlink(missing_ok=True)
                (saved / kind).rmdir()
        for path in saved.iterdir():
            path.unlink(missing_ok=True)
    for empty in (saved, folder, folder.parent):
        try:
            empty.rmdir()
        except OSError:  # not empty, or not there: keep it
            if empty.exists():
                break


@dataclass(frozen=True)
class LabelFolder:
    """One run's evidence: a label folder, or an archive in the flat layout (no label)."""

    path: Path
    record: RunRecord | None
    flat: bool = False

    @property
    def label(self) -> str | None:
        """The run's label; None for a flat archive."""
        if self.record is not None:
            return self.record.label
        return None if self.flat else self.path.name

    @property
    def manifest(self) -> Path:
        """Its evidence manifest."""
        return self.path / MANIFEST


def _is_label_folder(folder: Path) -> bool:
    return (folder / RUN_RECORD).is_file() or (
        LABEL.fullmatch(folder.name) is not None and (folder / MANIFEST).is_file()
    )


def label_folders(archive: Path) -> list[LabelFolder]:
    """Every run's evidence in ``archive``, oldest label first (a flat archive before them).

    ``archive`` is an output folder, its ``evidence`` folder, one label's folder, or an
    archive in the flat layout. Only folders with a manifest count.

    Raises:
        ArchiveError: a run.json cannot be read.
    """
    archive = Path(archive)
    if _is_label_folder(archive):
        found = [LabelFolder(archive, read_run_record(archive))]
        return [folder for folder in found if folder.manifest.is_file()]
    root = archive / EVIDENCE if (archive / EVIDENCE).is_dir() else archive
    labelled = []
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if folder.is_dir() and LABEL.fullmatch(folder.name) and (folder / MANIFEST).is_file():
                labelled.append(LabelFolder(folder, read_run_record(folder)))
    flat = [LabelFolder(root, None, flat=True)] if (root / MANIFEST).is_file() else []
    return flat + sorted(labelled, key=lambda folder: folder.label or "")


def choose_label_folder(archive: Path, period: Period | None) -> LabelFolder:
    """The evidence ``--from-archive DIR`` reads: ``evidence/{period}`` with a period, else the
    newest label; a label folder given directly, or a flat archive, as it is.

    Raises:
        ArchiveError: no evidence in ``archive``, or none for ``period``.
    """
    folders = label_folders(archive)
    if not folders:
        raise ArchiveError(
            f"{archive} is not an evidence archive: no {MANIFEST} in it, in {EVIDENCE}/ or in "
            f"a label folder of {EVIDENCE}/"
        )
    labelled = [folder for folder in folders if not folder.flat]
    if len(folders) == 1 or _is_label_folder(Path(archive)):
        return folders[0]
    if period is None:
        return labelled[-1] if labelled else folders[0]
    for folder in labelled:
        if folder.label == str(period):
            return folder
    if folders[0].flat:  # an older archive: its period is the one given
        return folders[0]
    held = ", ".join(folder.label or "" for folder in labelled)
    raise ArchiveError(f"{archive} holds no evidence for {period} (it holds {held})")


def label_to_resume(out: Path) -> str | None:
    """The label a run without ``--period`` continues: the newest date label, if unfinished.

    A run that was stopped (Ctrl-C, a crash, a lost connection) resumes where it stopped the
    next time, even on another day; a finished one is not touched again.
    """
    root = Path(out) / EVIDENCE
    if not root.is_dir():
        return None
    dated = sorted(
        folder for folder in root.iterdir() if folder.is_dir() and DATE_LABEL.fullmatch(folder.name)
    )
    if not dated:
        return None
    try:
        record = read_run_record(dated[-1])
    except ArchiveError:
        record = None
    if record is not None and record.finished:
        return None
    return dated[-1].name
