"""Why the HTTP servers set TCP_NODELAY: median latency of kept-alive requests
to the local server with and without it (headers and body leave in two writes,
so without it the body waits for the client's delayed ACK).

asyncio sets TCP_NODELAY on a connection only when the listening socket was made
with `IPPROTO_TCP`, as `httpbase.listen` makes it; `socket.create_server` leaves
the protocol 0, so its connections keep Nagle's algorithm."""

from __future__ import annotations

import asyncio
import socket
import statistics
import threading
import time

import httpx
import uvicorn

from agent_datastore.api.app import Api
from agent_datastore.core.settings import Settings
from agent_datastore.edges.local import httpbase, server
from agent_datastore.stores.memory import MemoryStore


def median_ms(sock: socket.socket, calls: int = 100) -> float:
    app = server.DataStoreApp(Api(Settings(auth="none"), MemoryStore()))
    running = uvicorn.Server(httpbase.uvicorn_config(app, server_name="bench", keep_alive=5))
    thread = threading.Thread(target=lambda: asyncio.run(running.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not running.started:
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}") as client:
            client.post("/v1/set", json={"key": "k", "value": 1})
            samples = []
            for _ in range(calls):
                started = time.perf_counter()
                client.post("/v1/get", json={"key": "k"})
                samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)
    finally:
        running.should_exit = True
        thread.join()
        app.close()


def main() -> int:
    for name, make in [
        ("without TCP_NODELAY", lambda: socket.create_server(("127.0.0.1", 0))),
        ("with TCP_NODELAY", lambda: httpbase.listen("127.0.0.1", 0)),
    ]:
        print(f"{name}: median {median_ms(make()):.2f} ms per kept-alive request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
