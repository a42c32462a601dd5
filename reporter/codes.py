"""Windows Update result codes and HRESULTs: the one table every report and ``explain`` reads.

A patch's ``patch_end_message`` carries the Windows Update ``OperationResultCode`` (0-5,
``"Result Code: 2"``) and sometimes an HRESULT, written as hex (``0x80240022``) or as a
signed or unsigned decimal (``-2145124318``, ``2149842978``). This module reads both without
mixing them up and names them. Names, values and meanings follow Microsoft's public
"Windows Update error codes" reference (wuerror.h) and the Win32/CBS codes that updates
commonly fail with; the meanings and actions are short paraphrases.
"""

import re
from dataclasses import dataclass

from reporter.errors import UsageError


@dataclass(frozen=True, slots=True)
class ResultCode:
    """One Windows Update ``OperationResultCode``."""

    code: int
    name: str
    meaning: str


@dataclass(frozen=True, slots=True)
class HResult:
    """One known HRESULT: its symbolic name, what it means and, where known, what to do."""

    code: int  # unsigned 32-bit value
    name: str
    meaning: str
    action: str | None = None
    reboot_required: bool = False


RESULT_CODES: dict[int, ResultCode] = {
    r.code: r
    for r in (
        ResultCode(0, "Not started", "the operation was not started"),
        ResultCode(1, "In progress", "the operation is in progress"),
        ResultCode(2, "Succeeded", "the operation completed successfully"),
        ResultCode(
            3,
            "Succeeded with errors",
            "completed, but one or more errors occurred; results may be incomplete",
        ),
        ResultCode(4, "Failed", "the operation failed to complete"),
        ResultCode(5, "Aborted", "the operation was aborted"),
    )
}
RESULT_NAMES: dict[int, str] = {code: r.name for code, r in RESULT_CODES.items()}

# Actions several codes share, referred to as @name in the table below.
_ACTIONS = {
    "@retry": "Retry in the next patch window; if it repeats, check WindowsUpdate.log",
    "@network": "Check that the server can resolve and reach the update source (Windows Update or "
    "WSUS), including proxy settings (netsh winhttp show proxy)",
    "@repair": "Run DISM /Online /Cleanup-Image /RestoreHealth, then sfc /scannow, and retry",
    "@reboot": "Restart the server to finish the installation",
}

# The known HRESULTs, kept as text so each hex value sits next to its name, as in Microsoft's
# reference. An entry is "0xCODE NAME[ reboot]: meaning", then optionally "-> action";
# indented lines continue the part above; "#" lines are headings.
_TABLE = """
# Windows Update Agent success codes (facility 0x024, severity success).
0x00240001 WU_S_SERVICE_STOP: the Windows Update Agent stopped successfully
0x00240002 WU_S_SELFUPDATE: the Windows Update Agent updated itself
0x00240003 WU_S_UPDATE_ERROR: completed, but errors occurred while applying the updates
    -> Check which updates failed and retry them
0x00240005 WU_S_REBOOT_REQUIRED reboot: the server must restart to finish installing the update
    -> @reboot
0x00240006 WU_S_ALREADY_INSTALLED: the update was already installed
0x00240007 WU_S_ALREADY_UNINSTALLED: the update to remove was not installed
0x00240008 WU_S_ALREADY_DOWNLOADED: the update was already downloaded
0x00242015 WU_S_UH_INSTALLSTILLPENDING: the update's installation is still in progress
    -> Check again after the installation finishes (a restart may be pending)
# Windows Update Agent errors (facility 0x024): agent, handler (UH), protocol (PT),
# download manager (DM), data store (DS), Automatic Updates (AU).
0x80240001 WU_E_NO_SERVICE: the Windows Update Agent could not provide the service
    -> Restart the Windows Update service (wuauserv) and retry
0x80240009 WU_E_OPERATIONINPROGRESS: another conflicting operation, such as an installation, was
    running
    -> Let the running operation finish, then retry
0x8024000B WU_E_CALL_CANCELLED: the operation was cancelled
    -> @retry
0x80240016 WU_E_INSTALL_NOT_ALLOWED: install refused: another one was running or a restart was
    pending
    -> Restart the server, then retry
0x80240017 WU_E_NOT_APPLICABLE: no applicable updates: the update does not apply to this server
    -> Nothing to install; check the update targets this OS version and edition
0x8024001E WU_E_SERVICE_STOP: stopped because the service or the system was shutting down
    -> Retry once the server is up and not restarting
0x8024001F WU_E_NO_CONNECTION: the operation stopped because the network connection was unavailable
    -> @network
0x80240020 WU_E_NO_INTERACTIVE_USER: the operation needs a logged-on interactive user; there was
    none
    -> Install this update in a way that does not need a user session, or with one
0x80240021 WU_E_TIME_OUT: the operation timed out
    -> @retry
0x80240022 WU_E_ALL_UPDATES_FAILED: the operation failed for every update
    -> Look at each update's own error in WindowsUpdate.log; often disk space or a damaged component
       store (run DISM /Online /Cleanup-Image /RestoreHealth)
0x80240024 WU_E_NO_UPDATE: there are no updates
0x80240025 WU_E_USER_ACCESS_DISABLED: Group Policy settings prevented access to Windows Update
    -> Review the Windows Update Group Policy settings applied to the server
0x8024002E WU_E_WU_DISABLED: access to an unmanaged update server (Windows Update itself, not the
    managed WSUS server) is not allowed
    -> Point the server at its managed update server: check the WSUS settings (WUServer,
       UseWUServer) and the policy that keeps it off Windows Update Internet locations
0x8024002F WU_E_CALL_CANCELLED_BY_POLICY: the operation did not complete because the
    DisableWindowsUpdateAccess policy was set
    -> Review the Group Policy setting that removes access to Windows Update features
       (DisableWindowsUpdateAccess)
0x80240034 WU_E_DOWNLOAD_FAILED: the update failed to download
    -> @network
0x80240438 WU_E_PT_ENDPOINT_UNREACHABLE: no route or network connectivity to the update endpoint
    -> @network
0x80240FFF WU_E_UNEXPECTED: an operation failed for a reason no other Windows Update code covers
    -> @retry
0x80242006 WU_E_UH_INVALIDMETADATA: the handler could not finish: the update's metadata is invalid
    -> Clear the update cache (stop wuauserv, rename SoftwareDistribution) and retry
0x8024200B WU_E_UH_INSTALLERFAILURE: the installer failed to install (or uninstall) some updates
    -> Check CBS.log and WindowsUpdate.log for the underlying error
0x8024200D WU_E_UH_NEEDANOTHERDOWNLOAD: not installed because the update must be downloaded again
    -> Retry: the next run downloads the update again
0x80242014 WU_E_UH_POSTREBOOTSTILLPENDING reboot: the update's post-restart operation is still in
    progress
    -> Check again once the post-restart operation has finished; if it stays pending, restart the
       server
0x80242017 WU_E_UH_NEW_SERVICING_STACK_REQUIRED: the servicing stack must be updated before this
    update
    -> Install the latest Servicing Stack Update first, then retry
0x80243FFF WU_E_AUCLIENT_UNEXPECTED: a Windows Update user-interface error that no other code covers
    -> @retry
0x8024A000 WU_E_AU_NOSERVICE: Automatic Updates could not service incoming requests
    -> Restart the Windows Update service (wuauserv) and retry
0x8024400A WU_E_PT_SOAPCLIENT_PARSE: the client could not parse the update server's response
    -> Check the WSUS server's health, then retry
0x80244010 WU_E_PT_EXCEEDED_MAX_SERVER_TRIPS: too many round trips to the update server
    -> Retry; on WSUS, decline superseded updates to shrink the catalogue
0x80244017 WU_E_PT_HTTP_STATUS_DENIED: HTTP 401: the update server requires authentication
    -> Check the proxy or WSUS authentication settings
0x80244018 WU_E_PT_HTTP_STATUS_FORBIDDEN: HTTP 403: the update server refused the request
    -> Check proxy and firewall rules for the update URLs
0x80244019 WU_E_PT_HTTP_STATUS_NOT_FOUND: HTTP 404: the update server cannot find the requested file
    -> Check the WSUS server's content and URL, or the proxy
0x8024401B WU_E_PT_HTTP_STATUS_PROXY_AUTH_REQ: HTTP 407: the proxy requires authentication
    -> Configure a proxy the SYSTEM account can use, or allow the update URLs
0x8024401C WU_E_PT_HTTP_STATUS_REQUEST_TIMEOUT: HTTP 408: the update server timed out waiting for
    the request
    -> @network
0x8024401F WU_E_PT_HTTP_STATUS_SERVER_ERROR: HTTP 500: an error inside the update server
    -> Check the WSUS server (IIS and the WSUS application pool), then retry
0x80244022 WU_E_PT_HTTP_STATUS_SERVICE_UNAVAIL: HTTP 503: the update service is temporarily
    overloaded
    -> Retry later; on WSUS, check the WsusPool application pool
0x8024402C WU_E_PT_WINHTTP_NAME_NOT_RESOLVED: the proxy or update server name cannot be resolved
    -> Check DNS and the proxy / WSUS server name configured on the server
0x8024402F WU_E_PT_ECP_SUCCEEDED_WITH_ERRORS: processing an external cab file completed with errors
    -> Check web filters or proxies that rewrite downloads, then retry
0x80244FFF WU_E_PT_UNEXPECTED: a communication error that no other protocol code covers
    -> @network
0x80246002 WU_E_DM_INCORRECTFILEHASH: a downloaded file's digest did not match the expected one
    -> Clear the update cache (stop wuauserv, rename SoftwareDistribution) and retry
0x80246005 WU_E_DM_NONETWORK: the download stopped: the network connection was unavailable
    -> @network
0x80246007 WU_E_DM_NOTDOWNLOADED: the update has not been downloaded
    -> Retry the download; check disk space and network access
0x80246008 WU_E_DM_FAILTOCONNECTTOBITS: the download manager could not connect to the BITS service
    -> Make sure the BITS service is enabled and running, then retry
0x80248007 WU_E_DS_NODATA: the requested information is not in the Windows Update data store
    -> Clear the update cache (stop wuauserv, rename SoftwareDistribution) and retry
# COM errors and Win32 errors wrapped in an HRESULT (facility 7; WinHTTP 12xxx).
0x80004005 E_FAIL: unspecified failure
    -> @retry
0x80070002 ERROR_FILE_NOT_FOUND: a file the update needs was not found
    -> Clear the update cache (stop wuauserv, rename SoftwareDistribution) and retry
0x80070005 E_ACCESSDENIED: access denied (Win32 ERROR_ACCESS_DENIED)
    -> Check that the update runs as SYSTEM and that antivirus is not blocking files
0x8007000D ERROR_INVALID_DATA: the data is invalid
    -> @repair
0x8007000E E_OUTOFMEMORY: not enough memory to complete the operation
    -> Free memory (or add it) and retry
0x80070020 ERROR_SHARING_VIOLATION: a file is in use by another process
    -> Check antivirus or backup software locking files, restart and retry
0x80070057 E_INVALIDARG: an argument or parameter is incorrect
    -> @retry
0x80070070 ERROR_DISK_FULL: there is not enough space on the disk
    -> Free disk space on the system drive and retry
0x80070422 ERROR_SERVICE_DISABLED: a service the update needs (Windows Update, BITS) is disabled
    -> Set the Windows Update and BITS services to Manual or Automatic, then retry
0x80070490 ERROR_NOT_FOUND: an element was not found (often a damaged component store)
    -> @repair
0x8007054F ERROR_INTERNAL_ERROR: an internal error occurred
    -> @repair
0x800705B4 ERROR_TIMEOUT: the operation timed out
    -> @retry
0x80070643 ERROR_INSTALL_FAILURE: a fatal error occurred during installation (Windows Installer)
    -> Check the update's installer log; for .NET updates run the .NET repair tool
0x80070652 ERROR_INSTALL_ALREADY_RUNNING: another installation is already in progress
    -> Let the other installation finish (or restart the server), then retry
0x80070BC2 ERROR_SUCCESS_REBOOT_REQUIRED reboot: installed, but the server must restart to finish
    -> @reboot
0x80070BC9 ERROR_FAIL_REBOOT_REQUIRED reboot: the requested operation failed; restart the system to
    roll back changes made
    -> Restart the server to roll back the changes, make sure no policy sets how the Windows
       Installer service starts (its default start-up type is Manual), then retry
0x80072EE2 ERROR_INTERNET_TIMEOUT: the connection to the update source timed out
    -> @network
0x80072EE7 ERROR_INTERNET_NAME_NOT_RESOLVED: the update server's name could not be resolved
    -> Check DNS and the proxy / WSUS server name configured on the server
0x80072EFD ERROR_INTERNET_CANNOT_CONNECT: the connection to the update server could not be made
    -> @network
0x80072F8F ERROR_WINHTTP_SECURE_FAILURE: TLS error talking to the update server (wrong clock? TLS
    interception?)
    -> Check the server's clock and that no proxy intercepts TLS to the update URLs
0x80073712 ERROR_SXS_COMPONENT_STORE_CORRUPT: the component store is damaged
    -> @repair
# Certificates (facility 0x00B) and Component Based Servicing (CBS, facility 0x00F).
0x800B0109 CERT_E_UNTRUSTEDROOT: a certificate chain ends in a root certificate that is not trusted
    -> Update the server's trusted root certificates, then retry
0x800F081E CBS_E_NOT_APPLICABLE: the package does not apply to this server
    -> Nothing to install; check the update targets this OS version and edition
0x800F081F CBS_E_SOURCE_MISSING: the source files for the package or a component were not found
    -> Run DISM /Online /Cleanup-Image /RestoreHealth with a /Source that matches the OS build, then
       retry
0x800F0823 CBS_E_NEW_SERVICING_STACK_REQUIRED: the package needs a newer servicing stack
    -> Install the latest Servicing Stack Update first, then retry
0x800F0831 CBS_E_STORE_CORRUPTION: the component store is damaged: a package the update needs is
    missing
    -> @repair
0x800F0906 CBS_E_DOWNLOAD_FAILURE: the source files could not be downloaded
    -> @network
0x800F0920 CBS_E_HANG_DETECTED: servicing hung while processing the update
    -> Restart the server and retry
0x800F0922 CBS_E_INSTALLERS_FAILED: the update's installers failed (full System Reserved partition,
    old servicing stack or no access to the update source)
    -> Check the System Reserved partition has free space, install the latest Servicing Stack
       Update, and retry
0x800F0982 PSFX_E_MATCHING_COMPONENT_NOT_FOUND: a component the update patches is missing from the
    server
    -> @repair
"""


def _parse_table(text: str) -> dict[int, HResult]:
    """Build the HRESULT table from its text form (see ``_TABLE``)."""
    table = {}
    for entry in re.split(r"\n(?=0x)", text.strip()):
        body = " ".join(line.strip() for line in entry.splitlines() if not line.startswith("#"))
        if not body:
            continue
        head, _, rest = body.partition(": ")
        meaning, _, action = rest.partition(" -> ")
        code, name, *flags = head.split()
        table[int(code, 16)] = HResult(
            int(code, 16), name, meaning, _ACTIONS.get(action, action) or None, flags == ["reboot"]
        )
    return table


HRESULTS: dict[int, HResult] = _parse_table(_TABLE)

# Facilities worth naming in an explanation (bits 16-28 of an HRESULT).
_FACILITIES = {
    0x000: "none (generic COM)",
    0x007: "Win32",
    0x009: "security",
    0x00B: "certificates",
    0x00F: "setup / servicing (CBS)",
    0x024: "Windows Update",
}

_HEX = re.compile(r"0[xX]([0-9A-Fa-f]{1,16})")
_DECIMAL = re.compile(r"-?[0-9]{1,20}")
# In a message: a hex or decimal token that is not part of a longer word, ID or number.
_HEX_TOKEN = re.compile(r"(?<![0-9A-Za-z_])0[xX]([0-9A-Fa-f]{1,8})(?![0-9A-Za-z_])")
_DECIMAL_TOKEN = re.compile(r"(?<![0-9A-Za-z_.-])(-?[0-9]{5,10})(?!\.?[0-9A-Za-z_])")
_RESULT_LABEL = re.compile(
    r"result[ _-]?code\s*(?:[:=#]\s*)?(-?[0-9]{1,10})(?!\.?[0-9A-Za-z_])", re.IGNORECASE
)
_BARE_NUMBER = re.compile(r"\s*(-?[0-9]{1,10})\s*")
_HEX_DIGITS = re.compile(r"\s*[0-9A-Fa-f]{8}\s*")
# A decimal below this is too small to be read as an HRESULT (and may be a result code).
_MIN_DECIMAL_HRESULT = 0x10000


def _to_unsigned(value: int) -> int | None:
    """A signed or unsigned 32-bit value as unsigned; None if it fits neither."""
    if 0 <= value <= 0xFFFFFFFF:
        return value
    if -0x80000000 <= value < 0:
        return value & 0xFFFFFFFF
    return None


def parse_hresult(text: str) -> int | None:
    """Read one HRESULT written as ``0x`` hex, signed decimal or unsigned decimal.

    Hex needs the ``0x`` prefix: ``"80240022"`` is read as the decimal number it looks like.

    >>> [f"{parse_hresult(t):#x}" for t in ("0x80240022", "-2145124318", "2149842978")]
    ['0x80240022', '0x80240022', '0x80240022']
    >>> parse_hresult("Result Code: 2") is None
    True
    """
    if not isinstance(text, str):
        return None
    text = text.strip()
    if match := _HEX.fullmatch(text):
        value = int(match.group(1), 16)
        return value if value <= 0xFFFFFFFF else None
    if match := _DECIMAL.fullmatch(text):
        return _to_unsigned(int(match.group(0)))
    return None


def format_hresult(code: int) -> str:
    """Write an HRESULT the way Microsoft's reference does: ``0x`` and eight upper-case digits.

    >>> format_hresult(-2145124318)
    '0x80240022'
    """
    return f"0x{code & 0xFFFFFFFF:08X}"


def _hresult_in(text: str) -> int | None:
    """The first HRESULT in ``text``: any ``0x`` hex, else a decimal of magnitude >= 0x10000."""
    if match := _HEX_TOKEN.search(text):
        return int(match.group(1), 16)
    for match in _DECIMAL_TOKEN.finditer(text):
        value = int(match.group(1))
        if abs(value) >= _MIN_DECIMAL_HRESULT and (unsigned := _to_unsigned(value)) is not None:
            return unsigned
    return None


def _labelled_result(text: str) -> tuple[int | None, str]:
    """The number after ``Result Code`` (if any) and the text with that label removed."""
    match = _RESULT_LABEL.search(text)
    if match is None:
        return None, text
    return int(match.group(1)), text[: match.start()] + " " + text[match.end() :]


def parse_end_message(text: str | None) -> tuple[int | None, int | None]:
    """Read ``(result code, HRESULT)`` from a ``patch_end_message``.

    The result code is the number after ``Result Code`` when it is 0-5 (a message that is
    only a number 0-5 counts too); any other number there is not a result code. The HRESULT
    is the first ``0x`` hex value, else the first other decimal whose magnitude is at least
    0x10000, as an unsigned 32-bit value. Never raises, whatever it is given.

    >>> parse_end_message("Result Code: 2")
    (2, None)
    >>> code, hresult = parse_end_message("Result Code: 4, HResult: -2145124318")
    >>> code, format_hresult(hresult)
    (4, '0x80240022')
    """
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)  # a payload that sends the code as a JSON number
    if not isinstance(text, str) or not text.strip():
        return None, None
    if match := _BARE_NUMBER.fullmatch(text):
        value = int(match.group(1))
        if value in RESULT_CODES:
            return value, None
        return None, _hresult_in(text)
    labelled, rest = _labelled_result(text)
    result = labelled if labelled in RESULT_CODES else None
    hresult = _hresult_in(rest)
    if hresult is None and labelled is not None and abs(labelled) >= _MIN_DECIMAL_HRESULT:
        # "Result Code: -2145124318": an HRESULT written where the result code belongs.
        hresult = _to_unsigned(labelled)
    return result, hresult


def _explain_result(code: int, *, bare: bool) -> list[str]:
    """Lines describing result code ``code`` (known or not)."""
    known = RESULT_CODES.get(code)
    if known is None:
        return [
            f"Result code {code}: not a Windows Update result code (those are 0-5).",
            "A report shows such a patch as Unknown and keeps the raw message.",
        ]
    lines = [
        f"Result code {code}: {known.name}",
        f"Meaning: {known.meaning}.",
        "This is the Windows Update OperationResultCode from the patch's end message.",
    ]
    if bare:
        lines.append(
            f"Note: a bare number 0-5 is read as a result code, not as HRESULT "
            f"{format_hresult(code)}."
        )
    return lines


def _explain_hresult(code: int) -> list[str]:
    """Lines describing HRESULT ``code`` (unsigned): name, meaning, action, decimal forms."""
    hex_form = format_hresult(code)
    signed = code - 0x100000000 if code & 0x80000000 else code
    facility = (code >> 16) & 0x1FFF
    severity = "error" if code & 0x80000000 else "success"
    known = HRESULTS.get(code)
    if known is not None:
        lines = [f"HRESULT {hex_form}: {known.name}", f"Meaning: {known.meaning}."]
        if known.action:
            lines.append(f"What to do: {known.action}.")
        if known.reboot_required:
            lines.append(
                "Reboot required: yes. Reports flag it; an attempt that succeeded but needs a "
                "restart counts as compliant, with a warning."
            )
    elif facility == 0x024:
        lines = [
            f"HRESULT {hex_form}: a Windows Update Agent code (facility WU) that is not in "
            "reporter's table.",
            "Look it up in Microsoft's 'Windows Update error codes' reference.",
        ]
    elif facility == 0x007:
        win32 = code & 0xFFFF
        lines = [
            f"HRESULT {hex_form}: a Win32 error (facility 7), error number {win32} "
            f"(0x{win32:04X}) in the low 16 bits; not in reporter's table.",
            f"On Windows, 'net helpmsg {win32}' prints its text.",
        ]
    else:
        lines = [f"HRESULT {hex_form}: not in reporter's table."]
    facility_name = _FACILITIES.get(facility, "other")
    lines.append(f"Facility: 0x{facility:03X} ({facility_name}), severity: {severity}.")
    if signed < 0:
        lines.append(f"Decimal forms: {signed} (signed), {code} (unsigned).")
    else:
        lines.append(f"Decimal form: {code}.")
    return lines


def explain(text: str) -> str:
    """Explain a result code or an HRESULT for ``reporter explain CODE``, as plain text.

    Accepts ``"2"``, ``"Result Code: 4"``, ``"0x80240022"``, ``"-2145124318"``,
    ``"2149842978"`` and whole end messages such as ``"Result Code: 4, HResult: 0x80240022"``.

    Raises:
        UsageError: ``text`` holds neither a result code nor an HRESULT.
    """
    shown = " ".join(str(text).split())[:80]
    if match := _BARE_NUMBER.fullmatch(text):
        value = int(match.group(1))
        if value in RESULT_CODES:
            return "\n".join(_explain_result(value, bare=True))
        unsigned = _to_unsigned(value)
        if abs(value) < _MIN_DECIMAL_HRESULT or unsigned is None:
            raise UsageError(
                f"{shown!r} is not a result code (0-5) or an HRESULT (0x80240022, "
                "-2145124318 or 2149842978)"
            )
        lines = _explain_hresult(unsigned)
        hex_reading = int(match.group(1), 16) if len(match.group(1)) == 8 else None
        if hex_reading in HRESULTS:
            lines.append(
                f"Hex needs a 0x prefix: did you mean 0x{match.group(1)} "
                f"({HRESULTS[hex_reading].name})?"
            )
        return "\n".join(lines)
    if (hresult := parse_hresult(text)) is not None:
        return "\n".join(_explain_hresult(hresult))
    labelled, _ = _labelled_result(text)
    _, hresult = parse_end_message(text)
    lines = []
    if labelled is not None and abs(labelled) < _MIN_DECIMAL_HRESULT:
        lines += _explain_result(labelled, bare=False)
    if hresult is not None:
        lines += ([""] if lines else []) + _explain_hresult(hresult)
    if not lines:
        if _HEX_DIGITS.fullmatch(text):
            raise UsageError(
                f"{shown!r} is not a result code or an HRESULT: hex needs a 0x prefix "
                f"(0x{text.strip()})"
            )
        raise UsageError(
            f"{shown!r} is not a result code or an HRESULT; try a number 0-5, "
            "'Result Code: 4', 0x80240022, -2145124318 or 2149842978"
        )
    return "\n".join(lines)
