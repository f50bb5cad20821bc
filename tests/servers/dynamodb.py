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
concurrently: the faithful behaviour for conditional writes. `copy_each_table_once()`
keeps a transaction's cost from growing with the table (moto copies the table per item).

moto also ignores TransactWriteItems' `ClientRequestToken`, which DynamoDB
honours: botocore resends a request whose answer it lost (a read timeout)
with the same token, and DynamoDB answers such a resend with the first
attempt's success without applying it again. `idempotent()` does that here,
in front of moto, so the store meets the same server in tests as in AWS.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


# DynamoDB keeps a token for 10 minutes after the first request that used it completed.
TOKEN_SECONDS = 600
TRANSACT_TARGET = "DynamoDB_20120810.TransactWriteItems"
WsgiApp = Callable[..., Iterable[bytes]]


@dataclass(frozen=True)
class Answer:
    """One response as the app gave it, to be given again."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes


def _fingerprint(body: bytes) -> tuple[str, str]:
    """(token, digest of the rest of the request) of a TransactWriteItems body."""
    request = json.loads(body or b"{}")
    token = str(request.pop("ClientRequestToken", ""))
    return token, hashlib.sha256(json.dumps(request, sort_keys=True).encode("utf-8")).hexdigest()


def _mismatch() -> Answer:
    body = json.dumps(
        {
            "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
            "message": "The request uses the same client token as a previous, but non-identical request.",
        }
    ).encode("utf-8")
    headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amz-crc32", str(zlib.crc32(body)))]
    return Answer("400 Bad Request", headers, body)


def _consume(result: Iterable[bytes]) -> list[bytes]:
    """The whole body of a WSGI result, closed after (PEP 3333)."""
    try:
        return list(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


class _Recorder:
    """A `start_response` that passes the call on and keeps what it was given."""

    def __init__(self, start_response: Callable[..., Any]) -> None:
        self.start_response = start_response
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status, self.headers = status, list(headers)
        return self.start_response(status, headers, exc_info)


def idempotent(app: WsgiApp, clock: Callable[[], float] = time.monotonic) -> Callable[..., list[bytes]]:
    """WSGI middleware giving TransactWriteItems DynamoDB's `ClientRequestToken` semantics.

    A request with the token of a transaction that succeeded less than 10 minutes ago is
    answered, applying nothing, with that first answer when it is the same request, and with
    IdempotentParameterMismatchException when it is not. A request that failed leaves no token
    behind: its resend runs again. Requests must reach it one at a time (`serialized`).
    """
    succeeded: OrderedDict[str, tuple[float, str, Answer]] = OrderedDict()  # token -> (until, digest, answer)

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") != TRANSACT_TARGET:
            return _consume(app(environ, start_response))
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        token, digest = _fingerprint(body)
        while succeeded and next(iter(succeeded.values()))[0] <= clock():
            succeeded.popitem(last=False)
        if token in succeeded:
            _, first_digest, answer = succeeded[token]
            if first_digest != digest:
                answer = _mismatch()
            start_response(answer.status, answer.headers)
            return [answer.body]
        recorder = _Recorder(start_response)
        chunks = _consume(app(environ, recorder))
        if token and recorder.status.startswith("200"):
            succeeded[token] = (
                clock() + TOKEN_SECONDS,
                digest,
                Answer(recorder.status, recorder.headers, b"".join(chunks)),
            )
        return chunks

    return wrapped


def serialized(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    """WSGI middleware: one request inside moto at a time."""
    lock = threading.Lock()

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return _consume(app(environ, start_response))

    return wrapped


def copy_each_table_once() -> None:
    """moto's TransactWriteItems backs up (deep-copies, for its rollback) a table once per *item* of
    the transaction: a 100-item transaction on a table of n items copies 100 n items, so its time
    grows with everything the test session has written (measured: 1.1 s into an empty table, 4.6 s
    once it held 1,100 items, on a busy machine). Every one of those copies is of the same untouched
    table, so the backup is the same when each table is copied once per transaction, as here."""
    from moto.dynamodb import models

    transact = models.DynamoDBBackend.transact_write_items
    real_copy = models.copy

    class CopyOnce:
        def __init__(self) -> None:
            self.tables: dict[int, Any] = {}

        def deepcopy(self, value: Any, *args: Any) -> Any:
            if not isinstance(value, models.Table):
                return real_copy.deepcopy(value, *args)
            if id(value) not in self.tables:
                self.tables[id(value)] = real_copy.deepcopy(value, *args)
            return self.tables[id(value)]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        models.copy = CopyOnce()  # type: ignore[assignment]  # requests reach moto one at a time
        try:
            return transact(self, transact_items)
        finally:
            models.copy = real_copy

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def serve(argv: list[str] | None = None) -> None:
    """moto's DynamoDB (and every other moto service) on 127.0.0.1, serialized, transactions idempotent."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description=serve.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    copy_each_table_once()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, serialized(idempotent(app)), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    serve()
