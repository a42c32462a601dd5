"""E-mailing the report: the PDF and a short summary to the auditors (SPEC 6).

Settings come from the environment (``REPORTER_SMTP_*``), never from arguments. TLS is
verified always: ``starttls`` (the default) and ``ssl`` check the relay's certificate against
the system's CAs, or against ``REPORTER_SMTP_CAFILE`` for a relay with an internal CA;
``none`` (no TLS at all) is allowed only for a relay on this machine (loopback).
"""

import hashlib
import mimetypes
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import TypeVar

from reporter.errors import ConfigError, DeliveryError, UsageError
from reporter.hosts import is_loopback
from reporter.logs import redact, register_secret
from reporter.model import NON_COMPLIANT, ReportModel

SECURITIES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_TIMEOUT = 30.0
TOP_SERVERS = 10  # non-compliant servers named in the body
Number = TypeVar("Number", int, float)

# A plain address: no display name, no comments, nothing a header could be bent with.
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
ATTACHMENT_TYPES = {
    ".pdf": ("application", "pdf"),
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".csv": ("text", "csv"),
    ".html": ("text", "html"),
}


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    """How to reach the SMTP relay. The password never shows in ``repr``."""

    host: str
    port: int
    security: str  # starttls | ssl | none
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str
    cafile: str | None = None  # a private CA bundle; verification stays on
    timeout: float = DEFAULT_TIMEOUT


def smtp_settings_from_env(env: Mapping[str, str]) -> SmtpSettings:
    """Read the SMTP settings from ``REPORTER_SMTP_*`` variables in ``env``.

    ``HOST`` and a sender (``FROM``, or ``USER`` when it is an address) are required;
    ``SECURITY`` is ``starttls`` (default), ``ssl`` or ``none`` (loopback relays only);
    ``PORT`` defaults to 587, 465 or 25 by security; ``USER`` and ``PASSWORD`` go together;
    ``CAFILE`` names a CA bundle; ``TIMEOUT`` is in seconds (default 30).

    Raises:
        ConfigError: A variable is missing or wrong; the message names it.
    """

    def get(name: str) -> str:
        return env.get(f"REPORTER_SMTP_{name}", "").strip()

    host = get("HOST")
    if not host:
        raise ConfigError("REPORTER_SMTP_HOST is not set: e-mail needs an SMTP relay")
    if CONTROL.search(host) or " " in host:
        raise ConfigError(f"REPORTER_SMTP_HOST {host!r} is not a host name")
    if host.startswith("[") and host.endswith("]"):
        # An IPv6 literal as URLs write it ("[::1]"): the socket wants the bare address, and
        # the loopback check below must judge the host that is really connected to.
        host = host[1:-1]
    security = get("SECURITY").lower() or "starttls"
    if security not in SECURITIES:
        raise ConfigError(
            f"REPORTER_SMTP_SECURITY is {security!r}: use starttls, ssl or none (loopback only)"
        )
    if security == "none" and not is_loopback(host):
        raise ConfigError(
            f"REPORTER_SMTP_SECURITY=none sends mail unencrypted: allowed only for a relay on "
            f"this machine, not {host}; use starttls or ssl"
        )
    port = parse_number("REPORTER_SMTP_PORT", get("PORT"), DEFAULT_PORTS[security], int)
    if not 0 < port < 65536:
        raise ConfigError(f"REPORTER_SMTP_PORT is {port}: use a port from 1 to 65535")
    timeout = parse_number("REPORTER_SMTP_TIMEOUT", get("TIMEOUT"), DEFAULT_TIMEOUT, float)
    if timeout <= 0:
        raise ConfigError("REPORTER_SMTP_TIMEOUT must be a positive number of seconds")
    user, password = get("USER") or None, env.get("REPORTER_SMTP_PASSWORD") or None
    register_secret(password)
    if bool(user) != bool(password):
        given, missing = ("USER", "PASSWORD") if user else ("PASSWORD", "USER")
        raise ConfigError(
            f"REPORTER_SMTP_{given} is set but REPORTER_SMTP_{missing} is not: give both or neither"
        )
    sender = get("FROM") or (user if user and ADDRESS.fullmatch(user) else "")
    if not sender:
        raise ConfigError("REPORTER_SMTP_FROM is not set: the sender's e-mail address")
    if not ADDRESS.fullmatch(sender):
        raise ConfigError(f"REPORTER_SMTP_FROM {sender!r} is not an e-mail address")
    cafile = get("CAFILE") or None
    if cafile and not Path(cafile).is_file():
        raise ConfigError(f"REPORTER_SMTP_CAFILE {cafile} is not a readable file")
    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        user=user,
        password=password,
        sender=sender,
        cafile=cafile,
        timeout=timeout,
    )


def parse_number(name: str, text: str, default: Number, kind: type[Number]) -> Number:
    """``text`` as ``kind`` (int or float), or ``default`` when empty; ConfigError if not one."""
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{name} is {text!r}: not a number") from None


def parse_recipients(text: str) -> list[str]:
    """Split and check a comma-separated list of addresses (``;`` works too).

    >>> parse_recipients("a@x.com, b@y.org")
    ['a@x.com', 'b@y.org']

    Raises:
        UsageError: The list is empty or an entry is not a plain e-mail address.
    """
    recipients: list[str] = []
    seen: set[str] = set()
    for entry in re.split(r"[,;]", text or ""):
        address = entry.strip()
        if not address:
            continue
        if not ADDRESS.fullmatch(address):
            raise UsageError(f"--email-to: {address!r} is not an e-mail address")
        if address.lower() not in seen:
            seen.add(address.lower())
            recipients.append(address)
    if not recipients:
        raise UsageError("--email-to names no e-mail address")
    return recipients


def build_message(
    model: ReportModel,
    recipients: Sequence[str],
    sender: str,
    attachments: Sequence[Path],
) -> EmailMessage:
    """The report e-mail: a summary in the subject and body, the files attached.

    Subject: ``Patch compliance 2026-10: 93.5% compliant (187/200 servers), report
    1a2b3c4d5e6f`` (the report ID every page of the PDF carries).
    """
    meta, kpis = model.meta, model.kpis
    message = EmailMessage()
    message["Subject"] = header_text(
        f"{meta.title} {meta.label}: {kpis.compliant_pct:.1f}% compliant "
        f"({kpis.compliant}/{kpis.servers} servers), report {meta.report_id}"
    )
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    files = [(Path(path).name, Path(path).read_bytes()) for path in attachments]
    pdfs = [(name, data) for name, data in files if name.lower().endswith(".pdf")]
    checksum = (pdfs[0][0], hashlib.sha256(pdfs[0][1]).hexdigest()) if pdfs else None
    message.set_content(body_text(model, [name for name, _ in files], checksum))
    for name, data in files:
        path = Path(name)
        maintype, subtype = ATTACHMENT_TYPES.get(path.suffix.lower(), (None, None))
        if maintype is None:
            guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            maintype, subtype = guessed.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)
    check_message(message, len(attachments))
    return message


def header_text(text: str) -> str:
    """``text`` made safe for a header value, whatever the standard library does with it.

    One line: control characters and every kind of line or paragraph separator (CR, LF,
    U+2028, U+2029, NEL, ...) become spaces. No encoded words: ``=?`` becomes ``= ?``, so that
    nothing RFC 2047 could decode (to CR LF and a header of its own) is left in it.

    >>> header_text("Audit =?utf-8?b?DQpCY2M6IHhAeC5jb20=?=\u2028x")
    'Audit = ?utf-8?b?DQpCY2M6IHhAeC5jb20= ?= x'
    """
    flat = "".join(char if char.isprintable() else " " for char in str(text))
    return " ".join(flat.split()).replace("=?", "= ?")


def check_message(message: EmailMessage, attachments: int) -> None:
    """Refuse a message whose serialised form does not read back as the one built.

    Defence in depth for SPEC 7: whatever the title or the library, the relay must receive
    exactly our headers and every attachment.

    Raises:
        DeliveryError: the message reads back with other headers or other parts.
    """
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    headers = sorted(name.lower() for name in parsed)
    expected = sorted(name.lower() for name in message)
    if headers != expected or len(list(parsed.iter_attachments())) != attachments:
        raise DeliveryError("the report e-mail could not be built safely; nothing was sent")


def body_text(
    model: ReportModel,
    attachment_names: Sequence[str],
    pdf_checksum: tuple[str, str] | None = None,
) -> str:
    """The plain-text body: period, accounts, figures, the worst servers, what is attached.

    ``pdf_checksum`` is the attached PDF's name and SHA-256: the body quotes it, so that the
    reader can check the file against it (and against its ``.sha256`` line).
    """
    meta, kpis = model.meta, model.kpis
    period = meta.period or f"not limited (report of {meta.label})"
    lines = [
        one_line(f"{meta.title} {meta.label}"),
        "",
        f"Report ID: {meta.report_id}",
        *([f"PDF SHA-256: {pdf_checksum[1]} ({pdf_checksum[0]})"] if pdf_checksum else []),
        f"Period: {period}",
        f"Accounts: {one_line(', '.join(meta.accounts)) or 'none'}",
        "",
        f"Servers in scope: {kpis.servers}",
        f"Counted as compliant: {kpis.compliant} ({kpis.compliant_pct:.1f}%)",
        *(f"{status}: {count}" for status, count in kpis.status_counts().items()),
        *(
            [f"Required patches overdue: {kpis.overdue} (due: {kpis.due})"]
            if model.standard.has_baseline
            else []
        ),
        f"Executions: {kpis.executions}",
        f"Patches attempted: {kpis.patches_attempted} (succeeded {kpis.succeeded}, "
        f"with warnings {kpis.warnings}, failed {kpis.failed}, "
        f"in progress {kpis.in_progress_patches})",
        f"Problems listed: {kpis.problems} (input rows not used, executions not fetched)",
    ]
    servers = model.servers
    if "compliance" in servers.columns:
        failing = servers[servers["compliance"] == NON_COMPLIANT]
        if len(failing):
            lines += [
                "",
                f"Non-compliant servers ({min(len(failing), TOP_SERVERS)} of {len(failing)}):",
            ]
            for row in failing.head(TOP_SERVERS).itertuples(index=False):
                server = one_line(f"{row.account_alias}/{row.server_id}")
                reason = one_line(str(getattr(row, "reason", "") or ""))
                lines.append(f"  {server}: {reason}" if reason else f"  {server}")
    lines += [
        "",
        f"Attached: {', '.join(attachment_names) or 'nothing'}",
        "",
        f"Generated at {meta.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC by reporter "
        f"{meta.tool_version} from {one_line(meta.data_source)}.",
    ]
    return "\n".join(lines) + "\n"


def one_line(text: str) -> str:
    """``text`` with control characters (CR, LF, tab, ...) turned into single spaces."""
    return CONTROL.sub(" ", str(text)).strip()


def send_report(settings: SmtpSettings, recipients: Sequence[str], message: EmailMessage) -> None:
    """Send ``message`` to ``recipients`` through the relay in ``settings``.

    Raises:
        DeliveryError: One line saying what failed (connection, TLS, login, recipients),
            never containing the password.
    """
    where = f"SMTP server {settings.host}:{settings.port}"
    try:
        send(settings, recipients, message)
    except smtplib.SMTPAuthenticationError as error:
        # The server's own text is left out: some relays echo what they were sent.
        fail(f"the {where} refused the login of {settings.user} (SMTP {error.smtp_code})")
    except smtplib.SMTPRecipientsRefused as error:
        fail(f"the {where} refused every recipient: {refusals(error.recipients)}")
    except smtplib.SMTPSenderRefused as error:
        fail(f"the {where} refused the sender {settings.sender}: {reply(error)}")
    except smtplib.SMTPNotSupportedError as error:
        fail(f"the {where} does not support {error}")
    except ssl.SSLCertVerificationError as error:
        fail(
            f"TLS with the {where} failed: its certificate is not trusted "
            f"({error.verify_message}); set REPORTER_SMTP_CAFILE for a private CA"
        )
    except ssl.SSLError as error:
        fail(f"TLS with the {where} failed: {error.reason or error}")
    except ConnectionRefusedError:
        fail(f"cannot connect to the {where}: connection refused")
    except TimeoutError:
        fail(f"the {where} did not answer within {settings.timeout:g} s")
    except socket.gaierror as error:
        fail(f"cannot find the {where}: {error.strerror}")
    except smtplib.SMTPResponseException as error:
        fail(f"the {where} refused the message: {reply(error)}")
    except (smtplib.SMTPException, OSError) as error:
        fail(f"sending through the {where} failed: {error}")


def send(settings: SmtpSettings, recipients: Sequence[str], message: EmailMessage) -> None:
    """Connect, secure, log in and send; exceptions are left to :func:`send_report`."""
    context = ssl.create_default_context(cafile=settings.cafile)
    client: smtplib.SMTP
    if settings.security == "ssl":
        client = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        if settings.security == "starttls":
            client.ehlo()
            if not client.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError("STARTTLS, which reporter requires")
            client.starttls(context=context)
            client.ehlo()
        if settings.user:
            log_in(client, settings.user, settings.password or "")
        refused = client.send_message(message, from_addr=settings.sender, to_addrs=list(recipients))
    if refused:
        fail(
            f"the SMTP server {settings.host}:{settings.port} accepted the message but refused "
            f"some recipients: {refusals(refused)}"
        )


def log_in(client: smtplib.SMTP, user: str, password: str) -> None:
    """Log in with one mechanism (PLAIN, else LOGIN, else smtplib's choice).

    ``SMTP.login`` would retry a refused password with every mechanism the server offers,
    which only brings an account lockout closer.
    """
    offered = (client.esmtp_features.get("auth") or "").upper().split()
    for mechanism in ("PLAIN", "LOGIN"):
        if mechanism in offered:
            client.user, client.password = user, password
            client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
            return
    client.login(user, password)


def refusals(refused: Mapping[str, tuple[int, bytes]]) -> str:
    """``{address: (code, reply)}`` as ``a@x (550 no such user), ...``."""
    return ", ".join(
        f"{address} ({code} {text.decode(errors='replace')})"
        for address, (code, text) in refused.items()
    )


def reply(error: smtplib.SMTPResponseException) -> str:
    """An SMTP error reply as ``550 text``."""
    text = error.smtp_error
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return f"{error.smtp_code} {text}"


def fail(text: str) -> None:
    """Raise the one-line DeliveryError, with any registered secret blanked out."""
    raise DeliveryError(redact(one_line(text))) from None
