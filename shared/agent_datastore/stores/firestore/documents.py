"""Where `FirestoreStore`'s documents live, and how a record is read back from them.

`Documents` names every document of the layout (`layout.py`) under the
store's root collection, reads the parts of split values, and pages through
document id ranges.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from agent_datastore.core.errors import BackendUnavailable
from agent_datastore.core.records import Record, Scope, record_from_fields
from agent_datastore.stores.firestore.client import Data, FirestoreClient
from agent_datastore.stores.firestore.layout import (
    namespace_doc_id,
    prefix_range,
    shard_doc_id,
    shard_range,
    unpack_value,
    user_doc_id,
)

T = TypeVar("T")


class Torn(Exception):
    """A value's parts changed between two non-transactional reads; read again."""


class Documents:
    """The documents under one root collection."""

    def __init__(self, firestore: FirestoreClient, collection: str) -> None:
        self.firestore = firestore
        self.collection = collection

    def user(self, user_id: str) -> Any:
        return self.firestore.raw.collection(self.collection).document(user_doc_id(user_id))

    def namespaces(self, user_id: str) -> Any:
        """The user's registry: the shards of every namespace's entry."""
        return self.user(user_id).collection("namespaces")

    def registry(self, scope: Scope) -> Any:
        """Shard 0 of the scope's registry entry: the document a whole entry was before the
        shards, and the parent of the namespace's records."""
        return self.namespaces(scope.user_id).document(namespace_doc_id(scope.namespace))

    def shard(self, scope: Scope, index: int) -> Any:
        return self.namespaces(scope.user_id).document(shard_doc_id(scope.namespace, index))

    def shards(self, scope: Scope) -> Any:
        """The query of the scope's registry shards (shard 0 first)."""
        from google.cloud.firestore import FieldFilter

        collection = self.namespaces(scope.user_id)
        low, high = shard_range(scope.namespace)
        return (
            collection.order_by("__name__")
            .where(filter=FieldFilter("__name__", ">=", collection.document(low)))
            .where(filter=FieldFilter("__name__", "<", collection.document(high)))
        )

    def records(self, scope: Scope) -> Any:
        return self.registry(scope).collection("records")

    def markers(self, scope: Scope) -> Any:
        """One marker (no TTL) per expiring record, so that a TTL deletion can still be accounted for."""
        return self.registry(scope).collection("expiring")

    def record_and_marker(self, scope: Scope, key_id: str) -> tuple[Any, Any]:
        return self.records(scope).document(key_id), self.markers(scope).document(key_id)

    def record_refs(self, scope: Scope, key_ids: list[str]) -> list[Any]:
        return [self.records(scope).document(key_id) for key_id in key_ids]

    @staticmethod
    def part(ref: Any, index: int) -> Any:
        return ref.collection("parts").document(f"p{index}")

    @staticmethod
    def record(scope: Scope, key: str, data: Data, value_json: str) -> Record:
        return record_from_fields(scope, key, value_json, data)

    def values(self, docs: list[tuple[Any, Data]], tx: Any = None) -> dict[str, str]:
        """Value JSON by record path, reading the parts of split values in one more RPC."""
        split = [(ref, data) for ref, data in docs if "parts" in data]
        parts = self.firestore.read([self.part(ref, i) for ref, data in split for i in range(data["parts"])], tx)
        values = {}
        for ref, data in docs:
            if "parts" not in data:
                values[ref.path] = unpack_value(data)
                continue
            chunks = [parts.get(self.part(ref, i).path) for i in range(data["parts"])]
            if any(chunk is None or chunk.get("gen") != data.get("gen") for chunk in chunks):
                raise Torn(ref.path)
            values[ref.path] = unpack_value(data, [chunk["data"] for chunk in chunks if chunk is not None])
        return values

    @staticmethod
    def untorn(fn: Callable[[], T]) -> T:
        """`fn()`, read again while a split value changes under it."""
        for _ in range(20):
            try:
                return fn()
            except Torn:
                time.sleep(0.01)
        raise BackendUnavailable("a large value kept changing while it was read")

    @staticmethod
    def id_range(collection: Any, tag: str, prefix: str, after_id: str | None) -> Any:
        """The query of `collection`'s documents whose names start with `prefix` (ids tagged `tag`),
        after the id `after_id`, by id."""
        from google.cloud.firestore import FieldFilter

        low, high = prefix_range(tag, prefix)
        query = collection.order_by("__name__")
        if after_id is not None and after_id >= low:
            query = query.where(filter=FieldFilter("__name__", ">", collection.document(after_id)))
        else:
            query = query.where(filter=FieldFilter("__name__", ">=", collection.document(low)))
        if high is not None:
            query = query.where(filter=FieldFilter("__name__", "<", collection.document(high)))
        return query

    def registry_shards(self, user_id: str, prefix: str = "") -> list[Data]:
        """The registry shards of the user's namespaces starting with `prefix`: one RunQuery."""
        collection = self.namespaces(user_id)
        docs = self.firestore.stream(self.id_range(collection, "n", prefix, None))
        return [data for doc in docs if str((data := doc.to_dict() or {}).get("namespace", "")).startswith(prefix)]
