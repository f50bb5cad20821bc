"""Firestore reads: records by key, keys by range, and the operator's scan.

Every read filters by the `now` it is given (a TTL deletion may lag); a read
that counts access is a transaction, one that does not reads without one and
retries should a split value change under it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from agent_datastore.core.records import Record, Scope, apply_read
from agent_datastore.stores.base import ManyResult, within_budget
from agent_datastore.stores.firestore.base import FirestoreBase
from agent_datastore.stores.firestore.layout import decode_doc_id, key_doc_id

SCAN_PAGE = 100


class FirestoreReads(FirestoreBase):
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
            found = {
                key: self._record(scope, key, docs[ref.path], values[ref.path])
                for key, ref in zip(keys, refs, strict=True)
                if ref.path in values
            }
            result = within_budget(keys, found, max_bytes)
            if reader is not None:
                # Only the records returned count a read.
                by_key = dict(zip(keys, refs, strict=True))
                for key, record in list(result.found.items()):
                    counted = apply_read(record, reader)
                    tx.update(by_key[key], {"access_count": counted.access_count, "last_accessed_by_agent": reader})
                    result.found[key] = counted
            return result

        if reader is None:
            return self._untorn(lambda: read(None))
        return self._transact(read, refs)

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

    def scan(self, user_id: str, namespace: str | None = None) -> Iterator[Record]:
        rows = self._registry_docs(user_id)
        for row in rows:
            if namespace is not None and row["namespace"] != namespace:
                continue
            scope = Scope(user_id, row["namespace"])
            after_id = None
            while True:
                docs = self._stream(self._range(self._records(scope), "k", "", after_id).limit(SCAN_PAGE))
                pairs = [(doc.reference, doc.to_dict() or {}) for doc in docs]
                values = self._untorn(functools.partial(self._values, pairs))
                for ref, data in pairs:
                    yield self._record(scope, decode_doc_id(ref.id), data, values[ref.path])
                if len(docs) < SCAN_PAGE:
                    break
                after_id = docs[-1].id
