"""How a standard names patches: a KB number, a Linux package (``name`` or ``name.arch``), a
package at a minimum version (``openssl.x86_64>=1.0.2k-26.el7_9``), or alternatives joined
with ``|`` (any one satisfies). No supersedence is guessed (SPEC 9).

>>> [str(a) for a in parse_alternatives("kb5031361 | KB5032190")]
['KB5031361', 'KB5032190']
>>> parse_alternatives("openssl.x86_64>=1.0.2k-26.el7_9")[0].minimum
Evr(epoch=0, version='1.0.2k', release='26.el7_9')
"""

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from reporter.derive import RPM_ARCHES
from reporter.rpmver import Evr, compare_evr

ANY = "*"
_KB = re.compile(r"KB\s?(\d{6,8})", re.IGNORECASE)
_PACKAGE = re.compile(rf"(?P<name>[A-Za-z0-9_+][A-Za-z0-9._+-]*?)(?:\.(?P<arch>{RPM_ARCHES}))?")
_COMPARISON = re.compile(r"(?P<package>[^<>=!\s]+)\s*(?P<operator>[<>=!]+)\s*(?P<version>.*)")


@dataclass(frozen=True, slots=True)
class Alternative:
    """One patch that satisfies a requirement: a KB number, or a Linux package with an
    optional architecture and minimum version."""

    kb: str | None = None
    name: str | None = None
    arch: str | None = None
    minimum: Evr | None = None

    @property
    def is_kb(self) -> bool:
        """Whether this is a KB number (a Windows update)."""
        return self.kb is not None

    @property
    def keys(self) -> tuple[str, ...]:
        """The patch keys (SPEC 4) that can satisfy it: the KB, ``name.arch``, or the package
        name with each architecture."""
        if self.kb is not None:
            return (self.kb,)
        arches = [self.arch] if self.arch else RPM_ARCHES.split("|")
        return tuple(f"{self.name}.{arch}" for arch in arches)

    def names(self) -> set[str]:
        """What an exception may call it (case-folded): its text, KB, name or name.arch."""
        found = {str(self).casefold()}
        if self.kb is not None:
            found.add(self.kb.casefold())
        if self.name is not None:
            found.add(self.name.casefold())
            if self.arch:
                found.add(f"{self.name}.{self.arch}".casefold())
        return found

    def satisfied_by(self, version: str | None) -> bool:
        """Whether a package at ``version`` (``version-release``) meets the minimum (always,
        without one; never when the version is not known)."""
        if self.minimum is None:
            return True
        if not version:
            return False
        try:
            found = Evr.parse(version)
        except ValueError:
            return False
        return compare_evr(found, self.minimum) >= 0

    def __str__(self) -> str:
        if self.kb is not None:
            return self.kb
        text = f"{self.name}.{self.arch}" if self.arch else str(self.name)
        return f"{text}>={self.minimum}" if self.minimum is not None else text


def parse_alternative(text: str) -> Alternative:
    """One alternative: ``KB5031361``, ``openssl``, ``openssl.x86_64`` or
    ``openssl.x86_64>=1.0.2k-26.el7_9``.

    Raises:
        ValueError: naming what is wrong.
    """
    text = text.strip()
    if not text:
        raise ValueError("an empty alternative")
    kb = _KB.fullmatch(text)
    if kb:
        return Alternative(kb="KB" + kb.group(1))
    minimum = None
    comparison = _COMPARISON.fullmatch(text)
    if comparison:
        if comparison["operator"] != ">=":
            raise ValueError(
                f"{text!r}: only a minimum version (>=) can be required, not "
                f"{comparison['operator']!r}"
            )
        try:
            minimum = Evr.parse(comparison["version"])
        except ValueError:
            raise ValueError(
                f"{text!r}: {comparison['version']!r} is not a version-release (like "
                "1.0.2k-26.el7_9)"
            ) from None
        text = comparison["package"]
    package = _PACKAGE.fullmatch(text)
    if not package or (text.upper().startswith("KB") and text[2:].strip().isdigit()):
        raise ValueError(
            f"{text!r} is neither a KB number (KB followed by 6 to 8 digits) nor a Linux "
            "package name (name or name.arch)"
        )
    return Alternative(name=package["name"], arch=package["arch"], minimum=minimum)


def parse_alternatives(text: str) -> tuple[Alternative, ...]:
    """A baseline ``patch`` cell: alternatives joined with ``|``, all KB numbers or all
    packages.

    Raises:
        ValueError: naming what is wrong.
    """
    alternatives = tuple(parse_alternative(part) for part in text.split("|"))
    if len({alternative.is_kb for alternative in alternatives}) > 1:
        raise ValueError(f"{text.strip()!r} mixes KB numbers and Linux packages")
    if len({str(alternative) for alternative in alternatives}) < len(alternatives):
        raise ValueError(f"{text.strip()!r} names the same patch twice")
    return alternatives


def exception_patch(text: str) -> str:
    """An exception's ``patch`` as it is matched: ``*``, a KB number written ``KB5031361``,
    else the text case-folded (a package, ``name.arch``, or a patch title)."""
    text = " ".join(text.split())
    if text == ANY:
        return ANY
    kb = _KB.fullmatch(text)
    return "KB" + kb.group(1) if kb else text.casefold()


def failure_names(key: str, kb: str | None, name: str | None, arch: str | None) -> set[str]:
    """What an exception may call a failed patch (case-folded): its patch key, KB, package
    name or name.arch."""
    found = {key.casefold()}
    for value in (kb, name, f"{name}.{arch}" if name and arch else None):
        if value:
            found.add(value.casefold())
    return found


def patch_matches(patch: str, names: AbstractSet[str]) -> bool:
    """Whether an exception's ``patch`` (from :func:`exception_patch`) covers a patch known by
    ``names`` (case-folded)."""
    return patch == ANY or patch.casefold() in names
