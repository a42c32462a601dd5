"""E-mail delivery against a real SMTP server on loopback (aiosmtpd), with TLS from a test CA."""

import base64
import hashlib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from factories import make_model

from reporter.deliver import (
    SmtpSettings,
    build_message,
    parse_recipients,
    send_report,
    smtp_settings_from_env,
)
from reporter.errors import ConfigError, DeliveryError, UsageError
from reporter.logs import redact

USER, PASSWORD = "mailer", "s3cret-Passw0rd"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@dataclass
class Mailbox:
    """What the SMTP server received."""

    envelopes: list = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    """Accept only USER/PASSWORD."""
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    """A loopback port free right now (aiosmtpd's controller cannot take port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Relay:
    """A running SMTP server and what it received."""

    port: int
    mailbox: Mailbox


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def cafile(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def start_relay() -> Iterator:
    """Start aiosmtpd controllers on free loopback ports; stop them at teardown."""
    controllers: list[Controller] = []

    def start(**kwargs) -> Relay:
        mailbox = Mailbox()
        controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        controllers.append(controller)
        return Relay(controller.port, mailbox)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def report_files(tmp_path: Path) -> list[Path]:
    pdf = tmp_path / "patch-compliance-2026-10.pdf"
    pdf.write_bytes(PDF)
    csv = tmp_path / "patch-compliance-2026-10.csv"
    csv.write_text("account_alias,server_id\nOSD,VA1\n", encoding="utf-8")
    return [pdf, csv]


def settings(port: int, security: str, **kwargs) -> SmtpSettings:
    values = {"host": "127.0.0.1", "port": port, "security": security, "timeout": 10.0}
    values["sender"] = "reports@example.com"
    return SmtpSettings(**(values | kwargs))


def received(relay: Relay):
    assert len(relay.mailbox.envelopes) == 1
    envelope = relay.mailbox.envelopes[0]
    return envelope, message_from_bytes(envelope.original_content, policy=policy.default)


def check_message(relay: Relay, recipients: list[str]) -> None:
    """The relay got the report: subject, recipients, body and the PDF byte for byte."""
    envelope, message = received(relay)
    assert envelope.rcpt_tos == recipients
    assert envelope.mail_from == "reports@example.com"
    # A subject longer than a header line is folded: the parser keeps the fold's space.
    assert message["Subject"].strip() == (
        "Patch compliance 2026-10: 50.0% compliant (6/12 servers), report ffffffffffff"
    )
    body = message.get_body(("plain",)).get_content()
    assert "Servers in scope: 12" in body
    assert "Non-compliant: 2" in body
    assert "OSD/VA1OSDWEB02" in body
    assert "patch-compliance-2026-10.pdf" in body
    assert f"PDF SHA-256: {hashlib.sha256(PDF).hexdigest()} (patch-compliance-2026-10.pdf)" in body
    parts = {part.get_filename(): part for part in message.iter_attachments()}
    assert parts["patch-compliance-2026-10.pdf"].get_content_type() == "application/pdf"
    assert parts["patch-compliance-2026-10.pdf"].get_content() == PDF
    assert parts["patch-compliance-2026-10.csv"].get_content_type() == "text/csv"


def test_plain_delivery_on_loopback(start_relay, report_files: list[Path]) -> None:
    relay = start_relay()
    recipients = ["audit@example.com", "ops@example.org"]
    message = build_message(make_model(), recipients, "reports@example.com", report_files)
    send_report(settings(relay.port, "none"), recipients, message)
    check_message(relay, recipients)


def test_starttls_with_login_verifies_against_the_private_ca(
    start_relay, server_tls, cafile, report_files
) -> None:
    relay = start_relay(tls_context=server_tls, require_starttls=True, authenticator=authenticator)
    recipients = ["audit@example.com"]
    message = build_message(make_model(), recipients, "reports@example.com", report_files)
    smtp = settings(relay.port, "starttls", cafile=cafile, user=USER, password=PASSWORD)
    send_report(smtp, recipients, message)
    check_message(relay, recipients)


def test_implicit_tls_with_login(start_relay, server_tls, cafile, report_files) -> None:
    # The connection is TLS from the start, which aiosmtpd's auth_require_tls does not see.
    relay = start_relay(ssl_context=server_tls, authenticator=authenticator, auth_require_tls=False)
    recipients = ["audit@example.com"]
    message = build_message(make_model(), recipients, "reports@example.com", report_files)
    smtp = settings(relay.port, "ssl", cafile=cafile, user=USER, password=PASSWORD)
    send_report(smtp, recipients, message)
    check_message(relay, recipients)


def test_an_untrusted_certificate_is_refused(start_relay, server_tls, report_files) -> None:
    relay = start_relay(tls_context=server_tls, require_starttls=True)
    message = build_message(make_model(), ["a@example.com"], "reports@example.com", report_files)
    with pytest.raises(DeliveryError, match=r"certificate is not trusted.*REPORTER_SMTP_CAFILE"):
        send_report(settings(relay.port, "starttls"), ["a@example.com"], message)
    assert relay.mailbox.envelopes == []


def test_a_wrong_password_fails_without_showing_it(
    start_relay, server_tls, cafile, report_files
) -> None:
    relay = start_relay(tls_context=server_tls, require_starttls=True, authenticator=authenticator)
    wrong = "not-the-Passw0rd-42"
    message = build_message(make_model(), ["a@example.com"], "reports@example.com", report_files)
    smtp = settings(relay.port, "starttls", cafile=cafile, user=USER, password=wrong)
    with pytest.raises(DeliveryError) as caught:
        send_report(smtp, ["a@example.com"], message)
    text = str(caught.value)
    assert "refused the login of mailer" in text
    assert wrong not in text and PASSWORD not in text
    assert "\n" not in text
    assert relay.mailbox.envelopes == []


def test_a_relay_without_starttls_is_refused(start_relay, report_files) -> None:
    relay = start_relay()
    message = build_message(make_model(), ["a@example.com"], "reports@example.com", report_files)
    with pytest.raises(DeliveryError, match="does not support STARTTLS"):
        send_report(settings(relay.port, "starttls"), ["a@example.com"], message)


def test_an_unreachable_relay_is_one_clear_line(report_files) -> None:
    message = build_message(make_model(), ["a@example.com"], "reports@example.com", report_files)
    with pytest.raises(DeliveryError, match=r"cannot connect to the SMTP server 127\.0\.0\.1:\d+"):
        send_report(settings(free_port(), "none"), ["a@example.com"], message)


def test_settings_from_the_environment() -> None:
    env = {
        "REPORTER_SMTP_HOST": "smtp.example.com",
        "REPORTER_SMTP_USER": "reports@example.com",
        "REPORTER_SMTP_PASSWORD": "hunter2-hunter2",
    }
    smtp = smtp_settings_from_env(env)
    assert (smtp.host, smtp.port, smtp.security) == ("smtp.example.com", 587, "starttls")
    assert smtp.sender == "reports@example.com"
    assert "hunter2" not in repr(smtp)
    assert redact("login hunter2-hunter2 failed") == "login *** failed"
    ssl_env = env | {"REPORTER_SMTP_SECURITY": "SSL", "REPORTER_SMTP_FROM": "audit@example.org"}
    smtp = smtp_settings_from_env(ssl_env)
    assert (smtp.port, smtp.security, smtp.sender) == (465, "ssl", "audit@example.org")
    local = smtp_settings_from_env(
        {"REPORTER_SMTP_HOST": "localhost", "REPORTER_SMTP_SECURITY": "none",
         "REPORTER_SMTP_FROM": "r@example.com", "REPORTER_SMTP_PORT": "2525"}
    )  # fmt: skip
    assert (local.port, local.user, local.password) == (2525, None, None)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "REPORTER_SMTP_HOST is not set"),
        ({"REPORTER_SMTP_HOST": "smtp.example.com"}, "REPORTER_SMTP_FROM is not set"),
        (
            {"REPORTER_SMTP_HOST": "smtp.example.com", "REPORTER_SMTP_SECURITY": "none"},
            "allowed only for a relay on this machine",
        ),
        ({"REPORTER_SMTP_HOST": "h", "REPORTER_SMTP_SECURITY": "tls"}, "starttls, ssl or none"),
        ({"REPORTER_SMTP_HOST": "h", "REPORTER_SMTP_PORT": "smtp"}, "not a number"),
        ({"REPORTER_SMTP_HOST": "h", "REPORTER_SMTP_PORT": "70000"}, "from 1 to 65535"),
        ({"REPORTER_SMTP_HOST": "h", "REPORTER_SMTP_USER": "u"}, "PASSWORD is not"),
        ({"REPORTER_SMTP_HOST": "h", "REPORTER_SMTP_FROM": "x\r\nBcc: y@z"}, "not an e-mail"),
        (
            {"REPORTER_SMTP_HOST": "h", "REPORTER_SMTP_FROM": "a@b", "REPORTER_SMTP_CAFILE": "/no"},
            "not a readable file",
        ),
    ],
)
def test_bad_settings_are_config_errors(env: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        smtp_settings_from_env(env)


def test_parse_recipients() -> None:
    assert parse_recipients("a@x.com, b@y.org;A@X.com") == ["a@x.com", "b@y.org"]
    for bad in ["", " , ", "not-an-address", "a@x.com\r\nBcc: evil@x.com", "Name <a@x.com>"]:
        with pytest.raises(UsageError):
            parse_recipients(bad)


def test_the_subject_cannot_carry_headers(report_files: list[Path]) -> None:
    model = make_model(hostile=True)
    model.meta = replace(model.meta, title="Audit\r\nBcc: evil@x.com")
    message = build_message(model, ["a@example.com"], "r@example.com", report_files[:1])
    assert message["Subject"].startswith("Audit Bcc: evil@x.com 2026-10:")
    assert message["Bcc"] is None
    assert "\r" not in message["Subject"] and "\n" not in message["Subject"]
    raw = message.as_bytes()
    assert b"\nBcc:" not in raw


def free_port_v6() -> int:
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        return probe.getsockname()[1]


def ipv6_loopback() -> bool:
    try:
        free_port_v6()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_an_ipv6_loopback_relay_written_with_brackets_is_reached(report_files) -> None:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="::1", port=free_port_v6())
    controller.start()
    try:
        env = {
            "REPORTER_SMTP_HOST": "[::1]",
            "REPORTER_SMTP_PORT": str(controller.port),
            "REPORTER_SMTP_SECURITY": "none",
            "REPORTER_SMTP_FROM": "reports@example.com",
        }
        smtp = smtp_settings_from_env(env)
        assert smtp.host == "::1"
        message = build_message(make_model(), ["a@example.com"], smtp.sender, report_files)
        send_report(smtp, ["a@example.com"], message)
    finally:
        controller.stop()
    check_message(Relay(controller.port, mailbox), ["a@example.com"])


# Encoded words decode to CR LF on some Pythons when a header is built: a title could then
# add a Reply-To header and replace the body (and drop the PDF) of the mail to auditors.
HOSTILE_TITLES = [
    "Audit =?utf-8?b?"
    + base64.b64encode(b"x\r\nReply-To: evil@x.com\r\n\r\nowned").decode()
    + "?=",
    "Audit =?utf-8?q?x=0D=0AReply-To:_evil@x.com=0D=0A=0D=0Aowned?=",
    "Audit\u2028Reply-To: evil@x.com\u2029\u0085x",
    "Audit\r\nReply-To: evil@x.com\r\n\r\nowned",
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_no_title_adds_headers_or_replaces_the_body(start_relay, report_files, title) -> None:
    relay = start_relay()
    model = make_model()
    model.meta = replace(model.meta, title=title)
    message = build_message(model, ["a@example.com"], "reports@example.com", report_files)
    send_report(settings(relay.port, "none"), ["a@example.com"], message)
    envelope, received_message = received(relay)
    assert envelope.rcpt_tos == ["a@example.com"]
    assert received_message["Reply-To"] is None
    assert sorted(received_message.keys()) == sorted(message.keys())
    subject = received_message["Subject"].strip()
    assert "\n" not in subject and "\r" not in subject and "\u2028" not in subject
    assert subject.startswith("Audit") and subject.endswith(
        "compliant (6/12 servers), report ffffffffffff"
    )
    body = received_message.get_body(("plain",)).get_content()
    assert body.startswith("Audit") and "Servers in scope: 12" in body
    parts = {part.get_filename(): part for part in received_message.iter_attachments()}
    assert parts["patch-compliance-2026-10.pdf"].get_content() == PDF


def test_a_run_with_a_line_separator_in_its_title_mails_the_report(
    tmp_path, start_relay, sim_factory, credentials, monkeypatch
) -> None:
    from reporter.cli import main
    from reporter.simulator import Fleet

    fleet = Fleet.generate(servers=3, executions_per_server=1, seed=11)
    sim = sim_factory(fleet)
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(
        "server_id\n" + "".join(f"{server.server_id}\n" for server in fleet.servers),
        encoding="utf-8",
    )
    relay = start_relay()
    for name, value in {
        "REPORTER_SMTP_HOST": "127.0.0.1",
        "REPORTER_SMTP_PORT": str(relay.port),
        "REPORTER_SMTP_SECURITY": "none",
        "REPORTER_SMTP_FROM": "reports@example.com",
    }.items():
        monkeypatch.setenv(name, value)
    argv = ["run", str(inventory), "--out", str(tmp_path / "out"), "--format", "pdf"]
    argv += ["--api-url", sim.api_url, "--login-url", sim.login_url]
    argv += ["--title", "Audit\u2028Q4", "--email-to", "a@example.com"]
    assert main(argv) in (0, 3)
    envelope, message = received(relay)
    assert envelope.rcpt_tos == ["a@example.com"]
    assert message["Subject"].strip().startswith("Audit Q4 ")
    assert [part.get_content_type() for part in message.iter_attachments()] == ["application/pdf"]
    # The body quotes the PDF's SHA-256 and report ID, as the .sha256 line beside it has them.
    [checksum] = (tmp_path / "out").glob("*.pdf.sha256")
    digest, name = checksum.read_text(encoding="ascii").split()
    body = message.get_body(("plain",)).get_content()
    assert f"PDF SHA-256: {digest} ({name})" in body
    [pdf] = message.iter_attachments()
    assert hashlib.sha256(pdf.get_content()).hexdigest() == digest
    report_id = message["Subject"].split()[-1]
    assert f"Report ID: {report_id}" in body
