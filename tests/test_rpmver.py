"""RPM version order: rpm's own comparison cases (tests/rpmvercmp.at), then whole labels."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reporter.rpmver import Evr, compare_evr, rpmvercmp

# rpm's test suite, tests/rpmvercmp.at: (a, b, rpmvercmp(a, b)).
RPM_CASES = [
    ("1.0", "1.0", 0),
    ("1.0", "2.0", -1),
    ("2.0", "1.0", 1),
    ("2.0.1", "2.0.1", 0),
    ("2.0", "2.0.1", -1),
    ("2.0.1", "2.0", 1),
    ("2.0.1a", "2.0.1a", 0),
    ("2.0.1a", "2.0.1", 1),
    ("2.0.1", "2.0.1a", -1),
    ("5.5p1", "5.5p1", 0),
    ("5.5p1", "5.5p2", -1),
    ("5.5p2", "5.5p1", 1),
    ("5.5p10", "5.5p10", 0),
    ("5.5p1", "5.5p10", -1),
    ("5.5p10", "5.5p1", 1),
    ("10xyz", "10.1xyz", -1),
    ("10.1xyz", "10xyz", 1),
    ("xyz10", "xyz10", 0),
    ("xyz10", "xyz10.1", -1),
    ("xyz10.1", "xyz10", 1),
    ("xyz.4", "xyz.4", 0),
    ("xyz.4", "8", -1),
    ("8", "xyz.4", 1),
    ("xyz.4", "2", -1),
    ("2", "xyz.4", 1),
    ("5.5p2", "5.6p1", -1),
    ("5.6p1", "5.5p2", 1),
    ("5.6p1", "6.5p1", -1),
    ("6.5p1", "5.6p1", 1),
    ("6.0.rc1", "6.0", 1),
    ("6.0", "6.0.rc1", -1),
    ("10b2", "10a1", 1),
    ("10a2", "10b2", -1),
    ("1.0aa", "1.0aa", 0),
    ("1.0a", "1.0aa", -1),
    ("1.0aa", "1.0a", 1),
    ("10.0001", "10.0001", 0),
    ("10.0001", "10.1", 0),
    ("10.1", "10.0001", 0),
    ("10.0001", "10.0039", -1),
    ("10.0039", "10.0001", 1),
    ("4.999.9", "5.0", -1),
    ("5.0", "4.999.9", 1),
    ("20101121", "20101121", 0),
    ("20101121", "20101122", -1),
    ("20101122", "20101121", 1),
    ("2_0", "2_0", 0),
    ("2.0", "2_0", 0),
    ("2_0", "2.0", 0),
    # RhBug:178798
    ("a", "a", 0),
    ("a+", "a+", 0),
    ("a+", "a_", 0),
    ("a_", "a+", 0),
    ("+a", "+a", 0),
    ("+a", "_a", 0),
    ("_a", "+a", 0),
    ("+_", "+_", 0),
    ("_+", "+_", 0),
    ("_+", "_+", 0),
    ("+", "_", 0),
    ("_", "+", 0),
    # tilde
    ("1.0~rc1", "1.0~rc1", 0),
    ("1.0~rc1", "1.0", -1),
    ("1.0", "1.0~rc1", 1),
    ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~rc2", "1.0~rc1", 1),
    ("1.0~rc1~git123", "1.0~rc1~git123", 0),
    ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0~rc1", "1.0~rc1~git123", 1),
    # caret
    ("1.0^", "1.0^", 0),
    ("1.0^", "1.0", 1),
    ("1.0", "1.0^", -1),
    ("1.0^git1", "1.0^git1", 0),
    ("1.0^git1", "1.0", 1),
    ("1.0", "1.0^git1", -1),
    ("1.0^git1", "1.0^git2", -1),
    ("1.0^git2", "1.0^git1", 1),
    ("1.0^git1", "1.01", -1),
    ("1.01", "1.0^git1", 1),
    ("1.0^20160101", "1.0^20160101", 0),
    ("1.0^20160101", "1.0.1", -1),
    ("1.0.1", "1.0^20160101", 1),
    ("1.0^20160101^git1", "1.0^20160101^git1", 0),
    ("1.0^20160102", "1.0^20160101^git1", 1),
    ("1.0^20160101^git1", "1.0^20160102", -1),
    # tilde and caret
    ("1.0~rc1^git1", "1.0~rc1^git1", 0),
    ("1.0~rc1^git1", "1.0~rc1", 1),
    ("1.0~rc1", "1.0~rc1^git1", -1),
    ("1.0^git1~pre", "1.0^git1~pre", 0),
    ("1.0^git1", "1.0^git1~pre", 1),
    ("1.0^git1~pre", "1.0^git1", -1),
    # rpm's documented oddities (RhBug:811992): kept as rpm behaves
    ("1b.fc17", "1b.fc17", 0),
    ("1b.fc17", "1.fc17", -1),
    ("1.fc17", "1b.fc17", 1),
    ("1g.fc17", "1g.fc17", 0),
    ("1g.fc17", "1.fc17", 1),
    ("1.fc17", "1g.fc17", -1),
    # non-ASCII characters are separators, as in rpm
    ("1.1.α", "1.1.β", 0),
]


@pytest.mark.parametrize(("one", "two", "expected"), RPM_CASES)
def test_rpm_cases(one, two, expected):
    assert rpmvercmp(one, two) == expected


@pytest.mark.parametrize(
    ("one", "two", "expected"),
    [
        ("1.0.2k-26.el7_9", "1.0.2k-25.el7_9", 1),
        ("1.0.2k-26.el7_9", "1.0.2k-26.el7_9", 0),
        ("1.0.2k-9.el7_9", "1.0.2k-26.el7_9", -1),
        ("3.10.0-1160.102.1.el7", "3.10.0-1160.99.1.el7", 1),
        ("1:1.0-1", "2.0-1", 1),
        ("0:2.0-1", "2.0-1", 0),
        ("2.17", "2.17-326.el7_9", 0),
        ("2.18", "2.17-326.el7_9", 1),
        ("2023.2.60_v7.0.306-72.el7_9", "2023.2.60_v7.0.306-80.0.el8_9", -1),
    ],
)
def test_compare_evr(one, two, expected):
    assert compare_evr(one, two) == expected
    assert compare_evr(two, one) == -expected


@pytest.mark.parametrize("text", ["", "-1", "1.0-", "a:1.0", "1.0 beta-1", "1-2-3-", ":"])
def test_not_a_label(text):
    with pytest.raises(ValueError):
        Evr.parse(text)


def test_label_round_trip():
    assert str(Evr.parse("1:2.3-4.el8")) == "1:2.3-4.el8"
    assert Evr.parse("2.17") == Evr(0, "2.17", None)


versions = st.text(alphabet="0123456789abz.~^_", min_size=0, max_size=8)


@given(versions, versions)
def test_antisymmetric_and_equal_to_itself(one, two):
    assert rpmvercmp(one, two) == -rpmvercmp(two, one)
    assert rpmvercmp(one, one) == 0
