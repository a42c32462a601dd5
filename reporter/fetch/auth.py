"""Credentials, safe URLs, and the bearer token the fetch workers share."""

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from reporter.errors import AuthenticationError, InsecureUrlError, UsageError
from reporter.fetch.state import Wait, wait_on
from reporter.hosts import is_loopback
from reporter.logs import register_secret

CREDENTIAL_HELP = (
    "set CLC_USER and CLC_PASSWORD (or CLC_V2_API_USERNAME and CLC_V2_API_PASSWD), "
    "or CLC_BEARER_TOKEN"
)


@dataclass(frozen=True)
class Credentials:
    """A user name and password for the Login API, or a bearer token obtained elsewhere."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    source: str = "environment"  # which variables they came from, for messages

    def __repr__(self) -> str:
        password = "***" if self.password else None
        token = "***" if self.token else None
        return f"Credentials(username={self.username!r}, password={password}, token={token})"

    __str__ = __repr__

    @property
    def can_login(self) -> bool:
        """Whether a new token can be obtained (a user name and password were given)."""
        return bool(self.username and self.password)


@dataclass(frozen=True, slots=True)
class LoginInfo:
    """Who the Login API says we are."""

    user: str | None
    account_alias: str | None
    location_alias: str | None


def credentials_from_env(env: Mapping[str, str]) -> Credentials:
    """Credentials from the environment (SPEC 6), registered as secrets for the log.

    Raises:
        AuthenticationError: none of the variables are set, or only half of a pair.
    """
    for user_var, password_var in (
        ("CLC_USER", "CLC_PASSWORD"),
        ("CLC_V2_API_USERNAME", "CLC_V2_API_PASSWD"),
    ):
        user, password = env.get(user_var, "").strip(), env.get(password_var, "")
        register_secret(password)
        if user and password:
            return Credentials(user, password, source=f"{user_var}/{password_var}")
        if user or password:
            missing = password_var if user else user_var
            raise AuthenticationError(f"{user_var}/{password_var}: {missing} is not set")
    token = env.get("CLC_BEARER_TOKEN", "").strip()
    if token:
        register_secret(token)
        return Credentials(token=token, source="CLC_BEARER_TOKEN")
    raise AuthenticationError(f"no API credentials: {CREDENTIAL_HELP}")


def check_url(url: str, what: str) -> str:
    """Return ``url`` without a trailing slash if it is safe to send credentials to.

    https is required; plain http only to a loopback host (127.0.0.0/8, ::1, localhost).

    Raises:
        UsageError: not a usable http(s) URL.
        InsecureUrlError: plain http to a host that is not loopback.

    >>> check_url("http://127.0.0.1:8080/rest/", "API URL")
    'http://127.0.0.1:8080/rest'
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except (ValueError, AttributeError) as error:
        raise UsageError(f"{what} {url!r} is not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise UsageError(f"{what} {url!r} is not an http(s) URL such as https://host/path")
    if parts.username or parts.password:
        raise UsageError(f"{what} must not contain a user name or password")
    if parts.query or parts.fragment:
        raise UsageError(f"{what} {url!r} must not have a query or fragment")
    if parts.scheme == "http" and not is_loopback(host):
        raise InsecureUrlError(
            f"{what} {url} would send credentials unencrypted; use https:// "
            "(plain http:// is allowed only for loopback hosts)"
        )
    return url.strip().rstrip("/")


class TokenKeeper:
    """The bearer token shared by every worker, renewed at most once per token.

    Each token has a generation number. A worker whose request was refused (401) with token
    generation ``g`` calls :meth:`refused`; only if ``g`` is still current does it log in
    again, the others wait for that login and reuse its token. A token that has served at
    least one request and is then refused has expired: log in again. A token from a re-login
    that is refused before serving anything means the API rejects us: stop.

    Args:
        login: gets a new token (given the fetch's stop event, so that Ctrl-C ends its
            retries); None when only a bearer token from the environment is available.
        token: a token to start with (from the environment, or None to log in first).
        wait: waits on the keeper's condition; tests inject one that reports each wait.
    """

    POLL_SECONDS = 0.2  # how often a waiting worker looks at the stop event

    def __init__(
        self,
        login: Callable[[threading.Event], str] | None,
        token: str | None = None,
        *,
        wait: Wait = wait_on,
    ) -> None:
        self._login = login
        self._token = token
        self._generation = 0
        self._fresh = False  # the current token comes from a re-login after a refusal
        self._served = 0  # requests the current token got answered without a 401
        self._in_flight: dict[int, int] = {}
        self._condition = threading.Condition()
        self._wait = wait

    @property
    def generation(self) -> int:
        """The current token's generation (0 before the first token)."""
        return self._generation

    def set_token(self, token: str) -> None:
        """Install a token from an explicit login."""
        with self._condition:
            self._token = token
            self._generation += 1
            self._fresh = False
            self._served = 0
            self._condition.notify_all()

    def acquire(self, stop: threading.Event) -> tuple[str, int]:
        """The token to send and its generation; logs in first if there is no token yet."""
        with self._condition:
            if self._token is None:
                self._renew(stop)
            token = self._token
            assert token is not None  # _renew either set one or raised
            self._in_flight[self._generation] = self._in_flight.get(self._generation, 0) + 1
            return token, self._generation

    def release(self, generation: int, accepted: bool) -> None:
        """Record that a request sent with ``generation`` was answered (``accepted``: not 401)."""
        with self._condition:
            self._in_flight[generation] -= 1
            if accepted and generation == self._generation:
                self._served += 1
            self._condition.notify_all()

    def refused(self, generation: int, stop: threading.Event) -> bool:
        """Handle a 401 for a token of ``generation`` (already released by the caller).

        Returns:
            Whether this call logged in again (False: another worker already had).

        Raises:
            AuthenticationError: the token cannot be renewed, or its renewal was refused too.
        """
        with self._condition:
            # Answers still on their way may prove the token worked before it expired.
            while (
                generation == self._generation
                and self._fresh
                and self._served == 0
                and self._in_flight.get(generation, 0) > 0
                and not stop.is_set()
            ):
                self._wait(self._condition, self.POLL_SECONDS)
            if generation != self._generation:
                return False  # another worker already renewed it
            if self._login is None:
                raise AuthenticationError(
                    "the API refused the token from CLC_BEARER_TOKEN (HTTP 401: expired or "
                    "invalid); set a fresh token, or CLC_USER and CLC_PASSWORD"
                )
            if self._fresh and self._served == 0:
                raise AuthenticationError(
                    "the API refused a token the Login API had just issued (HTTP 401); "
                    "check that the account may use the Patching API"
                )
            self._renew(stop)
            self._fresh = True
            return True

    def _renew(self, stop: threading.Event) -> None:
        if self._login is None:
            raise AuthenticationError(f"no API credentials: {CREDENTIAL_HELP}")
        token = self._login(stop)
        self._token = token
        self._generation += 1
        self._served = 0
        self._fresh = False
        self._condition.notify_all()
