"""The ten operations of API.md section 4, over any `Store`.

Takes a validated request model and a verified identity; returns the
response body as a dict or raises a domain error. Knows nothing of HTTP,
AWS or GCP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from agent_datastore.api import models
from agent_datastore.core import cursor
from agent_datastore.core.identity import Identity
from agent_datastore.core.jsonutil import dumps, utf8_len
from agent_datastore.core.records import Record, Scope, Write, now_ms
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import Store, key_cost

MAX_RESPONSE_BYTES = 6 * 1024 * 1024
# Room kept for the envelope of a response: braces, member names, request id.
RESPONSE_SLACK = 4096


def value_budget(keys: list[str]) -> int:
    """What is left for values once every key may be listed twice (values + missing)."""
    return MAX_RESPONSE_BYTES - RESPONSE_SLACK - 2 * sum(key_cost(key) for key in keys)


class DataStoreService:
    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.settings = settings or Settings()
        self.clock = clock

    def execute(
        self, operation: str, request: models.Request, identity: Identity, deadline: float | None = None
    ) -> dict[str, Any]:
        handler = getattr(self, f"op_{operation}")
        if deadline is None:
            deadline = time.monotonic() + self.settings.request_budget_seconds
        result: dict[str, Any] = (
            handler(request, identity, deadline) if operation == "clear" else handler(request, identity)
        )
        return result

    def _scope(self, identity: Identity, namespace: str, *, write: bool) -> Scope:
        identity.allow(namespace, write=write)
        return Scope(identity.user_id, namespace)

    def _expires(self, ttl_seconds: int | None, now: int) -> int | None:
        return None if ttl_seconds is None else now + ttl_seconds * 1000

    @staticmethod
    def _reader(identity: Identity, track_access: bool | None) -> str | None:
        return None if track_access is False else identity.agent_name

    def op_get(self, request: models.GetRequest, identity: Identity) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=False)
        record = self.store.get(
            scope, request.key, reader=self._reader(identity, request.track_access), now=self.clock()
        )
        if record is None:
            return {"found": False}
        body: dict[str, Any] = {"found": True, "value": record.value}
        if request.include_record:
            body["record"] = record.to_dict()
        return body

    def op_set(self, request: models.SetRequest, identity: Identity) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=True)
        now = self.clock()
        write = Write(
            value_json=dumps(request.value),
            agent=identity.agent_name,
            metadata=request.metadata,
            expires_at=self._expires(request.ttl_seconds, now),
            if_version=request.if_version,
        )
        record, created = self.store.put(scope, request.key, write, now)
        return {"version": record.version, "created": created}

    def op_delete(self, request: models.DeleteRequest, identity: Identity) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=True)
        deleted = self.store.delete(scope, request.key, if_version=request.if_version, now=self.clock())
        return {"deleted": deleted}

    def op_list_keys(self, request: models.ListKeysRequest, identity: Identity) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=False)
        limit = request.limit or models.MAX_PAGE
        after = cursor.decode(self.settings.cursor_key, scope, request.cursor) if request.cursor is not None else None
        now = self.clock()
        if utf8_len(request.prefix) > models.MAX_KEY_BYTES:
            # No key is that long: answer without asking a backend (some refuse such long bounds).
            return {"keys": [], "next_cursor": None, **({"values": {}} if request.include_values else {})}
        keys = self.store.list_keys(scope, prefix=request.prefix, after=after, limit=limit + 1, now=now)
        more = len(keys) > limit
        keys = keys[:limit]
        values: dict[str, Any] | None = None
        if request.include_values:
            reader = self._reader(identity, request.track_access)
            read = self.store.get_many(scope, keys, reader=reader, now=now, max_bytes=value_budget(keys))
            if read.unprocessed:
                # The page stops before the first value that did not fit.
                keys = keys[: keys.index(read.unprocessed[0])]
                more = True
            next_after = keys[-1] if keys else after
            keys = [key for key in keys if key in read.found]
            values = {key: read.found[key].value for key in keys}
        else:
            next_after = keys[-1] if keys else after
        next_cursor = cursor.encode(self.settings.cursor_key, scope, next_after) if more and next_after else None
        body: dict[str, Any] = {"keys": keys, "next_cursor": next_cursor}
        if values is not None:
            body["values"] = values
        return body

    def op_list_namespaces(self, request: models.ListNamespacesRequest, identity: Identity) -> dict[str, Any]:
        if utf8_len(request.prefix) > models.MAX_NAMESPACE_BYTES:
            return {"namespaces": []}  # no namespace is that long
        names = self.store.list_namespaces(identity.user_id, prefix=request.prefix, now=self.clock())
        return {"namespaces": [name for name in names if identity.sees(name)]}

    def op_clear(self, request: models.ClearRequest, identity: Identity, deadline: float) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=True)
        deleted, done = self.store.clear(scope, now=self.clock(), deadline=deadline)
        return {"deleted": deleted} if done else {"deleted": deleted, "done": False}

    def op_get_many(self, request: models.GetManyRequest, identity: Identity) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=False)
        keys = list(dict.fromkeys(request.keys))  # duplicates are read once
        read = self.store.get_many(
            scope,
            keys,
            reader=self._reader(identity, request.track_access),
            now=self.clock(),
            max_bytes=value_budget(keys),
        )
        pending = set(read.unprocessed)
        return {
            "values": {key: read.found[key].value for key in keys if key in read.found},
            "missing": [key for key in keys if key not in read.found and key not in pending],
            "unprocessed": [key for key in keys if key in pending],
        }

    def op_set_many(self, request: models.SetManyRequest, identity: Identity) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=True)
        now = self.clock()
        expires_at = self._expires(request.ttl_seconds, now)
        items = [
            (key, Write(dumps(value), identity.agent_name, request.metadata, expires_at))
            for key, value in request.items.items()
        ]
        versions = self.store.put_many(scope, items, now) if items else {}
        return {"written": len(versions), "versions": versions}

    def op_increment(self, request: models.IncrementRequest, identity: Identity) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=True)
        now = self.clock()
        by = 1 if request.by is None else request.by
        record: Record = self.store.increment(
            scope,
            request.key,
            by,
            agent=identity.agent_name,
            expires_at=self._expires(request.ttl_seconds, now),
            now=now,
        )
        return {"value": record.value, "version": record.version}

    def op_stats(self, request: models.StatsRequest, identity: Identity) -> dict[str, Any]:
        if request.namespace is not None:
            identity.allow(request.namespace, write=False)
        rows = self.store.stats(identity.user_id, namespace=request.namespace, now=self.clock())
        return {"namespaces": [row.to_dict() for row in rows if identity.sees(row.namespace)]}
