"""`agent-datastore serve`: the local HTTP server."""

from __future__ import annotations

import argparse
import os
from typing import Any

from agent_datastore.stores import BACKENDS


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the local HTTP server (same handlers as the deployed functions)",
        description="Serve POST /v1/<operation> on HOST:PORT. Configuration comes from the environment "
        "(STORE_BACKEND, SQLITE_PATH, DATASTORE_AUTH, ...); flags override it.",
    )
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--backend", help=f"STORE_BACKEND: {', '.join(BACKENDS)} (default sqlite)")
    parser.add_argument("--auth", choices=["none", "token", "gateway"], help="DATASTORE_AUTH (default: none)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from agent_datastore.core.settings import Settings
    from agent_datastore.edges.aws.secrets import SECRET_CACHE
    from agent_datastore.edges.local.server import serve

    overrides: dict[str, Any] = {"auth": args.auth or os.environ.get("DATASTORE_AUTH") or "none"}
    if args.backend:
        overrides["store_backend"] = args.backend
    settings = Settings.from_env(**overrides)
    # A server on AWS (EC2, a container) may keep its token secret in Secrets Manager or SSM.
    return serve(settings, args.host, args.port, SECRET_CACHE)
