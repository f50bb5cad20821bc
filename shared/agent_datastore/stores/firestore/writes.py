"""Firestore writes: each one transaction staging the record, its parts, its marker and a registry delta.

A write reads the record (and its expiry marker), runs the pure rules of
`records.py`, and commits the record, its marker and a blind
`Increment`/`Maximum`/`Minimum` of the namespace's registry entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from agent_datastore.core.records import (
    STORED_FIELDS,
    Record,
    Scope,
    Write,
    apply_write,
    check_version,
    increment_write,
    stored_fields,
)
from agent_datastore.stores.firestore.base import Data, FirestoreBase
from agent_datastore.stores.firestore.layout import key_doc_id, pack_value

# Record fields other than the value: what a write needs to read.
META_FIELDS = [*STORED_FIELDS, "parts", "gen"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Delta:
    keys: int = 0
    bytes: int = 0
    next_expiry: int | None = None

    def expire(self, at: int | None) -> None:
        if at is not None:
            self.next_expiry = at if self.next_expiry is None else min(self.next_expiry, at)


def expire_time(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


class FirestoreWrites(FirestoreBase):
    # -- staged writes (inside a transaction) -----------------------------------

    def _stage_write(
        self, tx: Any, ref: Any, marker_ref: Any, record: Record, old: Data | None, marker: Data | None, delta: Delta
    ) -> None:
        self._account_removal(old, marker, delta)
        fields, parts = pack_value(record.value_json, self.part_bytes)
        data: Data = {**fields, **stored_fields(record)}
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
    def _account_removal(old: Data | None, marker: Data | None, delta: Delta) -> None:
        # A record removed by the TTL policy is still counted until its marker goes.
        if old is not None or marker is not None:
            delta.keys -= 1
            delta.bytes -= (old if old is not None else marker or {}).get("size", 0)

    def _stage_delete(
        self, tx: Any, ref: Any, marker_ref: Any, old: Data | None, marker: Data | None, delta: Delta
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

    def _stage_registry(self, tx: Any, scope: Scope, delta: Delta, updated_at: int | None) -> None:
        """Apply `delta` to the namespace's registry entry; `updated_at` None (deletes):
        a delete is not a write of a value, so stats' updatedAt stays where it was."""
        from google.cloud.firestore import Increment, Maximum, Minimum

        data: Data = {
            "user_id": scope.user_id,
            "namespace": scope.namespace,
            "keys": Increment(delta.keys),
            "bytes": Increment(delta.bytes),
        }
        if updated_at is not None:
            data["updated_at"] = Maximum(updated_at)
        if delta.next_expiry is not None:
            data["next_expiry"] = Minimum(delta.next_expiry)
        tx.set(self._registry(scope), data, merge=True)

    # -- operations ----------------------------------------------------------------

    def _live_meta(self, scope: Scope, key: str, old: Data | None, now: int) -> Record | None:
        """The live record behind `old`, read with META_FIELDS only (its value is a placeholder)."""
        existing = self._record(scope, key, old, "null") if old is not None else None
        if existing is not None and not existing.is_live(now):
            return None
        return existing

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
        delta = Delta()
        results = []
        for (key, write), (ref, marker_ref) in zip(items, pairs, strict=True):
            old, marker = docs.get(ref.path), docs.get(marker_ref.path)
            existing = self._live_meta(scope, key, old, now)
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
            existing = self._live_meta(scope, key, old, now)
            check_version(key, existing, if_version)
            if old is not None or marker is not None:
                delta = Delta()
                self._stage_delete(tx, ref, marker_ref, old, marker, delta)
                self._stage_registry(tx, scope, delta, None)
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
            write = increment_write(key, existing, by, agent, expires_at)
            record = apply_write(scope, key, existing, write, now)
            delta = Delta()
            self._stage_write(tx, ref, marker_ref, record, old, marker, delta)
            self._stage_registry(tx, scope, delta, now)
            return record

        return self._transact(bump, [ref])

    def restore(self, record: Record) -> None:
        scope = Scope(record.user_id, record.namespace)
        ref, marker_ref = self._refs(scope, key_doc_id(record.key))

        def put_back(tx: Any) -> None:
            docs = self._read([ref, marker_ref], tx, META_FIELDS)
            delta = Delta()
            self._stage_write(tx, ref, marker_ref, record, docs.get(ref.path), docs.get(marker_ref.path), delta)
            self._stage_registry(tx, scope, delta, record.updated_at)

        self._transact(put_back, [ref])
