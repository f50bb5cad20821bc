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

moto never refuses a write for a transaction in flight; DynamoDB does
(`TransactionConflict`). With `--conflict-tail-ms` (or
DATASTORE_TEST_CONFLICT_TAIL_MS), `conflicting()` emulates it: the items of
a TransactWriteItems stay locked while it runs plus that tail (standing in
for the cloud's latency: its answer is held back by the tail, outside the
serial section, so other requests go on meanwhile); a transaction touching a
locked item is cancelled with reason `TransactionConflict`, a single-item
PutItem/UpdateItem/DeleteItem gets `TransactionConflictException`. Plain
writes take no lock. `GET /conflicts/` answers what it counted.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import threading
import time
import uuid
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


def start_conflicting(workdir: Path, tail_ms: float = 15.0) -> Started:
    """A second server, in the conflict-emulating mode (its endpoint in `env`)."""
    port = free_port()
    log = workdir / "moto-server-conflicts.log"
    return launch(
        [sys.executable, "-m", "tests.servers.dynamodb", "--port", str(port), "--conflict-tail-ms", str(tail_ms)],
        log,
        {"AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{port}", **CREDENTIALS},
        f"http://127.0.0.1:{port}/moto-api/",
        env=CREDENTIALS,
        cwd=Path(__file__).resolve().parents[2],
    )


# DynamoDB keeps a token for 10 minutes after the first request that used it completed.
TOKEN_SECONDS = 600
TARGET_PREFIX = "DynamoDB_20120810."
TRANSACT_TARGET = TARGET_PREFIX + "TransactWriteItems"
SINGLE_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
CONFLICTS_PATH = "/conflicts/"
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


def _error(kind: str, message: str, **extra: Any) -> Answer:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{kind}", "message": message, **extra}).encode()
    headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amz-crc32", str(zlib.crc32(body)))]
    return Answer("400 Bad Request", headers, body)


ItemId = tuple[str, str]  # (table, canonical JSON of the item's key)


class Conflicts:
    """The locks of the transactions in flight, and what they refused (counted per item)."""

    def __init__(self, tail: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.tail = tail
        self.clock = clock
        self.lock = threading.Lock()
        self.keys: dict[str, list[str]] = {}  # table -> key attribute names (seen in CreateTable)
        self.held: dict[ItemId, tuple[str, float]] = {}  # item -> (transaction's token, lock end)
        self.applied: dict[ItemId, int] = {}  # item -> applied writes and transactions that touched it
        self.counts = {"transactions": 0, "single": 0, "refused_transactions": 0, "refused_single": 0}

    def item_id(self, table: str, item: dict[str, Any]) -> ItemId:
        names = self.keys.get(table) or ["pk", "sk"]
        return table, json.dumps({name: item.get(name) for name in names}, sort_keys=True)

    def touched(self, operation: str, request: dict[str, Any]) -> list[ItemId]:
        if operation == "TransactWriteItems":
            ids = []
            for action in request.get("TransactItems", []):
                ((kind, body),) = action.items()
                ids.append(self.item_id(body["TableName"], body["Item"] if kind == "Put" else body["Key"]))
            return ids
        return [self.item_id(request["TableName"], request["Item"] if operation == "PutItem" else request["Key"])]

    def check(self, operation: str, request: dict[str, Any], token: str) -> tuple[Answer | None, list[ItemId]]:
        """(the refusal, or None and the items to lock) for one write, counted."""
        ids = self.touched(operation, request)
        now = self.clock()
        with self.lock:
            busy = [item in self.held and self.held[item][0] != token and self.held[item][1] > now for item in ids]
            if operation != "TransactWriteItems":
                if busy[0]:
                    self.counts["refused_single"] += 1
                    return _error("TransactionConflictException", "Transaction is ongoing for the item"), []
                return None, ids
            if any(busy):
                self.counts["refused_transactions"] += 1
                reasons = [
                    {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                    if conflict
                    else {"Code": "None"}
                    for conflict in busy
                ]
                codes = ", ".join(reason["Code"] for reason in reasons)
                message = f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"
                return _error("TransactionCanceledException", message, CancellationReasons=reasons), []
            for item in ids:  # held until the answer leaves (`release`)
                self.held[item] = (token, float("inf"))
            return None, ids

    def release(self, operation: str, ids: list[ItemId], token: str, applied: bool) -> None:
        """The write is answered: its locks end now, and if it was applied, it is counted."""
        end = self.clock()
        with self.lock:
            for item in ids:
                if self.held.get(item, ("", 0.0))[0] == token:
                    self.held[item] = (token, end)
                if applied:
                    self.applied[item] = self.applied.get(item, 0) + 1
            if applied:
                self.counts["transactions" if operation == "TransactWriteItems" else "single"] += 1
            for item in [item for item, (_, until) in self.held.items() if until <= end]:
                del self.held[item]

    def report(self) -> bytes:
        """What was counted: writes applied and refused, and the applied writes of the hottest item."""
        with self.lock:
            hottest = max(self.applied.items(), key=lambda pair: pair[1], default=(("", ""), 0))
            return json.dumps({**self.counts, "hottest": {"item": hottest[0][1], "writes": hottest[1]}}).encode()

    def reset(self) -> None:
        with self.lock:
            self.applied.clear()
            self.counts = dict.fromkeys(self.counts, 0)


def conflicting(app: WsgiApp, conflicts: Conflicts) -> Callable[..., list[bytes]]:
    """WSGI middleware emulating DynamoDB's transaction conflicts (`Conflicts`), in front of
    `serialized`: a transaction's answer is held back by the tail outside the serial section."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") == CONFLICTS_PATH:
            if environ.get("REQUEST_METHOD") == "DELETE":
                conflicts.reset()
            body = conflicts.report()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        if operation not in SINGLE_WRITES | {"TransactWriteItems", "CreateTable"}:
            return _consume(app(environ, start_response))
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        request = json.loads(body or b"{}")
        if operation == "CreateTable":
            with conflicts.lock:
                conflicts.keys[request["TableName"]] = [key["AttributeName"] for key in request["KeySchema"]]
            return _consume(app(environ, start_response))
        token = str(request.get("ClientRequestToken") or uuid.uuid4().hex)
        refusal, held = conflicts.check(operation, request, token)
        if refusal is not None:
            start_response(refusal.status, refusal.headers)
            return [refusal.body]
        recorder, locked = _Recorder(start_response), operation == "TransactWriteItems"
        try:
            chunks = _consume(app(environ, recorder))
            if locked:
                time.sleep(conflicts.tail)  # the cloud's latency: the items stay locked meanwhile
        finally:
            conflicts.release(operation, held, token, recorder.status.startswith("200"))
        return chunks

    return wrapped


def serve(argv: list[str] | None = None) -> None:
    """moto's DynamoDB (and every other moto service) on 127.0.0.1, serialized, transactions idempotent."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description=serve.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument(
        "--conflict-tail-ms",
        type=float,
        default=float(os.environ.get("DATASTORE_TEST_CONFLICT_TAIL_MS") or -1),
        help="emulate transaction conflicts, each transaction's items locked this long after it ran (default: off)",
    )
    args = parser.parse_args(argv)
    copy_each_table_once()
    app: WsgiApp = serialized(idempotent(DomainDispatcherApplication(create_backend_app)))
    if args.conflict_tail_ms >= 0:
        app = conflicting(app, Conflicts(args.conflict_tail_ms / 1000))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    serve()
