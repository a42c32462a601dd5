"""What went wrong with a request that got no usable answer: a failure kind, and words for it.

The kind comes from the exception types alone; the words may be reworded at will, because no
decision reads them.
"""

import errno
import socket
import ssl

import requests
import urllib3

from reporter.problems import FailureKind


def describe_failure(error: requests.RequestException, timeout: float) -> tuple[FailureKind, str]:
    """What kind of failure a request that got no usable answer met, and a secret-free text.

    The kind comes from the exception types alone; the text may be reworded at will.
    """
    chain = causes(error)
    if isinstance(error, requests.Timeout):
        return FailureKind.TIMEOUT, f"timed out after {timeout:g} s"
    if isinstance(error, requests.exceptions.SSLError) or _any(chain, ssl.SSLError):
        text = " ".join(str(item) for item in chain).lower()
        if _any(chain, ssl.SSLCertVerificationError) or "certificate verify failed" in text:
            return FailureKind.TLS, "connection failed: the server's TLS certificate is not trusted"
        return FailureKind.TLS, "connection failed: TLS error"
    if any(_timed_out(item) for item in chain):
        # A read timeout while the body streams arrives wrapped in a ConnectionError.
        return FailureKind.TIMEOUT, f"timed out after {timeout:g} s"
    return FailureKind.UNREACHABLE, _connection_failure(error, chain)


def _connection_failure(error: BaseException, chain: list[BaseException]) -> str:
    for item in chain:
        code = getattr(item, "errno", None)
        if code == errno.ECONNREFUSED:
            return "connection refused"
        if code == errno.ECONNRESET:
            return "connection reset"
    if _any(chain, socket.gaierror):
        return "connection failed: host not found"
    text = " ".join(str(item) for item in chain).lower()
    if "refused" in text:
        return "connection refused"
    if "remote end closed" in text or "connection aborted" in text:
        return "connection closed by the server"
    return f"connection failed ({type(error).__name__})"


def _timed_out(error: BaseException) -> bool:
    # urllib3 2 makes NewConnectionError (refused, unreachable, ...) a kind of
    # ConnectTimeoutError for old callers' sake: it is not a timeout.
    if isinstance(error, urllib3.exceptions.NewConnectionError):
        return False
    return isinstance(error, TimeoutError | urllib3.exceptions.TimeoutError)


def _any(chain: list[BaseException], *types: type[BaseException]) -> bool:
    return any(isinstance(item, types) for item in chain)


def causes(error: BaseException) -> list[BaseException]:
    """``error`` and the exceptions it wraps (requests wraps urllib3 wraps socket errors)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        nested = [arg for arg in current.args if isinstance(arg, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            nested.append(reason)
        current = nested[0] if nested else current.__cause__ or current.__context__
    return chain
