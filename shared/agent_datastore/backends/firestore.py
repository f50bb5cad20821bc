"""Firestore (native mode): one record per document, a per-user namespace registry.

Layout and the stored form of values are in `firestore_layout.py`. Every
write is one Firestore transaction that reads the record (and its expiry
marker), runs the pure rules of `records.py`, and commits the record, its
marker and a blind `Increment`/`Maximum`/`Minimum` of the namespace's
registry entry: the registry stays exact without becoming a lock that every
writer of a namespace has to wait for.

Expiry: records carry `expire_time` for a Firestore TTL policy and every read
filters by the `now` it is given. A TTL deletion does not tell the registry,
so each expiring record has a small marker document (no TTL) in a sibling
collection; `purge_expired` walks the markers that are due, removes their
records if the TTL policy has not yet, and corrects the registry in the same
transaction. The registry entry's `next_expiry` (a lower bound of the
namespace's earliest expiry) lets `list_namespaces` and `stats` skip all of
that unless something has actually expired.
"""

from __future__ import annotations

import functools
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ..errors import BackendUnavailable, DataStoreError, Throttled
from ..records import (
    NamespaceStats,
    Record,
    Scope,
    Write,
    apply_read,
    apply_write,
    check_version,
    increment_value,
)
from ..settings import Settings
from ..store import ManyResult, Store, response_cost
from .firestore_layout import (
    PART_BYTES,
    RpcCounter,
    decode_doc_id,
    install_counter,
    key_doc_id,
    namespace_doc_id,
    pack_value,
    prefix_range,
    unpack_value,
    user_doc_id,
)

T = TypeVar("T")
Data = dict[str, Any]

# Record fields other than the value: what a write needs to read.
META_FIELDS = [
    "metadata",
    "created_by_agent",
    "last_accessed_by_agent",
    "access_count",
    "created_at",
    "updated_at",
    "version",
    "expires_at",
    "size",
    "parts",
    "gen",
]
# Deletes per batch: each costs up to three writes (record, marker, a part), under 500 per commit.
BATCH = 150
MAX_WRITES = 480
STRIPES = 64
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Torn(Exception):
    """A value's parts changed between two non-transactional reads; read again."""


@dataclass
class _Delta:
    keys: int = 0
    bytes: int = 0
    next_expiry: int | None = None

    def expire(self, at: int | None) -> None:
        if at is not None:
            self.next_expiry = at if self.next_expiry is None else min(self.next_expiry, at)


def expire_time(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def translate(exc: BaseException) -> DataStoreError | None:
    """The domain error for an SDK failure (None: a bug, left to surface as 500)."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, (gexc.ResourceExhausted, gexc.TooManyRequests)):
        return Throttled(f"Firestore is throttling requests: {exc.message}")
    transient = (
        gexc.Aborted,
        gexc.DeadlineExceeded,
        gexc.ServiceUnavailable,
        gexc.InternalServerError,
        gexc.Unknown,
        gexc.Cancelled,
        gexc.GatewayTimeout,
        gexc.BadGateway,
    )
    if isinstance(exc, transient):
        return BackendUnavailable(f"Firestore is unavailable: {type(exc).__name__}")
    if isinstance(exc, gexc.RetryError):
        return BackendUnavailable("Firestore did not answer in time")
    return None


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
    ) -> None:
        self.collection = collection
        self.project = project
        self.database = database
        self.part_bytes = part_bytes
        self.contention_seconds = contention_seconds
        self.rpcs = RpcCounter()
        self._client = client
        self._counted = False
        self._lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(STRIPES)]

    # -- client, references, errors ------------------------------------------

    @property
    def client(self) -> Any:
        if self._counted:
            return self._client
        with self._lock:
            if self._client is None:
                from google.cloud import firestore

                self._client = firestore.Client(project=self.project, database=self.database)
            install_counter(self._client, self.rpcs)
            self._counted = True
        return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()

    def _user(self, user_id: str) -> Any:
        return self.client.collection(self.collection).document(user_doc_id(user_id))

    def _registry(self, scope: Scope) -> Any:
        return self._user(scope.user_id).collection("namespaces").document(namespace_doc_id(scope.namespace))

    def _records(self, scope: Scope) -> Any:
        return self._registry(scope).collection("records")

    def _markers(self, scope: Scope) -> Any:
        return self._registry(scope).collection("expiring")

    def _refs(self, scope: Scope, key_id: str) -> tuple[Any, Any]:
        return self._records(scope).document(key_id), self._markers(scope).document(key_id)

    def _key_refs(self, scope: Scope, key_ids: list[str]) -> list[Any]:
        return [self._records(scope).document(key_id) for key_id in key_ids]

    @staticmethod
    def _part(ref: Any, index: int) -> Any:
        return ref.collection("parts").document(f"p{index}")

    @contextmanager
    def _sdk(self) -> Iterator[None]:
        try:
            yield
        except DataStoreError:
            raise
        except Exception as exc:
            mapped = translate(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def _transact(self, fn: Callable[[Any], T], refs: list[Any]) -> T:
        """Run `fn(transaction)` and commit; contention is retried here, with backoff.

        Transactions of this process that read the same documents first queue on
        a striped lock: two Firestore transactions that read a document and then
        both write it deadlock until one times out (the emulator waits seconds),
        so in-process contention is settled here and Firestore only arbitrates
        between processes.
        """
        with ExitStack() as stack:
            for index in sorted({hash(ref.path) % STRIPES for ref in refs}):
                stack.enter_context(self._stripes[index])
            return self._transact_unlocked(fn)

    def _transact_unlocked(self, fn: Callable[[Any], T]) -> T:
        from google.api_core.exceptions import Aborted
        from google.cloud.firestore import transactional

        deadline = time.monotonic() + self.contention_seconds
        delay = 0.01
        while True:
            try:
                with self._sdk():
                    try:
                        result: T = transactional(fn)(self.client.transaction(max_attempts=3))
                        return result
                    except ValueError as exc:  # the SDK's "retries exhausted", caused by Aborted
                        if isinstance(exc.__cause__, Aborted):
                            raise exc.__cause__ from exc
                        raise
            except BackendUnavailable as exc:
                if not isinstance(exc.__cause__, Aborted) or time.monotonic() >= deadline:
                    raise
            time.sleep(random.uniform(0, delay))
            delay = min(delay * 2, 0.5)

    def _read(self, refs: list[Any], tx: Any = None, fields: list[str] | None = None) -> dict[str, Data]:
        """Existing documents by path: one BatchGetDocuments."""
        if not refs:
            return {}
        with self._sdk():
            snaps = self.client.get_all(refs, field_paths=fields, transaction=tx)
            return {snap.reference.path: snap.to_dict() or {} for snap in snaps if snap.exists}

    def _values(self, docs: list[tuple[Any, Data]], tx: Any = None) -> dict[str, str]:
        """Value JSON by record path, reading the parts of split values in one more RPC."""
        split = [(ref, data) for ref, data in docs if "parts" in data]
        parts = self._read([self._part(ref, i) for ref, data in split for i in range(data["parts"])], tx)
        values = {}
        for ref, data in docs:
            if "parts" not in data:
                values[ref.path] = unpack_value(data)
                continue
            chunks = [parts.get(self._part(ref, i).path) for i in range(data["parts"])]
            if any(chunk is None or chunk.get("gen") != data.get("gen") for chunk in chunks):
                raise _Torn(ref.path)
            values[ref.path] = unpack_value(data, [chunk["data"] for chunk in chunks if chunk is not None])
        return values

    def _untorn(self, fn: Callable[[], T]) -> T:
        for _ in range(20):
            try:
                return fn()
            except _Torn:
                time.sleep(0.01)
        raise BackendUnavailable("a large value kept changing while it was read")

    @staticmethod
    def _record(scope: Scope, key: str, data: Data, value_json: str) -> Record:
        return Record(
            user_id=scope.user_id,
            namespace=scope.namespace,
            key=key,
            value_json=value_json,
            metadata=json.loads(data["metadata"]),
            created_by_agent=data["created_by_agent"],
            last_accessed_by_agent=data["last_accessed_by_agent"],
            access_count=data["access_count"],
            created_at=data["created_at"],
            updated_at=data["updated_at"],
            version=data["version"],
            expires_at=data.get("expires_at"),
        )

    # -- staged writes (inside a transaction) -----------------------------------

    def _stage_write(
        self, tx: Any, ref: Any, marker_ref: Any, record: Record, old: Data | None, marker: Data | None, delta: _Delta
    ) -> None:
        self._account_removal(old, marker, delta)
        fields, parts = pack_value(record.value_json, self.part_bytes)
        data: Data = {
            **fields,
            "metadata": record.metadata_json,
            "created_by_agent": record.created_by_agent,
            "last_accessed_by_agent": record.last_accessed_by_agent,
            "access_count": record.access_count,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "version": record.version,
            "expires_at": record.expires_at,
            "size": record.size,
        }
        ttl: Data = {} if record.expires_at is None else {"expire_time": expire_time(record.expires_at)}
        if old is None:
            tx.create(ref, {**data, **ttl})
        else:
            tx.set(ref, {**data, **ttl})
        for index, part in enumerate(parts):
            tx.set(self._part(ref, index), {"data": part, "gen": fields["gen"], **ttl})
        for index in range(len(parts), (old or {}).get("parts", 0)):
            tx.delete(self._part(ref, index))
        if record.expires_at is not None:
            tx.set(marker_ref, {"expires_at": record.expires_at, "size": record.size})
        elif marker is not None:
            tx.delete(marker_ref)
        delta.keys += 1
        delta.bytes += record.size
        delta.expire(record.expires_at)

    @staticmethod
    def _account_removal(old: Data | None, marker: Data | None, delta: _Delta) -> None:
        # A record removed by the TTL policy is still counted until its marker goes.
        if old is not None or marker is not None:
            delta.keys -= 1
            delta.bytes -= (old if old is not None else marker or {}).get("size", 0)

    def _stage_delete(
        self, tx: Any, ref: Any, marker_ref: Any, old: Data | None, marker: Data | None, delta: _Delta
    ) -> int:
        """Stage removal of a record (and its parts and marker); returns the writes used."""
        self._account_removal(old, marker, delta)
        writes = 0
        if old is not None:
            tx.delete(ref)
            for index in range((old or {}).get("parts", 0)):
                tx.delete(self._part(ref, index))
            writes += 1 + old.get("parts", 0)
        if marker is not None:
            tx.delete(marker_ref)
            writes += 1
        return writes

    def _stage_registry(self, tx: Any, scope: Scope, delta: _Delta, updated_at: int) -> None:
        from google.cloud.firestore import Increment, Maximum, Minimum

        data: Data = {
            "user_id": scope.user_id,
            "namespace": scope.namespace,
            "keys": Increment(delta.keys),
            "bytes": Increment(delta.bytes),
            "updated_at": Maximum(updated_at),
        }
        if delta.next_expiry is not None:
            data["next_expiry"] = Minimum(delta.next_expiry)
        tx.set(self._registry(scope), data, merge=True)

    # -- operations ----------------------------------------------------------------

    def get(self, scope: Scope, key: str, *, reader: str | None, now: int) -> Record | None:
        found = self.get_many(scope, [key], reader=reader, now=now, max_bytes=2**62).found
        return found.get(key)

    def get_many(self, scope: Scope, keys: list[str], *, reader: str | None, now: int, max_bytes: int) -> ManyResult:
        refs = [self._records(scope).document(key_doc_id(key)) for key in keys]

        def read(tx: Any) -> ManyResult:
            docs = self._read(refs, tx)
            live = [(ref, docs[ref.path]) for ref in refs if ref.path in docs]
            live = [(ref, data) for ref, data in live if data.get("expires_at") is None or now < data["expires_at"]]
            values = self._values(live, tx)
            result = ManyResult()
            budget = max_bytes
            for index, (key, ref) in enumerate(zip(keys, refs, strict=True)):
                if ref.path not in values:
                    continue
                record = self._record(scope, key, docs[ref.path], values[ref.path])
                cost = response_cost(key, record)
                if cost > budget:
                    result.unprocessed.extend(keys[index:])
                    break
                if reader is not None:
                    record = apply_read(record, reader)
                    tx.update(ref, {"access_count": record.access_count, "last_accessed_by_agent": reader})
                result.found[key] = record
                budget -= cost
            return result

        if reader is None:
            return self._untorn(lambda: read(None))
        return self._transact(read, refs)

    def put(self, scope: Scope, key: str, write: Write, now: int) -> tuple[Record, bool]:
        ref = self._records(scope).document(key_doc_id(key))
        return self._transact(lambda tx: self._put_all(tx, scope, [(key, write)], now), [ref])[0]

    def put_many(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
        # One transaction: every item is written, or none (merged metadata checked inside).
        refs = [self._records(scope).document(key_doc_id(key)) for key, _ in items]
        results = self._transact(lambda tx: self._put_all(tx, scope, items, now), refs)
        return {key: record.version for (key, _), (record, _) in zip(items, results, strict=True)}

    def _put_all(self, tx: Any, scope: Scope, items: list[tuple[str, Write]], now: int) -> list[tuple[Record, bool]]:
        pairs = [self._refs(scope, key_doc_id(key)) for key, _ in items]
        docs = self._read([ref for pair in pairs for ref in pair], tx, META_FIELDS)
        delta = _Delta()
        results = []
        for (key, write), (ref, marker_ref) in zip(items, pairs, strict=True):
            old, marker = docs.get(ref.path), docs.get(marker_ref.path)
            existing = self._record(scope, key, old, "null") if old is not None else None
            if existing is not None and not existing.is_live(now):
                existing = None
            record = apply_write(scope, key, existing, write, now)
            self._stage_write(tx, ref, marker_ref, record, old, marker, delta)
            results.append((record, existing is None))
        self._stage_registry(tx, scope, delta, now)
        return results

    def delete(self, scope: Scope, key: str, *, if_version: int | None, now: int) -> bool:
        ref, marker_ref = self._refs(scope, key_doc_id(key))

        def remove(tx: Any) -> bool:
            docs = self._read([ref, marker_ref], tx, META_FIELDS)
            old, marker = docs.get(ref.path), docs.get(marker_ref.path)
            existing = self._record(scope, key, old, "null") if old is not None else None
            if existing is not None and not existing.is_live(now):
                existing = None
            check_version(key, existing, if_version)
            if old is not None or marker is not None:
                delta = _Delta()
                self._stage_delete(tx, ref, marker_ref, old, marker, delta)
                self._stage_registry(tx, scope, delta, now)
            return existing is not None

        return self._transact(remove, [ref])

    def increment(
        self, scope: Scope, key: str, by: int | float, *, agent: str, expires_at: int | None, now: int
    ) -> Record:
        ref, marker_ref = self._refs(scope, key_doc_id(key))

        def bump(tx: Any) -> Record:
            docs = self._read([ref, marker_ref], tx)
            old, marker = docs.get(ref.path), docs.get(marker_ref.path)
            existing = None
            if old is not None and (old.get("expires_at") is None or now < old["expires_at"]):
                existing = self._record(scope, key, old, self._values([(ref, old)], tx)[ref.path])
            write = Write(increment_value(key, existing, by), agent, None, expires_at)
            record = apply_write(scope, key, existing, write, now)
            delta = _Delta()
            self._stage_write(tx, ref, marker_ref, record, old, marker, delta)
            self._stage_registry(tx, scope, delta, now)
            return record

        return self._transact(bump, [ref])

    def _range(self, collection: Any, tag: str, prefix: str, after_id: str | None) -> Any:
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

    def _stream(self, query: Any) -> list[Any]:
        with self._sdk():
            return list(query.stream())

    def list_keys(self, scope: Scope, *, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
        keys: list[str] = []
        after_id = None if after is None else key_doc_id(after)
        while len(keys) < limit:
            want = limit - len(keys)
            query = self._range(self._records(scope), "k", prefix, after_id).select(["expires_at"]).limit(want)
            docs = self._stream(query)
            for doc in docs:
                expires = (doc.to_dict() or {}).get("expires_at")
                if expires is None or now < expires:
                    keys.append(decode_doc_id(doc.id))
            if len(docs) < want:
                break
            after_id = docs[-1].id
        return keys

    # -- registry, expiry, clear ---------------------------------------------------

    def _registry_docs(self, user_id: str, prefix: str = "") -> list[Data]:
        collection = self._user(user_id).collection("namespaces")
        return [doc.to_dict() or {} for doc in self._stream(self._range(collection, "n", prefix, None))]

    def _fresh_registry(self, user_id: str, prefix: str, now: int) -> list[Data]:
        """Registry entries after purging what has expired by `now` (only where something has)."""
        rows = self._registry_docs(user_id, prefix)
        due = [row for row in rows if row.get("next_expiry") is not None and row["next_expiry"] <= now]
        for row in due:
            self._purge_namespace(Scope(user_id, row["namespace"]), now)
        return self._registry_docs(user_id, prefix) if due else rows

    def list_namespaces(self, user_id: str, *, prefix: str, now: int) -> list[str]:
        rows = self._fresh_registry(user_id, prefix, now)
        return [row["namespace"] for row in rows if row.get("keys", 0) > 0]

    def stats(self, user_id: str, *, namespace: str | None, now: int) -> list[NamespaceStats]:
        if namespace is not None:
            rows = list(self._read([self._registry(Scope(user_id, namespace))]).values())
            if rows and rows[0].get("next_expiry") is not None and rows[0]["next_expiry"] <= now:
                self._purge_namespace(Scope(user_id, namespace), now)
                rows = list(self._read([self._registry(Scope(user_id, namespace))]).values())
        else:
            rows = self._fresh_registry(user_id, "", now)
        return [
            NamespaceStats(row["namespace"], row["keys"], row["bytes"], row["updated_at"])
            for row in rows
            if row.get("keys", 0) > 0
        ]

    def _delete_batch(self, tx: Any, scope: Scope, key_ids: list[str], now: int, *, expired_only: bool) -> int:
        """Delete the given records (re-read in `tx`); returns how many live ones went
        (`expired_only`: how many expired ones went)."""
        pairs = [self._refs(scope, key_id) for key_id in key_ids]
        docs = self._read([ref for pair in pairs for ref in pair], tx, ["expires_at", "size", "parts"])
        delta, writes, count = _Delta(), 0, 0
        for ref, marker_ref in pairs:
            old, marker = docs.get(ref.path), docs.get(marker_ref.path)
            expires = (old or marker or {}).get("expires_at")
            expired = expires is not None and expires <= now
            if (old is None and marker is None) or (expired_only and not expired):
                continue
            needed = 2 + (old or {}).get("parts", 0)
            if writes + needed > MAX_WRITES:
                break
            writes += self._stage_delete(tx, ref, marker_ref, old, marker, delta)
            count += 1 if expired_only or (old is not None and not expired) else 0
        if writes:
            self._stage_registry(tx, scope, delta, now)
        return count

    def _purge_namespace(self, scope: Scope, now: int) -> int:
        from google.cloud.firestore import DELETE_FIELD, FieldFilter

        purged = 0
        while True:
            due = self._markers(scope).where(filter=FieldFilter("expires_at", "<=", now))
            docs = self._stream(due.select(["expires_at"]).limit(BATCH))
            if docs:
                ids = [doc.id for doc in docs]
                purged += self._transact(
                    functools.partial(self._delete_batch, scope=scope, key_ids=ids, now=now, expired_only=True),
                    self._key_refs(scope, ids),
                )
            if len(docs) < BATCH:
                break
        registry = self._registry(scope)
        upcoming = (
            self._markers(scope)
            .where(filter=FieldFilter("expires_at", ">", now))
            .order_by("expires_at")
            .select(["expires_at"])
            .limit(1)
        )

        def reset_hint(tx: Any) -> None:
            # Reading the entry in this transaction orders it against every writer's Minimum().
            row = self._read([registry], tx).get(registry.path)
            if row is None:
                return
            if row.get("keys", 0) <= 0:
                tx.delete(registry)
                return
            nxt = [doc.to_dict()["expires_at"] for doc in upcoming.stream(transaction=tx)]
            tx.update(registry, {"next_expiry": nxt[0] if nxt else DELETE_FIELD})

        self._transact(reset_hint, [registry])
        return purged

    def purge_expired(self, now: int, user_id: str | None = None) -> int:
        if user_id is None:
            return sum(self.purge_expired(now, user) for user in list(self.users()))
        rows = self._registry_docs(user_id)
        return sum(
            self._purge_namespace(Scope(user_id, row["namespace"]), now)
            for row in rows
            if row.get("next_expiry") is not None and row["next_expiry"] <= now
        )

    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        deleted = 0
        # Records first, then markers whose records the TTL policy already removed.
        for collection in (self._records(scope), self._markers(scope)):
            while True:
                docs = self._stream(collection.select(["expires_at"]).limit(BATCH))
                if docs:
                    ids = [doc.id for doc in docs]
                    deleted += self._transact(
                        functools.partial(self._delete_batch, scope=scope, key_ids=ids, now=now, expired_only=False),
                        self._key_refs(scope, ids),
                    )
                if len(docs) < BATCH:
                    break
                if time.monotonic() >= deadline:
                    return deleted, False
        self._tidy(scope)
        return deleted, True

    def _tidy(self, scope: Scope) -> None:
        """Drop the registry entry of an emptied namespace."""
        registry = self._registry(scope)

        def drop(tx: Any) -> None:
            row = self._read([registry], tx).get(registry.path)
            if row is not None and row.get("keys", 0) <= 0:
                tx.delete(registry)

        self._transact(drop, [registry])

    # -- operator interface --------------------------------------------------------

    def users(self) -> Iterator[str]:
        from google.cloud.firestore import FieldFilter

        with self._sdk():
            user_refs = list(self.client.collection(self.collection).list_documents(page_size=300))
        for user_ref in user_refs:
            holding = user_ref.collection("namespaces").where(filter=FieldFilter("keys", ">", 0)).limit(1)
            rows = self._stream(holding)
            if rows:
                yield (rows[0].to_dict() or {}).get("user_id") or decode_doc_id(user_ref.id)

    def scan(self, user_id: str, namespace: str | None = None) -> Iterator[Record]:
        rows = self._registry_docs(user_id)
        for row in rows:
            if namespace is not None and row["namespace"] != namespace:
                continue
            scope = Scope(user_id, row["namespace"])
            after_id = None
            while True:
                docs = self._stream(self._range(self._records(scope), "k", "", after_id).limit(100))
                pairs = [(doc.reference, doc.to_dict() or {}) for doc in docs]
                values = self._untorn(functools.partial(self._values, pairs))
                for ref, data in pairs:
                    yield self._record(scope, decode_doc_id(ref.id), data, values[ref.path])
                if len(docs) < 100:
                    break
                after_id = docs[-1].id

    def restore(self, record: Record) -> None:
        scope = Scope(record.user_id, record.namespace)
        ref, marker_ref = self._refs(scope, key_doc_id(record.key))

        def put_back(tx: Any) -> None:
            docs = self._read([ref, marker_ref], tx, META_FIELDS)
            delta = _Delta()
            self._stage_write(tx, ref, marker_ref, record, docs.get(ref.path), docs.get(marker_ref.path), delta)
            self._stage_registry(tx, scope, delta, record.updated_at)

        self._transact(put_back, [ref])


def from_settings(settings: Settings) -> FirestoreStore:
    """Project from GOOGLE_CLOUD_PROJECT, emulator from FIRESTORE_EMULATOR_HOST (both read by the SDK)."""
    return FirestoreStore(settings.firestore_collection, database=settings.firestore_database)
