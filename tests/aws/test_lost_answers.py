"""A transaction applied by DynamoDB whose answer never reached us, and clear's deadline.

botocore resends a request whose answer timed out, with the same
ClientRequestToken. DynamoDB answers such a resend with the first attempt's
success; moto (the test server) ignores the token and runs the transaction
again, which is then cancelled because every record it deletes is already
gone. Those deletes must still be counted as ours (`clear` once reported 1,001
of 1,100 keys; a lost batch also cost a read timeout, pushing the round past
its deadline).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import urllib3
from botocore.exceptions import ReadTimeoutError

from agent_datastore.core.records import Scope, Write
from agent_datastore.stores.dynamodb.store import DynamoDBStore
from agent_datastore.stores.dynamodb.table import _replayed_deletes


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


def delete_action(condition: bool = True, returns: str = "ALL_OLD") -> dict[str, Any]:
    body: dict[str, Any] = {"TableName": "t", "Key": {}, "ReturnValuesOnConditionCheckFailure": returns}
    if condition:
        body["ConditionExpression"] = "#ver = :ver"
    return {"Delete": body}


REGISTRY = {"Update": {"TableName": "t", "Key": {}, "UpdateExpression": "ADD #n :dn"}}
GONE = {"Code": "ConditionalCheckFailed", "Message": "failed"}
CHANGED = {**GONE, "Item": {"ver": {"N": "2"}}}
OK = {"Code": "None"}


@pytest.mark.parametrize(
    ("actions", "reasons", "replayed"),
    [
        ([delete_action(), delete_action(), REGISTRY], [GONE, GONE, OK], True),
        ([delete_action(), REGISTRY], [GONE, {}], True),
        # one record was changed, not deleted: a lost race, our deletes were not applied
        ([delete_action(), delete_action(), REGISTRY], [GONE, CHANGED, OK], False),
        # one record is still there as read: not applied
        ([delete_action(), delete_action(), REGISTRY], [GONE, OK, OK], False),
        ([delete_action(), REGISTRY], [GONE, {"Code": "ValidationError"}], False),
        # a write (Update) that failed is never taken for applied
        ([{"Update": {"ConditionExpression": "attribute_not_exists(#pk)"}}, REGISTRY], [GONE, OK], False),
        ([delete_action(False), REGISTRY], [OK, OK], False),
        # without the item on failure, "no item" does not mean "gone"
        ([delete_action(returns="NONE"), REGISTRY], [GONE, OK], False),
        ([delete_action(), REGISTRY], [GONE], False),
    ],
)
def test_only_a_replay_of_applied_deletes_is_taken_for_success(actions, reasons, replayed):
    assert _replayed_deletes(actions, reasons) is replayed


def test_clear_starts_no_batch_after_the_deadline_even_after_a_lost_race(ds, store, calls, user_id):
    ds("set_many", items={f"k{i:03d}": i for i in range(99)})
    ds("set_many", items={f"k{i:03d}": i for i in range(99, 198)})
    ds("set_many", items={f"k{i:03d}": i for i in range(198, 250)})
    scope = Scope(user_id, "default")
    other = DynamoDBStore(store.table)
    deadline = time.monotonic() + 2.0
    transactions = []

    def race_past_the_deadline(request: Any, **_: Any) -> None:
        transactions.append(request)
        if len(transactions) == 2:  # the second batch (k099..k197): the deadline passes, a writer wins
            time.sleep(max(0.0, deadline - time.monotonic()) + 0.05)
            other.put(scope, "k150", Write("1", "other"), int(time.time() * 1000))

    store.client.meta.events.register("before-send.dynamodb.TransactWriteItems", race_past_the_deadline)
    calls.reset()
    assert store.clear(scope, now=int(time.time() * 1000), deadline=deadline) == (99, False)
    # No third Query/transaction: the lost race is not retried past the deadline.
    assert calls.take() == {"Query": 2, "TransactWriteItems": 2}
    assert len(ds("list_keys")["keys"]) == 250 - 99
