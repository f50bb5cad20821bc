"""Read-only GET pages of the local server: health, OpenAPI, docs."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from agent_datastore.api import openapi
from agent_datastore.edges.local import ui

if TYPE_CHECKING:
    from agent_datastore.api.app import Api

Page = Callable[["Api", str], tuple[int, str, bytes]]

# One runnable example per operation, in a namespace of its own so that trying `clear`
# wipes nothing but the examples (tests/e2e/test_docs_page.py runs each against a live server).
EXAMPLE_NAMESPACE = "docs-examples"
EXAMPLES: dict[str, dict[str, object]] = {
    "set": {"namespace": EXAMPLE_NAMESPACE, "key": "greeting", "value": {"text": "hello"}, "metadata": {"lang": "en"}},
    "get": {"namespace": EXAMPLE_NAMESPACE, "key": "greeting", "include_record": True},
    "delete": {"namespace": EXAMPLE_NAMESPACE, "key": "greeting"},
    "list_keys": {"namespace": EXAMPLE_NAMESPACE, "prefix": "g", "limit": 10},
    "list_namespaces": {"prefix": "docs"},
    "clear": {"namespace": EXAMPLE_NAMESPACE},
    "get_many": {"namespace": EXAMPLE_NAMESPACE, "keys": ["a", "b", "greeting"]},
    "set_many": {"namespace": EXAMPLE_NAMESPACE, "items": {"a": 1, "b": [2, 3]}, "ttl_seconds": 3600},
    "increment": {"namespace": EXAMPLE_NAMESPACE, "key": "counter", "by": 2},
    "stats": {"namespace": EXAMPLE_NAMESPACE},
}


def healthz(api: Api, base_url: str = "") -> tuple[int, str, bytes]:
    body = {"status": "ok", "backend": api.settings.store_backend}
    return 200, "application/json", json.dumps(body).encode()


def openapi_json(api: Api, base_url: str = "") -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(openapi.build(api.settings.auth), ensure_ascii=False).encode("utf-8")


def docs(api: Api, base_url: str = "") -> tuple[int, str, bytes]:
    spec = openapi.build(api.settings.auth)
    sections = []
    for path, item in spec["paths"].items():
        operation = item["post"]
        name = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
        required = set(schema.get("required", []))
        rows = "".join(
            f"<tr><td><code>{html.escape(member)}</code>{' (required)' if member in required else ''}</td>"
            f"<td>{html.escape(str(detail.get('description', detail.get('type', ''))))}</td></tr>"
            for member, detail in schema.get("properties", {}).items()
        )
        example = EXAMPLES[path.rsplit("/", 1)[1]]
        sections.append(
            f"<section><h2><code>POST {html.escape(path)}</code></h2><p>{html.escape(operation['summary'])}</p>"
            f"<table><tr><th>member</th><th>meaning</th></tr>{rows}</table>"
            f"<pre>curl -s {html.escape(base_url)}{html.escape(path)} -d '{html.escape(json.dumps(example))}'</pre>"
            "</section>"
        )
    errors = "".join(
        f"<tr><td>{status}</td><td>{html.escape(detail['description'])}</td></tr>"
        for status, detail in spec["paths"]["/v1/get"]["post"]["responses"].items()
        if status != "200"
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Agent Data Store API</title>"
        "<style>body{font-family:sans-serif;max-width:900px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "pre{background:#f4f4f4;padding:8px;overflow-x:auto}</style></head><body>"
        "<h1>Agent Data Store API</h1><p>Every operation is <code>POST /v1/&lt;operation&gt;</code> with a JSON "
        "object body. Machine-readable: <a href='/openapi.json'>/openapi.json</a>.</p>"
        f'{"".join(sections)}<h2>Errors</h2><p>Every error is <code>{{"error": {{"code", "message", '
        f'"details"?, "request_id"}}}}</code>.</p><table><tr><th>status</th><th>codes</th></tr>{errors}</table>'
        "</body></html>"
    )
    return 200, "text/html; charset=utf-8", page.encode("utf-8")


def index(api: Api, base_url: str = "") -> tuple[int, str, bytes]:
    """`GET /`: where to go from here."""
    body = {
        "service": "agent-datastore",
        "operations": "POST /v1/<operation>",
        "docs": f"{base_url}/docs",
        "ui": f"{base_url}/ui",
        "openapi": f"{base_url}/openapi.json",
        "health": f"{base_url}/healthz",
    }
    return 200, "application/json", json.dumps(body).encode()


GET_ROUTES: dict[str, Page] = {
    "/": index,
    "/healthz": healthz,
    "/openapi.json": openapi_json,
    "/docs": docs,
    "/ui": ui.page,
    "/favicon.svg": ui.favicon,
    "/favicon.ico": ui.favicon,
}
