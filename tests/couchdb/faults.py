"""A fault-injecting HTTP proxy in front of the test CouchDB server (pouchdb-server).

A share of the requests (`rate`, drawn from a seeded generator) meets one of four faults:

- `503`: answered 503 without being forwarded (CouchDB never saw it);
- `reset`: the connection is reset without the request being forwarded;
- `lost-503`: forwarded, CouchDB applied it, and the answer is replaced by a 503;
- `lost-reset`: forwarded, applied, and the connection is reset instead of answering.

The last two are the hard ones for a client: a write whose answer was lost did happen.
`script` instead gives the fault (or None) of each of the first requests, then none; a fault
may also be `status:<code>`, an answer with that status and a body naming a backend detail.
`down_for` resets every connection for that many seconds first (a server still starting).
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

KINDS = ("503", "reset", "lost-503", "lost-reset")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length", "te", "upgrade"}
BACKEND_DETAIL = "secret backend detail: /var/lib/couchdb/shards/00000000"


class FaultyProxy:
    def __init__(self, upstream: str, *, rate: float = 0.0, seed: int = 0, kinds: tuple[str, ...] = KINDS,
                 script: list[str | None] | None = None, down_for: float = 0.0) -> None:  # fmt: skip
        self.upstream = upstream.rstrip("/")
        self.rate, self.kinds = rate, kinds
        self.script = list(script or [])
        self.down_until = time.monotonic() + down_for  # until then every connection is reset
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.faults: Counter[str] = Counter()
        self.requests = 0
        self.client = httpx.Client(timeout=60)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def fault(self) -> str | None:
        with self.lock:
            self.requests += 1
            if time.monotonic() < self.down_until:
                chosen: str | None = "reset"
            elif self.script:
                chosen = self.script.pop(0)
            elif self.random.random() < self.rate:
                chosen = self.random.choice(self.kinds)
            else:
                chosen = None
            if chosen is not None:
                self.faults[chosen] += 1
            return chosen

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        sent = {name: value for name, value in headers.items() if name.lower() not in HOP_BY_HOP}
        return self.client.request(method, self.upstream + path, headers=sent, content=body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def handle_one_request(self) -> None:
                with contextlib.suppress(OSError, ValueError):  # after a reset the socket is gone
                    super().handle_one_request()

            def _reset(self) -> None:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

            def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                fault = proxy.fault()
                if fault == "503":
                    return self._answer(503, b'{"error":"unavailable","reason":"injected"}')
                if fault == "reset":
                    return self._reset()
                if fault is not None and fault.startswith("status:"):
                    detail = {"error": "bad_request", "reason": BACKEND_DETAIL}
                    return self._answer(int(fault.split(":", 1)[1]), json.dumps(detail).encode())
                answer = proxy.forward(self.command, self.path, dict(self.headers.items()), body)
                if fault == "lost-503":
                    return self._answer(503, b'{"error":"unavailable","reason":"injected after"}')
                if fault == "lost-reset":
                    return self._reset()
                self._answer(answer.status_code, answer.content, answer.headers.get("content-type", "application/json"))

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        return Handler

    def __enter__(self) -> FaultyProxy:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()


@contextlib.contextmanager
def faulty(upstream: str, **options: Any) -> Iterator[FaultyProxy]:
    with FaultyProxy(upstream, **options) as proxy:
        yield proxy
