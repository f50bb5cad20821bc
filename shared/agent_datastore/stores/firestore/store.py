"""Firestore (native mode): one record per document, a per-user namespace registry.

Layout and the stored form of values are in `layout.py`. Every write is one
Firestore transaction that reads the record (and its expiry marker), runs
the pure rules of `records.py`, and commits the record, its marker and a
blind `Increment`/`Maximum`/`Minimum` of one shard of the namespace's
registry entry, the shard its key hashes to: the registry stays exact
without becoming a lock that every writer of a namespace has to wait for,
nor one document that every write of a namespace writes (Firestore sustains
about one write per second per document; docs/scale.md). `stats` and
`list_namespaces` sum the shards: one query, bounded by the shards. The
transaction is the guard of the write, and `FirestoreClient.transact`
retries it when it loses a race.

Expiry: records carry `expire_time` for a Firestore TTL policy and every read
filters by the `now` it is given. A TTL deletion does not tell the registry,
so each expiring record has a small marker document (no TTL) in a sibling
collection; `purge_expired` walks the markers that are due, removes their
records if the TTL policy has not yet, and corrects the registry in the same
transaction. The shards' `next_expiry` (their minimum is a lower bound of
the namespace's earliest expiry) lets `list_namespaces` and `stats` skip all
of that unless something has actually expired.

`FirestoreStore` runs the operations on its parts:

    client.FirestoreClient       the SDK client, its errors, transactions, batched reads
    documents.Documents          where each document lives; values read back from their parts
    writes.StagedWrites          record, parts, marker and registry delta staged in a transaction
    registry.NamespaceRegistry   registry entries summed from their shards, read fresh; clear and expiry in batches

Every read filters by the `now` it is given (a TTL deletion may lag); a read
that counts access is a transaction, one that does not reads without one and
retries should a split value change under it. `get_many` stops reading its
batch once the records at the head of the request order exceed the response
budget, so 100 values of 1 MB are not all read to return 6 MiB of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from agent_datastore.core.jsonutil import utf8_len
from agent_datastore.core.records import (
    NamespaceStats,
    Record,
    Scope,
    Write,
    apply_read,
    apply_write,
    check_version,
    increment_write,
)
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import Cost, ManyResult, Store, response_cost, within_budget
from agent_datastore.stores.firestore.client import Data, FirestoreClient
from agent_datastore.stores.firestore.documents import Documents
from agent_datastore.stores.firestore.layout import PART_BYTES, SHARDS, decode_doc_id, key_doc_id
from agent_datastore.stores.firestore.registry import NamespaceRegistry, due
from agent_datastore.stores.firestore.writes import META_FIELDS, Delta, StagedWrites

SCAN_PAGE = 100


class Head:
    """`enough` of the batch read of a `get_many`: documents arrive in any order; once the
    live records at the head of the request order hold more than `max_bytes` of values (every
    `Cost` counts at least the value), no record after them can be returned, and the rest of
    the batch need not be read. `decided`: how many documents of the head have arrived.

    A record's value bytes are its stored `size` less its metadata, known without unpacking
    the value (a document without `size` counts 0: the read just goes on)."""

    def __init__(self, paths: list[str], live: Callable[[Data | None], bool], max_bytes: int) -> None:
        self.paths = paths
        self.live = live
        self.budget = max_bytes
        self.arrived: dict[str, Data | None] = {}
        self.decided = 0

    def __call__(self, path: str, data: Data | None) -> bool:
        self.arrived[path] = data
        while self.decided < len(self.paths) and self.paths[self.decided] in self.arrived:
            doc = self.arrived[self.paths[self.decided]]  # kept: a repeated key counts again, as in within_budget
            self.decided += 1
            if doc is not None and self.live(doc):
                self.budget -= max(0, doc.get("size", 0) - utf8_len(doc.get("metadata", "")))
                if self.budget < 0:
                    return True
        return False


class FirestoreStore(Store):
    name = "firestore"

    def __init__(
        self,
        collection: str = "agent_data_store",
        *,
        client: Any = None,
        project: str | None = None,
        database: str | None = None,
        part_bytes: int = PART_BYTES,
        contention_seconds: float = 15.0,
        shards: int = SHARDS,
    ) -> None:
        self.firestore = FirestoreClient(
            client, project=project, database=database, contention_seconds=contention_seconds
        )
        self.documents = Documents(self.firestore, collection)
        self.staged = StagedWrites(self.documents, part_bytes, shards)
        self.registry = NamespaceRegistry(self.firestore, self.documents, self.staged)

    @property
    def client(self) -> Any:
        """The SDK client (created on first use)."""
        return self.firestore.raw

    @property
    def collection(self) -> str:
        return self.documents.collection

    def close(self) -> None:
        self.firestore.close()

    @staticmethod
    def _live(data: Data | None, now: int) -> bool:
        return data is not None and (data.get("expires_at") is None or now < data["expires_at"])

    # -- reads ---------------------------------------------------------------------

    def get(self, scope: Scope, key: str, *, reader: str | None, now: int, refresh_ttl: bool = False) -> Record | None:
        found = self.get_many(scope, [key], reader=reader, now=now, max_bytes=2**62, refresh_ttl=refresh_ttl).found
        return found.get(key)

    def get_many(
        self,
        scope: Scope,
        keys: list[str],
        *,
        reader: str | None,
        now: int,
        max_bytes: int,
        refresh_ttl: bool = False,
        cost: Cost = response_cost,
    ) -> ManyResult:
        refs = [self.documents.records(scope).document(key_doc_id(key)) for key in keys]
        refresh_at = now if refresh_ttl else None

        def read(tx: Any) -> ManyResult:
            head = Head([ref.path for ref in refs], lambda data: self._live(data, now), max_bytes)
            docs = self.firestore.read(refs, tx, enough=head)
            live = [(ref, docs[ref.path]) for ref in refs[: head.decided] if self._live(docs.get(ref.path), now)]
            values = self.documents.values(live, tx)
            found = {
                key: self.documents.record(scope, key, docs[ref.path], values[ref.path])
                for key, ref in zip(keys, refs, strict=True)
                if ref.path in values
            }
            result = within_budget(keys, found, max_bytes, cost)
            if tx is not None:
                # Only the records returned count a read (and are refreshed), in this transaction.
                by_key = dict(zip(keys, refs, strict=True))
                for key, record in list(result.found.items()):
                    after = apply_read(record, reader, refresh_at)
                    if after is not record:
                        ref = by_key[key]
                        marker_ref = self.documents.markers(scope).document(ref.id)
                        self.staged.read(tx, ref, marker_ref, docs[ref.path], record, after)
                    result.found[key] = after
            return result

        if reader is None and not refresh_ttl:
            return self.documents.untorn(lambda: read(None))
        return self.firestore.transact(read, refs)

    def list_keys(self, scope: Scope, *, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
        keys: list[str] = []
        after_id = None if after is None else key_doc_id(after)
        records = self.documents.records(scope)
        while len(keys) < limit:
            want = limit - len(keys)
            docs = self.firestore.stream(
                self.documents.id_range(records, "k", prefix, after_id).select(["expires_at"]).limit(want)
            )
            keys.extend(decode_doc_id(doc.id) for doc in docs if self._live(doc.to_dict() or {}, now))
            if len(docs) < want:
                break
            after_id = docs[-1].id
        return keys

    # -- writes: each one transaction ------------------------------------------------

    def _live_meta(self, scope: Scope, key: str, old: Data | None, now: int) -> Record | None:
        """The live record behind `old`, read with META_FIELDS only (its value is a placeholder)."""
        return self.documents.record(scope, key, old, "null") if old is not None and self._live(old, now) else None

    def put(self, scope: Scope, key: str, write: Write, now: int) -> tuple[Record, bool]:
        ref = self.documents.records(scope).document(key_doc_id(key))
        return self.firestore.transact(lambda tx: self._put_all(tx, scope, [(key, write)], now), [ref])[0]

    def put_many(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
        # One transaction: every item is written, or none (merged metadata checked inside).
        refs = self.documents.record_refs(scope, [key_doc_id(key) for key, _ in items])
        results = self.firestore.transact(lambda tx: self._put_all(tx, scope, items, now), refs)
        return {key: record.version for (key, _), (record, _) in zip(items, results, strict=True)}

    def _put_all(self, tx: Any, scope: Scope, items: list[tuple[str, Write]], now: int) -> list[tuple[Record, bool]]:
        pairs = [self.documents.record_and_marker(scope, key_doc_id(key)) for key, _ in items]
        docs = self.firestore.read([ref for pair in pairs for ref in pair], tx, META_FIELDS)
        delta = Delta()
        results = []
        for (key, write), (ref, marker_ref) in zip(items, pairs, strict=True):
            old, marker = docs.get(ref.path), docs.get(marker_ref.path)
            existing = self._live_meta(scope, key, old, now)
            record = apply_write(scope, key, existing, write, now)
            self.staged.write(tx, ref, marker_ref, record, old, marker, delta)
            results.append((record, existing is None))
        self.staged.registry(tx, scope, delta, now, pairs[0][0].id)
        return results

    def delete(self, scope: Scope, key: str, *, if_version: int | None, now: int) -> bool:
        ref, marker_ref = self.documents.record_and_marker(scope, key_doc_id(key))

        def remove(tx: Any) -> bool:
            docs = self.firestore.read([ref, marker_ref], tx, META_FIELDS)
            old, marker = docs.get(ref.path), docs.get(marker_ref.path)
            existing = self._live_meta(scope, key, old, now)
            check_version(key, existing, if_version)
            if old is not None or marker is not None:
                delta = Delta()
                self.staged.delete(tx, ref, marker_ref, old, marker, delta)
                self.staged.registry(tx, scope, delta, None, ref.id)
            return existing is not None

        return self.firestore.transact(remove, [ref])

    def increment(
        self, scope: Scope, key: str, by: int | float, *, agent: str, expires_at: int | None, now: int
    ) -> Record:
        ref, marker_ref = self.documents.record_and_marker(scope, key_doc_id(key))

        def bump(tx: Any) -> Record:
            docs = self.firestore.read([ref, marker_ref], tx)
            old, marker = docs.get(ref.path), docs.get(marker_ref.path)
            existing = None
            if old is not None and self._live(old, now):
                existing = self.documents.record(scope, key, old, self.documents.values([(ref, old)], tx)[ref.path])
            record = apply_write(scope, key, existing, increment_write(key, existing, by, agent, expires_at), now)
            delta = Delta()
            self.staged.write(tx, ref, marker_ref, record, old, marker, delta)
            self.staged.registry(tx, scope, delta, now, ref.id)
            return record

        return self.firestore.transact(bump, [ref])

    def restore(self, record: Record) -> None:
        scope = Scope(record.user_id, record.namespace)
        ref, marker_ref = self.documents.record_and_marker(scope, key_doc_id(record.key))

        def put_back(tx: Any) -> None:
            docs = self.firestore.read([ref, marker_ref], tx, META_FIELDS)
            delta = Delta()
            self.staged.write(tx, ref, marker_ref, record, docs.get(ref.path), docs.get(marker_ref.path), delta)
            self.staged.registry(tx, scope, delta, record.updated_at, ref.id)

        self.firestore.transact(put_back, [ref])

    # -- the namespace registry ---------------------------------------------------------

    def list_namespaces(self, user_id: str, *, prefix: str, now: int) -> list[str]:
        rows = self.registry.fresh_entries(user_id, prefix, now)
        return [row["namespace"] for row in rows if row.get("keys", 0) > 0]

    def stats(self, user_id: str, *, namespace: str | None, now: int) -> list[NamespaceStats]:
        if namespace is not None:
            rows = self.registry.fresh_entry(Scope(user_id, namespace), now)
        else:
            rows = self.registry.fresh_entries(user_id, "", now)
        return [
            NamespaceStats(row["namespace"], row["keys"], row["bytes"], row.get("updated_at", 0))
            for row in rows
            if row.get("keys", 0) > 0
        ]

    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        deleted = 0
        # Records first, then markers whose records the TTL policy already removed.
        for collection in (self.documents.records(scope), self.documents.markers(scope)):
            count, done = self.registry.delete_pages(scope, collection, now, expired_only=False, deadline=deadline)
            deleted += count
            if not done:
                return deleted, False
        self.registry.tidy(scope)
        return deleted, True

    def purge_expired(self, now: int, user_id: str | None = None) -> int:
        if user_id is None:
            return sum(self.purge_expired(now, user) for user in list(self.users()))
        return sum(
            self.registry.purge_namespace(Scope(user_id, row["namespace"]), now)
            for row in self.registry.entries(user_id)
            if due(row, now)
        )

    # -- operator interface -------------------------------------------------------------

    def users(self) -> Iterator[str]:
        from google.cloud.firestore import FieldFilter

        with self.firestore.sdk():
            user_refs = list(self.client.collection(self.collection).list_documents(page_size=300))
        for user_ref in user_refs:
            # A user holding keys has a shard with keys > 0 (the converse needs the sum).
            holding = user_ref.collection("namespaces").where(filter=FieldFilter("keys", ">", 0)).limit(1)
            rows = self.firestore.stream(holding)
            if not rows:
                continue
            user_id = (rows[0].to_dict() or {}).get("user_id") or decode_doc_id(user_ref.id)
            if any(entry["keys"] > 0 for entry in self.registry.entries(user_id)):
                yield user_id

    def scan(self, user_id: str, namespace: str | None = None) -> Iterator[Record]:
        for row in self.registry.entries(user_id):
            if namespace is not None and row["namespace"] != namespace:
                continue
            scope = Scope(user_id, row["namespace"])
            records = self.documents.records(scope)
            after_id = None
            while True:
                docs = self.firestore.stream(self.documents.id_range(records, "k", "", after_id).limit(SCAN_PAGE))
                pairs = [(doc.reference, doc.to_dict() or {}) for doc in docs]
                values = self.documents.untorn(functools.partial(self.documents.values, pairs))
                for ref, data in pairs:
                    yield self.documents.record(scope, decode_doc_id(ref.id), data, values[ref.path])
                if len(docs) < SCAN_PAGE:
                    break
                after_id = docs[-1].id


def from_settings(settings: Settings) -> FirestoreStore:
    """Project from GOOGLE_CLOUD_PROJECT, emulator from FIRESTORE_EMULATOR_HOST (both read by the SDK)."""
    return FirestoreStore(settings.firestore_collection, database=settings.firestore_database)
