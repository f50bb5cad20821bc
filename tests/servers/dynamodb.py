"""A local DynamoDB-protocol server: moto in server mode (from PyPI, `moto[server]`).

Measured against dynalite (npm) before choosing (docs/aws.md): moto
implements TransactWriteItems, ReturnValuesOnConditionCheckFailure, the
table TTL setting, consistent reads and the 400 KB item limit; dynalite
has no transactions and no UpdateTimeToLive. This module only starts the
server: the contract fixture creates the table from template.yaml through
`DynamoDBStore.create()`.

moto's own `moto_server` answers requests on several threads with no lock
around its tables, so two conditional writes can both pass their condition
(measured: concurrent increments lost updates). DynamoDB applies each item
write and each transaction atomically, so the server is run here through
`serve()`, which handles one request at a time while accepting connections
concurrently: the faithful behaviour for conditional writes.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import Started, Unavailable, free_port, launch

NAME = "dynamodb"
REQUIRED = True

# Local servers accept any credentials; boto3 still wants some, and a region.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def start(workdir: Path) -> Started:
    try:
        import moto.server  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"moto[server] is not installed in this Python ({exc}); pip install 'moto[server]'") from exc
    port = free_port()
    log = workdir / "moto-server.log"
    return launch(
        [sys.executable, "-m", "tests.servers.dynamodb", "--port", str(port)],
        log,
        {"AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{port}", **CREDENTIALS},
        f"http://127.0.0.1:{port}/moto-api/",
        env=CREDENTIALS,
        cwd=Path(__file__).resolve().parents[2],
    )


def serialized(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    """WSGI middleware: one request inside moto at a time."""
    lock = threading.Lock()

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            result = app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

    return wrapped


def serve(argv: list[str] | None = None) -> None:
    """moto's DynamoDB (and every other moto service) on 127.0.0.1, serialized."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description=serve.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, serialized(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    serve()
