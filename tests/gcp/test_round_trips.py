"""Round trips per operation on Firestore, counted at the SDK's RPC layer.

A transaction costs BeginTransaction + BatchGetDocuments + Commit; reads outside
one are a single BatchGetDocuments or RunQuery. These numbers are what a Cloud
Function pays in latency per request, so a change shows up here.
"""

from __future__ import annotations

import pytest

from agent_datastore.core import errors

TX = {"begin_transaction": 1, "batch_get_documents": 1, "commit": 1}


def test_single_key_operations(ds, rpcs):
    rpcs.take()
    ds("set", key="a", value={"x": 1})
    assert rpcs.take() == TX
    ds("set", key="a", value={"x": 2}, metadata={"m": 1})
    assert rpcs.take() == TX
    ds("get", key="a", track_access=False)
    assert rpcs.take() == {"batch_get_documents": 1}
    ds("get", key="a")
    assert rpcs.take() == TX
    ds("get", key="missing")
    assert rpcs.take() == TX
    ds("increment", key="n", by=2)
    assert rpcs.take() == TX
    assert ds("delete", key="a") == {"deleted": True}
    assert rpcs.take() == TX


def test_a_refused_write_rolls_back_without_committing(ds, rpcs):
    ds("set", key="a", value=1)
    rpcs.take()
    with pytest.raises(errors.VersionConflict):
        ds("set", key="a", value=2, if_version=5)
    assert rpcs.take() == {"begin_transaction": 1, "batch_get_documents": 1, "rollback": 1}


def test_batches_are_one_transaction(ds, rpcs):
    rpcs.take()
    ds("set_many", items={f"k{i:02d}": i for i in range(100)})
    assert rpcs.take() == TX
    result = ds("get_many", keys=[f"k{i:02d}" for i in range(99)] + ["nope"])
    assert len(result["values"]) == 99 and result["missing"] == ["nope"]
    assert rpcs.take() == TX
    ds("get_many", keys=["k00", "k01"], track_access=False)
    assert rpcs.take() == {"batch_get_documents": 1}


def test_listing_and_registry_reads_are_one_query(ds, rpcs):
    ds("set_many", namespace="n1", items={f"k{i}": i for i in range(30)})
    ds("set", namespace="n2", key="k", value=1)
    rpcs.take()
    assert len(ds("list_keys", namespace="n1", limit=10)["keys"]) == 10
    assert rpcs.take() == {"run_query": 1}
    assert ds("list_namespaces")["namespaces"] == ["n1", "n2"]
    assert rpcs.take() == {"run_query": 1}
    assert len(ds("stats")["namespaces"]) == 2
    assert rpcs.take() == {"run_query": 1}
    assert ds("stats", namespace="n2")["namespaces"][0]["keys"] == 1
    assert rpcs.take() == {"run_query": 1}  # the namespace's registry shards


def test_clear_costs_a_query_and_a_transaction_per_batch(ds, rpcs):
    ds("set_many", items={f"k{i}": i for i in range(40)})
    rpcs.take()
    assert ds("clear") == {"deleted": 40}
    # records query + delete transaction, markers query, registry tidy transaction (a query of the shards)
    assert rpcs.take() == {"run_query": 3, "begin_transaction": 2, "batch_get_documents": 1, "commit": 2}


def test_expiry_is_purged_only_once_something_expired(ds, rpcs, clock):
    ds("set", namespace="t", key="gone", value=1, ttl_seconds=5)
    ds("set", namespace="t", key="kept", value=1)
    rpcs.take()
    assert ds("list_namespaces")["namespaces"] == ["t"]
    assert rpcs.take() == {"run_query": 1}
    clock.advance(6)
    assert ds("stats")["namespaces"][0]["keys"] == 1
    calls = rpcs.take()
    # registry query, due-markers query, delete transaction, hint reset (its shards and the next
    # expiry, two queries), registry again
    assert calls == {"run_query": 5, "begin_transaction": 2, "batch_get_documents": 1, "commit": 2}
    assert ds("list_namespaces")["namespaces"] == ["t"]
    assert rpcs.take() == {"run_query": 1}


def test_refresh_ttl_is_the_transaction_of_a_tracked_read(ds, rpcs):
    ds("set", key="t", value=1, ttl_seconds=600)
    ds("set_many", items={"a": 1, "b": 2}, ttl_seconds=600)
    rpcs.take()
    ds("get", key="t", refresh_ttl=True)
    assert rpcs.take() == TX
    ds("get", key="t", refresh_ttl=True, track_access=False)  # a write: a transaction too
    assert rpcs.take() == TX
    ds("get_many", keys=["a", "b", "t"], refresh_ttl=True)
    assert rpcs.take() == TX
    assert list(ds("list_keys", include_records=True)["records"]) == ["a", "b", "t"]
    assert rpcs.take() == {"run_query": 1, "batch_get_documents": 1}  # not a read: no transaction
    ds("list_keys", include_records=True, refresh_ttl=True)
    assert rpcs.take() == {"run_query": 1, **TX}
