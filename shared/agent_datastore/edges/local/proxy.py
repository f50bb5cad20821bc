"""The sandbox proxy (API.md section 5): a loopback HTTP server that holds the credential.

Agent code in the sandbox talks to `http://127.0.0.1:PORT` without any
credential. The proxy forwards only `POST /v1/<operation>` to the upstream
API, with a request it builds itself: the body as received (size-capped)
and its own headers. Nothing the sandbox sends as a header reaches the
upstream, so `Authorization`, `X-User-Id`, `X-Agent-Name`, gateway identity
headers or any other identity header is dropped by construction. Identity
members in the body are refused by the upstream itself (unknown member, 400).
Answers come back unchanged: status, body, `Retry-After`.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from agent_datastore import __version__
from agent_datastore.api.service import OPERATIONS
from agent_datastore.core import errors
from agent_datastore.core.limits import MAX_BODY_BYTES
from agent_datastore.edges.auth import mint_token
from agent_datastore.edges.http import OPERATION_METHODS, PAGE_METHODS, error_response, new_request_id
from agent_datastore.edges.local.httpbase import KNOWN_METHODS, Exchange, JsonApp

logger = logging.getLogger("agent_datastore.edges.local.proxy")

HEALTH = "/healthz"
# Headers of the upstream answer passed back to the sandbox; everything else is dropped.
PASSED_BACK = ("content-type", "retry-after", "x-request-id")
FOREIGN_HOST = "the proxy answers only requests whose Host is its own loopback address"


class Credential(Protocol):
    def token(self) -> str: ...


@dataclass
class StaticToken:
    value: str

    def token(self) -> str:
        return self.value


@dataclass
class MintingCredential:
    """Mints short-lived capability tokens itself and re-mints before they expire."""

    secret: str
    kid: str
    user: str
    agent: str
    ttl_seconds: int = 900
    ns_prefix: str | None = None
    read_only: bool = False
    clock: Callable[[], float] = time.time
    _current: str = field(default="", init=False, repr=False)
    _expires: float = field(default=0.0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def token(self) -> str:
        with self._lock:
            # Re-mint once a fifth of the lifetime (at most a minute) is left, so a token
            # never expires between being injected and being checked upstream.
            margin = min(60.0, self.ttl_seconds / 5)
            if self._current and self.clock() < self._expires - margin:
                return self._current
            self._current = mint_token(
                self.secret,
                user=self.user,
                agent=self.agent,
                ttl_seconds=self.ttl_seconds,
                ns_prefix=self.ns_prefix,
                read_only=self.read_only,
                kid=self.kid,
            )
            self._expires = self.clock() + self.ttl_seconds
            return self._current


@dataclass
class ProxyConfig:
    upstream: str
    credential: Credential
    max_body: int = MAX_BODY_BYTES
    timeout: float = 60.0  # upstream answer
    connect_timeout: float = 5.0
    client_timeout: float = 30.0  # the sandbox has this long to send its request
    connect_retries: int = 2  # a connection that never opened is safe to try again


class SandboxProxy(JsonApp):
    """The proxy as an ASGI app: checks, then the upstream call in a worker thread."""

    def __init__(
        self, listening: tuple[Any, ...], config: ProxyConfig, client: httpx.Client | None = None, threads: int = 32
    ) -> None:
        super().__init__(threads)
        self.listening = listening  # (host, port) the proxy is bound to: the `Host` it answers
        self.config = config
        self.max_body = config.max_body
        self.upstream = config.upstream.rstrip("/")
        self._client = client
        self._client_lock = threading.Lock()
        self._routes: dict[str, tuple[httpx.URL, httpx.BaseTransport]] = {}
        self._timeout = {"timeout": httpx.Timeout(config.timeout, connect=config.connect_timeout).as_dict()}
        self._cached_headers: tuple[str, httpx.Headers] | None = None

    @property
    def client(self) -> httpx.Client:
        """The httpx client: its settings (environment proxies and certificates included) and the
        transport (connection pool) it picks for each operation's URL, which `forward` calls."""
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout),
                    limits=httpx.Limits(max_connections=self.threads, max_keepalive_connections=None),
                    follow_redirects=False,
                )
            if not self._routes:
                client, routes = self._client, {}
                for operation in OPERATIONS:
                    url = httpx.URL(f"{self.upstream}/v1/{operation}")
                    # The transport `Client.send` picks for it (a proxy's where HTTPS_PROXY etc. say so).
                    routes[operation] = url, client._transport_for_url(url)
                self._routes = routes  # whole, at once: `forward` reads it without the lock
            return self._client

    def _routes_made(self) -> dict[str, tuple[httpx.URL, httpx.BaseTransport]]:
        self.client  # noqa: B018 - makes the routes with the client
        return self._routes

    def close(self) -> None:
        super().close()
        if self._client is not None:
            self._client.close()

    def _headers(self) -> httpx.Headers:
        """The upstream request's headers, made again only when the credential's token changes
        (httpx parses a URL and a header mapping anew for every request given as text)."""
        token = self.config.credential.token()
        cached = self._cached_headers
        if cached is None or cached[0] != token:
            headers = self.client.headers.copy()  # as `Client.send` merges them: Accept-Encoding, ...
            headers.update(
                {
                    "authorization": f"Bearer {token}",
                    "content-type": "application/json",
                    "accept": "application/json",
                    "user-agent": f"agent-datastore-proxy/{__version__}",
                }
            )
            cached = self._cached_headers = (token, headers)
        return cached[1]

    def forward(self, operation: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        headers = self._headers()
        url, transport = (self._routes or self._routes_made())[operation]
        attempt = 0
        while True:
            try:
                response = self._send(transport, url, body, headers)
                break
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                attempt += 1
                if attempt > self.config.connect_retries:
                    logger.warning("upstream %s unreachable: %r", self.upstream, exc)
                    return _answer(errors.BackendUnavailable("the data store is unreachable; try again shortly"))
                time.sleep(0.1 * 2**attempt)
            except httpx.HTTPError as exc:
                logger.warning("upstream %s failed after the request was sent: %r", self.upstream, exc)
                return _answer(
                    errors.BackendUnavailable(
                        "no answer from the data store in time; the request may or may not have been applied"
                    )
                )
        passed = {name: response.headers[name] for name in PASSED_BACK if name in response.headers}
        return response.status_code, response.content, passed

    def _send(
        self, transport: httpx.BaseTransport, url: httpx.URL, body: bytes, headers: httpx.Headers
    ) -> httpx.Response:
        """`Client.post` without what the proxy has no use for (auth flows, redirects, a cookie
        jar, event hooks), which cost more CPU than the call itself: the request goes straight to
        the client's transport, with the client's timeouts, and the whole answer is read."""
        request = httpx.Request("POST", url, content=body, headers=headers, extensions=self._timeout)
        response = transport.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        return response

    def protocol_error(self, detail: str) -> errors.DataStoreError | None:
        return errors.Forbidden(FOREIGN_HOST) if "multiple Host" in detail else None

    async def handle(self, exchange: Exchange) -> None:
        # A foreign `Host` is refused before any method is looked at (see `host_allowed`);
        # h11 refuses two `Host` headers itself (`protocol_error`).
        hosts = exchange.host_headers()
        if len(hosts) > 1 or (hosts and not host_allowed(hosts[0], self.listening)):
            exchange.skip_body(self.max_body)
            await exchange.fail(errors.Forbidden(FOREIGN_HOST), allow=self._allowed(exchange), close=True)
            return
        path = exchange.path.split("?", 1)[0]
        operation = _operation(path)
        if exchange.method == "POST" and path != HEALTH:
            if operation is None:
                exchange.skip_body(self.max_body)
                await exchange.fail(errors.UnknownOperation("the proxy forwards only POST /v1/<operation>"))
                return
            if not is_json(exchange.headers.get("content-type")):
                exchange.skip_body(self.max_body)
                message = "the proxy takes only Content-Type: application/json (charset utf-8)"
                await exchange.fail(errors.InvalidRequest(message))
                return
            body = await exchange.read_body(self.max_body)
            if body is not None:
                await exchange.reply(*await self.in_thread(self.forward, operation, body))
            return
        exchange.skip_body(self.max_body)
        if path == HEALTH and exchange.method in ("GET", "HEAD"):
            await exchange.reply(200, b'{"status":"ok"}', {"content-type": "application/json"})
        elif exchange.method not in KNOWN_METHODS:  # as http.server answered a method it has no handler for
            message = f"{exchange.method} is not allowed; use POST /v1/<operation>"
            if path == HEALTH:
                message = f"{exchange.method} is not allowed on {path}; use GET or HEAD"
            await exchange.fail(errors.MethodNotAllowed(message), allow=self._allowed(exchange), close=True)
        elif path == HEALTH:
            message = f"{exchange.method} is not allowed on {path}; use GET or HEAD"
            await exchange.fail(errors.MethodNotAllowed(message), allow=PAGE_METHODS)
        elif operation is not None:
            await exchange.fail(errors.MethodNotAllowed(f"{exchange.method} is not allowed; use POST"))
        else:
            await exchange.fail(errors.UnknownOperation("the proxy forwards only POST /v1/<operation>"))

    @staticmethod
    def _allowed(exchange: Exchange) -> str:
        return PAGE_METHODS if exchange.path.split("?", 1)[0] == HEALTH else OPERATION_METHODS


def _operation(path: str) -> str | None:
    prefix = "/v1/"
    if path.startswith(prefix) and path[len(prefix) :] in OPERATIONS:
        return path[len(prefix) :]
    return None


def _answer(exc: errors.DataStoreError) -> tuple[int, bytes, dict[str, str]]:
    response = error_response(exc, new_request_id())
    return response.status, response.encoded_body().encode("utf-8"), response.http_headers()


def host_allowed(value: str, listening: tuple[Any, ...]) -> bool:
    """Whether a `Host` header names this proxy. A web page in a browser on the sandbox host
    could otherwise reach it under a name of its own that resolves to 127.0.0.1 (DNS rebinding)
    and read the answers as same-origin: only loopback addresses and `localhost` are taken, with
    the proxy's port when a port is given. When the proxy listens elsewhere (--allow-non-loopback),
    its own address is taken too, as an IP literal; never another name."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or "]" in port:  # no port (an IPv6 literal's colons are inside its brackets)
        host, port = value.strip(), ""
    if port and (not port.isdigit() or int(port) != listening[1]):
        return False
    host = host.lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        return False  # an IPv6 literal must be bracketed
    if is_loopback(host):
        return True
    try:
        address, bound = ipaddress.ip_address(host), ipaddress.ip_address(listening[0])
    except ValueError:
        return False
    return address == bound or bound.is_unspecified


def is_json(content_type: str | None) -> bool:
    """`application/json`, optionally with `charset=utf-8`: what the SDK sends. A cross-site form or a
    no-CORS fetch can only send text/plain, form or multipart bodies without the browser asking
    the server first (a preflight the proxy never grants)."""
    if content_type is None:
        return False
    media, *parameters = (part.strip() for part in content_type.split(";"))
    if media.lower() != "application/json":
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen takes HOST:PORT, not {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def upstream_auth_off(upstream: str, timeout: float = 3.0) -> bool | None:
    """Whether the upstream is an agent-datastore server with DATASTORE_AUTH=none, which ignores
    the token the proxy injects and acts as its default user. Read from its /openapi.json (no
    security scheme there means no credential is asked for); None when the upstream publishes
    no such document (a deployed API) or cannot be reached (the proxy reports that per request)."""
    try:
        document = httpx.get(f"{upstream.rstrip('/')}/openapi.json", timeout=timeout).json()
    except (httpx.HTTPError, ValueError):
        return None
    info = document.get("info") if isinstance(document, dict) else None
    if not isinstance(info, dict) or info.get("title") != "Agent Data Store":
        return None
    return "security" not in document
