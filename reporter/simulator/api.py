"""What the simulated Login, Patching and servers APIs answer, independent of the HTTP plumbing.

:meth:`Api.handle` takes a method, a raw path, the Authorization header and the body, and
returns a :class:`Response` (or None when the server is shutting down mid-request).
"""

import hmac
import json
import secrets
import threading
from dataclasses import dataclass
from urllib.parse import unquote

from reporter.simulator.faults import FaultConfig, FaultInjector
from reporter.simulator.fleet import Fleet, Override
from reporter.simulator.stats import SimulatorStats

LOGIN_PATH = "/v2/authentication/login"
# The servers API (SPEC 1a): path pattern under /v2 -> route kind.
SERVERS_API_ROUTES = {
    ("datacenters", 1): "datacenters",
    ("datacenters", 2): "datacenter",
    ("groups", 2): "group",
    ("servers", 2): "server",
}
NO_PERMISSION = "The user does not have permission to access this resource."
JSON = "application/json; charset=utf-8"
DENIED = "Authorization has been denied for this request."
BAD_CREDENTIALS = "We didn't recognize the username or password you entered. Please try again."
ERROR_BODIES = {
    500: (JSON, b'{"message":"An error has occurred."}'),
    502: ("text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    503: (JSON, b'{"message":"The service is temporarily unavailable."}'),
    504: ("text/html", b"<html><body><h1>504 Gateway Time-out</h1></body></html>"),
}


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP answer: status, body bytes, content type and any extra headers."""

    status: int
    body: bytes
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    """What a request path names: kind is login, detail, summary, other, or one of the
    servers API's datacenters, datacenter, group and server.

    ``item`` is the data center or group ID a servers API path names; ``group_links`` whether
    a data center's answer should link its root group (``?groupLinks=true``).
    """

    kind: str
    alias: str = ""
    server_id: str = ""
    execution_id: str = ""
    item: str = ""
    group_links: bool = False

    @property
    def servers_api(self) -> bool:
        """Whether the path is one of the servers API's."""
        return self.kind in SERVERS_API_ROUTES.values()


def message(status: int, text: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """A JSON error answer ``{"message": text}``."""
    return Response(status, json.dumps({"message": text}).encode("utf-8"), JSON, headers)


def route(path: str) -> Route:
    """Match a raw request path (query ignored); each segment is percent-decoded once.

    The path is split on ``/`` before decoding, so an encoded ``%2F`` stays inside its segment
    and can never reach another route.
    """
    raw, _, query = path.partition("?")
    if raw == LOGIN_PATH:
        return Route("login")
    parts = raw.split("/")
    if parts[:2] == ["", "v2"]:
        return _servers_api_route(parts[2:], query)
    if (
        len(parts) not in (7, 8)
        or parts[:3] != ["", "rest", "servers"]
        or parts[4] != "server"
        or parts[6] != "patch"
    ):
        return Route("other")
    try:
        segments = [unquote(part, errors="strict") for part in parts[3:6:2] + parts[7:]]
    except UnicodeDecodeError:
        return Route("other")
    if not all(segments):
        return Route("other")
    if len(segments) == 2:
        return Route("summary", segments[0], segments[1])
    return Route("detail", segments[0], segments[1], segments[2])


def _servers_api_route(parts: list[str], query: str) -> Route:
    """The route of a servers API path (the parts after ``/v2``), or ``other``."""
    kind = SERVERS_API_ROUTES.get((parts[0], len(parts) - 1)) if len(parts) >= 2 else None
    if kind is None:
        return Route("other")
    try:
        segments = [unquote(part, errors="strict") for part in parts[1:]]
    except UnicodeDecodeError:
        return Route("other")
    if not all(segments):
        return Route("other")
    links = any(
        name.lower() == "grouplinks" and value.lower() == "true"
        for name, _, value in (pair.partition("=") for pair in query.split("&"))
    )
    if kind == "server":
        return Route(kind, segments[0], server_id=segments[1])
    item = segments[1] if len(segments) > 1 else ""
    return Route(kind, segments[0], item=item, group_links=links)


class Api:
    """The simulated APIs: login, bearer tokens, the Patching and servers endpoints, faults."""

    def __init__(
        self,
        fleet: Fleet,
        faults: FaultConfig,
        user: str,
        password: str,
        stats: SimulatorStats,
        stopping: threading.Event,
        servers_api: bool = True,
    ) -> None:
        """Serve ``fleet`` to ``user``/``password``; ``stopping`` cuts waits short on shutdown.

        With ``servers_api`` False the login may not read the servers API: every request to
        it is answered 403, as CLC answers a user without the right role.
        """
        self.fleet = fleet
        self.servers_api = servers_api
        self.faults = faults
        self.stats = stats
        self._injector = FaultInjector(faults)
        self._user = user.encode("utf-8")
        self._password = password.encode("utf-8")
        self._stopping = stopping
        self._lock = threading.Lock()
        self._tokens: dict[str, int] = {}  # token -> authenticated requests so far
        self._issued: list[str] = []

    @property
    def issued_tokens(self) -> list[str]:
        """Every token handed out, oldest first."""
        with self._lock:
            return list(self._issued)

    def revoke_tokens(self) -> None:
        """Make every token issued so far invalid (the next API request gets 401)."""
        with self._lock:
            self._tokens.clear()

    def handle(
        self, method: str, path: str, authorization: str | None, body: bytes
    ) -> Response | None:
        """Answer one request; None means the server is stopping and the request is dropped."""
        target = route(path)
        key = None
        if target.kind == "detail":
            key = (target.alias.upper(), target.server_id, target.execution_id)
        self.stats.arrived(target.kind, path, key)
        response: Response | None
        if target.kind == "login":
            response = self.login(body) if method == "POST" else self._not_allowed("POST")
        elif target.kind == "other" and not path.startswith(("/rest/", "/v2/")):
            response = message(404, "No resource matches the request URI.")
        elif method != "GET":
            response = self._not_allowed("GET")
        else:
            response = self.rest(target, authorization)
        if response is not None:
            self.stats.answered(response.status)
        return response

    def login(self, body: bytes) -> Response:
        """``POST /v2/authentication/login``: a fresh bearer token for the right credentials."""
        try:
            fields = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            self.stats.login(False)
            return message(400, "The request body is not valid JSON.")
        user = fields.get("username") if isinstance(fields, dict) else None
        password = fields.get("password") if isinstance(fields, dict) else None
        if not isinstance(user, str) or not isinstance(password, str):
            self.stats.login(False)
            return message(400, "The request is invalid: username and password are required.")
        # Compare both in constant time, and both always, so timing tells nothing.
        user_ok = hmac.compare_digest(user.encode("utf-8"), self._user)
        password_ok = hmac.compare_digest(password.encode("utf-8"), self._password)
        if not (user_ok and password_ok):
            self.stats.login(False)
            return message(400, BAD_CREDENTIALS)
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = 0
            self._issued.append(token)
        self.stats.login(True)
        answer = {
            "userName": user,
            "accountAlias": self.fleet.account,
            "locationAlias": "VA1",
            "roles": ["ServerAdmin", "AccountViewer"],
            "bearerToken": token,
        }
        return Response(200, json.dumps(answer).encode("utf-8"))

    def rest(self, target: Route, authorization: str | None) -> Response | None:
        """A Patching or servers API request, through latency, rate limit, auth and faults."""
        config = self.faults
        if config.latency_ms and self._stopping.wait(config.latency_ms / 1000.0):
            return None
        if not self._injector.admit():
            self.stats.fault("rate_limited")
            return message(429, "Rate limit exceeded.", (("Retry-After", "1"),))
        if not self._authorised(authorization):
            return message(401, DENIED)
        if target.kind == "other":
            return message(404, "No resource matches the request URI.")
        draw = self._injector.draw()
        if draw.error_status is not None:
            self.stats.fault("error")
            content_type, body = ERROR_BODIES[draw.error_status]
            return Response(draw.error_status, body, content_type)
        override = self._override(target)
        if draw.hang or (override is not None and override.hang):
            self.stats.fault("hang")
            if self._stopping.wait(config.hang_seconds):
                return None
        response = self._lookup(target, override)
        if draw.cut is not None and response.status == 200 and len(response.body) > 1:
            self.stats.fault("malformed")
            kept = min(len(response.body) - 1, max(1, int(len(response.body) * draw.cut)))
            response = Response(200, response.body[:kept], response.content_type)
        return response

    def _authorised(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        ttl = self.faults.token_ttl_requests
        with self._lock:
            used = self._tokens.get(token)
            if used is None:
                return False
            if ttl and used >= ttl:
                del self._tokens[token]
                expired = True
            else:
                self._tokens[token] = used + 1
                expired = False
        if expired:
            self.stats.fault("token_expired")
        return not expired

    def _override(self, target: Route) -> Override | None:
        """The override for a detail or summary URL, if the test set one."""
        if target.kind == "detail":
            return self.fleet.override_for(target.alias, target.server_id, target.execution_id)
        if target.kind == "summary":
            return self.fleet.override_for(target.alias, target.server_id, None)
        return None

    def _lookup(self, target: Route, override: Override | None = None) -> Response:
        fleet = self.fleet
        if target.servers_api:
            return self._servers_api(target)
        if override is not None:
            return Response(override.status, override.body, override.content_type)
        if not fleet.has_account(target.alias):
            return message(404, "Account not found.")
        if not fleet.has_server(target.alias, target.server_id):
            return message(404, "Server not found.")
        if target.kind == "summary":
            body = fleet.summary_bytes(target.alias, target.server_id)
        else:
            body = fleet.detail_bytes(target.alias, target.server_id, target.execution_id)
        if body is None:
            return message(404, "Patch execution not found.")
        return Response(200, body)

    def _servers_api(self, target: Route) -> Response:
        """An answer of the servers API (SPEC 1a) for the fleet's account."""
        if not self.servers_api:
            return message(403, NO_PERMISSION)
        directory = self.fleet.directory
        if not directory.knows(target.alias):
            return message(404, "Account not found.")
        body: bytes | None
        if target.kind == "datacenters":
            body = directory.datacenters_bytes()
        elif target.kind == "datacenter":
            body = directory.datacenter_bytes(target.item, target.group_links)
        elif target.kind == "group":
            body = directory.group_bytes(target.item)
        else:
            body = directory.server_bytes(target.server_id)
        if body is None:
            return message(404, f"The {target.kind} was not found.")
        return Response(200, body)

    @staticmethod
    def _not_allowed(allowed: str) -> Response:
        return message(405, "The requested method is not allowed.", (("Allow", allowed),))
