"""`agent-datastore mcp`: the MCP server (stdio or streamable HTTP), from the `mcp` extra.

Nothing here imports the MCP SDK until the command runs, so `agent-datastore
--help` works without the extra installed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

INSTALL_HINT = "the MCP server needs the `mcp` extra and the SDK: pip install 'agent-datastore[mcp]' ./sdk"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mcp",
        help="run the MCP server (tools for every operation) over stdio or streamable HTTP",
        description="A Model Context Protocol server over the data store. With DATASTORE_URL it is a client "
        "of that API; without, it runs the core in this process on STORE_BACKEND. stdio acts with the "
        "capability token in DATASTORE_TOKEN (or as the local user with --auth none); streamable HTTP "
        "requires a bearer capability token on every request.",
    )
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="default stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP: address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP: port (default 8765)")
    parser.add_argument("--path", default="/mcp", help="HTTP: the MCP endpoint (default /mcp)")
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="HTTP: an Origin to accept besides loopback ones, e.g. https://app.example.com (repeatable)",
    )
    parser.add_argument(
        "--allow-host", action="append", default=[], metavar="HOST", help="HTTP: a Host header to accept"
    )
    parser.add_argument(
        "--allow-non-loopback", action="store_true", help="HTTP: listen on an address other than loopback"
    )
    parser.add_argument("--url", help="the data store API (default DATASTORE_URL; none: in-process core)")
    parser.add_argument("--backend", help="in-process: STORE_BACKEND (default sqlite)")
    parser.add_argument(
        "--auth",
        choices=["none", "token"],
        help="stdio, in-process: `none` acts as the local user when DATASTORE_TOKEN is unset (DATASTORE_AUTH)",
    )
    parser.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    try:
        import mcp  # noqa: F401

        import agent_datastore_sdk  # noqa: F401
    except ImportError:
        return _fail(INSTALL_HINT)
    from agent_datastore.core.settings import Settings
    from agent_datastore.edges.local.proxy import is_loopback
    from agent_datastore.edges.mcp.backends import backend_from

    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"), stream=sys.stderr)
    url = args.url or os.environ.get("DATASTORE_URL") or None
    auth = args.auth or os.environ.get("DATASTORE_AUTH") or "token"
    overrides: dict[str, Any] = {"auth": auth}
    if args.backend:
        overrides["store_backend"] = args.backend
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as exc:
        return _fail(str(exc))
    token = os.environ.get("DATASTORE_TOKEN", "").strip() or None

    if args.transport == "http":
        if not is_loopback(args.host) and not args.allow_non_loopback:
            return _fail(
                f"refusing to listen on {args.host}: MCP over HTTP binds to loopback unless "
                "--allow-non-loopback is given (and then name the origins with --allow-origin)"
            )
        if url is None and not _has_secret(settings):
            return _fail("in-process over HTTP checks every bearer token: set DATASTORE_TOKEN_SECRET")
        from agent_datastore.edges.mcp.http import build_http_app, serve_http

        backend = backend_from(settings, url)
        app = build_http_app(backend, host=args.host, path=args.path, origins=args.allow_origin, hosts=args.allow_host)
        print(
            f"agent-datastore mcp: streamable HTTP on http://{args.host}:{args.port}{args.path} "
            f"-> {backend.describe()} (a bearer capability token is required on every request)",
            file=sys.stderr,
            flush=True,
        )
        serve_http(app, args.host, args.port)
        return 0

    local_user = token is None and url is None and settings.auth == "none"
    if token is None and url is None and not local_user:
        return _fail("set DATASTORE_TOKEN to a capability token, or run as the local user with --auth none")
    backend = backend_from(settings, url, local_user=local_user)
    if local_user:
        print(
            "!!! agent-datastore mcp: AUTHENTICATION IS OFF: every tool acts as the local user 'local' "
            f"on the {backend.describe()}. Set DATASTORE_TOKEN to act with a capability token.",
            file=sys.stderr,
            flush=True,
        )
    elif token is None:
        print(
            f"!!! agent-datastore mcp: no DATASTORE_TOKEN: requests to {url} carry no credential "
            "(only a server with authentication off answers them).",
            file=sys.stderr,
            flush=True,
        )
    import anyio

    from agent_datastore.edges.mcp.server import run_stdio

    anyio.run(run_stdio, backend, token)
    return 0


def _has_secret(settings: Any) -> bool:
    from agent_datastore.edges.auth import token_secrets
    from agent_datastore.edges.aws.secrets import SECRET_CACHE

    try:
        return bool(token_secrets(settings, SECRET_CACHE))
    except ValueError:
        return False
