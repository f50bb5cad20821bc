"""The Firestore namespace registry, and the batched deletes that keep it exact (clear, expiry).

A namespace's registry entry is the sum of its shard documents (layout.py,
docs/scale.md): keys and bytes add up, `updated_at` is the latest of the
shards' and `next_expiry` the earliest. One namespace's entry is one query of
its shards (at most SHARDS documents, and never more than the keys it was
written with); all of a user's entries are one query of their shards.

A TTL deletion does not tell the registry, so each expiring record has a
marker document (no TTL); `purge_namespace` walks the markers that are due,
removes their records if the TTL policy has not yet, and corrects the
registry in the same transaction. Each shard's `next_expiry` is a lower bound
of the expiries its writes set, so their minimum is a lower bound of the
namespace's earliest expiry; it lets `list_namespaces` and `stats` skip all
of that unless something has actually expired.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

from agent_datastore.core.records import Scope
from agent_datastore.stores.firestore.client import Data, FirestoreClient
from agent_datastore.stores.firestore.documents import Documents
from agent_datastore.stores.firestore.writes import Delta, StagedWrites

# Deletes per batch: each costs up to three writes (record, marker, a part), under 500 per commit.
BATCH = 150
MAX_WRITES = 480


def summed(shards: list[Data]) -> list[Data]:
    """Registry entries, one per namespace (by its UTF-8 bytes), from their shard documents."""
    entries: dict[str, Data] = {}
    for row in shards:
        entry = entries.setdefault(
            row["namespace"], {"namespace": row["namespace"], "user_id": row.get("user_id"), "keys": 0, "bytes": 0}
        )
        entry["keys"] += row.get("keys", 0)
        entry["bytes"] += row.get("bytes", 0)
        for name, pick in (("updated_at", max), ("next_expiry", min)):
            if row.get(name) is not None:
                entry[name] = row[name] if entry.get(name) is None else pick(entry[name], row[name])
    return sorted(entries.values(), key=lambda entry: str(entry["namespace"]).encode("utf-8"))


def due(entry: Data, now: int) -> bool:
    return entry.get("next_expiry") is not None and entry["next_expiry"] <= now


class NamespaceRegistry:
    """Registry entries read fresh, and deletes in batches that correct them in the same transaction."""

    def __init__(self, firestore: FirestoreClient, documents: Documents, staged: StagedWrites) -> None:
        self.firestore = firestore
        self.documents = documents
        self.staged = staged

    def entries(self, user_id: str, prefix: str = "") -> list[Data]:
        """The user's registry entries of namespaces starting with `prefix`: one query."""
        return summed(self.documents.registry_shards(user_id, prefix))

    def entry(self, scope: Scope) -> list[Data]:
        """The scope's registry entry (none or one): one query."""
        return summed([doc.to_dict() or {} for doc in self.firestore.stream(self.documents.shards(scope))])

    def fresh_entries(self, user_id: str, prefix: str, now: int) -> list[Data]:
        """Registry entries after purging what has expired by `now` (only where something has)."""
        rows = self.entries(user_id, prefix)
        expired = [row for row in rows if due(row, now)]
        for row in expired:
            self.purge_namespace(Scope(user_id, row["namespace"]), now)
        return self.entries(user_id, prefix) if expired else rows

    def fresh_entry(self, scope: Scope, now: int) -> list[Data]:
        """The scope's registry entry (none or one) after purging what has expired by `now`."""
        rows = self.entry(scope)
        if rows and due(rows[0], now):
            self.purge_namespace(scope, now)
            rows = self.entry(scope)
        return rows

    # -- deleting in batches ---------------------------------------------------------

    def _delete_batch(self, tx: Any, scope: Scope, key_ids: list[str], now: int, *, expired_only: bool) -> int:
        """Delete the given records (re-read in `tx`); returns how many live ones went
        (`expired_only`: how many expired ones went)."""
        pairs = [self.documents.record_and_marker(scope, key_id) for key_id in key_ids]
        docs = self.firestore.read([ref for pair in pairs for ref in pair], tx, ["expires_at", "size", "parts"])
        delta, writes, count = Delta(), 0, 0
        for ref, marker_ref in pairs:
            old, marker = docs.get(ref.path), docs.get(marker_ref.path)
            expires = (old or marker or {}).get("expires_at")
            expired = expires is not None and expires <= now
            if (old is None and marker is None) or (expired_only and not expired):
                continue
            needed = 2 + (old or {}).get("parts", 0)
            if writes + needed > MAX_WRITES:
                break
            writes += self.staged.delete(tx, ref, marker_ref, old, marker, delta)
            count += 1 if expired_only or (old is not None and not expired) else 0
        if writes:
            self.staged.registry(tx, scope, delta, None, key_ids[0])
        return count

    def delete_pages(
        self, scope: Scope, query: Any, now: int, *, expired_only: bool, deadline: float = math.inf
    ) -> tuple[int, bool]:
        """Delete the records whose ids `query` yields, BATCH per transaction, until it yields
        no more or `deadline` (time.monotonic()) passes; returns (`_delete_batch`'s count, done)."""
        deleted = 0
        while True:
            docs = self.firestore.stream(query.select(["expires_at"]).limit(BATCH))
            if docs:
                ids = [doc.id for doc in docs]
                deleted += self.firestore.transact(
                    functools.partial(self._delete_batch, scope=scope, key_ids=ids, now=now, expired_only=expired_only),
                    self.documents.record_refs(scope, ids),
                )
            if len(docs) < BATCH:
                return deleted, True
            if time.monotonic() >= deadline:
                return deleted, False

    # -- expiry ------------------------------------------------------------------------

    def purge_namespace(self, scope: Scope, now: int) -> int:
        from google.cloud.firestore import DELETE_FIELD, FieldFilter

        markers = self.documents.markers(scope)
        due = markers.where(filter=FieldFilter("expires_at", "<=", now))
        purged, _ = self.delete_pages(scope, due, now, expired_only=True)
        upcoming = (
            markers.where(filter=FieldFilter("expires_at", ">", now))
            .order_by("expires_at")
            .select(["expires_at"])
            .limit(1)
        )

        def reset_hint(tx: Any) -> None:
            # Reading the shards in this transaction orders them against every writer's Minimum();
            # a shard created after this read keeps the hint its writer set.
            shards = self._drop_if_empty(tx, scope)
            nxt = [doc.to_dict()["expires_at"] for doc in upcoming.stream(transaction=tx)] if shards else []
            for ref, row in shards:
                if row.get("next_expiry") is not None:
                    tx.update(ref, {"next_expiry": nxt[0] if nxt else DELETE_FIELD})

        self.firestore.transact(reset_hint, [self.documents.registry(scope)])
        return purged

    def _drop_if_empty(self, tx: Any, scope: Scope) -> list[tuple[Any, Data]]:
        """Read the scope's shards in `tx`; when they sum to no keys, stage their deletion
        and return none, else return them. Only shards read here are deleted, and they sum to
        zero, so a writer's shard created after the read keeps its delta."""
        shards = [(doc.reference, doc.to_dict() or {}) for doc in self.documents.shards(scope).stream(transaction=tx)]
        if shards and sum(row.get("keys", 0) for _, row in shards) <= 0:
            for ref, _ in shards:
                tx.delete(ref)
            return []
        return shards

    def tidy(self, scope: Scope) -> None:
        """Drop the registry entry (every shard) of an emptied namespace."""
        self.firestore.transact(lambda tx: self._drop_if_empty(tx, scope), [self.documents.registry(scope)])
