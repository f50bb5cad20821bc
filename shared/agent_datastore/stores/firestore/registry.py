"""The Firestore namespace registry, and the batched deletes that keep it exact (clear, expiry).

A TTL deletion does not tell the registry, so each expiring record has a
marker document (no TTL); `purge_namespace` walks the markers that are due,
removes their records if the TTL policy has not yet, and corrects the
registry in the same transaction. The registry entry's `next_expiry` (a lower
bound of the namespace's earliest expiry) lets `list_namespaces` and `stats`
skip all of that unless something has actually expired.
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


class NamespaceRegistry:
    """Registry entries read fresh, and deletes in batches that correct them in the same transaction."""

    def __init__(self, firestore: FirestoreClient, documents: Documents, staged: StagedWrites) -> None:
        self.firestore = firestore
        self.documents = documents
        self.staged = staged

    def fresh_entries(self, user_id: str, prefix: str, now: int) -> list[Data]:
        """Registry entries after purging what has expired by `now` (only where something has)."""
        rows = self.documents.registry_entries(user_id, prefix)
        due = [row for row in rows if row.get("next_expiry") is not None and row["next_expiry"] <= now]
        for row in due:
            self.purge_namespace(Scope(user_id, row["namespace"]), now)
        return self.documents.registry_entries(user_id, prefix) if due else rows

    def fresh_entry(self, scope: Scope, now: int) -> list[Data]:
        """The scope's registry entry (none or one) after purging what has expired by `now`."""
        ref = self.documents.registry(scope)
        rows = list(self.firestore.read([ref]).values())
        if rows and rows[0].get("next_expiry") is not None and rows[0]["next_expiry"] <= now:
            self.purge_namespace(scope, now)
            rows = list(self.firestore.read([ref]).values())
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
            self.staged.registry(tx, scope, delta, None)
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
        registry = self.documents.registry(scope)
        upcoming = (
            markers.where(filter=FieldFilter("expires_at", ">", now))
            .order_by("expires_at")
            .select(["expires_at"])
            .limit(1)
        )

        def reset_hint(tx: Any) -> None:
            # Reading the entry in this transaction orders it against every writer's Minimum().
            row = self.firestore.read([registry], tx).get(registry.path)
            if row is None:
                return
            if row.get("keys", 0) <= 0:
                tx.delete(registry)
                return
            nxt = [doc.to_dict()["expires_at"] for doc in upcoming.stream(transaction=tx)]
            tx.update(registry, {"next_expiry": nxt[0] if nxt else DELETE_FIELD})

        self.firestore.transact(reset_hint, [registry])
        return purged

    def tidy(self, scope: Scope) -> None:
        """Drop the registry entry of an emptied namespace."""
        registry = self.documents.registry(scope)

        def drop(tx: Any) -> None:
            row = self.firestore.read([registry], tx).get(registry.path)
            if row is not None and row.get("keys", 0) <= 0:
                tx.delete(registry)

        self.firestore.transact(drop, [registry])
