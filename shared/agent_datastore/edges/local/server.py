"""The local HTTP server.

It turns each HTTP request into the neutral `HttpRequest` and answers it
through `edges.dispatch`, as the deployed functions do: there is no second
implementation of any operation here.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import sys
import uuid
from dataclasses import replace
from http.server import ThreadingHTTPServer
from pathlib import Path

from agent_datastore.api.app import Api
from agent_datastore.core.limits import MAX_BODY_BYTES
from agent_datastore.core.settings import Settings
from agent_datastore.edges import dispatch
from agent_datastore.edges.auth import SecretSource, with_remote_cursor_secret
from agent_datastore.edges.http import OPERATION_METHODS, PAGE_METHODS, HttpRequest
from agent_datastore.edges.local import pages
from agent_datastore.edges.local.httpbase import JsonRequestHandler, serve_until_signalled


class DataStoreHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: Api, remote: SecretSource | None = None) -> None:
        super().__init__(address, RequestHandler)
        self.api = api
        self.remote = remote


class RequestHandler(JsonRequestHandler):
    server: DataStoreHTTPServer
    server_version = "agent-datastore"
    max_body = MAX_BODY_BYTES

    def _path(self) -> str:
        return self.request_path()

    def _page(self) -> pages.Page | None:
        return pages.GET_ROUTES.get(self._path())

    def allowed(self) -> str:
        return PAGE_METHODS if self._page() is not None else OPERATION_METHODS

    def do_GET(self) -> None:
        page = self._page()
        self.discard_body()
        if page is not None:
            host = self.headers.get("host") or f"127.0.0.1:{self.server.server_address[1]}"
            status, content_type, body = page(self.server.api, f"http://{host}")
            self.reply(status, body, {"content-type": content_type})
            return
        self._dispatch(b"")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        if self._page() is not None:
            self.do_PUT()
            return
        body = self.read_body()
        if body is not None:
            self._dispatch(body)

    def do_PUT(self) -> None:
        self.discard_body()
        if self._page() is not None:  # the pages are read-only
            self.fail(self.method_not_allowed())
            return
        self._dispatch(b"")

    do_DELETE = do_PUT
    do_PATCH = do_PUT
    do_OPTIONS = do_PUT

    def _dispatch(self, body: bytes) -> None:
        headers: dict[str, str] = {}
        for name, raw in self.headers.items():
            key = name.lower()
            # http.server decodes header bytes as latin-1; clients send UTF-8.
            try:
                value = raw.encode("latin-1").decode("utf-8")
            except UnicodeError:
                value = raw
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        request = HttpRequest(self.command.upper(), self._path(), headers, body)
        request_id = str(uuid.uuid4())
        response = dispatch.answer_http(self.server.api, request, None, request_id, remote=self.server.remote)
        self.reply(response.status, response.encoded_body().encode("utf-8"), response.http_headers(request_id))


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
    server = DataStoreHTTPServer((host, port), api, remote)
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
    try:
        serve_until_signalled(server, on_stop="shutting down")
    finally:
        api.close()
    print("stopped", flush=True)
    return 0
