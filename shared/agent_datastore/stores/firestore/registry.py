"""Firestore namespace registry and expiry: namespaces, stats, users, purging and clearing.

A TTL deletion does not tell the registry, so each expiring record has a
marker document (no TTL); `_purge_namespace` walks the markers that are due,
removes their records if the TTL policy has not yet, and corrects the
registry in the same transaction. The registry entry's `next_expiry` (a lower
bound of the namespace's earliest expiry) lets `list_namespaces` and `stats`
skip all of that unless something has actually expired.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterator
from typing import Any

from agent_datastore.core.records import NamespaceStats, Scope
from agent_datastore.stores.firestore.base import Data
from agent_datastore.stores.firestore.layout import decode_doc_id
from agent_datastore.stores.firestore.writes import Delta, FirestoreWrites

# Deletes per batch: each costs up to three writes (record, marker, a part), under 500 per commit.
BATCH = 150
MAX_WRITES = 480


class FirestoreRegistry(FirestoreWrites):
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
            NamespaceStats(row["namespace"], row["keys"], row["bytes"], row.get("updated_at", 0))
            for row in rows
            if row.get("keys", 0) > 0
        ]

    def users(self) -> Iterator[str]:
        from google.cloud.firestore import FieldFilter

        with self._sdk():
            user_refs = list(self.client.collection(self.collection).list_documents(page_size=300))
        for user_ref in user_refs:
            holding = user_ref.collection("namespaces").where(filter=FieldFilter("keys", ">", 0)).limit(1)
            rows = self._stream(holding)
            if rows:
                yield (rows[0].to_dict() or {}).get("user_id") or decode_doc_id(user_ref.id)

    # -- deleting in batches ---------------------------------------------------------

    def _delete_batch(self, tx: Any, scope: Scope, key_ids: list[str], now: int, *, expired_only: bool) -> int:
        """Delete the given records (re-read in `tx`); returns how many live ones went
        (`expired_only`: how many expired ones went)."""
        pairs = [self._refs(scope, key_id) for key_id in key_ids]
        docs = self._read([ref for pair in pairs for ref in pair], tx, ["expires_at", "size", "parts"])
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
            writes += self._stage_delete(tx, ref, marker_ref, old, marker, delta)
            count += 1 if expired_only or (old is not None and not expired) else 0
        if writes:
            self._stage_registry(tx, scope, delta, None)
        return count

    def _delete_pages(
        self, scope: Scope, query: Any, now: int, *, expired_only: bool, deadline: float = math.inf
    ) -> tuple[int, bool]:
        """Delete the records whose ids `query` yields, BATCH per transaction, until it yields
        no more or `deadline` (time.monotonic()) passes; returns (`_delete_batch`'s count, done)."""
        deleted = 0
        while True:
            docs = self._stream(query.select(["expires_at"]).limit(BATCH))
            if docs:
                ids = [doc.id for doc in docs]
                deleted += self._transact(
                    functools.partial(self._delete_batch, scope=scope, key_ids=ids, now=now, expired_only=expired_only),
                    self._key_refs(scope, ids),
                )
            if len(docs) < BATCH:
                return deleted, True
            if time.monotonic() >= deadline:
                return deleted, False

    # -- expiry --------------------------------------------------------------------

    def _purge_namespace(self, scope: Scope, now: int) -> int:
        from google.cloud.firestore import DELETE_FIELD, FieldFilter

        due = self._markers(scope).where(filter=FieldFilter("expires_at", "<=", now))
        purged, _ = self._delete_pages(scope, due, now, expired_only=True)
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

    # -- clear -----------------------------------------------------------------------

    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        deleted = 0
        # Records first, then markers whose records the TTL policy already removed.
        for collection in (self._records(scope), self._markers(scope)):
            count, done = self._delete_pages(scope, collection, now, expired_only=False, deadline=deadline)
            deleted += count
            if not done:
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
