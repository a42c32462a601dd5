"""The simulator's HTTP/1.1 server: stdlib ``http.server``, keep-alive, one send per answer.

Each answer (headers and body) leaves in a single ``send`` on a socket with ``TCP_NODELAY``:
the stdlib writes headers and body separately, and Nagle's algorithm plus delayed ACKs then
cost about 40 ms per keep-alive request.
"""

import contextlib
import socket
import sys
import threading
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any

from reporter import __version__
from reporter.simulator.api import Api, Response, message
from reporter.simulator.faults import FaultConfig
from reporter.simulator.fleet import Fleet
from reporter.simulator.stats import SimulatorStats

MAX_BODY = 1 << 20  # the login body is tiny; anything bigger is refused unread
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"reporter-simulator/{__version__}"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after a minute
    server: "_HTTPServer"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)
        self.server.api.stats.connected()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        body = self._read_body()
        if body is None:
            return
        response = self.server.api.handle(
            method, self.path, self.headers.get("Authorization"), body
        )
        if response is None:  # shutting down: drop the request
            self.close_connection = True
            return
        self._write(response)

    def _read_body(self) -> bytes | None:
        """The request's body; None once a refusal has been sent instead."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._refuse(411, "A Content-Length is required.")
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._refuse(400, "The Content-Length header is not a number.")
            return None
        if length < 0 or length > MAX_BODY:
            self._refuse(413, "The request body is too large.")
            return None
        return self.rfile.read(length) if length else b""

    def _refuse(self, status: int, text: str) -> None:
        self.close_connection = True
        self.server.api.stats.answered(status)
        self._write(message(status, text))

    def _write(self, response: Response) -> None:
        lines = [
            f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}",
            f"Date: {formatdate(usegmt=True)}",
            f"Server: {self.server_version}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
        ]
        lines += [f"{name}: {value}" for name, value in response.headers]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + response.body)  # one send: see the module docstring

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests and the demo read their own output."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a client at concurrency 32+ connects all at once

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall on DNS.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut every open keep-alive connection, so no handler serves after stop()."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (a timeout, a test ending) is routine here.
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            return
        super().handle_error(request, client_address)


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class SimulatorServer:
    """Serve a :class:`Fleet` as the Patching API (``/rest``), the Login API and the servers API
    (``/v2``), on a thread.

    Example:
        It listens on a port and sends a request, so it is not run as a test.

        >>> with SimulatorServer(Fleet.generate(servers=2)) as sim:  # doctest: +SKIP
        ...     requests.post(sim.login_url, json={"username": "demo", "password": "demo"})
    """

    def __init__(
        self,
        fleet: Fleet,
        faults: FaultConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        user: str = "demo",
        password: str = "demo",  # noqa: S107 (the simulator's published demo login)
        servers_api: bool = True,
    ) -> None:
        """Prepare the server; :meth:`start` (or ``with``) binds and serves. Port 0: any free.

        With ``servers_api`` False the login may not read the servers API (every request to
        it is answered 403).
        """
        self.fleet = fleet
        self.faults = faults or FaultConfig()
        self.stats = SimulatorStats()
        self._host = host
        self._port = port
        self._stopping = threading.Event()
        self._api = Api(fleet, self.faults, user, password, self.stats, self._stopping, servers_api)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "SimulatorServer":
        """Bind and serve on a background thread; return self (OSError if the port is taken)."""
        if self._httpd is not None:
            return self
        server_class = _HTTPServer6 if ":" in self._host else _HTTPServer
        self._stopping.clear()
        self._httpd = server_class((self._host, self._port), self._api)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"simulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake hanging requests, close connections, release the port."""
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._httpd is not None

    @property
    def host(self) -> str:
        """The host to put in URLs (a wildcard bind address becomes loopback)."""
        return _WILDCARDS.get(self._host, self._host)

    @property
    def port(self) -> int:
        """The port served (the real one once started, even when 0 was asked)."""
        return self._httpd.server_address[1] if self._httpd is not None else self._port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The Patching API base URL, ``http://HOST:PORT/rest``."""
        return f"{self.base_url}/rest"

    @property
    def login_url(self) -> str:
        """The Login API URL, ``http://HOST:PORT/v2/authentication/login``."""
        return f"{self.base_url}/v2/authentication/login"

    @property
    def servers_api_url(self) -> str:
        """The servers API base URL (SPEC 1a), ``http://HOST:PORT/v2``."""
        return f"{self.base_url}/v2"

    @property
    def issued_tokens(self) -> list[str]:
        """Every bearer token handed out so far (tests search outputs for them)."""
        return self._api.issued_tokens

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far, as if they had all expired."""
        self._api.revoke_tokens()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` (True) or ``timeout`` seconds (False); Ctrl-C interrupts."""
        return self._stopping.wait(timeout)
