"""`DataStoreStore` held to LangGraph's own expectations of a store, case by case.

The cases come from the langgraph repository at the tag of the release pinned in
requirements.lock, `checkpoint==4.2.0` (langgraph-checkpoint 4.2.0):

- `libs/checkpoint/tests/test_store.py`: each test below names the case it checks. Its cases
  about `AsyncBatchedBaseStore` (a base class we do not use), `get_text_at_path` (a LangGraph
  helper) and vector search (embeddings: not supported, see test_semantic_search_is_refused)
  have no counterpart here.
- `libs/checkpoint/tests/test_store_ttl.py` is not in that tag (it exists only in commit
  f6a1abae9, on no branch or tag); its two store cases, a `timedelta` and a `datetime` as `ttl`,
  are checked below all the same. The TTL behaviours of the tag are those of the SQLite store's
  own suite, `libs/checkpoint-sqlite/tests/test_ttl.py`, cited case by case.

The code is ours; every test runs on SQLite (the SDK over HTTP to a real server) and on DynamoDB
(the moto server, in-process core), sync and async.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

import pytest
from langgraph.runtime import Runtime
from langgraph.store.base import GetOp, InvalidNamespaceError, PutOp

from agent_datastore_sdk import Forbidden
from agent_datastore_sdk.langgraph import DEFAULT_PREFIX, DataStoreStore, from_namespace, to_namespace
from tests.integrations.conftest import LangGraphBackend

pytestmark = pytest.mark.anyio


def seed(store: DataStoreStore, namespaces: list[tuple[str, ...]]) -> None:
    for index, namespace in enumerate(namespaces):
        store.put(namespace, f"id_{index}", {"data": f"value_{index:02d}"})


# -- test_store.py: list_namespaces --------------------------------------------------------------

BASIC = [
    ("a", "b", "c"),
    ("a", "b", "d", "e"),
    ("a", "b", "d", "i"),
    ("a", "b", "f"),
    ("a", "c", "f"),
    ("b", "a", "f"),
    ("users", "123"),
    ("users", "456", "settings"),
    ("admin", "users", "789"),
]


def test_list_namespaces_basic(langgraph_backend: LangGraphBackend) -> None:
    """test_store.py::test_list_namespaces_basic"""
    store = langgraph_backend.store()
    seed(store, BASIC)
    under_ab = [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f")]
    assert store.list_namespaces(prefix=("a", "b")) == under_ab
    assert store.list_namespaces(suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f"), ("b", "a", "f")]
    assert store.list_namespaces(prefix=("a",), suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(prefix=("a", "b"), max_depth=3) == [("a", "b", "c"), ("a", "b", "d"), ("a", "b", "f")]
    assert store.list_namespaces(prefix=("a", "b"), limit=2) == under_ab[:2]
    assert store.list_namespaces(prefix=("a", "b"), offset=2) == under_ab[2:]
    assert store.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(suffix=("*", "f")) == [("a", "b", "f"), ("a", "c", "f"), ("b", "a", "f")]
    assert store.list_namespaces(prefix=("nonexistent",)) == []
    assert store.list_namespaces(prefix=("users", "123")) == [("users", "123")]


def test_list_namespaces_with_wildcards(langgraph_backend: LangGraphBackend) -> None:
    """test_store.py::test_list_namespaces_with_wildcards"""
    store = langgraph_backend.store()
    seed(
        store,
        [
            ("users", "123"),
            ("users", "456"),
            ("users", "789", "settings"),
            ("admin", "users", "789"),
            ("guests", "123"),
            ("guests", "456", "preferences"),
        ],
    )
    assert store.list_namespaces(prefix=("users", "*")) == [
        ("users", "123"),
        ("users", "456"),
        ("users", "789", "settings"),
    ]
    assert store.list_namespaces(suffix=("*", "preferences")) == [("guests", "456", "preferences")]
    assert store.list_namespaces(prefix=("*", "users"), suffix=("*", "settings")) == []
    store.put(("admin", "users", "settings", "789"), "foo", {"data": "some_val"})
    assert store.list_namespaces(prefix=("*", "users"), suffix=("*", "789")) == [
        ("admin", "users", "789"),
        ("admin", "users", "settings", "789"),
    ]


async def test_list_namespaces_pagination(langgraph_backend: LangGraphBackend) -> None:
    """test_store.py::test_list_namespaces_pagination (through the async API)"""
    store = langgraph_backend.store()
    await store.abatch([PutOp(("namespace", f"sub_{i:02d}"), f"id_{i:02d}", {"data": i}) for i in range(20)])
    for offset in (0, 5, 15):
        page = await store.alist_namespaces(prefix=("namespace",), limit=5, offset=offset)
        assert page == [("namespace", f"sub_{i:02d}") for i in range(offset, offset + 5)]


def test_list_namespaces_max_depth(langgraph_backend: LangGraphBackend) -> None:
    """test_store.py::test_list_namespaces_max_depth"""
    store = langgraph_backend.store()
    seed(store, [("a", "b", "c", "d"), ("a", "b", "c", "e"), ("a", "b", "f"), ("a", "g"), ("h", "i", "j", "k")])
    assert store.list_namespaces(max_depth=2) == [("a", "b"), ("a", "g"), ("h", "i")]


def test_list_namespaces_no_conditions_and_empty_store(langgraph_backend: LangGraphBackend) -> None:
    """test_store.py::test_list_namespaces_empty_store, then ::test_list_namespaces_no_conditions"""
    store = langgraph_backend.store()
    assert store.list_namespaces() == []
    seed(store, [("a", "b"), ("c", "d"), ("e", "f", "g")])
    assert store.list_namespaces() == [("a", "b"), ("c", "d"), ("e", "f", "g")]


# -- test_store.py: invalid namespaces ---------------------------------------------------------


async def test_cannot_put_empty_namespace(langgraph_backend: LangGraphBackend) -> None:
    """test_store.py::test_cannot_put_empty_namespace"""
    store = langgraph_backend.store()
    doc = {"foo": "bar"}
    for bad in [(), ("the", "thing.about"), ("some", "fun", ""), ("langgraph", "foo")]:
        with pytest.raises(InvalidNamespaceError):
            store.put(bad, "foo", doc)
        with pytest.raises(InvalidNamespaceError):
            await store.aput(bad, "foo", doc)
    assert store.list_namespaces() == []  # nothing was written

    namespace = ("foo", "langgraph", "foo")
    await store.aput(namespace, "bar", doc)
    assert (await store.aget(namespace, "bar")).value == doc  # type: ignore[union-attr]
    assert (await store.asearch(namespace, query="bar"))[0].value == doc
    await store.adelete(namespace, "bar")
    assert await store.aget(namespace, "bar") is None
    store.put(namespace, "bar", doc)
    assert store.get(namespace, "bar").value == doc  # type: ignore[union-attr]
    assert store.search(namespace, query="bar")[0].value == doc
    store.delete(namespace, "bar")
    assert store.get(namespace, "bar") is None

    # Past the public put: a root label "langgraph" is LangGraph's own, and the store holds it.
    await store.abatch([PutOp(("langgraph", "foo"), "bar", doc)])
    assert (await store.aget(("langgraph", "foo"), "bar")).value == doc  # type: ignore[union-attr]
    assert (await store.asearch(("langgraph", "foo")))[0].value == doc
    await store.adelete(("langgraph", "foo"), "bar")
    assert await store.aget(("langgraph", "foo"), "bar") is None
    store.batch([PutOp(("langgraph", "foo"), "bar", doc)])
    assert store.search(("langgraph", "foo"))[0].value == doc
    store.delete(("langgraph", "foo"), "bar")
    assert store.get(("langgraph", "foo"), "bar") is None
    # Past the public put a `.` or an empty label would make the mapping ambiguous: still refused.
    for bad in [("the", "thing.about"), ("some", "")]:
        with pytest.raises(InvalidNamespaceError):
            store.batch([PutOp(bad, "foo", doc)])


def test_the_namespace_mapping_round_trips(langgraph_backend: LangGraphBackend) -> None:
    """Our own rule (docs/langgraph.md): every character a label may hold comes back, `:` and `/` too."""
    store = langgraph_backend.store()
    labels = ("org:acme/repo", "user id #1", "50% off", "🦜", "*", "back\\slash", "langgraph")
    store.put(labels, "k/1:2", {"v": 1})
    assert store.list_namespaces() == [labels]
    assert store.get(labels, "k/1:2").value == {"v": 1}  # type: ignore[union-attr]
    name = to_namespace(DEFAULT_PREFIX, labels)
    assert name == "langgraph:org:acme/repo.user id #1.50% off.🦜.*.back\\slash.langgraph"
    assert from_namespace(DEFAULT_PREFIX, name) == labels
    # What another client wrote beside it is not LangGraph's: outside the prefix, or not a tuple.
    sdk = store.client
    assert sdk is not None
    sdk.use_namespace("langgraph:a..b").set("k", {"v": 1})
    sdk.use_namespace("langgraph:.a").set("k", {"v": 1})
    sdk.use_namespace("elsewhere").set("k", {"v": 1})
    assert store.list_namespaces() == [labels]
    assert [item.key for item in store.search(())] == ["k/1:2"]
    with pytest.raises(InvalidNamespaceError):
        store.put(("x" * 250,), "k", {"v": 1})  # over 256 bytes with the prefix
    with pytest.raises(InvalidNamespaceError):
        store.put(("nul\x00",), "k", {"v": 1})


def test_a_token_scoped_to_a_prefix_confines_the_store(langgraph_backend: LangGraphBackend) -> None:
    """The store under a capability token's ns_prefix: its own prefix works, any other is refused."""
    scoped = langgraph_backend.store(token_prefix="team-a:", namespace_prefix="team-a:lg:")
    scoped.put(("memories",), "k", {"v": 1})
    assert scoped.list_namespaces() == [("memories",)]
    outside = langgraph_backend.store(token_prefix="team-a:", namespace_prefix="team-b:lg:")
    with pytest.raises(Forbidden):
        outside.put(("memories",), "k", {"v": 2})
    assert outside.list_namespaces() == []  # nothing visible outside the token's prefix


# -- test_store.py: search (the filter and pagination halves of its vector-search cases) ------------

DOCS = [
    ("doc1", {"text": "red apple", "color": "red", "score": 4.5}),
    ("doc2", {"text": "red car", "color": "red", "score": 3.0}),
    ("doc3", {"text": "green apple", "color": "green", "score": 4.0}),
    ("doc4", {"text": "blue car", "color": "blue", "score": 3.5}),
]


async def test_search_with_filters(langgraph_backend: LangGraphBackend) -> None:
    """test_store.py::test_vector_search_with_filters and ::test_async_vector_search_with_filters,
    without the query: exact matches, the comparison operators, several conditions."""
    store = langgraph_backend.store()
    for key, value in DOCS:
        await store.aput(("test",), key, value)
    for search in (store.search, store.asearch):
        found = search(("test",), filter={"color": "red"})
        found = await found if asyncio.iscoroutine(found) else found
        assert [item.key for item in found] == ["doc1", "doc2"]
    assert [i.key for i in store.search(("test",), filter={"score": {"$gt": 3.2}})] == ["doc1", "doc3", "doc4"]
    assert [i.key for i in store.search(("test",), filter={"score": {"$gte": 4.0}, "color": "green"})] == ["doc3"]
    assert [i.key for i in store.search(("test",), filter={"score": {"$lte": 3.0}})] == ["doc2"]
    assert [i.key for i in store.search(("test",), filter={"color": {"$ne": "red"}})] == ["doc3", "doc4"]
    assert [i.key for i in store.search(("test",), filter={"color": {"$eq": "blue"}})] == ["doc4"]
    assert store.search(("test",), filter={"color": "purple"}) == []
    store.put(("test",), "nested", {"meta": {"a": 1, "b": [1, 2]}, "color": "red"})
    assert [i.key for i in store.search(("test",), filter={"meta": {"a": 1}})] == ["nested"]
    assert [i.key for i in store.search(("test",), filter={"meta": {"b": [1, 2]}})] == ["nested"]
    assert store.search(("test",), filter={"meta": {"b": [1]}}) == []
    item = store.search(("test",), filter={"color": "green"})[0]
    assert (item.namespace, item.value, item.score) == (("test",), DOCS[2][1], None)
    assert item.created_at.tzinfo is not None and item.updated_at >= item.created_at


async def test_search_pagination(langgraph_backend: LangGraphBackend) -> None:
    """test_store.py::test_vector_search_pagination and ::test_async_vector_search_pagination (no query)"""
    store = langgraph_backend.store()
    for i in range(5):
        await store.aput(("test",), f"doc{i}", {"text": f"test document number {i}"})
    first = await store.asearch(("test",), limit=2)
    second = store.search(("test",), limit=2, offset=2)
    assert [i.key for i in first] == ["doc0", "doc1"]
    assert [i.key for i in second] == ["doc2", "doc3"]
    assert len(store.search(("test",), limit=10)) == 5
    assert store.search(("test",), offset=5) == []


def test_search_covers_a_namespace_prefix(langgraph_backend: LangGraphBackend) -> None:
    """SearchOp.namespace_prefix: the namespace itself and those below it, never a mere string prefix."""
    store = langgraph_backend.store()
    store.put(("a",), "1", {"n": 1})
    store.put(("a", "b"), "2", {"n": 2})
    store.put(("a", "b", "c"), "3", {"n": 3})
    store.put(("ab",), "4", {"n": 4})
    assert [(i.namespace, i.key) for i in store.search(("a",))] == [
        (("a",), "1"),
        (("a", "b"), "2"),
        (("a", "b", "c"), "3"),
    ]
    assert [i.key for i in store.search(("a", "b"))] == ["2", "3"]
    assert [i.key for i in store.search(())] == ["1", "2", "3", "4"]
    assert [i.key for i in store.search(("a",), filter={"n": {"$gte": 2}}, limit=1, offset=1)] == ["3"]


async def test_concurrent_writes_then_searches(langgraph_backend: LangGraphBackend) -> None:
    """test_store.py::test_async_batched_vector_search_concurrent, without the query: 50 documents put,
    deleted and put again concurrently (each phase at once), then nine filtered searches at once."""
    store = langgraph_backend.store()
    colors, items, scores = (
        ["red", "blue", "green", "yellow", "purple"],
        ["apple", "car", "house", "book", "phone"],
        [3.0, 3.5, 4.0, 4.5, 5.0],
    )
    docs = [
        (
            f"doc{i}",
            {"text": f"{colors[i % 5]} {items[i % 5]}", "color": colors[i % 5], "score": scores[i % 5], "index": i},
        )
        for i in range(50)
    ]
    await asyncio.gather(*(store.aput(("test",), key, value) for key, value in docs))
    await asyncio.gather(*(store.adelete(("test",), key) for key, _ in docs))
    assert await store.asearch(("test",)) == []
    await asyncio.gather(*(store.aput(("test",), key, value) for key, value in docs))
    filters: list[dict[str, Any]] = [
        {"color": "red"},
        {"color": "blue"},
        {"score": {"$gt": 4.99}},
        {"score": {"$lte": 3.5}},
        {"score": {"$gte": 3.0}, "color": "red"},
        {"score": {"$lt": 5.1}, "color": "blue"},
        {"index": {"$gt": 25}},
        {"index": {"$lte": 10}},
        {"color": "green"},
    ]
    found = await asyncio.gather(*(store.asearch(("test",), filter=f, limit=50) for f in filters))
    for results, wanted in zip(found, filters, strict=True):
        expected = [key for key, value in docs if expected_match(value, wanted)]
        assert sorted(item.key for item in results) == sorted(expected), wanted
        assert expected


def expected_match(value: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """The test's own reading of the filter (not the store's code): field = value, or field op value."""
    for name, condition in wanted.items():
        conditions = condition if isinstance(condition, dict) else {"$eq": condition}
        for op, operand in conditions.items():
            got = value[name]
            ok = {
                "$eq": got == operand,
                "$gt": got > operand,
                "$gte": got >= operand,
                "$lt": got < operand,
                "$lte": got <= operand,
            }[op]
            if not ok:
                return False
    return True


def test_non_ascii(langgraph_backend: LangGraphBackend) -> None:
    """test_store.py::test_non_ascii, without embeddings: the texts come back exactly, searchable by filter."""
    store = langgraph_backend.store()
    texts = ["这是中文", "これは日本語です", "이건 한국어야", "Это русский", "यह रूसी है"]
    for index, text in enumerate(texts, start=1):
        store.put(("user_123", "memories"), str(index), {"text": text})
    for index, text in enumerate(texts, start=1):
        assert store.get(("user_123", "memories"), str(index)).value == {"text": text}  # type: ignore[union-attr]
        assert [i.key for i in store.search(("user_123", "memories"), filter={"text": text})] == [str(index)]


def test_semantic_search_is_refused(langgraph_backend: LangGraphBackend) -> None:
    """The vector cases of test_store.py need an index: configuring one raises, clearly."""
    with pytest.raises(NotImplementedError, match="semantic search"):
        langgraph_backend.store(index={"dims": 4, "embed": lambda texts: [[0.0] * 4 for _ in texts]})


# -- test_store.py: batching (the deduplication case, for a store that batches per call) -----------


async def test_batch_deduplicates_and_groups_into_batch_calls(langgraph_backend: LangGraphBackend) -> None:
    """test_store.py::test_async_batch_store_deduplication: repeated gets of a key are one read, two
    puts of one key are one write of the last value; and puts go out as set_many, not one call each."""
    store = langgraph_backend.store()
    calls = langgraph_backend.calls
    await store.abatch(
        [PutOp(("test",), "same", {"value": "same"}), PutOp(("test",), "different", {"value": "different"})]
    )
    assert calls == ["set_many"]
    calls.clear()
    same, again, different = await store.abatch(
        [GetOp(("test",), "same"), GetOp(("test",), "same"), GetOp(("test",), "different")]
    )
    assert same == again and same is not None and same.value == {"value": "same"}
    assert different is not None and different.value == {"value": "different"}
    assert calls == ["get", "get"]  # a record per distinct key (get_many has no records)
    calls.clear()
    assert await store.abatch([PutOp(("test",), "key", {"value": 1}), PutOp(("test",), "key", {"value": 2})]) == [
        None,
        None,
    ]
    assert calls == ["set_many"]
    assert (await store.aget(("test",), "key")).value == {"value": 2}  # type: ignore[union-attr]
    calls.clear()
    store.batch([PutOp(("test",), f"k{i}", {"i": i}) for i in range(150)] + [PutOp(("other",), "k", {"i": 0})])
    assert sorted(calls) == ["set_many", "set_many", "set_many"]  # 100 + 50 in ("test",), 1 in ("other",)
    calls.clear()
    store.batch([PutOp(("test",), "k1", None), PutOp(("test",), "k2", None)])
    assert calls == ["delete", "delete"]  # the contract has no batch delete
    # Reads run before the writes of their batch, as in LangGraph's in-memory store.
    before, _ = store.batch([GetOp(("test",), "key"), PutOp(("test",), "key", {"value": 3})])
    assert before is not None and before.value == {"value": 2}
    assert store.get(("test",), "key").value == {"value": 3}  # type: ignore[union-attr]


def test_a_search_over_100_items_costs_two_calls(langgraph_backend: LangGraphBackend) -> None:
    """docs/langgraph.md: one list_namespaces, then one page of records (bench/langgraph_calls.py measures it)."""
    store = langgraph_backend.store()
    store.batch([PutOp(("memories",), f"m{i:03d}", {"i": i}) for i in range(100)])
    langgraph_backend.calls.clear()
    found = store.search(("memories",), limit=100)
    assert [item.key for item in found] == [f"m{i:03d}" for i in range(100)]
    assert store._records  # the SDK lists whole records (include_records)
    assert langgraph_backend.calls == ["list_namespaces", "list_keys"]


# -- TTL: libs/checkpoint-sqlite/tests/test_ttl.py at the tag, and test_store_ttl.py (f6a1abae9) ----


def expires_in(store: DataStoreStore, namespace: tuple[str, ...], key: str) -> float:
    assert store.client is not None
    record = store.client.use_namespace(to_namespace(store.namespace_prefix, namespace)).get_record(
        key, track_access=False
    )
    assert record is not None and record.expires_at is not None
    return (record.expires_at - datetime.now(UTC)).total_seconds()


def test_ttl_basic(langgraph_backend: LangGraphBackend) -> None:
    """test_ttl.py::test_ttl_basic: a default TTL (minutes) from TTLConfig; gone once it has passed."""
    store = langgraph_backend.store(ttl={"default_ttl": 1 / 60})
    store.put(("test",), "item1", {"value": "test"})
    assert store.get(("test",), "item1", refresh_ttl=False).value == {"value": "test"}  # type: ignore[union-attr]
    time.sleep(1.3)
    assert store.get(("test",), "item1") is None


def test_ttl_custom_value_and_override(langgraph_backend: LangGraphBackend) -> None:
    """test_ttl.py::test_ttl_custom_value and ::test_ttl_override_default: a put's ttl wins over the
    default, ttl=None means no expiry, and each item expires at its own time."""
    store = langgraph_backend.store(ttl={"default_ttl": 3 / 60})
    store.put(("test",), "short", {"value": "short"}, ttl=1 / 60)
    store.put(("test",), "default", {"value": "default"})
    store.put(("test",), "permanent", {"value": "permanent"}, ttl=None)
    assert 0 < expires_in(store, ("test",), "short") <= 1
    assert 2 < expires_in(store, ("test",), "default") <= 3
    time.sleep(1.3)
    assert store.get(("test",), "short") is None
    assert store.get(("test",), "default", refresh_ttl=False) is not None
    assert store.get(("test",), "permanent") is not None
    time.sleep(2)
    assert store.get(("test",), "default") is None
    assert store.get(("test",), "permanent") is not None


async def test_search_with_ttl(langgraph_backend: LangGraphBackend) -> None:
    """test_ttl.py::test_search_with_ttl and ::test_async_ttl_basic: expired items leave search and get."""
    store = langgraph_backend.store(ttl={"default_ttl": 1 / 60})
    await store.aput(("test",), "item1", {"value": "apple"})
    await store.aput(("test",), "item2", {"value": "banana"})
    found = await store.asearch(("test",), filter={"value": "apple"}, refresh_ttl=False)
    assert [item.key for item in found] == ["item1"]
    await asyncio.sleep(1.3)
    assert await store.asearch(("test",), filter={"value": "apple"}) == []
    assert await store.aget(("test",), "item1") is None
    assert store.list_namespaces() == []


def test_ttl_refresh(langgraph_backend: LangGraphBackend) -> None:
    """test_ttl.py::test_ttl_refresh: a read with refresh_ttl moves the expiry to now + the TTL."""
    store = langgraph_backend.store(ttl={"default_ttl": 2 / 60, "refresh_on_read": True})
    assert store._refresh_get and store._refresh_many  # the SDK asks for refresh_ttl
    store.put(("test",), "item1", {"value": "test"})
    time.sleep(1.2)
    assert store.get(("test",), "item1") is not None  # refreshes: 2 s from now
    assert expires_in(store, ("test",), "item1") > 1.5
    time.sleep(1.2)
    assert store.search(("test",))[0].key == "item1"  # still there, and refreshed again
    assert expires_in(store, ("test",), "item1") > 1.5
    assert store.get(("test",), "item1", refresh_ttl=False) is not None
    time.sleep(2.3)
    assert store.get(("test",), "item1") is None


async def test_ttl_as_timedelta_and_datetime(langgraph_backend: LangGraphBackend) -> None:
    """test_store_ttl.py (commit f6a1abae9)::test_store_put_timedelta and ::test_store_aput_datetime."""
    store = langgraph_backend.store()
    store.put(("test",), "k1", {"a": 1}, ttl=timedelta(minutes=15))  # type: ignore[arg-type]
    assert 899 < expires_in(store, ("test",), "k1") <= 900
    await store.aput(("test",), "k2", {"a": 1}, ttl=datetime.now(UTC) + timedelta(minutes=60))  # type: ignore[arg-type]
    assert 3590 < expires_in(store, ("test",), "k2") <= 3600


# -- a graph that remembers across runs --------------------------------------------------------------


class State(TypedDict):
    user: str
    visits: int
    seen: list[str]


def remember(state: State, runtime: Runtime) -> dict[str, Any]:
    namespace = ("memories", state["user"])
    previous = runtime.store.get(namespace, "profile")
    visits = (previous.value["visits"] if previous else 0) + 1
    runtime.store.put(namespace, "profile", {"visits": visits})
    runtime.store.put(namespace, f"visit-{visits}", {"n": visits})
    return {"visits": visits, "seen": [item.key for item in runtime.store.search(namespace, filter={"n": {"$gte": 1}})]}


async def aremember(state: State, runtime: Runtime) -> dict[str, Any]:
    namespace = ("memories", state["user"])
    previous = await runtime.store.aget(namespace, "profile")
    visits = (previous.value["visits"] if previous else 0) + 1
    await runtime.store.aput(namespace, "profile", {"visits": visits})
    await runtime.store.aput(namespace, f"visit-{visits}", {"n": visits})
    found = await runtime.store.asearch(namespace, filter={"n": {"$gte": 1}})
    return {"visits": visits, "seen": [item.key for item in found]}


def compiled(node: Any, store: DataStoreStore) -> Any:
    from langgraph.graph import END, START, StateGraph

    builder = StateGraph(State)
    builder.add_node("remember", node)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", END)
    return builder.compile(store=store)


async def test_a_state_graph_remembers_across_three_runs(langgraph_backend: LangGraphBackend) -> None:
    store = langgraph_backend.store()
    graph = compiled(remember, store)
    runs = [graph.invoke({"user": "ada:lovelace/1", "visits": 0, "seen": []}) for _ in range(3)]
    assert [run["visits"] for run in runs] == [1, 2, 3]
    assert runs[-1]["seen"] == ["visit-1", "visit-2", "visit-3"]
    # A new store object (a later process) reads the same memories, and the async graph goes on.
    again = compiled(aremember, langgraph_backend.store())
    fourth = await again.ainvoke({"user": "ada:lovelace/1", "visits": 0, "seen": []})
    assert fourth["visits"] == 4 and len(fourth["seen"]) == 4
    assert store.list_namespaces() == [("memories", "ada:lovelace/1")]
