"""Derived patch data (SPEC 3): titles, KB numbers, classifications, results and outcomes.

Titles and end messages repeat massively across a fleet (the same KB on every server, "Result
Code: 2" on almost every patch), so every derivation here runs once per *distinct* value and is
then spread back over the rows with the factorize codes. A million patch rows typically carry a
few thousand distinct titles and a few dozen distinct end messages.
"""

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple, cast

import numpy as np
import pandas as pd

from reporter.codes import HRESULTS, RESULT_CODES, format_hresult, parse_end_message

CLASSIFICATIONS = [
    "Security Monthly Quality Rollup",
    "Monthly Quality Rollup",
    "Servicing Stack Update",
    "Cumulative Update",
    "Security Update",
    "Definition Update",
    "Service Pack",
    "Feature Pack",
    "Driver",
    "Update",
    "Linux package",
    "Other",
]
# Tested in this order: the first match wins, so the specific names come before "Update".
# "Security Intelligence Update" is Microsoft's newer name for Defender's "Definition Update":
# one class, called "Definition Update".
# Rules are matched against the lower-cased title with single spaces: a tuple of phrases (any
# of them) or a regular expression.
_CLASS_RULES: list[tuple[str, tuple[str, ...] | re.Pattern]] = [
    ("Security Monthly Quality Rollup", ("security monthly quality rollup",)),
    ("Monthly Quality Rollup", ("monthly quality rollup",)),
    ("Servicing Stack Update", ("servicing stack update",)),
    ("Cumulative Update", ("cumulative update",)),
    ("Definition Update", ("definition update", "security intelligence update")),
    ("Security Update", re.compile(r"security (?:only )?(?:quality )?update")),
    ("Service Pack", ("service pack",)),
    ("Feature Pack", ("feature pack",)),
    ("Driver", re.compile(r"\bdrivers?\b")),
    # Windows Update names drivers "<manufacturer> - <driver class> - <version>".
    ("Driver", re.compile(r"^.+ - [a-z][a-z ]* - \d+(?:\.\d+)+$")),
    ("Update", re.compile(r"\bupdate\b")),
]
RPM_ARCHES = "x86_64|i686|noarch|aarch64|ppc64le|s390x|i386"
# name-version-release.arch; version and release never contain "-", so the name takes the rest.
_RPM = re.compile(
    rf"(?P<name>\S+)-(?P<version>[^\s-]+)-(?P<release>[^\s-]+)\.(?P<arch>{RPM_ARCHES})"
)
_INSTALLING = re.compile(r"^\s*installing\b\s*:?\s*", re.I)
_KB = re.compile(r"(?<![A-Za-z0-9])KB\s?(\d{6,8})(?!\d)|/kb/(\d{6,8})(?!\d)", re.I)
_KB_IN_PARENS = re.compile(r"\(\s*KB\s?(\d{6,8})(?!\d)", re.I)
# A KB number as the derived fields write it (``KB3135998``): what the reports link.
KB_NUMBER = re.compile(r"KB(\d{6,8})")

OUTCOMES = ["succeeded", "warning", "failed", "in progress"]
RESULTS = [RESULT_CODES[code].name for code in sorted(RESULT_CODES)] + ["Unknown"]
NO_TITLE_KEY = "(no title)"
_STATUS_CODE = {"pending": 0, "running": 1, "completed": 2, "failed": 3, "unknown": 4}


@dataclass(frozen=True, slots=True)
class TitleFacts:
    """What a patch title says: the clean title, KB numbers, class and RPM parts."""

    title: str | None
    kb: str | None
    kbs: str | None
    classification: str
    patch_key: str
    rpm: tuple[str, str, str, str] | None


class EndMessageFacts(NamedTuple):
    """What a ``patch_end_message`` says: the result and the HRESULT, if any."""

    result_code: int | None
    result: str
    result_meaning: str
    hresult: str | None
    hresult_name: str | None
    hresult_meaning: str | None
    reboot_required: bool


def clean_title(message: str | None) -> str | None:
    """``patch_begin_message`` without the leading ``Installing`` / ``Installing:``.

    >>> clean_title("Installing: Security Update for Windows Server 2016 (KB3135998)")
    'Security Update for Windows Server 2016 (KB3135998)'
    """
    if message is None:
        return None
    installing = _INSTALLING.match(message)
    title = (message[installing.end() :] if installing else message).strip()
    return title or None


def kb_numbers(text: str) -> list[str]:
    """Every KB number in ``text``, in order, without repeats, written ``KB1234567``.

    >>> kb_numbers("Update for Windows (KB2961858) sans KB 2919355, see /kb/2961858")
    ['KB2961858', 'KB2919355']
    """
    found = dict.fromkeys("KB" + (a or b) for a, b in _KB.findall(text))
    return list(found)


def primary_kb(text: str, kbs: list[str]) -> str | None:
    """The KB in parentheses if there is one, else the first KB (None without any)."""
    in_parens = _KB_IN_PARENS.search(text)
    if in_parens:
        return "KB" + in_parens.group(1)
    return kbs[0] if kbs else None


def classify(title: str | None) -> tuple[str, tuple[str, str, str, str] | None]:
    """The classification of a title, and (name, version, release, arch) for an RPM.

    >>> classify("kernel-3.10.0-1160.102.1.el7.x86_64")
    ('Linux package', ('kernel', '3.10.0', '1160.102.1.el7', 'x86_64'))
    >>> classify("2026-10 Cumulative Update for Windows Server 2022 (KB5031364)")[0]
    'Cumulative Update'
    """
    if not title:
        return "Other", None
    return _classify(title, " ".join(title.lower().split()))


def _classify(title: str, low: str) -> tuple[str, tuple[str, str, str, str] | None]:
    """:func:`classify` given the title in lower case with single spaces as well."""
    if " " not in title:  # an RPM name never has spaces
        rpm = _RPM.fullmatch(title)
        if rpm:
            return "Linux package", (rpm["name"], rpm["version"], rpm["release"], rpm["arch"])
    for name, rule in _CLASS_RULES:
        if isinstance(rule, tuple):
            for phrase in rule:
                if phrase in low:
                    return name, None
        elif rule.search(low):
            return name, None
    return "Other", None


def title_facts(message: str | None) -> TitleFacts:
    """Everything derived from one ``patch_begin_message``."""
    title = clean_title(message)
    if title is None:
        return TitleFacts(None, None, None, "Other", NO_TITLE_KEY, None)
    low = " ".join(title.lower().split())
    kbs = kb_numbers(title) if "kb" in low else []
    kb = primary_kb(title, kbs) if kbs else None
    classification, rpm = _classify(title, low)
    return TitleFacts(
        title=title,
        kb=kb,
        kbs=";".join(kbs) or None,
        classification=classification,
        patch_key=kb or (f"{rpm[0]}.{rpm[3]}" if rpm else title) or NO_TITLE_KEY,
        rpm=rpm,
    )


def derive_titles(codes: np.ndarray, messages: list[str | None]) -> dict[str, pd.Categorical]:
    """Title columns for every row: title, kb, kbs, classification, patch_key, rpm_*.

    ``messages`` are the distinct ``patch_begin_message`` values and ``codes`` say which one
    each row has.
    """
    facts = [title_facts(text) for text in messages]
    columns = {
        "title": categorical(codes, [f.title for f in facts]),
        "kb": categorical(codes, [f.kb for f in facts]),
        "kbs": categorical(codes, [f.kbs for f in facts]),
        "classification": categorical(codes, [f.classification for f in facts], CLASSIFICATIONS),
        "patch_key": categorical(codes, [f.patch_key for f in facts]),
    }
    for position, part in enumerate(["rpm_name", "rpm_version", "rpm_release", "rpm_arch"]):
        columns[part] = categorical(codes, [f.rpm[position] if f.rpm else None for f in facts])
    return columns


def derive_results(codes: np.ndarray, messages: list[str | None]) -> dict[str, object]:
    """Result and HRESULT columns for every row, from the distinct ``patch_end_message`` values."""
    facts = [end_message_facts(text) for text in messages]
    result_code = pd.array([f.result_code for f in facts], dtype="Int8").take(codes)
    reboot = pd.array([f.reboot_required for f in facts], dtype="boolean").take(codes)
    return {
        "end_message": categorical(codes, messages),
        "result_code": result_code,
        "result": categorical(codes, [f.result for f in facts], RESULTS),
        "result_meaning": categorical(codes, [f.result_meaning for f in facts]),
        "hresult": categorical(codes, [f.hresult for f in facts]),
        "hresult_name": categorical(codes, [f.hresult_name for f in facts]),
        "hresult_meaning": categorical(codes, [f.hresult_meaning for f in facts]),
        "reboot_required": reboot,
    }


def end_message_facts(text: str | None) -> EndMessageFacts:
    """Everything derived from one ``patch_end_message``.

    >>> end_message_facts("Result Code: 4, HResult: 0x80240022").hresult_name
    'WU_E_ALL_UPDATES_FAILED'
    """
    code, hresult = parse_end_message(text)
    result_code = None
    if code in RESULT_CODES:
        result_code, result, meaning = code, RESULT_CODES[code].name, RESULT_CODES[code].meaning
    elif code is None:
        result, meaning = "Unknown", "no result code in the message"
    else:
        result, meaning = "Unknown", f"result code {code} is not a Windows Update result code"
    if hresult is None:
        return EndMessageFacts(result_code, result, meaning, None, None, None, False)
    shown = format_hresult(hresult)
    entry = HRESULTS.get(hresult)
    if entry is None:
        return EndMessageFacts(result_code, result, meaning, shown, "", "not in the table", False)
    return EndMessageFacts(
        result_code, result, meaning, shown, entry.name, entry.meaning, entry.reboot_required
    )


def judge_outcomes(
    result_code: pd.api.extensions.ExtensionArray,
    reboot_required: pd.api.extensions.ExtensionArray,
    patch_status: pd.Categorical,
) -> tuple[pd.Categorical, np.ndarray]:
    """Each attempt's outcome, and where it could not be told.

    The rule is written out for readers in :data:`reporter.methodology.OUTCOME_RULE`.

    Returns the outcome column and a boolean array marking the attempts that had neither a
    result code nor a known status (counted as warnings, to be listed as problems).
    """
    code = np.asarray(result_code.fillna(-1), dtype=np.int16)
    reboot = np.asarray(reboot_required.fillna(False), dtype=bool)
    status = np.asarray(patch_status.codes)
    unknown_code = code < 0
    completed = status == _STATUS_CODE["completed"]
    untold = unknown_code & (status == _STATUS_CODE["unknown"])
    conditions = [
        (code == 2) & ~reboot,
        (code == 2) & reboot,
        code == 3,
        np.isin(code, (0, 4, 5)),
        code == 1,
        unknown_code & completed & ~reboot,
        unknown_code & completed & reboot,
        unknown_code & (status == _STATUS_CODE["failed"]),
        untold,
    ]
    choices = [0, 1, 1, 2, 3, 0, 1, 2, 1]  # positions in OUTCOMES
    outcome = np.select(conditions, choices, default=OUTCOMES.index("in progress"))
    outcomes = pd.Categorical.from_codes(outcome.astype(np.int8), categories=pd.Index(OUTCOMES))
    return cast(pd.Categorical, outcomes), untold  # pandas-stubs: Categorical[str], invariant


def factorize(values: list[str | None]) -> tuple[np.ndarray, list[str | None]]:
    """(codes, distinct values in order of appearance) for a list of text or None.

    A dict that numbers each new key as it is first seen does this in C, several times
    faster than ``pd.factorize`` on an object array; None is simply one more distinct value.
    """
    table: defaultdict[str | None, int] = defaultdict()
    table.default_factory = table.__len__  # a new key gets the next number
    codes = np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values))
    return codes, list(table)


def categorical(
    codes: np.ndarray, uniques: list, categories: list[str] | None = None
) -> pd.Categorical:
    """A categorical of ``uniques[code]`` for each code; None becomes missing.

    Categories are the distinct values sorted (so that sorting by the column sorts by text),
    unless ``categories`` fixes them.
    """
    if categories is None:
        categories = sorted({value for value in uniques if value is not None})
    position = {value: n for n, value in enumerate(categories)}
    remap = np.array([position.get(value, -1) for value in uniques], dtype=np.int64)
    full = remap[codes] if len(remap) else np.full(len(codes), -1, dtype=np.int64)
    column = pd.Categorical.from_codes(full, categories=pd.Index(categories), validate=False)
    return cast(pd.Categorical, column)  # pandas-stubs: Categorical[str], invariant
