"""Derived patch data (SPEC 3): titles, KBs, classifications, results, HRESULTs, outcomes."""

import numpy as np
import pandas as pd
import pytest

from reporter.derive import (
    categorical,
    classify,
    clean_title,
    derive_results,
    derive_titles,
    factorize,
    judge_outcomes,
    kb_numbers,
    primary_kb,
    title_facts,
)
from reporter.methodology import OUTCOME_RULE
from reporter.parse import STATUSES


def objects(*values) -> tuple[np.ndarray, list]:
    """Factorized text, as the frames hand it to the derivations."""
    return factorize(list(values))


@pytest.mark.parametrize(
    ("message", "title"),
    [
        (
            "Installing Security Update for Windows (KB3135998)",
            "Security Update for Windows (KB3135998)",
        ),
        ("Installing: openssl-libs-1.0.2k-26.el7_9.x86_64", "openssl-libs-1.0.2k-26.el7_9.x86_64"),
        ("  installing   Update for Windows (KB2961858)", "Update for Windows (KB2961858)"),
        ("Update for Windows (KB2961858)", "Update for Windows (KB2961858)"),
        ("Installation Tool for Windows", "Installation Tool for Windows"),
        ("Installing", None),
        ("", None),
        (None, None),
    ],
)
def test_clean_title(message, title):
    assert clean_title(message) == title


@pytest.mark.parametrize(
    ("text", "kbs", "primary"),
    [
        ("Security Update for Windows Server 2012 R2 (KB3135998)", ["KB3135998"], "KB3135998"),
        ("Update for Windows (KB2961858) sans KB2919355", ["KB2961858", "KB2919355"], "KB2961858"),
        ("Needs KB2919355 first (KB2961858)", ["KB2919355", "KB2961858"], "KB2961858"),
        ("Definition Update - KB2267602 (Definition 1.401.123.0)", ["KB2267602"], "KB2267602"),
        ("Hotfix kb 3135998 and KB3135998 again", ["KB3135998"], "KB3135998"),
        ("See https://support.microsoft.com/en-us/kb/3127231 ##", ["KB3127231"], "KB3127231"),
        ("Rollup (KB 5031419)", ["KB5031419"], "KB5031419"),
        ("KB12345 is too short, KB123456789 too long", [], None),
        ("openssl-libs-1.0.2k-26.el7_9.x86_64", [], None),
    ],
)
def test_kb_numbers_and_primary(text, kbs, primary):
    assert kb_numbers(text) == kbs
    assert primary_kb(text, kbs) == primary


def test_two_kb_title_facts():
    facts = title_facts("Installing Update for Windows (KB2961858) sans KB2919355")
    assert (facts.kb, facts.kbs, facts.patch_key) == (
        "KB2961858",
        "KB2961858;KB2919355",
        "KB2961858",
    )


@pytest.mark.parametrize(
    ("title", "classification"),
    [
        (
            "2026-10 Security Monthly Quality Rollup for Windows Server 2012 R2 for x64-based "
            "Systems (KB5031419)",
            "Security Monthly Quality Rollup",
        ),
        (
            "2026-10 Monthly Quality Rollup for Windows Server 2012 R2 (KB5031420)",
            "Monthly Quality Rollup",
        ),
        (
            "2026-10 Servicing Stack Update for Windows Server 2019 (KB5031589)",
            "Servicing Stack Update",
        ),
        (
            "2026-10 Cumulative Update for Windows Server 2022 for x64-based Systems (KB5031364)",
            "Cumulative Update",
        ),
        (
            "2026-10 Cumulative Update for .NET Framework 3.5 and 4.8 for Windows Server 2019 "
            "(KB5031005)",
            "Cumulative Update",
        ),
        ("Cumulative Security Update for Internet Explorer 11 (KB3124275)", "Security Update"),
        ("Security Update for Windows Server 2016 (KB5031362)", "Security Update"),
        (
            "2026-10 Security Only Quality Update for Windows Server 2012 R2 (KB5031407)",
            "Security Update",
        ),
        (
            "Definition Update for Windows Defender Antivirus - KB2267602 (Definition 1.401.123.0)",
            "Definition Update",
        ),
        (
            "Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 "
            "(Version 1.403.1234.0)",
            "Definition Update",
        ),
        ("Microsoft SQL Server 2016 Service Pack 3 (KB5003279)", "Service Pack"),
        ("Windows Server 2008 R2 Feature Pack (KB2483139)", "Feature Pack"),
        ("Microsoft driver update for VMware SVGA 3D", "Driver"),
        ("VMware, Inc. - Display - 9.17.4.3", "Driver"),
        ("Update for Windows (KB2961858) sans KB2919355", "Update"),
        ("Windows Malicious Software Removal Tool x64 - v5.125 (KB890830)", "Other"),
        ("kernel-3.10.0-1160.102.1.el7.x86_64", "Linux package"),
        ("", "Other"),
        (None, "Other"),
    ],
)
def test_classification(title, classification):
    assert classify(title)[0] == classification


@pytest.mark.parametrize(
    ("title", "parts"),
    [
        ("kernel-3.10.0-1160.102.1.el7.x86_64", ("kernel", "3.10.0", "1160.102.1.el7", "x86_64")),
        ("openssl-libs-1.0.2k-26.el7_9.x86_64", ("openssl-libs", "1.0.2k", "26.el7_9", "x86_64")),
        ("tzdata-2023c-1.el7.noarch", ("tzdata", "2023c", "1.el7", "noarch")),
        ("glibc-2.28-225.el8.i686", ("glibc", "2.28", "225.el8", "i686")),
        ("bash-5.1.8-6.el9.aarch64", ("bash", "5.1.8", "6.el9", "aarch64")),
        ("kernel-3.10.0-1160.el7.sparc", None),
        ("not a package", None),
    ],
)
def test_rpm_parts(title, parts):
    assert classify(title)[1] == parts


def test_derive_titles_spreads_unique_results_over_rows():
    messages = objects(
        "Installing Update for Windows (KB2961858) sans KB2919355",
        "Installing: kernel-3.10.0-1160.102.1.el7.x86_64",
        None,
        "Installing Update for Windows (KB2961858) sans KB2919355",
    )
    columns = derive_titles(*messages)
    assert columns["kb"].tolist()[::3] == ["KB2961858", "KB2961858"]
    assert columns["patch_key"].tolist() == [
        "KB2961858",
        "kernel.x86_64",
        "(no title)",
        "KB2961858",
    ]
    assert pd.isna(columns["title"][2])
    assert columns["classification"].tolist() == ["Update", "Linux package", "Other", "Update"]
    assert columns["rpm_name"].tolist()[1] == "kernel"
    assert columns["rpm_release"].tolist()[1] == "1160.102.1.el7"


@pytest.mark.parametrize(
    ("code", "result", "meaning_part"),
    [
        (0, "Not started", "not started"),
        (1, "In progress", "in progress"),
        (2, "Succeeded", "completed successfully"),
        (3, "Succeeded with errors", "errors occurred"),
        (4, "Failed", "failed"),
        (5, "Aborted", "aborted"),
    ],
)
def test_each_result_code(code, result, meaning_part):
    columns = derive_results(*objects(f"Result Code: {code}"))
    assert columns["result_code"][0] == code
    assert columns["result"][0] == result
    assert meaning_part in columns["result_meaning"][0]
    assert pd.isna(columns["hresult"][0])  # "Result Code: 2" is not HRESULT 0x00240002


@pytest.mark.parametrize("message", ["", None, "Updating", "Result Code: 9"])
def test_unknown_result_keeps_the_raw_message(message):
    columns = derive_results(*objects(message))
    assert pd.isna(columns["result_code"][0])
    assert columns["result"][0] == "Unknown"
    assert "result code" in columns["result_meaning"][0]
    if message is None:
        assert pd.isna(columns["end_message"][0])
    else:
        assert columns["end_message"][0] == message


@pytest.mark.parametrize(
    "message",
    [
        "Result Code: 4, HResult: 0x80240022",
        "Result Code: 4 HRESULT -2145124318",
        "Result Code: 4 (2149842978)",
        "Result Code: 4 - 0x80240022",
        "0x80240022",
    ],
)
def test_each_hresult_form_normalises(message):
    columns = derive_results(*objects(message))
    assert columns["hresult"][0] == "0x80240022"
    assert columns["hresult_name"][0] == "WU_E_ALL_UPDATES_FAILED"
    assert not columns["reboot_required"][0]


def test_unknown_hresult_and_reboot_required():
    columns = derive_results(
        *objects("Result Code: 4, HResult: 0x8024ABCD", "Result Code: 2, HResult: 0x00240005")
    )
    assert columns["hresult"].tolist() == ["0x8024ABCD", "0x00240005"]
    assert columns["hresult_name"].tolist() == ["", "WU_S_REBOOT_REQUIRED"]
    assert columns["hresult_meaning"][0] == "not in the table"
    assert columns["reboot_required"].tolist() == [False, True]


OUTCOME_CASES = [
    # (result code, reboot required, patch status) -> outcome
    (2, False, "completed", "succeeded"),
    (2, True, "completed", "warning"),
    (3, False, "completed", "warning"),
    (4, False, "failed", "failed"),
    (5, False, "failed", "failed"),
    (0, False, "completed", "failed"),
    (1, False, "running", "in progress"),
    (4, True, "failed", "failed"),
    (None, False, "completed", "succeeded"),
    (None, True, "completed", "warning"),
    (None, False, "failed", "failed"),
    (None, False, "pending", "in progress"),
    (None, False, "running", "in progress"),
    (None, False, "unknown", "warning"),
]


def test_outcome_rules():
    codes = pd.array([case[0] for case in OUTCOME_CASES], dtype="Int8")
    reboot = pd.array([case[1] for case in OUTCOME_CASES], dtype="boolean")
    status = pd.Categorical([case[2] for case in OUTCOME_CASES], categories=STATUSES)
    outcome, untold = judge_outcomes(codes, reboot, status)
    assert outcome.tolist() == [case[3] for case in OUTCOME_CASES]
    assert untold.tolist() == [case[0] is None and case[2] == "unknown" for case in OUTCOME_CASES]
    assert "counts as a warning" in OUTCOME_RULE


def test_categorical_maps_codes_sorts_categories_and_keeps_fixed_ones():
    column = categorical(np.array([1, 0, 2, 1]), ["b", "a", None])
    assert column.tolist()[:2] == ["a", "b"]
    assert list(column.categories) == ["a", "b"]
    assert pd.isna(column[2])
    fixed = categorical(np.array([0, 1]), ["y", "x"], categories=["x", "y", "z"])
    assert list(fixed.categories) == ["x", "y", "z"]
    assert fixed.tolist() == ["y", "x"]
