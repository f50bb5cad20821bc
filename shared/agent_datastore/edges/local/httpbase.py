"""What the local server and the sandbox proxy share: a stdlib HTTP server that
answers JSON, reports every failure (its own protocol errors included) in the
contract's error shape, caps request bodies, and stops cleanly on a signal."""

from __future__ import annotations

import logging
import signal
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent_datastore.core import errors
from agent_datastore.core.limits import MAX_BODY_BYTES
from agent_datastore.edges.http import OPERATION_METHODS, error_response

logger = logging.getLogger("agent_datastore.http")


class JsonRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    max_body = MAX_BODY_BYTES
    idle_timeout: float | None = None  # seconds a client may take to send its request

    def setup(self) -> None:
        super().setup()
        if self.idle_timeout is not None:
            self.connection.settimeout(self.idle_timeout)
        # Headers and body go out in two writes; without TCP_NODELAY the body waits
        # for the client's delayed ACK (~40 ms per request on a kept-alive connection).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)

    def reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def allowed(self) -> str:
        """The methods the requested path takes (a 405's `Allow`)."""
        return OPERATION_METHODS

    def request_path(self) -> str:
        return str(getattr(self, "path", "")).split("?", 1)[0]

    def method_not_allowed(self) -> errors.MethodNotAllowed:
        if self.allowed() == OPERATION_METHODS:
            return errors.MethodNotAllowed(f"{self.command} is not allowed; use POST /v1/<operation>")
        return errors.MethodNotAllowed(f"{self.command} is not allowed on {self.request_path()}; use GET or HEAD")

    def fail(self, exc: errors.DataStoreError, *, close: bool = False) -> None:
        if close:
            self.close_connection = True
        response = error_response(exc, str(uuid.uuid4()), allow=self.allowed())
        self.reply(response.status, response.encoded_body().encode("utf-8"), response.http_headers())

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors found by http.server itself, in the contract's error shape."""
        error: errors.DataStoreError
        if code == 501:  # a method http.server has no handler for
            error = self.method_not_allowed()
        elif code in (413, 414, 431):
            error = errors.PayloadTooLarge(message or "request too large")
        else:
            error = errors.InvalidRequest(f"malformed HTTP request: {message or code}")
        if self.request_version == "HTTP/0.9" or getattr(self, "command", None) is None:
            self.request_version = "HTTP/1.1"
        self.fail(error, close=True)

    def read_body(self) -> bytes | None:
        """The request body, or None after answering 400/413 (oversized bodies are
        refused unread, chunked ones too: the size must be known before reading)."""
        if "transfer-encoding" in self.headers:
            self.fail(errors.InvalidRequest("send the body with a Content-Length, not chunked"), close=True)
            return None
        try:
            length = int(self.headers.get("content-length") or "0")
            if length < 0:
                raise ValueError
        except ValueError:
            self.fail(errors.InvalidRequest("Content-Length is not a number"), close=True)
            return None
        if length > self.max_body:
            self.fail(errors.PayloadTooLarge(f"request body exceeds {self.max_body} bytes"), close=True)
            return None
        body = self.rfile.read(length)
        if len(body) < length:  # the client went away mid-body
            self.close_connection = True
            return None
        return body

    def discard_body(self) -> None:
        """Drain the body of a request answered without it, so keep-alive stays in sync."""
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if 0 < length <= self.max_body:
            self.rfile.read(length)
        elif length or "transfer-encoding" in self.headers:
            self.close_connection = True


def serve_until_signalled(server: ThreadingHTTPServer, on_stop: str = "") -> None:
    """serve_forever until SIGTERM/SIGINT, then close the listening socket."""

    def stop(signum: int, _frame: Any) -> None:
        if on_stop:
            print(f"received {signal.Signals(signum).name}, {on_stop}", flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
