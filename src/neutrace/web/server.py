"""The local web server behind ``neutrace serve`` (layer 6): Python's ``http.server``, every asset
served from the package (``neutrace/web/static``; no CDN), JSON from `neutrace.web.api`.

Routes: ``/`` (the page), ``/static/<file>``, ``/api/cloud``, ``/api/overview.svg``,
``/api/host?name=H``, ``/api/trace?from=&to=&proto=&dport=&warm=&reply=``. A user's mistake in
the trace form is a 400 with ``{"error": "..."}`` (the CLI's message); every response carries a
Content-Security-Policy that allows only the page's own scripts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from neutrace.errors import InputError, NeutraceError
from neutrace.web.api import Api, TraceRequest

STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "app.css": "text/css; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


def static_file(name: str) -> bytes:
    """An asset shipped in the package."""
    return (resources.files("neutrace.web") / "static" / name).read_bytes()


class Handler(BaseHTTPRequestHandler):
    """One request; ``server.api`` answers it."""

    server: NeutraceServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        """Quiet unless the server was asked to log."""
        if self.server.verbose:
            super().log_message(format, *args)

    def send(self, status: int, body: bytes, ctype: str) -> None:
        """Send one complete response."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, data: Any, status: int = HTTPStatus.OK) -> None:
        """Send ``data`` as JSON."""
        self.send(status, json.dumps(data).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        """Route a GET."""
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        api = self.server.api
        path = url.path
        try:
            if path in ("/", "/index.html"):
                self.send(HTTPStatus.OK, static_file("index.html"), STATIC["index.html"])
            elif path.startswith("/static/") and path[len("/static/"):] in STATIC:
                name = path[len("/static/"):]
                self.send(HTTPStatus.OK, static_file(name), STATIC[name])
            elif path == "/api/cloud":
                self.send_json(api.summary())
            elif path == "/api/overview.svg":
                self.send(HTTPStatus.OK, api.overview_svg().encode(), "image/svg+xml")
            elif path == "/api/host":
                self.send_json(api.host((query.get("name") or [""])[0]))
            elif path == "/api/trace":
                self.send_json(api.trace(TraceRequest.from_query(query)))
            else:
                self.send_json({"error": f"no such page: {path}"}, HTTPStatus.NOT_FOUND)
        except InputError as exc:
            self.send_json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)
        except NeutraceError as exc:
            self.send_json({"error": str(exc)}, HTTPStatus.INTERNAL_SERVER_ERROR)


class NeutraceServer(ThreadingHTTPServer):
    """An HTTP server holding the `Api` of one cloud."""

    daemon_threads = True

    def __init__(self, api: Api, host: str = "127.0.0.1", port: int = 0,
                 verbose: bool = False) -> None:
        """Listen on ``host``:``port`` (0: any free port)."""
        self.api = api
        self.verbose = verbose
        super().__init__((host, port), Handler)

    @property
    def url(self) -> str:
        """Where the page is."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"


@contextmanager
def running(api: Api, host: str = "127.0.0.1", port: int = 0) -> Iterator[NeutraceServer]:
    """A server answering in a background thread for the ``with`` block (tests use it)."""
    server = NeutraceServer(api, host, port)
    thread = threading.Thread(target=server.serve_forever, name="neutrace-web", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
