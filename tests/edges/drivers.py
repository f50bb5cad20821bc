"""The edges of the corpus: how one recorded request is sent, and how its answer is normalised.

Only entry points that survive a restructure of `agent_datastore` are used here:
the files `functions/aws/<operation>/app.py` and `functions/aws/authorizer/app.py`
(loaded by path), the targets of `functions/gcp/main.py` (through functions-framework
and a real Flask request), and the console commands `python -m agent_datastore.cli
serve` / `proxy` in child processes, spoken to over real sockets. Nothing in this
package imports `agent_datastore` itself.

A request in the corpus is plain JSON. Two forms inside it are expanded when it is
sent: `{"$repeat": [prefix, unit, count, suffix]}` (a long string, so that megabyte
bodies stay small in the corpus) and the string `<<cursor>>` (the last `next_cursor`
this edge answered, so that pages are walked with real cursors).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import http.client
import importlib.util
import io
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt

from tests.servers import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus.json"
GCP_MAIN = ROOT / "functions" / "gcp" / "main.py"

# -- fixed identities and secrets: the same every run --------------------------------------

SECRET = "corpus-primary-secret-of-at-least-32-bytes"  # kid k1
SECRET_K2 = "corpus-rotated-secret-of-at-least-32-bytes"  # kid k2
FOREIGN_SECRET = "corpus-foreign-secret-of-at-least-32-bytes"
FAR = 4102444800  # 2100-01-01: tokens that never expire during a run, so they are the same every run
PAST = 1000000060
U1, U2, UTTL = "corpus-user-1", "corpus-user-2", "corpus-user-ttl"
DIRECT_CALLER = "indexer@corpus.iam.gserviceaccount.com"
SANDBOX_GATEWAY = "ads-sandbox-gw@corpus.iam.gserviceaccount.com"
JWT_ISSUER = "https://idp.corpus.test"
JWT_AUDIENCES = "corpus-api,corpus-cli"
PLATFORM_KID = "idp-key-1"

# Environment variables of the process that never reach an edge (each edge sets its own).
FOREIGN_ENV = ("DATASTORE_", "STORE_BACKEND", "SQLITE_", "DYNAMODB_", "FIRESTORE_", "COUCHDB_", "POWERTOOLS_", "AWS_")
BASE_ENV = {"LOG_LEVEL": "WARNING", "POWERTOOLS_LOG_LEVEL": "WARNING"}
AWS_ENV = {
    "STORE_BACKEND": "sqlite",
    "DATASTORE_AUTH": "gateway",
    "DATASTORE_TOKEN_SECRET": SECRET,
    "DATASTORE_TOKEN_SECRETS": f"k2={SECRET_K2}",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "AgentDataStoreCorpus",
    "POWERTOOLS_SERVICE_NAME": "agent-datastore-corpus",
}
GCP_ENV = {
    "STORE_BACKEND": "sqlite",
    "DATASTORE_AUTH": "gateway",
    "DATASTORE_TOKEN_SECRET": SECRET,
    "DATASTORE_TOKEN_SECRETS": f"k2={SECRET_K2}",
    "DATASTORE_DIRECT_CALLERS": DIRECT_CALLER,
}
SERVER_TOKEN_ENV = {
    "STORE_BACKEND": "sqlite",
    "DATASTORE_AUTH": "token",
    "DATASTORE_TOKEN_SECRET": SECRET,
    "DATASTORE_TOKEN_SECRETS": f"k2={SECRET_K2}",
}


def capability_token(
    sub: Any = U1,
    agent: Any = "corpus-agent",
    *,
    secret: str = SECRET,
    kid: str | None = "k1",
    exp: Any = FAR,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    """A capability token as the platform mints it (API.md section 5); no `iat`, so it is the same every run."""
    payload = {"sub": sub, "agent": agent, "exp": exp, **claims}
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, secret, algorithm=algorithm, headers={"kid": kid} if kid else None)


def google_id_token(email: str, issuer: str = "https://accounts.google.com") -> str:
    """What Cloud Run IAM has verified before a request reaches a private function (signature not checked there)."""
    claims = {"iss": issuer, "email": email, "sub": "1234567890", "aud": "corpus", "exp": FAR}
    return jwt.encode(claims, "signature-not-checked-by-the-function!", algorithm="HS256")


def userinfo(claims: Any) -> str:
    """Google API Gateway's X-Apigateway-Api-Userinfo: base64url JSON of the verified claims, unpadded."""
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")


@functools.cache
def platform_keys() -> list[Any]:
    """The two test RSA keys in platform_keys.pem (the published one first)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    text = (HERE / "platform_keys.pem").read_text()
    blocks = re.findall(r"-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----", text, re.S)
    return [load_pem_private_key(block.encode(), password=None) for block in blocks]


def platform_jwt(claims: dict[str, Any], *, impostor: bool = False, kid: str = PLATFORM_KID) -> str:
    """An RS256 JWT of the platform's identity provider (PKCS#1 v1.5 signatures are deterministic)."""
    key = platform_keys()[1 if impostor else 0]
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def jwks() -> bytes:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(platform_keys()[0].public_key()))
    public.update({"kid": PLATFORM_KID, "use": "sig", "alg": "RS256"})
    return json.dumps({"keys": [public]}).encode()


@contextlib.contextmanager
def jwks_server() -> Iterator[str]:
    """The identity provider's key set on 127.0.0.1 (PyJWKClient fetches over HTTP(S) only); yields its URL."""
    body = jwks()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            found = self.path == "/.well-known/jwks.json"
            self.send_response(200 if found else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


# -- expanding a recorded request -------------------------------------------------------------

CURSOR_MARK = "<<cursor>>"


def expand(value: Any, cursor: str | None) -> Any:
    """The request as sent: `$repeat` objects become their long strings, `<<cursor>>` the last cursor."""
    if isinstance(value, dict):
        if set(value) == {"$repeat"}:
            prefix, unit, count, suffix = value["$repeat"]
            return prefix + unit * count + suffix
        return {name: expand(item, cursor) for name, item in value.items()}
    if isinstance(value, list):
        return [expand(item, cursor) for item in value]
    if isinstance(value, str) and CURSOR_MARK in value:
        return value.replace(CURSOR_MARK, cursor or "")
    return value


def repeat(prefix: str, unit: str, count: int, suffix: str = "") -> dict[str, Any]:
    return {"$repeat": [prefix, unit, count, suffix]}


def body_bytes(request: Mapping[str, Any]) -> bytes | None:
    if "body_base64" in request:
        return base64.b64decode(request["body_base64"])
    body = request.get("body")
    return None if body is None else body.encode("utf-8")


# -- normalising an answer ----------------------------------------------------------------------

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
REQUEST_ID_TEXT = re.compile(r'"request_id":"(?:[^"\\]|\\.)*"')
CURSOR_TEXT = re.compile(r'"next_cursor":"(?:[^"\\]|\\.)*"')
HEADERS_KEPT = ("content-type", "retry-after", "allow")


def normalise_text(text: str) -> str:
    text = REQUEST_ID_TEXT.sub('"request_id":"<rid>"', text)
    text = CURSOR_TEXT.sub('"next_cursor":"<cursor>"', text)
    return TIMESTAMP.sub("<ts>", text)


def normalise(value: Any) -> Any:
    """Request ids, cursors and timestamps replaced, everything else (key order too) kept."""
    if isinstance(value, dict):
        out = {}
        for name, item in value.items():
            if name == "request_id" and isinstance(item, str):
                out[name] = "<rid>"
            elif name == "next_cursor" and isinstance(item, str):
                out[name] = "<cursor>"
            else:
                out[name] = normalise(item)
        return out
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, str):
        return TIMESTAMP.sub("<ts>", value)
    return value


def find_cursor(value: Any) -> str | None:
    if isinstance(value, dict):
        found = value.get("next_cursor")
        if isinstance(found, str):
            return found
        for item in value.values():
            found = find_cursor(item)
            if found:
                return found
    return None


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def http_answer(status: int, header: Callable[[str], str | None], data: bytes, record: str | None) -> tuple[dict, Any]:
    """(normalised answer, parsed body) of an HTTP answer."""
    headers = {name: value for name in HEADERS_KEPT if (value := header(name)) is not None}
    if header("x-request-id") is not None:
        headers["x-request-id"] = "<rid>"
    answer: dict[str, Any] = {"status": status, "headers": headers}
    if record == "digest":
        answer["body"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        return answer, None
    if record == "openapi_paths":
        answer["body"] = {"paths": sorted(json.loads(data)["paths"])}
        return answer, None
    text = data.decode("utf-8", errors="backslashreplace")
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
        answer["body"] = None
    else:
        answer["body"] = normalise(parsed)
    answer["text"] = normalise_text(text)
    return answer, parsed


def lambda_answer(result: Any) -> tuple[dict, Any]:
    """A Lambda handler's return value: `{statusCode, headers?, body}` of a function, or the authorizer's answer."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return {"result": normalise(result), "text": normalise_text(compact(result))}, None
    answer: dict[str, Any] = {"status": result["statusCode"], "members": sorted(result)}
    if "headers" in result:
        answer["headers"] = {
            name: "<rid>" if name == "x-request-id" else value for name, value in result["headers"].items()
        }
    body = result.get("body")
    if isinstance(body, str):
        answer["body_type"] = "text"
        parsed = json.loads(body)
        text = body
    else:
        answer["body_type"] = type(body).__name__
        parsed = body
        text = compact(body)
    answer["body"] = normalise(parsed)
    answer["text"] = normalise_text(text)
    return answer, parsed


# -- environment of in-process edges --------------------------------------------------------


def clean_env(values: Mapping[str, str]) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(FOREIGN_ENV)}
    return {**env, **BASE_ENV, **values}


@contextlib.contextmanager
def environment(values: Mapping[str, str], *, clean: bool = True) -> Iterator[None]:
    saved = dict(os.environ)
    try:
        if clean:
            os.environ.clear()
            os.environ.update(clean_env(values))
        else:
            os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


Send = Callable[[dict[str, Any]], tuple[dict, Any]]


# -- AWS Lambda: functions/aws/<name>/app.py, in this process ---------------------------------

_loads = itertools.count()


def load_lambda(name: str) -> Any:
    path = ROOT / "functions" / "aws" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"corpus_aws_{name}_{next(_loads)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


@contextlib.contextmanager
def aws_edge(edge: str) -> Iterator[Send]:
    with tempfile.TemporaryDirectory(prefix="corpus-aws-") as folder:
        env = {**AWS_ENV, "SQLITE_PATH": str(Path(folder) / "store.sqlite3")}
        stack = contextlib.ExitStack()
        if edge == "aws-authorizer":
            jwks_url = stack.enter_context(jwks_server())
            env.update(
                DATASTORE_JWT_ISSUER=JWT_ISSUER, DATASTORE_JWT_AUDIENCE=JWT_AUDIENCES, DATASTORE_JWKS_URL=jwks_url
            )
        handlers: dict[str, Any] = {}
        requests = itertools.count(1)

        def send(request: dict[str, Any]) -> tuple[dict, Any]:
            # "get@other" is a second, separately loaded instance of functions/aws/get/app.py.
            function = request["function"]
            if function not in handlers:
                handlers[function] = load_lambda(function.split("@")[0])
            context = SimpleNamespace(
                aws_request_id=f"corpus-request-{next(requests)}",
                function_name=f"agent-datastore-{function}",
                invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:agent-datastore-{function}",
                memory_limit_in_mb=256,
                get_remaining_time_in_millis=lambda: 29_000,
            )
            # Powertools prints its metrics (EMF) on stdout: not part of the answer.
            with environment(request.get("env", {}), clean=False), contextlib.redirect_stdout(io.StringIO()):
                try:
                    result = handlers[function](request["event"], context)
                except Exception as exc:  # what escapes a handler (API Gateway answers 500), recorded as such
                    return {"raised": type(exc).__name__, "message": str(exc)}, None
            return lambda_answer(result)

        with stack, environment(env):
            try:
                yield send
            finally:
                for handler in handlers.values():
                    api = getattr(handler, "api", None)
                    with contextlib.suppress(Exception):
                        api.close()


# -- Google Cloud Functions: functions/gcp/main.py under functions-framework, in this process ------


@contextlib.contextmanager
def gcp_edge(edge: str) -> Iterator[Send]:
    import functions_framework

    env = dict(GCP_ENV)
    if edge == "gcp-sandbox":
        # The sandbox entry point (infra/gcp): token-only functions, no trusted direct callers.
        env.update({"DATASTORE_AUTH": "token", "DATASTORE_DIRECT_CALLERS": ""})
    with tempfile.TemporaryDirectory(prefix="corpus-gcp-") as folder:
        env["SQLITE_PATH"] = str(Path(folder) / "store.sqlite3")
        with environment(env):
            clients: dict[str, Any] = {}

            def send(request: dict[str, Any]) -> tuple[dict, Any]:
                target = request["target"]
                if target not in clients:
                    clients[target] = functions_framework.create_app(target=target, source=str(GCP_MAIN)).test_client()
                response = clients[target].open(
                    request["path"],
                    method=request["method"],
                    headers=list(request.get("headers", {}).items()),
                    data=body_bytes(request) or b"",
                )
                return http_answer(
                    response.status_code, response.headers.get, response.get_data(), request.get("record")
                )

            yield send


# -- the local server and the sandbox proxy: child processes, raw HTTP/1.1 over a socket ---------------


@dataclass
class Child:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def children(specs: list[tuple[str, list[str], dict[str, str]]], folder: Path) -> Iterator[dict[str, Child]]:
    """Start every `agent-datastore ARGS...` at once, wait for each /healthz, SIGTERM them at the end."""
    started: dict[str, Child] = {}
    try:
        for name, args, env in specs:
            port = free_port()
            args = [arg.replace("{port}", str(port)) for arg in args]
            for other in started.values():  # "{port:server}": the port of an earlier child
                args = [arg.replace(f"{{port:{other.name}}}", str(other.port)) for arg in args]
            log = folder / f"{name}.log"
            with log.open("wb") as handle:
                process = subprocess.Popen(
                    [sys.executable, "-m", "agent_datastore.cli", *args],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=clean_env({"PORT": str(port), "HOST": "127.0.0.1", **env}),
                    cwd=ROOT,
                )
            started[name] = Child(name, port, process, log)
        for child in started.values():
            wait_http(f"http://127.0.0.1:{child.port}/healthz", child.process, child.log, timeout=30)
        yield started
    finally:
        for child in started.values():
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in started.values():
            try:
                child.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait(timeout=10)


def raw_request(request: Mapping[str, Any]) -> tuple[bytes, str]:
    """The bytes sent and the method. `Host: 127.0.0.1` is always added, `Content-Length` when a body is
    given and the request names neither Content-Length nor Transfer-Encoding; `raw` is sent as it is."""
    if "raw" in request or "raw_base64" in request:
        data = request["raw"].encode("utf-8") if "raw" in request else base64.b64decode(request["raw_base64"])
        return data, data.split(b" ", 1)[0].decode("latin-1")
    method, headers = request["method"], request.get("headers", [])
    body = body_bytes(request)
    lines = [
        f"{method} {request['path']} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{name}: {value}" for name, value in headers),
    ]
    named = {name.lower() for name, _ in headers}
    if body is not None and not named & {"content-length", "transfer-encoding"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + (body or b""), method


def send_http(port: int, request: Mapping[str, Any]) -> tuple[dict, Any]:
    data, method = raw_request(request)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        if request.get("half_close"):
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()
            body = response.read()
        except (http.client.HTTPException, ConnectionError):
            return {"no_answer": True}, None
        finally:
            response.close()
    return http_answer(response.status, response.getheader, body, request.get("record"))


@contextlib.contextmanager
def server_edge(edge: str) -> Iterator[Send]:
    env = {"STORE_BACKEND": "sqlite", "DATASTORE_AUTH": "none"} if edge == "server-none" else dict(SERVER_TOKEN_ENV)
    with tempfile.TemporaryDirectory(prefix="corpus-server-") as folder:
        env["SQLITE_PATH"] = str(Path(folder) / "store.sqlite3")
        with children([("server", ["serve"], env)], Path(folder)) as running:
            port = running["server"].port
            yield lambda request: send_http(port, request)


PROXY_TOKEN = capability_token(U1, "corpus-agent")


@contextlib.contextmanager
def proxy_edge(edge: str) -> Iterator[Send]:
    """A token-auth server and three proxies: p1 (a static token of U1), p2 (mints its own tokens for U2),
    dead (its upstream is not listening). Confined and read-only tokens are the server's business: server-token."""
    with tempfile.TemporaryDirectory(prefix="corpus-proxy-") as folder:
        server_env = {**SERVER_TOKEN_ENV, "SQLITE_PATH": str(Path(folder) / "store.sqlite3")}
        proxy = ["proxy", "--listen", "127.0.0.1:{port}", "--upstream"]
        upstream = "http://127.0.0.1:{port:server}"
        proxy_env = {"DATASTORE_TOKEN_SECRET": SECRET}
        specs = [
            ("server", ["serve"], server_env),
            ("p1", [*proxy, upstream, "--token", PROXY_TOKEN], proxy_env),
            ("p2", [*proxy, upstream, "--user", U2, "--agent", "corpus-agent-2"], proxy_env),
            ("dead", [*proxy, f"http://127.0.0.1:{free_port()}", "--token", PROXY_TOKEN], proxy_env),
        ]
        with children(specs, Path(folder)) as running:
            yield lambda request: send_http(running[request["via"]].port, request)


EDGES: dict[str, Callable[[str], contextlib.AbstractContextManager[Send]]] = {
    "aws-http": aws_edge,
    "aws-direct": aws_edge,
    "aws-authorizer": aws_edge,
    "gcp-gateway": gcp_edge,
    "gcp-direct": gcp_edge,
    "gcp-sandbox": gcp_edge,
    "server-none": server_edge,
    "server-token": server_edge,
    "proxy": proxy_edge,
}


def replay(edge: str, exchanges: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Send every exchange's request through `edge`, in order, on a fresh store; yield the normalised answers."""
    with EDGES[edge](edge) as send:
        cursor: str | None = None
        answered_at: dict[str, float] = {}
        for exchange in exchanges:
            wait = exchange.get("wait")
            if wait:  # {"after": <exchange>, "seconds": s}, e.g. until a TTL of 1 s has run out
                delay = answered_at[wait["after"]] + wait["seconds"] - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            answer, parsed = send(expand(exchange["request"], cursor))
            answered_at[exchange["name"]] = time.monotonic()  # the write happened before this
            cursor = find_cursor(parsed) or cursor
            yield answer
