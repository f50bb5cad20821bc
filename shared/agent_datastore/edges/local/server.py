"""The local HTTP server.

It turns each HTTP request into the same AWS HTTP API (payload v2) event the
deployed functions receive and calls the same handler: there is no second
implementation of any operation here.
"""

from __future__ import annotations

import base64
import logging
import sys
import uuid
from http.server import ThreadingHTTPServer
from typing import Any

from agent_datastore.api import models
from agent_datastore.core.settings import Settings
from agent_datastore.edges.http import Api, make_handler
from agent_datastore.edges.local.httpbase import JsonRequestHandler, serve_until_signalled


class DataStoreHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        super().__init__(address, RequestHandler)
        self.api = api
        self.handler = make_handler(None, api)


class RequestHandler(JsonRequestHandler):
    server: DataStoreHTTPServer
    server_version = "agent-datastore"
    max_body = models.MAX_BODY_BYTES

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def do_GET(self) -> None:
        from agent_datastore.edges.local import pages

        page = pages.GET_ROUTES.get(self._path())
        self.discard_body()
        if page is not None:
            status, content_type, body = page(self.server.api)
            self.reply(status, body, {"content-type": content_type})
            return
        self._dispatch(b"")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        body = self.read_body()
        if body is not None:
            self._dispatch(body)

    def do_PUT(self) -> None:
        self.discard_body()
        self._dispatch(b"")

    do_DELETE = do_PUT
    do_PATCH = do_PUT
    do_OPTIONS = do_PUT

    def _dispatch(self, body: bytes) -> None:
        path = self._path()
        headers: dict[str, str] = {}
        for name, raw in self.headers.items():
            key = name.lower()
            # http.server decodes header bytes as latin-1; clients send UTF-8.
            try:
                value = raw.encode("latin-1").decode("utf-8")
            except UnicodeError:
                value = raw
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": f"{self.command} {path}",
            "rawPath": path,
            "rawQueryString": self.path.partition("?")[2],
            "headers": headers,
            "requestContext": {
                "http": {"method": self.command, "path": path, "sourceIp": self.client_address[0]},
                "requestId": str(uuid.uuid4()),
            },
        }
        # As API Gateway does: text bodies as they are, anything else base64-encoded.
        try:
            event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
        result = self.server.handler(event, None)
        self.reply(result["statusCode"], result["body"].encode("utf-8"), result.get("headers", {}))


def serve(settings: Settings, host: str, port: int) -> int:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    api = Api(settings)
    api.service  # open the store now, so that a bad configuration fails at start-up  # noqa: B018
    server = DataStoreHTTPServer((host, port), api)
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
