"""Crowd and throughput of the local server and the sandbox proxy, side by side in one run:

- `new`: `agent-datastore serve` of this tree (uvicorn on httptools + uvloop, edges/local/server.py);
- `old`: the same command from the last commit on the stdlib `ThreadingHTTPServer`
  (OLD_COMMIT, unpacked with `git archive` into a temporary folder and put first on PYTHONPATH);
- `reference`: `ReferenceHandler` below, a minimal stdlib HTTP/1.1 server answering the same
  routes (`POST /v1/get`, `POST /v1/set`, `GET /healthz`) from a dict;
- `memory`: `new` on the in-memory store (`STORE_BACKEND=memory`): the server without SQLite's commit;
- `floor`: `floor_app` below, uvicorn on the same runtime (httptools + uvloop) answering every
  request with one constant: what the HTTP server alone costs, before any store or validation.

Each server is a process of its own (SQLite in a temporary folder, auth off); the clients are
threads of this process speaking raw HTTP/1.1 over loopback sockets, the same client for all.

    python -m bench.crowd --append bench/results.md     # also part of `make bench`
    python -m bench.crowd --quick                       # smoke run, nothing written

The crowd: CROWD_CLIENTS threads released at once, each sending CROWD_REQUESTS requests on a new
connection each; an error is any request without a 200 answer (reset, refused, timeout).
Throughput: 1 and 4 clients, each on one kept-alive connection, tracked `get` and `set`, requests
per second over a fixed time; the three servers take turns, ROUNDS times, and the median counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from bench.sections import replace_section

ROOT = Path(__file__).resolve().parents[1]
OLD_COMMIT = "7df44e60176498552f9549e48f7c6db35b27f275"  # the last commit with the stdlib servers
HEADING = "## Local server and sandbox proxy: crowd and throughput"
CROWD_CLIENTS, CROWD_REQUESTS = 256, 20
ROUNDS = 3
SECONDS = 2.0  # per throughput measurement
SECRET = "bench-crowd-secret-of-at-least-32-bytes!"
USER = "bench-user"

GET = json.dumps({"namespace": "bench", "key": "hot"}).encode()
SET = json.dumps({"namespace": "bench", "key": "hot", "value": {"text": "x" * 100}}).encode()
REQUESTS = {"get (tracked)": ("/v1/get", GET), "set": ("/v1/set", SET)}


# -- the reference: a minimal stdlib server from a dict ---------------------------------------------


class ReferenceHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store: ClassVar[dict[tuple[str, str, str], dict[str, Any]]] = {}
    lock = threading.Lock()

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.answer(200, {"status": "ok"})
        else:
            self.answer(404, {"error": {"code": "unknown_operation"}})

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        key = (self.headers.get("x-user-id", "local"), request.get("namespace", "default"), request.get("key"))
        with self.lock:
            if self.path == "/v1/set":
                version = self.store.get(key, {}).get("version", 0) + 1
                self.store[key] = {"value": request.get("value"), "version": version, "accessCount": 0}
                self.answer(200, {"version": version, "created": version == 1})
            elif self.path == "/v1/get":
                record = self.store.get(key)
                if record is not None:
                    record["accessCount"] += 1
                self.answer(200, {"found": record is not None, "value": record and record["value"]})
            else:
                self.answer(404, {"error": {"code": "unknown_operation"}})


def reference_main(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), ReferenceHandler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


# -- the floor: uvicorn answering a constant ---------------------------------------------------------

FLOOR_BODY = json.dumps({"found": True, "value": {"text": "x" * 100}}).encode()


async def floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(FLOOR_BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": FLOOR_BODY})


def floor_main(port: int) -> None:
    import uvicorn

    uvicorn.run(
        floor_app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="off",
    )


# -- the servers, each a child process ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on {port} exited: {log.read_text(errors='replace')}")
        try:
            status, _ = request_once(port, "GET", "/healthz", b"")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on {port} never answered /healthz: {log.read_text(errors='replace')}")


@contextmanager
def child(args: list[str], env: dict[str, str], folder: Path, name: str) -> Iterator[int]:
    port = free_port()
    log = folder / f"{name}.log"
    full_env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "WARNING", **env}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, *[arg.replace("{port}", str(port)) for arg in args]],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=ROOT,
        )
    try:
        wait_ready(port, process, log)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def old_tree() -> Iterator[Path]:
    """`shared/` of OLD_COMMIT in a temporary folder (its package first on PYTHONPATH)."""
    with tempfile.TemporaryDirectory(prefix="crowd-old-") as folder:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", OLD_COMMIT, "shared"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        yield Path(folder) / "shared"


@dataclass
class Servers:
    ports: dict[str, int]  # name -> port of a server answering /v1/get and /v1/set without credentials
    proxies: dict[str, int]  # name -> port of a proxy in front of the new server


@contextmanager
def servers(with_proxies: bool = True) -> Iterator[Servers]:
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crowd-")))
        old = stack.enter_context(old_tree())
        serve = ["-m", "agent_datastore.cli", "serve"]
        none = {"STORE_BACKEND": "sqlite", "DATASTORE_AUTH": "none"}
        ports = {
            "new": stack.enter_context(
                child(serve, {**none, "SQLITE_PATH": str(folder / "new.sqlite3")}, folder, "new")
            ),
            "old": stack.enter_context(
                child(
                    serve, {**none, "SQLITE_PATH": str(folder / "old.sqlite3"), "PYTHONPATH": str(old)}, folder, "old"
                )
            ),
            "reference": stack.enter_context(
                child(["-m", "bench.crowd", "--reference-server", "{port}"], {}, folder, "ref")
            ),
            "memory": stack.enter_context(
                child(
                    serve, {**none, "STORE_BACKEND": "memory", "SQLITE_PATH": str(folder / "m.sqlite3")}, folder, "mem"
                )
            ),
            "floor": stack.enter_context(child(["-m", "bench.crowd", "--floor-server", "{port}"], {}, folder, "floor")),
        }
        proxies: dict[str, int] = {}
        if with_proxies:
            token_env = {
                "STORE_BACKEND": "sqlite",
                "DATASTORE_AUTH": "token",
                "DATASTORE_TOKEN_SECRET": SECRET,
                "SQLITE_PATH": str(folder / "upstream.sqlite3"),
            }
            upstream = stack.enter_context(child(serve, token_env, folder, "upstream"))
            proxy = ["-m", "agent_datastore.cli", "proxy", "--listen", "127.0.0.1:{port}"]
            proxy += ["--upstream", f"http://127.0.0.1:{upstream}", "--user", USER, "--agent", "bench"]
            secret = {"DATASTORE_TOKEN_SECRET": SECRET}
            proxies["new"] = stack.enter_context(child(proxy, secret, folder, "proxy-new"))
            proxies["old"] = stack.enter_context(child(proxy, {**secret, "PYTHONPATH": str(old)}, folder, "proxy-old"))
        yield Servers(ports, proxies)


# -- the client: raw HTTP/1.1 ---------------------------------------------------------------------------


def encode(method: str, path: str, body: bytes) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User-Id: {USER}\r\nX-Agent-Name: bench\r\n"
    if method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


class Connection:
    """One kept-alive connection; `call` sends a request and reads the whole answer."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def call(self, data: bytes) -> int:
        self.sock.sendall(data)
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buffer) < length:
            self._more()
        self.buffer = self.buffer[length:]
        return status

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def request_once(port: int, method: str, path: str, body: bytes) -> tuple[int, None]:
    connection = Connection(port, timeout=5)
    try:
        return connection.call(encode(method, path, body)), None
    finally:
        connection.close()


def crowd(port: int, clients: int = CROWD_CLIENTS, requests: int = CROWD_REQUESTS) -> dict[str, Any]:
    """`clients` threads released together, each sending `requests` requests on a new connection
    each (a `get` then a `set`, by turns): how many got no 200 answer, and the wall time."""
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def one(index: int) -> None:
        barrier.wait()
        for i in range(requests):
            path, body = REQUESTS["set"] if i % 2 else REQUESTS["get (tracked)"]
            try:
                status, _ = request_once(port, "POST", path, body)
                if status != 200:
                    errors.append(f"status {status}")
            except OSError as exc:  # reset, refused, timeout
                errors.append(type(exc).__name__)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    kinds: dict[str, int] = {}
    for error in errors:
        kinds[error] = kinds.get(error, 0) + 1
    return {"errors": len(errors), "kinds": kinds, "requests": clients * requests, "seconds": seconds}


def throughput(port: int, clients: int, path: str, body: bytes, seconds: float = SECONDS) -> float:
    """Requests per second of `clients` threads, each on one kept-alive connection."""
    data = encode("POST", path, body)
    counts = [0] * clients
    failures: list[BaseException] = []
    stop = time.perf_counter() + seconds
    barrier = threading.Barrier(clients)

    def one(index: int) -> None:
        connection = Connection(port)
        try:
            connection.call(data)  # warm: the connection, the server's thread and its SQLite connection
            barrier.wait()
            while time.perf_counter() < stop:
                if connection.call(data) != 200:
                    raise RuntimeError(f"{path}: not 200")
                counts[index] += 1
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return sum(counts) / seconds


# -- the run --------------------------------------------------------------------------------------------

THROUGHPUT_CLIENTS = (1, 4)


def rates(ports: dict[str, int], rounds: int, seconds: float) -> dict[str, dict[str, float]]:
    """Requests per second of each server in `ports`, per request kind and number of clients."""
    table: dict[str, dict[str, float]] = {}
    for clients in THROUGHPUT_CLIENTS:
        for label, (path, body) in REQUESTS.items():
            samples: dict[str, list[float]] = {name: [] for name in ports}
            for _ in range(rounds):  # by turns, so a busy moment of the machine hits them all
                for name, port in ports.items():
                    samples[name].append(throughput(port, clients, path, body, seconds))
            row = {name: statistics.median(values) for name, values in samples.items()}
            print(f"{clients} client(s), {label}: {row}", file=sys.stderr, flush=True)
            table[f"{label}, {clients} client{'s' if clients > 1 else ''}"] = row
    return table


def measure(rounds: int = ROUNDS, seconds: float = SECONDS, crowd_requests: int = CROWD_REQUESTS) -> dict[str, Any]:
    result: dict[str, Any] = {"crowd": {}, "proxy_crowd": {}}
    with servers() as running:
        for port in [*running.ports.values(), *running.proxies.values()]:
            request_once(port, "POST", *REQUESTS["set"])  # the key exists for `get`
        for name, port in running.ports.items():
            print(f"crowd: {name} ...", file=sys.stderr, flush=True)
            result["crowd"][name] = crowd(port, requests=crowd_requests)
        for name, port in running.proxies.items():
            print(f"crowd: proxy {name} ...", file=sys.stderr, flush=True)
            result["proxy_crowd"][name] = crowd(port, requests=crowd_requests)
        result["throughput"] = rates(running.ports, rounds, seconds)
        result["proxy_throughput"] = rates(running.proxies, rounds, seconds)
    return result


def render(result: dict[str, Any], rounds: int, seconds: float) -> str:
    def crowd_cell(row: dict[str, Any]) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(row["kinds"].items()))
        return f"{row['errors']} / {row['requests']}" + (f" ({kinds})" if kinds else "") + f", {row['seconds']:.1f} s"

    lines = [
        HEADING,
        "",
        f"Produced by `python -m bench.crowd --append bench/results.md` (part of `make bench`) on {platform.machine()} "
        f"with {os.cpu_count()} cores, Python {platform.python_version()}. Five servers, each its own process, "
        "auth off: **new** = `agent-datastore serve` of this tree "
        "(uvicorn on httptools + uvloop) on SQLite, **old** = the same command on SQLite "
        f"from commit {OLD_COMMIT[:7]} (stdlib `ThreadingHTTPServer`), **reference** = a minimal stdlib server "
        "answering the same routes from a dict (`bench/crowd.py`), **memory** = new on the in-memory store "
        "(`STORE_BACKEND=memory`: no SQLite commit), **floor** = uvicorn on the same runtime "
        "answering every request with one constant (what the HTTP server alone costs). Clients: threads of one "
        "process, raw HTTP/1.1 over loopback, the same for all.",
        "",
        f"Crowd: {CROWD_CLIENTS} clients released at once, {result['crowd']['new']['requests'] // CROWD_CLIENTS} "
        "requests each, a new connection per request; errors = requests without a 200 answer. "
        "The proxies (token minted by the proxy, upstream = a new server with token auth) take the same crowd.",
        "",
        "| crowd | errors / requests, wall time |",
        "|---|---|",
    ]
    for name, row in result["crowd"].items():
        lines.append(f"| server: {name} | {crowd_cell(row)} |")
    for name, row in result["proxy_crowd"].items():
        lines.append(f"| proxy: {name} | {crowd_cell(row)} |")
    lines += [
        "",
        f"Throughput: requests per second, each client on one kept-alive connection, {seconds:g} s per "
        f"measurement, the servers by turns, median of {rounds}. Targets: new >= 1.25x old and >= 0.9x reference.",
        "",
        "| requests | new | old | reference | new / old | new / reference | memory / reference | floor / reference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, row in result["throughput"].items():
        lines.append(
            f"| {label} | {row['new']:.0f} | {row['old']:.0f} | {row['reference']:.0f} | "
            f"{row['new'] / row['old']:.2f}x | {row['new'] / row['reference']:.2f}x | "
            f"{row['memory'] / row['reference']:.2f}x | {row['floor'] / row['reference']:.2f}x |"
        )
    lines += [
        "",
        "Through the sandbox proxy (new proxy, and the proxy of the old commit, each in front of the same new "
        "server with token auth), the same clients and rounds:",
        "",
        "| requests | proxy: new | proxy: old | new / old |",
        "|---|---|---|---|",
    ]
    for label, row in result["proxy_throughput"].items():
        lines.append(f"| {label} | {row['new']:.0f} | {row['old']:.0f} | {row['new'] / row['old']:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--append", type=Path, help="write the section into this results file")
    parser.add_argument("--quick", action="store_true", help="smoke run: short, nothing written")
    parser.add_argument("--reference-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--floor-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reference_server is not None:
        reference_main(args.reference_server)
        return 0
    if args.floor_server is not None:
        floor_main(args.floor_server)
        return 0
    rounds, seconds, requests = (1, 0.3, 2) if args.quick else (ROUNDS, SECONDS, CROWD_REQUESTS)
    result = measure(rounds, seconds, requests)
    section = render(result, rounds, seconds)
    print(section)
    if args.append and not args.quick:
        replace_section(args.append, section)
        print(f"wrote the section to {args.append}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
