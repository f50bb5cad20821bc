"""What the local server and the sandbox proxy share: an ASGI app served by uvicorn that
answers JSON, reports every failure (uvicorn's own protocol errors included) in the
contract's error shape, caps request bodies, and stops cleanly on a signal.

The operations themselves are synchronous (sqlite3, boto3, httpx): those that wait on a
network run in a pool of threads, so the event loop keeps accepting and parsing while they
work; a short one on a local file may run on the loop itself (`JsonApp.run`).

uvicorn runs on uvloop with httptools (C) when they are installed, as they are with the
package's dependencies; on asyncio's own loop and h11 otherwise (`runtime`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

import uvicorn

from agent_datastore import __version__
from agent_datastore.core import errors
from agent_datastore.core.limits import MAX_BODY_BYTES
from agent_datastore.edges.http import OPERATION_METHODS, error_response, new_request_id
from agent_datastore.edges.local.protocols import (
    KNOWN_METHODS,
    MAX_HEAD_BYTES,
    MAX_HEADERS,
    MAX_LINE,
    SUPPORTED_VERSIONS,
    ContractH11Protocol,
    ContractHttpToolsProtocol,
    encoded_headers,
)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
T = TypeVar("T")

__all__ = ["KNOWN_METHODS", "Exchange", "JsonApp", "listen", "serve_until_signalled"]


class Exchange:
    """One request: its method, raw path (never percent-decoded: `/v1/%67et` is no `get`),
    headers as one string per lower-case name (UTF-8, else latin-1; repeats joined by commas)."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope, self._receive, self._send = scope, receive, send
        self.method: str = scope["method"].upper()
        path: str = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if path.startswith("//"):  # as http.server reads it (no open redirect through `//host`)
            path = "/" + path.lstrip("/")
        self.path = path
        query = scope.get("query_string", b"")
        self.too_large: str | None = "request too large" if len(path) + len(query) > MAX_LINE else None
        self.headers: dict[str, str] = {}
        self.header_count = 0
        for raw_name, raw_value in scope["headers"]:
            self.header_count += 1
            if len(raw_name) + len(raw_value) + 2 > MAX_LINE:
                self.too_large = self.too_large or "Line too long"
            name = raw_name.decode("latin-1").lower()
            try:
                value = raw_value.decode("utf-8")
            except UnicodeError:
                value = raw_value.decode("latin-1")
            self.headers[name] = f"{self.headers[name]},{value}" if name in self.headers else value
        self.close = False  # answer with `Connection: close`

    def host_headers(self) -> list[str]:
        return [value.decode("latin-1") for name, value in self.scope["headers"] if name.lower() == b"host"]

    async def reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        await self._send(
            {"type": "http.response.start", "status": status, "headers": encoded_headers(headers, body, self.close)}
        )
        await self._send({"type": "http.response.body", "body": b"" if self.method == "HEAD" else body})

    async def fail(self, exc: errors.DataStoreError, *, allow: str = OPERATION_METHODS, close: bool = False) -> None:
        self.close = self.close or close
        response = error_response(exc, new_request_id(), allow=allow)
        await self.reply(response.status, response.encoded_body().encode("utf-8"), response.http_headers())

    async def read_body(self, max_body: int) -> bytes | None:
        """The request body, or None after answering 400/413 (oversized bodies are refused
        unread, chunked ones too: the size must be known before reading) or when the client
        went away mid-body (no answer then)."""
        if "transfer-encoding" in self.headers:
            await self.fail(errors.InvalidRequest("send the body with a Content-Length, not chunked"), close=True)
            return None
        length = int(self.headers.get("content-length") or "0")  # h11 refused any other value
        if length > max_body:
            await self.fail(errors.PayloadTooLarge(f"request body exceeds {max_body} bytes"), close=True)
            return None
        chunks: list[bytes] = []
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)

    def skip_body(self, max_body: int) -> None:
        """For a request answered without its body: uvicorn drops a body that fits; a chunked
        or oversized one is not waited for, the connection closes after the answer."""
        if "transfer-encoding" in self.headers or int(self.headers.get("content-length") or "0") > max_body:
            self.close = True


class JsonApp:
    """The ASGI app both servers are: protocol checks, then `handle` (their own routes)."""

    max_body = MAX_BODY_BYTES
    # POST targets (exact, no query) that `at_once` may answer, and their largest body.
    quick_paths: frozenset[bytes] = frozenset()
    quick_max_body = 0

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="agent-datastore")
        self.in_threads = 0  # calls handed to the threads and not answered yet

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no lifespan, no websockets (uvicorn is told so)
            return
        exchange = Exchange(scope, receive, send)
        refusal = self.refusal(exchange)
        if refusal is not None:
            await exchange.fail(refusal, close=True)
        else:
            await self.handle(exchange)

    def refusal(self, exchange: Exchange) -> errors.DataStoreError | None:
        """What is wrong with a request's head as the servers check it before routing, if anything
        (answered on a closing connection)."""
        hosts = exchange.host_headers()
        if len(hosts) != 1 and (len(hosts) > 1 or exchange.scope.get("http_version") == "1.1"):
            # As h11 refuses them (httptools takes both).
            detail = "Found multiple Host headers" if hosts else "Missing mandatory Host header"
            return self.protocol_error(detail) or errors.InvalidRequest(f"malformed HTTP request: {detail}")
        if exchange.scope.get("http_version") not in SUPPORTED_VERSIONS:
            version = exchange.scope.get("http_version")
            return errors.InvalidRequest(f"malformed HTTP request: Invalid HTTP version ({version})")
        if exchange.too_large is not None:
            return errors.PayloadTooLarge(exchange.too_large)
        if exchange.header_count > MAX_HEADERS:
            return errors.PayloadTooLarge("Too many headers")
        return None

    def answer_at_once(self, scope: Scope, body: bytes) -> tuple[int, bytes, dict[str, str]] | None:
        """`at_once` for the protocol, which has a request's scope and whole body: None if the
        request's head is refused (`__call__` answers that) or `at_once` cannot answer it."""
        exchange = Exchange(scope, _no_receive, _no_send)
        return self.at_once(exchange, body) if self.refusal(exchange) is None else None

    def at_once(self, exchange: Exchange, body: bytes) -> tuple[int, bytes, dict[str, str]] | None:
        """The answer (status, body, headers) to a request whose whole body has arrived, if it
        can be made right now, synchronously, exactly as `handle` would make it; None sends the
        request through `handle`. The httptools protocol asks this before starting an ASGI cycle
        (see `protocols.ContractHttpToolsProtocol`): a one-key call on a local file then costs
        no task, no ASGI messages and no event."""
        return None

    async def handle(self, exchange: Exchange) -> None:
        raise NotImplementedError

    def protocol_error(self, detail: str) -> errors.DataStoreError | None:
        """The answer to a request the parser refused (`detail` is its reason), if not the default."""
        return None

    async def in_thread(self, function: Callable[..., T], *args: Any) -> T:
        self.in_threads += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)
        finally:
            self.in_threads -= 1

    async def run(self, inline: bool, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on the event loop itself when `inline`, else in a worker thread.
        Handing a call to a thread and its answer back costs more than a short call on a
        local file takes (see `DataStoreApp.inline`)."""
        return function(*args) if inline else await self.in_thread(function, *args)

    def close(self) -> None:
        self.executor.shutdown(wait=True)


async def _no_receive() -> dict[str, Any]:  # an exchange answered at once reads no messages
    raise RuntimeError("the protocol has read the body")


async def _no_send(message: dict[str, Any]) -> None:
    raise RuntimeError("the protocol writes the answer")


class _Server(uvicorn.Server):
    """uvicorn's server, stopping on SIGTERM/SIGINT (after the requests in flight) without
    re-raising the signal afterwards, so that the caller can close the store and say so."""

    def __init__(self, config: uvicorn.Config, on_stop: str) -> None:
        super().__init__(config)
        self.on_stop = on_stop

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        def stop(signum: int, _frame: FrameType | None) -> None:
            if self.on_stop and not self.should_exit:
                print(f"received {signal.Signals(signum).name}, {self.on_stop}", flush=True)
            self.handle_exit(signum, _frame)

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket (IPv4 or IPv6 as `host` says), bound now so that a port in use
    fails before anything is served; a deep backlog, so a burst of clients is queued, not reset.
    Made with `IPPROTO_TCP` so that asyncio sets TCP_NODELAY on every connection: headers and
    body go out in two writes, and without it the body waits for the client's delayed ACK
    (~40 ms per request on a kept-alive connection)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def runtime() -> tuple[str, str]:
    """(HTTP parser, event loop) the servers run on: httptools and uvloop when installed."""
    http = "httptools" if ContractHttpToolsProtocol is not None else "h11"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return http, "asyncio"
    return http, "uvloop"


def uvicorn_config(app: JsonApp, *, server_name: str, keep_alive: float) -> uvicorn.Config:
    """How both servers run on uvicorn: HTTP/1.1 only (`runtime`), no access log, their own `Server`."""
    http, loop = runtime()
    base = ContractHttpToolsProtocol if http == "httptools" else ContractH11Protocol
    protocol = type("Protocol", (base,), {"owner": app})

    return uvicorn.Config(
        app,
        http=protocol,
        loop=loop,
        proxy_headers=False,
        lifespan="off",
        ws="none",
        interface="asgi3",
        access_log=False,
        log_config=None,
        server_header=False,
        headers=[("server", f"{server_name}/{__version__}")],
        timeout_keep_alive=int(keep_alive),
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        backlog=2048,
    )


def serve_until_signalled(
    app: JsonApp, sock: socket.socket, *, server_name: str, keep_alive: float, on_stop: str = ""
) -> None:
    """Serve `app` on `sock` until SIGTERM/SIGINT; no access log (uvicorn's warnings stay)."""
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # no start/stop chatter at INFO
    config = uvicorn_config(app, server_name=server_name, keep_alive=keep_alive)
    try:
        _Server(config, on_stop).run(sockets=[sock])
    finally:
        sock.close()
        app.close()
