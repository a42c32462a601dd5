"""What the simulated fleet installs: monthly update catalogues, RPM packages and result messages.

Each month has one catalogue per operating system, built from a seeded RNG, so the same KB shows
up on many servers (the reports roll up by KB) and the same seed always gives the same titles.
"""

import random
from dataclasses import dataclass

WINDOWS_OS = (
    "Windows Server 2012 R2",
    "Windows Server 2016",
    "Windows Server 2019",
    "Windows Server 2022",
)
LINUX_OS = ("RHEL 7", "RHEL 8", "CentOS 7")

# Real Windows Update failure HRESULTs (Microsoft's "Windows Update error codes" reference).
FAILURE_HRESULTS = (
    0x80240022,  # WU_E_ALL_UPDATES_FAILED
    0x8024402C,  # WU_E_PT_WINHTTP_NAME_NOT_RESOLVED
    0x80070005,  # E_ACCESSDENIED
    0x80070002,  # ERROR_FILE_NOT_FOUND
    0x800F0922,  # CBS_E_INSTALLERS_FAILED
    0x80240017,  # WU_E_NOT_APPLICABLE
    0x8024200D,  # WU_E_UH_NEEDANOTHERDOWNLOAD
    0x80246007,  # WU_E_DM_NOTDOWNLOADED
    0x80070643,  # ERROR_INSTALL_FAILURE
    0x800F081F,  # CBS_E_SOURCE_MISSING
    0x80073712,  # ERROR_SXS_COMPONENT_STORE_CORRUPT
    0x8024001E,  # WU_E_SERVICE_STOP
    0x80244022,  # WU_E_PT_HTTP_STATUS_SERVICE_UNAVAIL
    0x80070422,  # ERROR_SERVICE_DISABLED
)
# Failures that hit every update of a run at once (no network, no rights, broken agent).
WHOLE_RUN_HRESULTS = (0x8024402C, 0x80070005, 0x80240022, 0x80244022)
REBOOT_REQUIRED = 0x00240005  # WU_S_REBOOT_REQUIRED
LINUX_FAILURE = 0x80004005  # E_FAIL, the only HRESULT a yum failure is reported with

TITLE_PREFIXES = ("Installing ", "Installing: ", "")
TWO_KB_TITLE = "Update for Windows (KB2961858) sans KB2919355"
SQL_SERVICE_PACK = "Microsoft SQL Server 2016 Service Pack 3 (KB5003279)"
DRIVERS = (
    "VMware, Inc. - SCSIAdapter - 1.3.18.0",
    "VMware, Inc. - Display - 9.17.4.3",
    "Microsoft driver update for VMware SVGA 3D",
    "Intel Corporation - Net - 12.18.9.10",
)


@dataclass(frozen=True, slots=True)
class Offer:
    """One update offered to a server: its title, how likely a server takes it, how long it runs.

    ``seconds`` is the (shortest, longest) install time.
    """

    title: str
    chance: float
    seconds: tuple[int, int]


def month_index(year: int, month: int) -> int:
    """Months since December 2022: drives KB numbers, tool versions and RPM releases."""
    return (year - 2023) * 12 + month


def result_message(rng: random.Random, code: int, hresult: int | None) -> str:
    """Write ``Result Code: N`` with an optional HRESULT, in one of the forms seen in the wild."""
    if hresult is None:
        return f"Result Code: {code}"
    form = rng.randrange(4)
    if form == 0:
        return f"Result Code: {code}, HResult: 0x{hresult:08X}"
    if form == 1:
        signed = hresult - (1 << 32) if hresult & 0x80000000 else hresult
        return f"Result Code: {code} HRESULT {signed}"
    if form == 2:
        return f"Result Code: {code} ({hresult})"
    return f"Result Code: {code} - 0x{hresult:08x}"


def windows_catalogue(year: int, month: int, seed: int) -> dict[str, list[Offer]]:
    """The updates Microsoft ships in one month, per Windows Server version.

    Args:
        year: Year of the patch Tuesday.
        month: Month of the patch Tuesday.
        seed: The fleet seed; KB numbers depend on it and on the month only.

    Returns:
        ``{os name: [Offer, ...]}`` for every name in :data:`WINDOWS_OS`.
    """
    rng = random.Random(f"windows:{seed}:{year}-{month:02d}")
    ym = f"{year}-{month:02d}"
    index = month_index(year, month)
    next_kb = 5030000 + index * 1800

    def kb() -> int:
        nonlocal next_kb
        next_kb += rng.randint(3, 60)
        return next_kb

    x64 = "for x64-based Systems"
    dotnet = {
        "Windows Server 2012 R2": "3.5, 4.6.2, 4.7, 4.7.1, 4.7.2, 4.8 for Windows Server 2012 R2",
        "Windows Server 2016": "4.8 for Windows Server 2016",
        "Windows Server 2019": "3.5, 4.7.2 and 4.8 for Windows Server 2019",
        "Windows Server 2022": "3.5, 4.8 and 4.8.1 for Windows Server 2022",
    }
    catalogue: dict[str, list[Offer]] = {}
    for os_name in WINDOWS_OS:
        offers = []
        if os_name.endswith("2012 R2"):
            offers += [
                Offer(
                    f"{ym} Security Monthly Quality Rollup for {os_name} {x64} (KB{kb()})",
                    0.95,
                    (600, 2400),
                ),
                Offer(
                    f"{ym} Preview of Monthly Quality Rollup for {os_name} {x64} (KB{kb()})",
                    0.15,
                    (600, 1800),
                ),
            ]
        else:
            offers.append(
                Offer(f"{ym} Cumulative Update for {os_name} {x64} (KB{kb()})", 0.95, (900, 3600))
            )
        offers += [
            Offer(f"{ym} Servicing Stack Update for {os_name} {x64} (KB{kb()})", 0.4, (60, 400)),
            Offer(
                f"{ym} Cumulative Update for .NET Framework {dotnet[os_name]} for x64 (KB{kb()})",
                0.5,
                (120, 900),
            ),
            Offer(f"Security Update for {os_name} (KB{kb()})", 0.3, (60, 600)),
            Offer(
                f"Windows Malicious Software Removal Tool x64 - v5.{index + 80} (KB890830)",
                0.7,
                (60, 240),
            ),
        ]
        if os_name.endswith("2012 R2"):
            offers.append(Offer(TWO_KB_TITLE, 0.04, (30, 200)))
        offers.append(Offer(rng.choice(DRIVERS), 0.04, (20, 120)))
        catalogue[os_name] = offers
    return catalogue


def sql_offers(year: int, month: int, seed: int) -> list[Offer]:
    """Updates offered to SQL Server hosts on top of the Windows ones."""
    rng = random.Random(f"sql:{seed}:{year}-{month:02d}")
    kb = 5040000 + month_index(year, month) * 1800 + rng.randint(1, 999)
    return [
        Offer(f"Security Update for SQL Server 2019 RTM CU (KB{kb})", 0.3, (300, 1500)),
        Offer(SQL_SERVICE_PACK, 0.15, (900, 2400)),
    ]


def defender_title(rng: random.Random, index: int, old_name: bool) -> str:
    """A Defender definition update: one KB (KB2267602) whose version changes every day."""
    if old_name:
        return (
            "Definition Update for Windows Defender Antivirus - KB2267602 "
            f"(Definition 1.{380 + index}.{rng.randint(1, 2999)}.0)"
        )
    return (
        "Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 "
        f"(Version 1.{380 + index}.{rng.randint(1, 2999)}.0)"
    )


# name, (el7 version, el7 first release, el7 dist), (el8 ...), arch
_PACKAGES = (
    ("kernel", ("3.10.0", 80, "1160.{r}.1.el7"), ("4.18.0", 9, "513.{r}.1.el8_9"), "x86_64"),
    ("kernel-tools", ("3.10.0", 80, "1160.{r}.1.el7"), ("4.18.0", 9, "513.{r}.1.el8_9"), "x86_64"),
    ("openssl-libs", ("1.0.2k", 26, "{r}.el7_9"), ("1.1.1k", 9, "{r}.el8_9"), "x86_64"),
    ("openssl", ("1.0.2k", 26, "{r}.el7_9"), ("1.1.1k", 9, "{r}.el8_9"), "x86_64"),
    ("glibc", ("2.17", 326, "{r}.el7_9"), ("2.28", 236, "{r}.el8_9"), "x86_64"),
    ("glibc-common", ("2.17", 326, "{r}.el7_9"), ("2.28", 236, "{r}.el8_9"), "x86_64"),
    ("bind-libs", ("9.11.4", 26, "P2.{r}.el7_9"), ("9.11.36", 11, "{r}.el8_9"), "x86_64"),
    ("curl", ("7.29.0", 59, "{r}.el7_9"), ("7.61.1", 33, "{r}.el8_9"), "x86_64"),
    ("libcurl", ("7.29.0", 59, "{r}.el7_9"), ("7.61.1", 33, "{r}.el8_9"), "x86_64"),
    ("nss", ("3.90.0", 2, "{r}.el7_9"), ("3.90.0", 7, "{r}.el8_9"), "x86_64"),
    ("systemd", ("219", 78, "{r}.el7_9"), ("239", 78, "{r}.el8"), "x86_64"),
    ("systemd-libs", ("219", 78, "{r}.el7_9"), ("239", 78, "{r}.el8"), "x86_64"),
    ("sudo", ("1.8.23", 10, "{r}.el7_9"), ("1.9.5p2", 1, "{r}.el8_9"), "x86_64"),
    ("openssh", ("7.4p1", 23, "{r}.el7_9"), ("8.0p1", 19, "{r}.el8_9"), "x86_64"),
    ("openssh-server", ("7.4p1", 23, "{r}.el7_9"), ("8.0p1", 19, "{r}.el8_9"), "x86_64"),
    ("krb5-libs", ("1.15.1", 55, "{r}.el7_9"), ("1.18.2", 26, "{r}.el8_9"), "x86_64"),
    ("libxml2", ("2.9.1", 6, "{r}.el7_9.6"), ("2.9.7", 18, "{r}.el8_9"), "x86_64"),
    ("python", ("2.7.5", 94, "{r}.el7_9"), None, "x86_64"),
    ("python3-libs", None, ("3.6.8", 56, "{r}.el8_9"), "x86_64"),
    ("tzdata", ("2026a", 1, "{r}.el7"), ("2026a", 1, "{r}.el8"), "noarch"),
    (
        "ca-certificates",
        ("2023.2.60_v7.0.306", 72, "{r}.el7_9"),
        ("2023.2.60_v7.0.306", 80, "{r}.0.el8_9"),
        "noarch",
    ),
    ("microcode_ctl", ("2.1", 73, "{r}.el7_9"), ("20230808", 2, "{r}.20231009.1.el8_9"), "x86_64"),
    (
        "linux-firmware",
        ("20200421", 80, "{r}.git78c0348.el7_9"),
        ("20230824", 119, "{r}.git0e048b06.el8_9"),
        "noarch",
    ),
    ("vim-minimal", ("7.4.629", 8, "{r}.el7_9"), ("8.0.1763", 19, "{r}.el8_6.4"), "x86_64"),
    ("expat", ("2.1.0", 15, "{r}.el7_9"), ("2.2.5", 11, "{r}.el8_9"), "x86_64"),
    ("zlib", ("1.2.7", 21, "{r}.el7_9"), ("1.2.11", 25, "{r}.el8"), "x86_64"),
    ("polkit", ("0.112", 26, "{r}.el7_9.1"), ("0.115", 15, "{r}.el8_9"), "x86_64"),
    ("dbus", ("1.10.24", 15, "{r}.el7"), ("1.12.8", 26, "{r}.el8"), "x86_64"),
    ("perl", ("5.16.3", 299, "{r}.el7_9"), ("5.26.3", 422, "{r}.el8"), "x86_64"),
    ("git", ("1.8.3.1", 25, "{r}.el7_9"), ("2.39.3", 1, "{r}.el8_8"), "x86_64"),
    ("NetworkManager", ("1.18.8", 2, "{r}.el7_9"), ("1.40.16", 9, "{r}.el8_9"), "x86_64"),
    ("rsyslog", ("8.24.0", 57, "{r}.el7_9.3"), ("8.2102.0", 15, "{r}.el8_9"), "x86_64"),
)


def linux_catalogue(year: int, month: int, seed: int) -> dict[str, list[Offer]]:
    """The packages a ``yum update`` installs in one month, per Linux distribution.

    Titles are RPM ``name-version-release.arch`` strings; the release grows with the month.
    """
    rng = random.Random(f"linux:{seed}:{year}-{month:02d}")
    index = month_index(year, month)
    catalogue: dict[str, list[Offer]] = {}
    for os_name in LINUX_OS:
        el8 = os_name == "RHEL 8"
        offers = []
        for name, el7_spec, el8_spec, arch in _PACKAGES:
            spec = el8_spec if el8 else el7_spec
            if spec is None or rng.random() < 0.3:  # not every package changes every month
                continue
            version, first_release, pattern = spec
            release = pattern.format(r=first_release + index // 2)
            seconds = (30, 240) if name.startswith(("kernel", "linux-firmware")) else (3, 40)
            offers.append(Offer(f"{name}-{version}-{release}.{arch}", 0.75, seconds))
        catalogue[os_name] = offers
    return catalogue
