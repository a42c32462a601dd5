"""Windows Update result codes and HRESULTs: the tables, the parsers and ``explain``."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporter.codes import (
    HRESULTS,
    RESULT_CODES,
    RESULT_NAMES,
    explain,
    format_hresult,
    parse_end_message,
    parse_hresult,
)
from reporter.errors import UsageError

ALL_UPDATES_FAILED = 0x80240022


def test_result_codes_are_the_spec_table():
    assert {code: (r.name, r.meaning) for code, r in RESULT_CODES.items()} == {
        0: ("Not started", "the operation was not started"),
        1: ("In progress", "the operation is in progress"),
        2: ("Succeeded", "the operation completed successfully"),
        3: (
            "Succeeded with errors",
            "completed, but one or more errors occurred; results may be incomplete",
        ),
        4: ("Failed", "the operation failed to complete"),
        5: ("Aborted", "the operation was aborted"),
    }
    assert all(code == r.code for code, r in RESULT_CODES.items())
    assert {code: r.name for code, r in RESULT_CODES.items()} == RESULT_NAMES


def test_hresult_table_shape():
    assert len(HRESULTS) >= 40
    names = [h.name for h in HRESULTS.values()]
    assert len(names) == len(set(names))
    for code, entry in HRESULTS.items():
        assert code == entry.code
        assert 0 <= code <= 0xFFFFFFFF
        assert entry.name.isupper() and " " not in entry.name
        assert entry.meaning and not entry.meaning.endswith(".")
        assert entry.action is None or (entry.action and not entry.action.startswith("@"))
        # success codes are WU_S_* (or reboot-required successes); errors have the top bit
        if entry.name.startswith("WU_S_"):
            assert code < 0x80000000
        if entry.name.startswith("WU_E_"):
            assert (code >> 16) == 0x8024


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (0x00240005, "WU_S_REBOOT_REQUIRED"),
        (0x00240006, "WU_S_ALREADY_INSTALLED"),
        (0x80240022, "WU_E_ALL_UPDATES_FAILED"),
        (0x8024402C, "WU_E_PT_WINHTTP_NAME_NOT_RESOLVED"),
        (0x80240017, "WU_E_NOT_APPLICABLE"),
        (0x8024200D, "WU_E_UH_NEEDANOTHERDOWNLOAD"),
        (0x80246007, "WU_E_DM_NOTDOWNLOADED"),
        (0x80244022, "WU_E_PT_HTTP_STATUS_SERVICE_UNAVAIL"),
        (0x80072EE2, "ERROR_INTERNET_TIMEOUT"),
        (0x8024001E, "WU_E_SERVICE_STOP"),
        (0x80240020, "WU_E_NO_INTERACTIVE_USER"),
        (0x8024002E, "WU_E_WU_DISABLED"),
        (0x80244019, "WU_E_PT_HTTP_STATUS_NOT_FOUND"),
        (0x8024401C, "WU_E_PT_HTTP_STATUS_REQUEST_TIMEOUT"),
        (0x80243FFF, "WU_E_AUCLIENT_UNEXPECTED"),
        (0x80070002, "ERROR_FILE_NOT_FOUND"),
        (0x80070005, "E_ACCESSDENIED"),
        (0x80070643, "ERROR_INSTALL_FAILURE"),
        (0x800F0922, "CBS_E_INSTALLERS_FAILED"),
        (0x800F081F, "CBS_E_SOURCE_MISSING"),
        (0x80073712, "ERROR_SXS_COMPONENT_STORE_CORRUPT"),
        (0x80070BC9, "ERROR_FAIL_REBOOT_REQUIRED"),
        (0x8007000E, "E_OUTOFMEMORY"),
        (0x80070070, "ERROR_DISK_FULL"),
        (0x800F0831, "CBS_E_STORE_CORRUPTION"),
        (0x80070422, "ERROR_SERVICE_DISABLED"),
        (0x8007054F, "ERROR_INTERNAL_ERROR"),
    ],
)
def test_known_pairs(code, name):
    assert HRESULTS[code].name == name


def test_win32_codes_carry_their_win32_number():
    # HRESULT_FROM_WIN32(n) == 0x80070000 | n: check the numbers behind the names.
    win32 = {
        "ERROR_FILE_NOT_FOUND": 2,
        "E_ACCESSDENIED": 5,
        "ERROR_DISK_FULL": 112,
        "ERROR_SERVICE_DISABLED": 1058,
        "ERROR_INTERNAL_ERROR": 1359,
        "ERROR_INSTALL_FAILURE": 1603,
        "ERROR_SUCCESS_REBOOT_REQUIRED": 3010,
        "ERROR_FAIL_REBOOT_REQUIRED": 3017,
        "ERROR_INTERNET_TIMEOUT": 12002,
        "ERROR_SXS_COMPONENT_STORE_CORRUPT": 14098,
        "ERROR_INVALID_DATA": 13,
        "E_OUTOFMEMORY": 14,
        "ERROR_SHARING_VIOLATION": 32,
        "E_INVALIDARG": 87,
        "ERROR_NOT_FOUND": 1168,
        "ERROR_TIMEOUT": 1460,
        "ERROR_INSTALL_ALREADY_RUNNING": 1618,
        "ERROR_INTERNET_NAME_NOT_RESOLVED": 12007,
        "ERROR_INTERNET_CANNOT_CONNECT": 12029,
        "ERROR_WINHTTP_SECURE_FAILURE": 12175,
    }
    by_name = {h.name: h.code for h in HRESULTS.values()}
    assert {name: by_name[name] for name in win32} == {n: 0x80070000 | v for n, v in win32.items()}


def test_reboot_required_flags():
    flagged = {h.name for h in HRESULTS.values() if h.reboot_required}
    assert {"WU_S_REBOOT_REQUIRED", "ERROR_SUCCESS_REBOOT_REQUIRED"} <= flagged
    assert "WU_E_ALL_UPDATES_FAILED" not in flagged
    assert "WU_S_ALREADY_INSTALLED" not in flagged


def test_actions_are_practical():
    assert "DISM /Online /Cleanup-Image /RestoreHealth" in HRESULTS[0x80073712].action
    assert "disk space" in HRESULTS[0x80070070].action
    assert HRESULTS[0x00240006].action is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0x80240022", ALL_UPDATES_FAILED),
        ("0X80240022", ALL_UPDATES_FAILED),
        ("  0x80240022\n", ALL_UPDATES_FAILED),
        ("-2145124318", ALL_UPDATES_FAILED),
        ("2149842978", ALL_UPDATES_FAILED),
        ("0x00240005", 0x00240005),
        ("0x240005", 0x00240005),
        ("0x0000000080240022", ALL_UPDATES_FAILED),  # leading zeros are harmless
        ("80240022", 80240022),  # hex needs 0x: this is a decimal
        ("4294967295", 0xFFFFFFFF),
        ("-2147483648", 0x80000000),
        ("4294967296", None),
        ("-2147483649", None),
        ("0x100000000", None),
        ("0x", None),
        ("", None),
        ("8024402C", None),
        ("Result Code: 2", None),
        ("1_000_000", None),
        ("١٢٣٤٥٦", None),  # non-ASCII digits are not a number here
        (None, None),
    ],
)
def test_parse_hresult(text, expected):
    assert parse_hresult(text) == expected


def test_format_hresult():
    assert format_hresult(ALL_UPDATES_FAILED) == "0x80240022"
    assert format_hresult(-2145124318) == "0x80240022"
    assert format_hresult(0x240005) == "0x00240005"
    assert format_hresult(0x8024402C) == "0x8024402C"  # upper-case digits


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Result Code: 2", (2, None)),
        ("Result Code: 4, HResult: 0x80240022", (4, ALL_UPDATES_FAILED)),
        ("Result Code: 4 HRESULT -2145124318", (4, ALL_UPDATES_FAILED)),
        ("Result Code: 5 (2149842978)", (5, ALL_UPDATES_FAILED)),
        ("Result Code: 4 - 0x80070005", (4, 0x80070005)),
        ("result code:3", (3, None)),
        ("RESULT CODE : 1", (1, None)),
        ("ResultCode=0", (0, None)),
        ("Result_Code: 4", (4, None)),
        ("Result Code: 2, HResult: 0x00240005", (2, 0x00240005)),
        ("0x80240022", (None, ALL_UPDATES_FAILED)),
        ("-2145124318", (None, ALL_UPDATES_FAILED)),
        ("2", (2, None)),
        ("", (None, None)),
        ("   ", (None, None)),
        (None, (None, None)),
        ("Result Code: 2.", (2, None)),
        ("Updating Complete. Result Code: 2", (2, None)),
        ("Result Code: 7", (None, None)),  # not a result code, too small for an HRESULT
        ("Result Code: 2149842978", (None, ALL_UPDATES_FAILED)),  # an HRESULT in the wrong place
        ("Result Code: 4 for VA1-132457 at 2016-04-05 04:14:10", (4, None)),
        ("Result Code: 4 after 123456s", (4, None)),
        ("Result Code: 4 (1.2345678)", (4, None)),
        ("Result Code: 4 (12345)", (4, None)),  # below 0x10000: not an HRESULT
        ("Result Code: 4 (65536)", (4, 0x10000)),
        ("Result Code: 4 KB3135998", (4, None)),
        ("Result Code: 4 HResult: 0x8024402c.", (4, 0x8024402C)),
        ("Result Code: 4, 0x1FFFFFFFF", (4, None)),  # nine hex digits is not an HRESULT
        ("Result Code: 4 code 99999999999", (4, None)),  # does not fit 32 bits
    ],
)
def test_parse_end_message(message, expected):
    assert parse_end_message(message) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2, (2, None)),
        (-2145124318, (None, ALL_UPDATES_FAILED)),
        (True, (None, None)),
        (2.0, (None, None)),
        ({"code": 2}, (None, None)),
        (["Result Code: 2"], (None, None)),
    ],
)
def test_parse_end_message_of_other_types(value, expected):
    assert parse_end_message(value) == expected


def test_result_code_is_never_read_as_hresult():
    for code in RESULT_CODES:
        assert parse_end_message(f"Result Code: {code}") == (code, None)


def test_long_hostile_messages_are_quick():
    for text in ["result code" + " " * 100_000 + "x", "-" * 100_000, "9" * 100_000]:
        assert parse_end_message(text) == (None, None)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parsers_never_raise(text):
    result, hresult = parse_end_message(text)
    assert result is None or result in RESULT_CODES
    assert hresult is None or 0 <= hresult <= 0xFFFFFFFF
    value = parse_hresult(text)
    assert value is None or 0 <= value <= 0xFFFFFFFF


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=0xFFFFFFFF), st.sampled_from(sorted(RESULT_CODES)))
def test_hex_signed_and_unsigned_forms_agree(value, code):
    forms = {f"0x{value:08X}", f"0x{value:x}", str(value)}
    if value >= 0x80000000:
        forms.add(str(value - 0x100000000))
    assert {parse_hresult(form) for form in forms} == {value}
    for form in forms:
        # decimals count only from magnitude 0x10000 (SPEC: never a result code)
        if form.startswith("0x") or abs(int(form)) >= 0x10000:
            assert parse_end_message(f"Result Code: {code}, HResult: {form}") == (code, value)
            assert parse_end_message(f"Result Code: {code} ({form})") == (code, value)
        else:
            assert parse_end_message(f"Result Code: {code} ({form})") == (code, None)


def test_explain_result_codes():
    bare = explain("2")
    assert bare.startswith("Result code 2: Succeeded\n")
    assert "the operation completed successfully" in bare
    assert "bare number 0-5 is read as a result code, not as HRESULT 0x00000002" in bare
    labelled = explain("Result Code: 4")
    assert labelled.startswith("Result code 4: Failed\n")
    assert "bare number" not in labelled
    assert "not a Windows Update result code" in explain("Result Code: 9")


@pytest.mark.parametrize("form", ["0x80240022", "-2145124318", "2149842978", "0x80240022 "])
def test_explain_hresult_forms(form):
    text = explain(form)
    lines = text.splitlines()
    assert lines[0] == "HRESULT 0x80240022: WU_E_ALL_UPDATES_FAILED"
    assert "Meaning: the operation failed for every update." in lines
    assert any(line.startswith("What to do: ") for line in lines)
    assert "Decimal forms: -2145124318 (signed), 2149842978 (unsigned)." in lines
    assert "Facility: 0x024 (Windows Update), severity: error." in lines


def test_explain_reboot_required():
    text = explain("0x00240005")
    assert text.startswith("HRESULT 0x00240005: WU_S_REBOOT_REQUIRED")
    assert "Reboot required: yes" in text
    assert "severity: success" in text
    assert "Decimal form: 2359301." in text


def test_explain_whole_message_gives_both():
    text = explain("Result Code: 4, HResult: 0x80240022")
    assert text.startswith("Result code 4: Failed")
    assert "\n\nHRESULT 0x80240022: WU_E_ALL_UPDATES_FAILED" in text


def test_explain_unknown_codes():
    wu = explain("0x8024ABCD")
    assert "Windows Update Agent code (facility WU) that is not in reporter's table" in wu
    win32 = explain("0x80071234")
    assert "Win32 error" in win32 and "error number 4660 (0x1234)" in win32
    assert "not in reporter's table" in explain("0x87650000")


def test_explain_hints_at_hex_without_prefix():
    assert "did you mean 0x80240022 (WU_E_ALL_UPDATES_FAILED)?" in explain("80240022")
    with pytest.raises(UsageError, match=r"hex needs a 0x prefix \(0x8024402C\)"):
        explain("8024402C")


@pytest.mark.parametrize("text", ["banana", "", "   ", "7", "-1", "65535", "99999999999", "0x"])
def test_explain_refuses_what_it_cannot_read(text):
    with pytest.raises(UsageError, match="is not a result code"):
        explain(text)


def test_fail_reboot_required_means_a_restart_rolls_back():
    # Microsoft: "The requested operation failed. A system reboot is required to roll back
    # changes made." Not "failed because a restart is pending".
    entry = HRESULTS[0x80070BC9]
    assert "failed" in entry.meaning and "roll back" in entry.meaning
    assert "pending" not in entry.meaning


def test_wu_disabled_advice_is_not_the_cancelled_by_policy_one():
    # DisableWindowsUpdateAccess is what 0x8024002F says; 0x8024002E is about unmanaged servers.
    disabled, by_policy = HRESULTS[0x8024002E], HRESULTS[0x8024002F]
    assert "unmanaged" in disabled.meaning
    assert "DisableWindowsUpdateAccess" not in f"{disabled.meaning} {disabled.action}"
    assert by_policy.name == "WU_E_CALL_CANCELLED_BY_POLICY"
    assert "DisableWindowsUpdateAccess" in by_policy.meaning
