"""Writes staged in a Firestore transaction: a record, its parts, its expiry marker, the registry delta.

A write reads the record (and its expiry marker), runs the pure rules of
`records.py`, and stages the record, its marker and a blind
`Increment`/`Maximum`/`Minimum` of one shard of the namespace's registry
entry (the shard its key hashes to; a batch's one delta goes to the shard of
its first key), which the transaction then commits together. The shard is
written, never read, so writers that share a shard do not conflict; they only
share its write rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from agent_datastore.core.records import STORED_FIELDS, Record, Scope, stored_fields
from agent_datastore.stores.firestore.client import Data
from agent_datastore.stores.firestore.documents import Documents
from agent_datastore.stores.firestore.layout import PART_BYTES, SHARDS, pack_value, shard_of

# Record fields other than the value: what a write needs to read.
META_FIELDS = [*STORED_FIELDS, "parts", "gen"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Delta:
    """What a transaction changes in a namespace's registry entry."""

    keys: int = 0
    bytes: int = 0
    next_expiry: int | None = None

    def expire(self, at: int | None) -> None:
        if at is not None:
            self.next_expiry = at if self.next_expiry is None else min(self.next_expiry, at)

    def remove(self, old: Data | None, marker: Data | None) -> None:
        # A record removed by the TTL policy is still counted until its marker goes.
        if old is not None or marker is not None:
            self.keys -= 1
            self.bytes -= (old if old is not None else marker or {}).get("size", 0)


def expire_time(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


class StagedWrites:
    """Stages the documents of record writes and deletes in a transaction."""

    def __init__(self, documents: Documents, part_bytes: int = PART_BYTES, shards: int = SHARDS) -> None:
        self.documents = documents
        self.part_bytes = part_bytes
        self.shards = shards

    def write(
        self, tx: Any, ref: Any, marker_ref: Any, record: Record, old: Data | None, marker: Data | None, delta: Delta
    ) -> None:
        """Stage `record` over `old` (and `marker`), its parts and its marker."""
        delta.remove(old, marker)
        fields, parts = pack_value(record.value_json, self.part_bytes)
        data: Data = {**fields, **stored_fields(record)}
        ttl: Data = {} if record.expires_at is None else {"expire_time": expire_time(record.expires_at)}
        if old is None:
            tx.create(ref, {**data, **ttl})
        else:
            tx.set(ref, {**data, **ttl})
        for index, part in enumerate(parts):
            tx.set(self.documents.part(ref, index), {"data": part, "gen": fields["gen"], **ttl})
        for index in range(len(parts), (old or {}).get("parts", 0)):
            tx.delete(self.documents.part(ref, index))
        if record.expires_at is not None:
            tx.set(marker_ref, {"expires_at": record.expires_at, "size": record.size})
        elif marker is not None:
            tx.delete(marker_ref)
        delta.keys += 1
        delta.bytes += record.size
        delta.expire(record.expires_at)

    def read(self, tx: Any, ref: Any, marker_ref: Any, data: Data, before: Record, after: Record) -> None:
        """Stage what one read changed (`records.apply_read`): the access fields and, after a
        refresh_ttl, the expiry, with the TTL of the value's parts and the expiry marker.
        The registry's `next_expiry` stays a lower bound: an expiry only moves later."""
        fields: Data = {}
        if (after.access_count, after.last_accessed_by_agent) != (before.access_count, before.last_accessed_by_agent):
            fields.update(access_count=after.access_count, last_accessed_by_agent=after.last_accessed_by_agent)
        if after.expires_at is not None and after.expires_at != before.expires_at:
            ttl = {"expire_time": expire_time(after.expires_at)}
            fields.update(expires_at=after.expires_at, **ttl)
            for index in range(data.get("parts", 0)):
                tx.update(self.documents.part(ref, index), ttl)
            tx.set(marker_ref, {"expires_at": after.expires_at, "size": after.size})
        if fields:
            tx.update(ref, fields)

    def delete(self, tx: Any, ref: Any, marker_ref: Any, old: Data | None, marker: Data | None, delta: Delta) -> int:
        """Stage removal of a record (and its parts and marker); returns the writes used."""
        delta.remove(old, marker)
        writes = 0
        if old is not None:
            tx.delete(ref)
            for index in range((old or {}).get("parts", 0)):
                tx.delete(self.documents.part(ref, index))
            writes += 1 + old.get("parts", 0)
        if marker is not None:
            tx.delete(marker_ref)
            writes += 1
        return writes

    def registry(self, tx: Any, scope: Scope, delta: Delta, updated_at: int | None, key_id: str) -> None:
        """Add `delta` to the registry shard of `key_id` (one document write); `updated_at`
        None (deletes): a delete is not a write of a value, so stats' updatedAt stays where it
        was. The shard's `next_expiry` is a lower bound of the expiries its writes set."""
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
        tx.set(self.documents.shard(scope, shard_of(key_id, self.shards)), data, merge=True)
