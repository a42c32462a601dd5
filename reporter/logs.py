"""Logging to stderr, with secrets redacted from every line."""

import json
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


# A credential as HTTP writes one (token68): dots only inside, so a sentence's full stop stays.
_VALUE = r"[A-Za-z0-9_~+/-]+(?:\.[A-Za-z0-9_~+/-]+)*=*"
# "Authorization: Bearer x", '"Authorization": "x"', "authorization=x": a credential follows.
_AUTHORIZATION = re.compile(
    rf"(?i)(\bauthorization\b[\"']?\s*[:=]\s*[\"']?\s*)(bearer\s+)?({_VALUE})"
)
_BEARER = re.compile(rf"(?i)(\bbearer\s+)({_VALUE})")
_VALUE_MARKS = frozenset("0123456789_~+/=.")


def _is_value(text: str) -> bool:
    """Whether ``text`` looks like a credential rather than a word ("token", "token-based")."""
    return len(text) >= 24 or not _VALUE_MARKS.isdisjoint(text)


def _hide_authorization(match: re.Match) -> str:
    prefix, scheme, value = match.groups()
    if scheme or _is_value(value):
        return f"{prefix}{scheme or ''}***"
    return match.group(0)


def _hide_bearer(match: re.Match) -> str:
    return f"{match.group(1)}***" if _is_value(match.group(2)) else match.group(0)


def redact(text: str) -> str:
    """Replace every registered secret, and every token sent as a credential, with ``***``.

    Values are hidden, not words: "sent no bearer token" stays as it is, while the value in
    ``Authorization: Bearer <value>`` or ``Bearer eyJhbGciOi...`` does not.

    >>> redact("Authorization: Bearer abc.def-123; the API sent no bearer token")
    'Authorization: Bearer ***; the API sent no bearer token'
    """
    # Longest first, so a secret that contains another is hidden whole.
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _AUTHORIZATION.sub(_hide_authorization, text)
    return _BEARER.sub(_hide_bearer, text)


def redact_bytes(data: bytes) -> bytes:
    """``data`` with every registered secret, as UTF-8 or escaped in JSON, replaced by ``***``.

    For bodies kept as evidence: an API that echoes a credential in an error message must not
    get it written to disk.

    >>> register_secret("s3cr\u00e9t")
    >>> redact_bytes('{"message": "bad password s3cr\\u00e9t"}'.encode())
    b'{"message": "bad password ***"}'
    """
    for secret in sorted(_secrets, key=len, reverse=True):
        for form in {secret.encode(), json.dumps(secret)[1:-1].encode()}:
            if form in data:
                data = data.replace(form, b"***")
    return data


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
