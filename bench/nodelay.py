"""Why the HTTP servers set TCP_NODELAY: median latency of kept-alive requests
to the local server with and without it (headers and body leave in two writes,
so without it the body waits for the client's delayed ACK)."""

from __future__ import annotations

import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler

import httpx

from agent_datastore.api.app import Api
from agent_datastore.core.settings import Settings
from agent_datastore.edges.local import server
from agent_datastore.stores.memory import MemoryStore


class WithoutNoDelay(server.RequestHandler):
    def setup(self) -> None:
        BaseHTTPRequestHandler.setup(self)


def median_ms(handler: type[BaseHTTPRequestHandler], calls: int = 100) -> float:
    httpd = server.DataStoreHTTPServer(("127.0.0.1", 0), Api(Settings(auth="none"), MemoryStore()))
    httpd.RequestHandlerClass = handler
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{httpd.server_address[1]}") as client:
            client.post("/v1/set", json={"key": "k", "value": 1})
            samples = []
            for _ in range(calls):
                started = time.perf_counter()
                client.post("/v1/get", json={"key": "k"})
                samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)
    finally:
        httpd.shutdown()
        httpd.server_close()


def main() -> int:
    for name, handler in [("without TCP_NODELAY", WithoutNoDelay), ("with TCP_NODELAY", server.RequestHandler)]:
        print(f"{name}: median {median_ms(handler):.2f} ms per kept-alive request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
