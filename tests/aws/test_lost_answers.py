"""A transaction applied by DynamoDB whose answer never reached us, and clear's deadline.

botocore resends a request whose answer timed out, with the same
ClientRequestToken. DynamoDB answers such a resend with the first attempt's
success and applies nothing again; the test server does the same in front of
moto, which ignores the token (tests/servers/dynamodb.py). Deletes whose
answer was lost must still be counted as ours (`clear` once reported 1,001 of
1,100 keys; a lost batch also cost a read timeout, pushing the round past its
deadline).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import urllib3
from botocore.exceptions import ClientError, ReadTimeoutError

from agent_datastore.core.records import Scope, Write
from agent_datastore.stores.dynamodb import store as dynamodb_store
from agent_datastore.stores.dynamodb.store import DynamoDBStore


class LoseAnswer:
    """Lets the next TransactWriteItems reach the server, then loses its answer (a read timeout),
    so botocore's own retry sends the very same request again."""

    def __init__(self, client: Any) -> None:
        self.armed = False
        self.sends = 0
        self._http = urllib3.PoolManager()
        client.meta.events.register("before-send.dynamodb.TransactWriteItems", self)

    def __call__(self, request: Any, **_: Any) -> None:
        self.sends += 1
        if not self.armed:
            return None
        self.armed = False
        answer = self._http.request(request.method, request.url, body=request.body, headers=dict(request.headers))
        assert answer.status == 200, answer.data  # applied by the server ...
        raise ReadTimeoutError(endpoint_url=request.url)  # ... but the answer is lost


def test_clear_counts_a_batch_whose_answer_was_lost(ds, store, calls):
    ds("set_many", items={f"k{i:03d}": i for i in range(99)})
    ds("set_many", items={f"k{i:03d}": i for i in range(99, 150)})
    lose = LoseAnswer(store.client)
    lose.armed = True
    calls.reset()
    assert ds("clear") == {"deleted": 150}
    assert lose.sends == 3  # the first batch twice (botocore's retry), the second once
    assert calls.take() == {"Query": 2, "TransactWriteItems": 2}
    assert ds("list_keys")["keys"] == []
    assert ds("stats")["namespaces"] == []  # the registry took each key out once
    assert ds("clear") == {"deleted": 0}


def test_delete_whose_answer_was_lost_reports_deleted(ds, store):
    ds("set", key="k", value=1)
    ds("set", key="other", value=2)
    lose = LoseAnswer(store.client)
    lose.armed = True
    assert ds("delete", key="k") == {"deleted": True}
    assert lose.sends == 2
    assert ds("get", key="k") == {"found": False}
    assert ds("stats")["namespaces"][0]["keys"] == 1


def counter(store: Any, user_id: str, name: str = "n", condition: str | None = None) -> dict[str, Any]:
    """A transaction action adding 1 to attribute `name` of one item (`condition`: only if it holds)."""
    update: dict[str, Any] = {
        "TableName": store.table,
        "Key": {"pk": {"S": f"T#{user_id}"}, "sk": {"S": "tokens"}},
        "UpdateExpression": f"ADD #{name} :one",
        "ExpressionAttributeNames": {f"#{name}": name},
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    if condition is not None:
        update["ConditionExpression"] = condition
    return {"Update": update}


def counted(store: Any, user_id: str, name: str = "n") -> int:
    item = store.client.get_item(
        TableName=store.table, Key={"pk": {"S": f"T#{user_id}"}, "sk": {"S": "tokens"}}, ConsistentRead=True
    ).get("Item", {})
    return int(item.get(name, {"N": "0"})["N"])


def test_a_resent_transaction_is_answered_without_being_applied_again(store, user_id):
    token = uuid.uuid4().hex
    first = store.client.transact_write_items(TransactItems=[counter(store, user_id)], ClientRequestToken=token)
    again = store.client.transact_write_items(TransactItems=[counter(store, user_id)], ClientRequestToken=token)
    assert counted(store, user_id) == 1
    assert again["ResponseMetadata"]["RequestId"] == first["ResponseMetadata"]["RequestId"]  # the first answer
    store.client.transact_write_items(TransactItems=[counter(store, user_id)], ClientRequestToken=uuid.uuid4().hex)
    assert counted(store, user_id) == 2  # a new token is a new transaction


def test_a_token_sent_again_with_another_request_is_refused(store, user_id):
    token = uuid.uuid4().hex
    store.client.transact_write_items(TransactItems=[counter(store, user_id)], ClientRequestToken=token)
    with pytest.raises(ClientError) as refused:
        store.client.transact_write_items(TransactItems=[counter(store, user_id, "m")], ClientRequestToken=token)
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert (counted(store, user_id), counted(store, user_id, "m")) == (1, 0)


def test_a_cancelled_transaction_is_not_taken_for_applied_when_sent_again(store, user_id):
    token = uuid.uuid4().hex
    guarded = [counter(store, user_id, condition="attribute_exists(#n)")]
    with pytest.raises(ClientError) as cancelled:
        store.client.transact_write_items(TransactItems=guarded, ClientRequestToken=token)
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    store.client.transact_write_items(TransactItems=[counter(store, user_id)], ClientRequestToken=uuid.uuid4().hex)
    # The resend of the cancelled request runs again, now that its condition holds.
    store.client.transact_write_items(TransactItems=guarded, ClientRequestToken=token)
    assert counted(store, user_id) == 2


class Stopwatch:
    """The store module's `time.monotonic()` in a test: it stands still until the test moves it,
    so a deadline passes exactly where the test says, however slow the machine is."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def test_clear_starts_no_batch_after_the_deadline_even_after_a_lost_race(ds, store, calls, user_id, monkeypatch):
    ds("set_many", items={f"k{i:03d}": i for i in range(99)})
    ds("set_many", items={f"k{i:03d}": i for i in range(99, 198)})
    ds("set_many", items={f"k{i:03d}": i for i in range(198, 250)})
    scope = Scope(user_id, "default")
    other = DynamoDBStore(store.table)
    stopwatch = Stopwatch()
    monkeypatch.setattr(dynamodb_store, "time", stopwatch)
    deadline = 2.0
    transactions = []

    def race_past_the_deadline(request: Any, **_: Any) -> None:
        transactions.append(request)
        if len(transactions) == 2:  # the second batch (k099..k197): the deadline passes, a writer wins
            stopwatch.now = deadline + 0.05
            other.put(scope, "k150", Write("1", "other"), int(time.time() * 1000))

    store.client.meta.events.register("before-send.dynamodb.TransactWriteItems", race_past_the_deadline)
    calls.reset()
    assert store.clear(scope, now=int(time.time() * 1000), deadline=deadline) == (99, False)
    # No third Query/transaction: the lost race is not retried past the deadline.
    assert calls.take() == {"Query": 2, "TransactWriteItems": 2}
    assert len(ds("list_keys")["keys"]) == 250 - 99
