"""The ten operations of API.md section 4, over any `Store`, and the one table that lists them.

Takes a validated request model and a verified identity; returns the
response body as a dict or raises a domain error. Knows nothing of HTTP,
AWS or GCP.

`OPERATIONS` is the only list of operations: the dispatch, the OpenAPI
document and the tests of the IaC, the IAM grants and the SDK read it. An
operation is a request model (requests.py), a response model (responses.py),
a handler below and one row in the table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from agent_datastore.api import requests
from agent_datastore.core import cursor, errors
from agent_datastore.core.identity import Identity
from agent_datastore.core.jsonutil import dumps, utf8_len
from agent_datastore.core.limits import MAX_BODY_BYTES, MAX_KEY_BYTES, MAX_NAMESPACE_BYTES, MAX_PAGE
from agent_datastore.core.records import Record, Scope, Write, now_ms
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import Store, key_cost, record_cost, response_cost

# Room kept for the envelope of a response: braces, member names, request id.
RESPONSE_SLACK = 4096


def value_budget(keys: list[str]) -> int:
    """What is left for values once every key may be listed twice (values + missing)."""
    return MAX_BODY_BYTES - RESPONSE_SLACK - 2 * sum(key_cost(key) for key in keys)


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
        self, operation: str, request: requests.Request, identity: Identity, deadline: float | None = None
    ) -> dict[str, Any]:
        """Run `operation` (a name from `OPERATIONS`) by `deadline` (time.monotonic(); default: the budget)."""
        if deadline is None:
            deadline = time.monotonic() + self.settings.request_budget_seconds
        return OPERATIONS[operation].handler(self, request, identity, deadline)

    def _scope(self, identity: Identity, namespace: str, *, write: bool) -> Scope:
        identity.allow(namespace, write=write)
        return Scope(identity.user_id, namespace)

    def _expires(self, ttl_seconds: int | None, now: int) -> int | None:
        return None if ttl_seconds is None else now + ttl_seconds * 1000

    @staticmethod
    def _reader(identity: Identity, track_access: bool | None) -> str | None:
        return None if track_access is False else identity.agent_name

    def op_get(self, request: requests.GetRequest, identity: Identity, deadline: float) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=False)
        record = self.store.get(
            scope,
            request.key,
            reader=self._reader(identity, request.track_access),
            now=self.clock(),
            refresh_ttl=bool(request.refresh_ttl),
        )
        if record is None:
            return {"found": False}
        body: dict[str, Any] = {"found": True, "value": record.value}
        if request.include_record:
            body["record"] = record.to_dict()
        return body

    def op_set(self, request: requests.SetRequest, identity: Identity, deadline: float) -> dict[str, Any]:
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

    def op_delete(self, request: requests.DeleteRequest, identity: Identity, deadline: float) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=True)
        deleted = self.store.delete(scope, request.key, if_version=request.if_version, now=self.clock())
        return {"deleted": deleted}

    def op_list_keys(self, request: requests.ListKeysRequest, identity: Identity, deadline: float) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=False)
        limit = request.limit or MAX_PAGE
        after = cursor.decode(self.settings.cursor_key, scope, request.cursor) if request.cursor is not None else None
        now = self.clock()
        # With both flags the page carries records, not values (API.md section 4).
        carried = "records" if request.include_records else "values" if request.include_values else None
        if utf8_len(request.prefix) > MAX_KEY_BYTES:
            # No key is that long: answer without asking a backend (some refuse such long bounds).
            return {"keys": [], "next_cursor": None, **({carried: {}} if carried else {})}
        keys = self.store.list_keys(scope, prefix=request.prefix, after=after, limit=limit + 1, now=now)
        more = len(keys) > limit
        keys = keys[:limit]
        contents: dict[str, Any] | None = None
        if carried is not None:
            # Records are a listing, not a read: never counted. Values count unless track_access is false.
            reader = None if carried == "records" else self._reader(identity, request.track_access)
            read = self.store.get_many(
                scope,
                keys,
                reader=reader,
                now=now,
                max_bytes=value_budget(keys),
                refresh_ttl=bool(request.refresh_ttl),
                cost=record_cost if carried == "records" else response_cost,
            )
            if read.unprocessed:
                # The page stops before the first record that did not fit.
                keys = keys[: keys.index(read.unprocessed[0])]
                more = True
            next_after = keys[-1] if keys else after
            keys = [key for key in keys if key in read.found]
            if carried == "records":
                contents = {key: read.found[key].to_dict() for key in keys}
            else:
                contents = {key: read.found[key].value for key in keys}
        else:
            next_after = keys[-1] if keys else after
        next_cursor = cursor.encode(self.settings.cursor_key, scope, next_after) if more and next_after else None
        body: dict[str, Any] = {"keys": keys, "next_cursor": next_cursor}
        if carried is not None:
            body[carried] = contents
        return body

    def op_list_namespaces(
        self, request: requests.ListNamespacesRequest, identity: Identity, deadline: float
    ) -> dict[str, Any]:
        if utf8_len(request.prefix) > MAX_NAMESPACE_BYTES:
            return {"namespaces": []}  # no namespace is that long
        names = self.store.list_namespaces(identity.user_id, prefix=request.prefix, now=self.clock())
        return {"namespaces": [name for name in names if identity.sees(name)]}

    def op_clear(self, request: requests.ClearRequest, identity: Identity, deadline: float) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=True)
        deleted, done = self.store.clear(scope, now=self.clock(), deadline=deadline)
        return {"deleted": deleted} if done else {"deleted": deleted, "done": False}

    def op_get_many(self, request: requests.GetManyRequest, identity: Identity, deadline: float) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=False)
        keys = list(dict.fromkeys(request.keys))  # duplicates are read once
        read = self.store.get_many(
            scope,
            keys,
            reader=self._reader(identity, request.track_access),
            now=self.clock(),
            max_bytes=value_budget(keys),
            refresh_ttl=bool(request.refresh_ttl),
        )
        pending = set(read.unprocessed)
        return {
            "values": {key: read.found[key].value for key in keys if key in read.found},
            "missing": [key for key in keys if key not in read.found and key not in pending],
            "unprocessed": [key for key in keys if key in pending],
        }

    def op_set_many(self, request: requests.SetManyRequest, identity: Identity, deadline: float) -> dict[str, Any]:
        scope = self._scope(identity, request.namespace, write=True)
        now = self.clock()
        expires_at = self._expires(request.ttl_seconds, now)
        items = [
            (key, Write(dumps(value), identity.agent_name, request.metadata, expires_at))
            for key, value in request.items.items()
        ]
        versions = self.store.put_many(scope, items, now) if items else {}
        return {"written": len(versions), "versions": versions}

    def op_increment(self, request: requests.IncrementRequest, identity: Identity, deadline: float) -> dict[str, Any]:
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

    def op_stats(self, request: requests.StatsRequest, identity: Identity, deadline: float) -> dict[str, Any]:
        if request.namespace is not None:
            identity.allow(request.namespace, write=False)
        rows = self.store.stats(identity.user_id, namespace=request.namespace, now=self.clock())
        return {"namespaces": [row.to_dict() for row in rows if identity.sees(row.namespace)]}


R = TypeVar("R", bound=requests.Request)
Handler = Callable[[DataStoreService, R, Identity, float], dict[str, Any]]


@dataclass(frozen=True)
class Operation(Generic[R]):
    """One row of the operation table: POST /v1/<name>."""

    name: str
    request: type[R]
    # The 200 body's model in api/responses.py: described (OpenAPI), not checked at run time, so
    # named here and imported only when asked for (a Lambda cold start never builds them).
    response_model: str
    # Every handler is given the deadline; those that may run long (clear) answer before it.
    handler: Handler[R]
    writes: bool  # refused to read-only identities; the others only read
    summary: str

    @property
    def response(self) -> type[BaseModel]:
        from agent_datastore.api import responses

        model: type[BaseModel] = getattr(responses, self.response_model)
        return model

    def parse(self, body: Any) -> R:
        """The request model of a decoded JSON body, or the contract's error."""
        return requests.validate(self.request, body)


# A bare tuple, so that mypy checks each row's handler against its request model.
_TABLE = (
    Operation(
        "get",
        requests.GetRequest,
        "GetResponse",
        DataStoreService.op_get,
        writes=False,
        summary="Read one value (counts as a read unless track_access is false)",
    ),
    Operation(
        "set",
        requests.SetRequest,
        "SetResponse",
        DataStoreService.op_set,
        writes=True,
        summary="Write one value; if_version makes it a compare-and-set",
    ),
    Operation(
        "delete",
        requests.DeleteRequest,
        "DeleteResponse",
        DataStoreService.op_delete,
        writes=True,
        summary="Delete one key",
    ),
    Operation(
        "list_keys",
        requests.ListKeysRequest,
        "ListKeysResponse",
        DataStoreService.op_list_keys,
        writes=False,
        summary="List keys in UTF-8 byte order, paged with next_cursor",
    ),
    Operation(
        "list_namespaces",
        requests.ListNamespacesRequest,
        "ListNamespacesResponse",
        DataStoreService.op_list_namespaces,
        writes=False,
        summary="List the caller's namespaces that hold live keys",
    ),
    Operation(
        "clear",
        requests.ClearRequest,
        "ClearResponse",
        DataStoreService.op_clear,
        writes=True,
        summary="Delete every key of a namespace (repeat while done is false)",
    ),
    Operation(
        "get_many",
        requests.GetManyRequest,
        "GetManyResponse",
        DataStoreService.op_get_many,
        writes=False,
        summary="Read up to 100 keys",
    ),
    Operation(
        "set_many",
        requests.SetManyRequest,
        "SetManyResponse",
        DataStoreService.op_set_many,
        writes=True,
        summary="Write up to 100 items",
    ),
    Operation(
        "increment",
        requests.IncrementRequest,
        "IncrementResponse",
        DataStoreService.op_increment,
        writes=True,
        summary="Add to a number atomically",
    ),
    Operation(
        "stats",
        requests.StatsRequest,
        "StatsResponse",
        DataStoreService.op_stats,
        writes=False,
        summary="Key count, bytes and last write per namespace",
    ),
)
OPERATIONS: dict[str, Operation[Any]] = {operation.name: operation for operation in _TABLE}


def find(operation: str) -> Operation[Any]:
    """The table's row for `operation`, or 404 unknown_operation."""
    found = OPERATIONS.get(operation)
    if found is None:
        raise errors.UnknownOperation(f"unknown operation {operation!r}")
    return found


def parse_request(operation: str, body: Any) -> requests.Request:
    """Validate a decoded JSON body into the operation's request model, or raise the contract's error."""
    request: requests.Request = find(operation).parse(body)
    return request
