"""Logging to stderr, with secrets redacted from every line."""

import logging
import re
import sys
from collections.abc import Mapping

_secrets: set[str] = set()

# The environment variables that hold secrets (SPEC 6). Their values are registered before
# anything is read or logged, so that no message can echo them, whatever file they turn up in.
SECRET_VARIABLES = (
    "CLC_PASSWORD",
    "CLC_V2_API_PASSWD",
    "CLC_BEARER_TOKEN",
    "REPORTER_SMTP_PASSWORD",
    "REPORTER_SIGN_PASSWORD",
)


def register_secret(value: str | None) -> None:
    """Make ``value`` (a password or token) print as ``***`` in every log line from now on."""
    if value:
        _secrets.add(value)


def register_environment_secrets(env: Mapping[str, str]) -> None:
    """Register the value of every secret-holding variable set in ``env``."""
    for name in SECRET_VARIABLES:
        register_secret(env.get(name))


def redact(text: str) -> str:
    """Replace every registered secret and every bearer token in ``text`` with ``***``."""
    # Longest first, so a secret that contains another is hidden whole.
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return re.sub(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+", r"\1***", text)


class RedactingFormatter(logging.Formatter):
    """A formatter whose output never contains a registered secret."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(debug: bool) -> None:
    """Send reporter's log to stderr: INFO normally, DEBUG (with urllib3's) under --debug."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("reporter: %(message)s"))
    root = logging.getLogger("reporter")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    # Notices a user cannot act on: the screen-only CSS rules WeasyPrint skips in print, and
    # pypdf's notes on harmless trailer quirks of the PDFs it merges.
    for library in ("weasyprint", "pypdf"):
        logging.getLogger(library).setLevel(logging.DEBUG if debug else logging.ERROR)
    # urllib3's connection log only under --debug; reset it otherwise, so a second in-process
    # run does not keep writing to the stream of an earlier one.
    urllib3_log = logging.getLogger("urllib3")
    urllib3_log.handlers[:] = [handler] if debug else []
    urllib3_log.setLevel(logging.DEBUG if debug else logging.WARNING)
