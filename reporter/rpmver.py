"""RPM version order: which of two package versions is newer, as ``rpm`` itself decides.

:func:`rpmvercmp` is rpm's segment comparison (``rpmio/rpmvercmp.c``): a version is split
into runs of digits and runs of ASCII letters, everything else only separates them; digit
runs compare as numbers (leading zeros dropped), letter runs as text, a digit run is newer
than a letter run, ``~`` sorts before anything (even the end: ``1.0~rc1`` < ``1.0``) and
``^`` after the end but before any further segment (``1.0`` < ``1.0^git1`` < ``1.01``).
:func:`compare_evr` compares whole ``[epoch:]version[-release]`` labels.

>>> rpmvercmp("1.0.2k", "1.0.2l"), rpmvercmp("26.el7_9", "26.el7_9"), rpmvercmp("10", "9")
(-1, 0, 1)
>>> compare_evr("1.0.2k-26.el7_9", "1.0.2k-25.el7_9")
1
"""

import re
from dataclasses import dataclass

_SEPARATORS = re.compile(r"[^A-Za-z0-9~^]+")
_SEGMENT = re.compile(r"[0-9]+|[A-Za-z]+")
_LABEL_PART = re.compile(r"[A-Za-z0-9._+~^]+")  # what rpm allows in a version or release


def rpmvercmp(one: str, two: str) -> int:
    """-1, 0 or 1 as version (or release) ``one`` is older than, the same as or newer than
    ``two`` in RPM order.

    >>> rpmvercmp("1.0~rc1", "1.0"), rpmvercmp("1.0^git1", "1.0"), rpmvercmp("2_0", "2.0")
    (-1, 1, 0)
    """
    if one == two:
        return 0
    a, b = 0, 0
    while a < len(one) or b < len(two):
        a = _skip_separators(one, a)
        b = _skip_separators(two, b)
        first = one[a] if a < len(one) else ""
        second = two[b] if b < len(two) else ""
        # "~" sorts before everything, the end of the version included.
        if first == "~" or second == "~":
            if first != "~":
                return 1
            if second != "~":
                return -1
            a, b = a + 1, b + 1
            continue
        # "^" sorts after the end of the version, but before any other segment.
        if first == "^" or second == "^":
            if not first:
                return -1
            if not second:
                return 1
            if first != "^":
                return 1
            if second != "^":
                return -1
            a, b = a + 1, b + 1
            continue
        if not (first and second):
            break
        segment = _SEGMENT.match(one, a)
        assert segment is not None  # ``first`` is a letter or a digit
        numeric = first.isdigit()
        other = re.compile(r"[0-9]+" if numeric else r"[A-Za-z]+").match(two, b)
        if other is None:
            # Segments of different kinds: a number is newer than letters.
            return 1 if numeric else -1
        left, right = segment.group(), other.group()
        if numeric:
            left, right = left.lstrip("0"), right.lstrip("0")
            if len(left) != len(right):
                return 1 if len(left) > len(right) else -1
        if left != right:
            return 1 if left > right else -1
        a, b = segment.end(), other.end()
    if a >= len(one) and b >= len(two):
        return 0
    # Whichever still has characters left is newer.
    return -1 if a >= len(one) else 1


def _skip_separators(text: str, position: int) -> int:
    """The position of the next letter, digit, ``~`` or ``^`` at or after ``position``."""
    found = _SEPARATORS.match(text, position)
    return found.end() if found else position


@dataclass(frozen=True, slots=True)
class Evr:
    """An RPM ``[epoch:]version[-release]``; ``release`` None when it was not given."""

    epoch: int
    version: str
    release: str | None

    @classmethod
    def parse(cls, text: str) -> "Evr":
        """Read ``1.0.2k-26.el7_9``, ``1:2.3-4`` or ``2.17``.

        Raises:
            ValueError: not a version label.
        """
        text = text.strip()
        epoch_text, colon, rest = text.partition(":")
        if not colon:
            epoch_text, rest = "0", text
        if not epoch_text.isdigit():
            raise ValueError(f"epoch {epoch_text!r} is not a number")
        version, dash, release = rest.rpartition("-") if "-" in rest else (rest, "", "")
        if not _valid(version) or (dash and not _valid(release)):
            raise ValueError(f"{text!r} is not a version-release")
        return cls(int(epoch_text), version, release if dash else None)

    def __str__(self) -> str:
        epoch = f"{self.epoch}:" if self.epoch else ""
        return f"{epoch}{self.version}" + (f"-{self.release}" if self.release else "")


def _valid(part: str) -> bool:
    """A version or release: the characters rpm allows in one, at least one letter or digit."""
    return _LABEL_PART.fullmatch(part) is not None and _SEGMENT.search(part) is not None


def compare_evr(one: str | Evr, two: str | Evr) -> int:
    """-1, 0 or 1 as ``one`` is older than, the same as or newer than ``two``: epochs first,
    then versions, then releases. A release missing from either side matches any release
    (``2.17`` is neither older nor newer than ``2.17-326.el7_9``), as rpm compares a
    requirement without one.

    >>> compare_evr("1:1.0-1", "2.0-1"), compare_evr("2.17", "2.17-326.el7_9")
    (1, 0)
    """
    left = one if isinstance(one, Evr) else Evr.parse(one)
    right = two if isinstance(two, Evr) else Evr.parse(two)
    if left.epoch != right.epoch:
        return 1 if left.epoch > right.epoch else -1
    order = rpmvercmp(left.version, right.version)
    if order or left.release is None or right.release is None:
        return order
    return rpmvercmp(left.release, right.release)
