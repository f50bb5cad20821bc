"""The local HTTP server.

An ASGI app served by uvicorn (edges/local/httpbase.py). It turns each HTTP
request into the neutral `HttpRequest` and answers it through `edges.dispatch`
(on the event loop or in a worker thread: `DataStoreApp.inline`), as the deployed
functions do: there is no second implementation of any operation here.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import sys
from dataclasses import replace
from pathlib import Path

from agent_datastore.api.app import Api
from agent_datastore.core import errors
from agent_datastore.core.settings import Settings
from agent_datastore.edges import dispatch
from agent_datastore.edges.auth import SecretSource, with_remote_cursor_secret
from agent_datastore.edges.http import OPERATION_METHODS, PAGE_METHODS, HttpRequest, new_request_id
from agent_datastore.edges.local import pages
from agent_datastore.edges.local.httpbase import (
    KNOWN_METHODS,
    Exchange,
    JsonApp,
    listen,
    serve_until_signalled,
)

# Threads that run the store's (synchronous) calls. SQLite writes one transaction at a time
# and keeps a connection per thread: a few threads keep it busy without contending for its
# lock; a remote store waits on the network, where more requests in flight help.
SQLITE_THREADS = 4
REMOTE_THREADS = 32
KEEP_ALIVE_SECONDS = 75  # longer than clients keep an idle connection (httpx: 5 s), so they close first
# Run on the event loop itself: one-key operations with a small body on a store in this process
# (SQLite, memory), a few tens of microseconds each, less than handing them to a thread and the
# answer back costs. Anything that may run long (pages of keys, batches, clear) and every remote
# store (which waits on the network) goes to the threads, and while any call is there the short
# ones go too: a write waiting for SQLite's lock (held by a batch) must not hold up the loop.
INLINE_BACKENDS = frozenset({"sqlite", "memory"})
INLINE_PATHS = frozenset({"/v1/get", "/v1/set", "/v1/delete", "/v1/increment"})
INLINE_MAX_BODY = 64 * 1024


class DataStoreApp(JsonApp):
    """`POST /v1/<operation>` through `edges.dispatch`, and the read-only pages."""

    def __init__(self, api: Api, remote: SecretSource | None = None, threads: int | None = None) -> None:
        sqlite = api.settings.store_backend == "sqlite"
        super().__init__(threads or (SQLITE_THREADS if sqlite else REMOTE_THREADS))
        self.api = api
        self.remote = remote
        self.local = api.settings.store_backend in INLINE_BACKENDS
        self.quick_paths = frozenset(path.encode() for path in INLINE_PATHS) if self.local else frozenset()
        self.quick_max_body = INLINE_MAX_BODY

    def inline(self, request: HttpRequest) -> bool:
        """Whether `request` is answered on the event loop rather than in a worker thread."""
        return (
            self.local
            and self.in_threads == 0
            and request.path in INLINE_PATHS
            and len(request.body) <= INLINE_MAX_BODY
        )

    async def handle(self, exchange: Exchange) -> None:
        page = pages.GET_ROUTES.get(exchange.path.split("?", 1)[0])
        if page is not None:
            exchange.skip_body(self.max_body)
            if exchange.method not in ("GET", "HEAD"):  # the pages are read-only
                path = exchange.path.split("?", 1)[0]
                message = f"{exchange.method} is not allowed on {path}; use GET or HEAD"
                await exchange.fail(errors.MethodNotAllowed(message), allow=PAGE_METHODS)
                return
            port = exchange.scope["server"][1] if exchange.scope.get("server") else 0
            base_url = f"http://{exchange.headers.get('host') or f'127.0.0.1:{port}'}"
            status, content_type, body = await self.in_thread(page, self.api, base_url)
            await exchange.reply(status, body, {"content-type": content_type})
            return
        if exchange.method not in KNOWN_METHODS:  # as http.server answered a method it has no handler for
            exchange.skip_body(self.max_body)
            message = f"{exchange.method} is not allowed; use POST /v1/<operation>"
            await exchange.fail(errors.MethodNotAllowed(message), allow=OPERATION_METHODS, close=True)
            return
        body = b""
        if exchange.method == "POST":
            read = await exchange.read_body(self.max_body)
            if read is None:
                return
            body = read
        else:
            exchange.skip_body(self.max_body)
        request = HttpRequest(exchange.method, exchange.path.split("?", 1)[0], exchange.headers, body)
        status, data, headers = await self.run(self.inline(request), self._answer, request)
        await exchange.reply(status, data, headers)

    def at_once(self, exchange: Exchange, body: bytes) -> tuple[int, bytes, dict[str, str]] | None:
        """What `handle` answers a POST whose body has arrived, when it would answer it inline."""
        if exchange.method != "POST":
            return None
        request = HttpRequest("POST", exchange.path.split("?", 1)[0], exchange.headers, body)
        return self._answer(request) if self.inline(request) else None

    def _answer(self, request: HttpRequest) -> tuple[int, bytes, dict[str, str]]:
        request_id = new_request_id()
        response = dispatch.answer_http(self.api, request, None, request_id, remote=self.remote)
        return response.status, response.encoded_body().encode("utf-8"), response.http_headers(request_id)


CURSOR_KEY_FILE = "cursor.key"


def with_cursor_key(settings: Settings, remote: SecretSource | None = None) -> Settings:
    """`settings` with a `list_keys` cursor secret: the configured one, or one derived from the
    token secret (so servers sharing that secret share cursors), else a random key made once and
    kept in `cursor.key` in the folder of SQLITE_PATH (the server's state folder, `.data/` by
    default; mode 0600), so cursors survive a restart and every server on that folder agrees."""
    settings = with_remote_cursor_secret(settings, remote)
    if settings.cursor_secret or settings.token_secret:
        return settings
    return replace(settings, cursor_secret=local_key(Path(settings.sqlite_path).parent / CURSOR_KEY_FILE))


def local_key(path: Path) -> str:
    """The key in `path`, made first if there is none. A new key is written to a file of its own
    and linked into place, which fails if another process got there first: then its key is read."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(fresh, path)
    finally:
        fresh.unlink()
    return _read_key(path)


def _read_key(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ValueError(f"{path} holds no cursor key; delete it and a new one is made at the next start")
    return key


def serve(settings: Settings, host: str, port: int, remote: SecretSource | None = None) -> int:
    """Serve until signalled; token secrets named by ARN or parameter come from `remote`."""
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    api = Api(with_cursor_key(settings, remote))
    api.service  # open the store now, so that a bad configuration fails at start-up  # noqa: B018
    sock = listen(host, port)
    if settings.auth == "none":
        banner = "!" * 72
        print(
            f"{banner}\n!!! AUTHENTICATION IS OFF (DATASTORE_AUTH=none): any caller may act as any\n"
            f"!!! user by sending X-User-Id. For local development only.\n{banner}",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"agent-datastore serving http://{host}:{sock.getsockname()[1]} "
        f"(backend {settings.store_backend}, auth {settings.auth})",
        flush=True,
    )
    app = DataStoreApp(api, remote)
    try:
        serve_until_signalled(
            app, sock, server_name="agent-datastore", keep_alive=KEEP_ALIVE_SECONDS, on_stop="shutting down"
        )
    finally:
        api.close()
    print("stopped", flush=True)
    return 0
