"""Many writers at once, against a DynamoDB test server that refuses what DynamoDB refuses.

The conflict-emulating server (tests/servers/dynamodb.py, `--conflict-tail-ms`)
locks the items of each TransactWriteItems while it runs plus 15 ms, and
refuses a transaction or single-item write touching a locked item, as the
cloud does (moto alone never does). bench/scale_dynamodb.py measures the
same workloads (conflicts per write, throughput); here what must hold is
asserted: every write acknowledged, no item every write touches, `stats`
exact at the end, increments never lost.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator

import pytest

from tests.aws import scale
from tests.servers.dynamodb import TARGET_PREFIX, TRANSACT_TARGET, Conflicts, conflicting

WRITERS, KEYS = 16, 15


@pytest.fixture(scope="module")
def server() -> Iterator[scale.ConflictServer]:
    started = scale.ConflictServer(tail_ms=15)
    yield started
    started.stop()


def test_the_server_refuses_writes_to_items_a_transaction_holds():
    # The middleware alone, in front of an app that holds a transaction until told to answer.
    gate, inside = threading.Event(), threading.Event()

    def app(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET") == TRANSACT_TARGET and b'"hold"' in environ["wsgi.input"].read():
            inside.set()
            gate.wait(10)
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0")])
        return [b"{}"]

    conflicts = Conflicts(tail=0.3)
    server = conflicting(app, conflicts)

    def send(operation, request):
        body = json.dumps(request).encode()
        environ = {
            "HTTP_X_AMZ_TARGET": TARGET_PREFIX + operation,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "PATH_INFO": "/",
        }
        status = []
        answer = b"".join(server(environ, lambda code, headers, exc_info=None: status.append(code)))
        return status[0], json.loads(answer)

    def key(name):
        return {"pk": {"S": "R#x"}, "sk": {"S": name}}

    def update(name, **extra):
        return {"TableName": "t", "Key": key(name), "UpdateExpression": "SET #a = :a", **extra}

    held = {
        "TransactItems": [{"Update": update("a")}, {"Update": update("b", hold="hold")}],
        "ClientRequestToken": "t1",
    }
    in_flight = threading.Thread(target=send, args=("TransactWriteItems", held))
    in_flight.start()
    assert inside.wait(10)
    status, answer = send("UpdateItem", update("a"))
    assert status.startswith("400") and answer["__type"].endswith("#TransactionConflictException")
    status, answer = send("PutItem", {"TableName": "t", "Item": {**key("b"), "v": {"S": "1"}}})
    assert status.startswith("400")  # a Put is known by the key attributes of its item
    assert send("UpdateItem", update("c"))[0].startswith("200")  # items no transaction holds: written
    status, answer = send("TransactWriteItems", {"TransactItems": [{"Update": update("c")}, {"Update": update("b")}]})
    assert status.startswith("400") and answer["__type"].endswith("#TransactionCanceledException")
    assert [reason["Code"] for reason in answer["CancellationReasons"]] == ["None", "TransactionConflict"]
    # The transaction's own resend (same token) is not refused by its own locks.
    assert conflicts.check("TransactWriteItems", held, "t1") == (None, conflicts.touched("TransactWriteItems", held))
    gate.set()
    time.sleep(0.1)  # answered by moto, not yet by the server: the tail still holds the items
    assert send("UpdateItem", update("a"))[0].startswith("400")
    in_flight.join()
    assert send("UpdateItem", update("a"))[0].startswith("200")  # the answer left: the locks are gone
    counts = json.loads(conflicts.report())
    assert counts["refused_single"] == 3 and counts["refused_transactions"] == 1
    assert counts["transactions"] == 1 and counts["hottest"]["writes"] == 2  # "a": the transaction + one write


def test_sixteen_writers_in_one_namespace_meet_on_no_item(server):
    store = server.store()
    server.counts(reset=True)
    outcome = scale.writers(store, writers=WRITERS, keys=KEYS, one_namespace=True)
    counts = server.counts()
    assert outcome.errors == [] and outcome.acknowledged == WRITERS * KEYS
    # Each write is one transaction (a new key: no read); no item is in more than 1/10 of them.
    assert counts["transactions"] == WRITERS * KEYS
    assert counts["hottest"]["writes"] <= WRITERS * KEYS / 10, counts
    assert scale.stats(store, outcome.user_id) == outcome.expected
    listed = scale.call(store, outcome.user_id, "list_namespaces")["namespaces"]
    assert listed == ["files:repo"]


def test_with_one_shard_every_write_meets_on_the_registry_item(server):
    # Today's layout (one registry item per namespace): the emulator sees the hot item and refuses
    # transactions for it; the writes still all succeed (the refused ones are retried), exactly.
    store = server.store(shards=1)
    server.counts(reset=True)
    outcome = scale.writers(store, writers=8, keys=5, one_namespace=True)
    counts = server.counts()
    assert outcome.errors == [] and outcome.acknowledged == 40
    assert counts["hottest"]["writes"] == 40 and counts["refused_transactions"] > 0, counts
    assert scale.stats(store, outcome.user_id) == outcome.expected


def test_namespace_each_is_exact_too(server):
    store = server.store()
    outcome = scale.writers(store, writers=WRITERS, keys=3, one_namespace=False)
    assert outcome.errors == [] and outcome.acknowledged == WRITERS * 3
    assert scale.stats(store, outcome.user_id) == outcome.expected
    assert len(outcome.expected) == WRITERS
