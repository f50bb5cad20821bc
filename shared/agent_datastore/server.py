"""The local HTTP server.

It turns each HTTP request into the same AWS HTTP API (payload v2) event the
deployed functions receive and calls the same handler: there is no second
implementation of any operation here.
"""

from __future__ import annotations

import base64
import json
import logging
import signal
import socket
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import errors, models
from .adapter import Api, error_response, make_handler
from .settings import Settings

logger = logging.getLogger("agent_datastore.server")


class DataStoreHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        super().__init__(address, RequestHandler)
        self.api = api
        self.handler = make_handler(None, api)


class RequestHandler(BaseHTTPRequestHandler):
    server: DataStoreHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "agent-datastore"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY the body waits
        # for the client's delayed ACK (~40 ms per request on a kept-alive connection).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)

    # -- replies -------------------------------------------------------------

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._reply(status, data, {"content-type": "application/json; charset=utf-8", **(headers or {})})

    def _error(self, exc: errors.DataStoreError) -> None:
        response = error_response(exc, str(uuid.uuid4()))
        self._json(response.status, response.body, response.headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors found by http.server itself, in the contract's error shape."""
        self.close_connection = True
        error: errors.DataStoreError
        if code == 501:  # a method http.server has no handler for
            error = errors.MethodNotAllowed(f"{self.command} is not allowed; use POST /v1/<operation>")
        elif code in (413, 414, 431):
            error = errors.PayloadTooLarge(message or "request too large")
        else:
            error = errors.InvalidRequest(f"malformed HTTP request: {message or code}")
        if self.request_version == "HTTP/0.9" or not hasattr(self, "command") or self.command is None:
            self.request_version = "HTTP/1.1"
        self._error(error)

    # -- routing -------------------------------------------------------------

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def do_GET(self) -> None:
        from . import pages

        path = self._path()
        page = pages.GET_ROUTES.get(path)
        if page is not None:
            status, content_type, body = page(self.server.api)
            self._discard_body()
            self._reply(status, body, {"content-type": content_type})
            return
        self._discard_body()
        self._dispatch(b"")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        length_header = self.headers.get("content-length")
        if length_header is None:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                self.close_connection = True
                self._error(errors.InvalidRequest("send the body with a Content-Length, not chunked"))
                return
            length_header = "0"
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._error(errors.InvalidRequest("Content-Length is not a number"))
            return
        if length > models.MAX_BODY_BYTES:
            # Do not read (or buffer) an oversized body; close the connection instead.
            self.close_connection = True
            self._error(errors.PayloadTooLarge(f"request body exceeds {models.MAX_BODY_BYTES} bytes"))
            return
        self._dispatch(self.rfile.read(length))

    def do_PUT(self) -> None:
        self._discard_body()
        self._dispatch(b"")

    do_DELETE = do_PUT
    do_PATCH = do_PUT
    do_OPTIONS = do_PUT

    def _discard_body(self) -> None:
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = 0
        if 0 < length <= models.MAX_BODY_BYTES:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def _dispatch(self, body: bytes) -> None:
        path = self._path()
        headers: dict[str, str] = {}
        for name, raw in self.headers.items():
            key = name.lower()
            # http.server decodes header bytes as latin-1; clients send UTF-8.
            try:
                value = raw.encode("latin-1").decode("utf-8")
            except UnicodeError:
                value = raw
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        request_id = str(uuid.uuid4())
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": f"{self.command} {path}",
            "rawPath": path,
            "rawQueryString": self.path.partition("?")[2],
            "headers": headers,
            "requestContext": {
                "http": {"method": self.command, "path": path, "sourceIp": self.client_address[0]},
                "requestId": request_id,
            },
        }
        # As API Gateway does: text bodies as they are, anything else base64-encoded.
        try:
            event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
        result = self.server.handler(event, None)
        self._reply(result["statusCode"], result["body"].encode("utf-8"), result.get("headers", {}))


def serve(settings: Settings, host: str, port: int) -> int:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    api = Api(settings)
    api.service  # open the store now, so that a bad configuration fails at start-up  # noqa: B018
    server = DataStoreHTTPServer((host, port), api)
    if settings.auth == "none":
        banner = "!" * 72
        print(
            f"{banner}\n!!! AUTHENTICATION IS OFF (DATASTORE_AUTH=none): any caller may act as any\n"
            f"!!! user by sending X-User-Id. For local development only.\n{banner}",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"agent-datastore serving http://{host}:{server.server_address[1]} "
        f"(backend {settings.store_backend}, auth {settings.auth})",
        flush=True,
    )

    def stop(signum: int, _frame: Any) -> None:
        print(f"received {signal.Signals(signum).name}, shutting down", flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if api._store is not None:
            api._store.close()
    print("stopped", flush=True)
    return 0
