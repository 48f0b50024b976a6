"""`mnist-dash --serve`: the dashboard in a browser through textual-serve, one dashboard process per browser tab.

textual-serve answers `GET /` with a page running xterm.js and, for each WebSocket on `/ws`, starts the app
command under Textual's web driver (stdin/stdout pipes carrying length-prefixed packets). Nothing here knows
the dashboard: the served command is `python -m tui` with the user's own options, so the browser gets the
same app, settings and runs folder as the terminal would.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import logging
import os
import secrets
import shlex
import socket
import sys
from typing import Any, Sequence
from urllib.parse import quote, urlsplit

from aiohttp import web
from textual_serve.server import Server

from core.exits import EXIT_OK, EXIT_USAGE

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
SHUTDOWN_WAIT_S = 15.0  # each dashboard stops its run (checkpoint, summary) before it exits
SERVE_FLAGS = {"--serve": False, "--port": True, "--host": True, "--token": True}  # flag -> takes a value
TOKEN_BYTES = 24  # 32 URL-safe characters, as Jupyter's: nobody guesses it, everybody can paste it
LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}


def app_argv(argv: Sequence[str]) -> list[str]:
    """The command line without the serving flags (--serve, --port N, --host H, also as --port=N)."""
    out: list[str] = []
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if name in SERVE_FLAGS:
            skip = SERVE_FLAGS[name] and "=" not in token
            continue
        out.append(token)
    return out


def app_command(argv: Sequence[str]) -> str:
    """The shell command textual-serve runs per browser session: this Python, `-m tui`, the user's options."""
    return "exec " + shlex.join([sys.executable, "-m", "tui", *app_argv(argv)])  # exec: no idle shell left


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def port_problem(host: str, port: int) -> str | None:
    """Why the server cannot listen on host:port (in use, no permission, unknown host), or None."""
    if not 0 < port < 65536:
        return f"--port: {port} is not a port number (1 to 65535)"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"--host: cannot use {host!r} ({exc.strerror})"
    for family, kind, proto, _, address in infos[:1]:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does: TIME_WAIT is no clash
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return (f"--port: port {port} on {host} is already in use; "
                            "choose another with --port N")
                return f"--port: cannot listen on {host}:{port} ({exc.strerror or exc})"
    return None


def new_token() -> str:
    """A random token for one server (the page and the WebSocket refuse requests without it)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


class QuietBadRequests(logging.Filter):
    """aiohttp logs a malformed request (two Host headers, junk bytes) with a traceback and the request's
    bytes; the client already got its 400, the server's terminal gets one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None or type(error).__name__ not in ("BadHttpMessage", "BadStatusLine", "LineTooLong",
                                                          "InvalidHeader", "BadHttpMethod", "InvalidURLError"):
            return True
        record.msg, record.args, record.exc_info, record.exc_text = (
            f"mnist-dash: refused a malformed request (400): {getattr(error, 'message', '') or type(error).__name__}",
            (), None, None)
        return True


def _origin_host(origin: str) -> str:
    parts = urlsplit(origin)
    return parts.netloc.lower()


class DashServer(Server):
    """textual-serve's server, quieter, guarded against other web pages, and ending its dashboards cleanly."""

    def __init__(self, command: str, *, host: str, port: int, token: str) -> None:
        super().__init__(command, host=host, port=port, title="mnist-dash")
        self.token = token
        self.loopback_only = is_loopback(host)
        self.sessions: set[asyncio.Task[Any]] = set()
        self.exiting = False

    def initialize_logging(self) -> None:
        """textual-serve's log handler, without a line per HTTP request."""
        super().initialize_logging()
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
        logging.getLogger("aiohttp.server").addFilter(QuietBadRequests())

    def refusal(self, request: web.Request) -> str | None:
        """Why a request is refused: a non-local Host name on a local server (DNS rebinding), or a WebSocket
        opened by a page from another site (browsers let any page open one; only Origin tells them apart)."""
        host = request.host.lower()
        name = urlsplit(f"//{host}").hostname or ""
        if self.loopback_only and not is_loopback(name):
            return f"this server answers only to localhost, not {host!r}"
        origin = request.headers.get("Origin")
        if origin is not None and _origin_host(origin) != host:
            return "a page from another site may not open the dashboard"
        if not hmac.compare_digest(request.query.get("token", "").encode(), self.token.encode()):
            return "this dashboard needs its token: open the URL the server printed (it ends in ?token=...)"
        return None

    async def handle_index(self, request: web.Request) -> Any:
        """The page, with its links made for the address the browser used (e.g. another port through ssh -L)."""
        why = self.refusal(request)
        if why:
            raise web.HTTPForbidden(text=why)
        self.public_url = f"{request.scheme}://{request.host}"
        return web.Response(text=self.page(request), content_type="text/html",
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    def page(self, request: web.Request) -> str:
        """textual-serve's page with local fonts, an inline icon, the terminal focused, the token in its ws URL."""
        import jinja2

        from tui.serve_page import FAVICON, PAGE

        router = request.app.router
        scheme = "wss" if request.scheme == "https" else "ws"
        websocket = f"{scheme}://{request.host}{router['websocket'].url_for()}?token={quote(self.token)}"
        try:
            font_size = int(request.query.get("fontsize", "16"))
        except ValueError:
            font_size = 16
        static = f"{self.public_url}{router['static'].url_for(filename='/')}".rstrip("/") + "/"
        return jinja2.Template(PAGE, autoescape=True).render(
            font_size=font_size, app_websocket_url=websocket, favicon=FAVICON,
            config={"static": {"url": static}}, application={"name": self.title})

    def url(self) -> str:
        """Where to point the browser: the address with the token."""
        return f"{self.public_url}/?token={quote(self.token)}"

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One dashboard process per connection, remembered so shutdown can end each one."""
        why = self.refusal(request)
        if why:
            raise web.HTTPForbidden(text=why)
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self.sessions.discard(task)

    async def on_startup(self, app: web.Application) -> None:
        """One line saying where to point the browser, instead of the banner."""
        print(f"mnist-dash: serving the dashboard on {self.url()} (each browser tab runs its own "
              "dashboard; Ctrl+C stops the server)", flush=True)

    async def on_shutdown(self, app: web.Application) -> None:
        """Ask every dashboard to quit (each stops its run properly) and wait a while for them."""
        sessions = list(self.sessions)
        if not sessions:
            return
        print(f"mnist-dash: stopping {len(sessions)} dashboard(s)", flush=True)
        for task in sessions:
            task.cancel()  # textual-serve's handler then sends the app its "quit"
        _, pending = await asyncio.wait(sessions, timeout=SHUTDOWN_WAIT_S)
        if pending:
            print(f"mnist-dash: {len(pending)} dashboard(s) did not quit within {SHUTDOWN_WAIT_S:.0f} s",
                  flush=True)

    def request_exit(self) -> None:
        """First Ctrl+C/SIGTERM: a clean shutdown; a second one: leave at once."""
        if self.exiting:
            os._exit(130)
        self.exiting = True
        super().request_exit()


def serve(argv_for_app: list[str], *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          token: str | None = None) -> int:
    """Serve the dashboard started with `argv_for_app` (serving flags are dropped) until Ctrl+C or SIGTERM;
    only to browsers that present `token` (default: a new random one, printed in the URL)."""
    problem = port_problem(host, port)
    if problem:
        print(f"mnist-dash: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not is_loopback(host):
        print(f"mnist-dash: warning: serving on {host}: anyone who can reach port {port} and sees the token "
              "(sent in clear over HTTP) can use the dashboard as you; prefer the default 127.0.0.1 and ssh -L",
              file=sys.stderr, flush=True)
    if token is not None and not token.strip():
        print("mnist-dash: --token: empty; give one, or leave the flag out for a random one", file=sys.stderr)
        return EXIT_USAGE
    server = DashServer(app_command(argv_for_app), host=host, port=port, token=token or new_token())
    asyncio.set_event_loop(asyncio.new_event_loop())  # Server.serve asks for the current loop
    try:
        server.serve()
    except OSError as exc:  # lost a race for the port since the check
        print(f"mnist-dash: --port: cannot listen on {host}:{port} ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a Ctrl+C before the server's own handler was installed
        pass
    print("mnist-dash: server stopped", flush=True)
    return EXIT_OK
