"""The local HTTP server.

It turns each HTTP request into the neutral `HttpRequest` and answers it
through `edges.dispatch`, as the deployed functions do: there is no second
implementation of any operation here.
"""

from __future__ import annotations

import logging
import sys
import uuid
from http.server import ThreadingHTTPServer

from agent_datastore.api.app import Api
from agent_datastore.core.limits import MAX_BODY_BYTES
from agent_datastore.core.settings import Settings
from agent_datastore.edges import dispatch
from agent_datastore.edges.auth import SecretSource
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
            status, content_type, body = page(self.server.api)
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


def serve(settings: Settings, host: str, port: int, remote: SecretSource | None = None) -> int:
    """Serve until signalled; token secrets named by ARN or parameter come from `remote`."""
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    api = Api(settings)
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
