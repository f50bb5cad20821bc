"""`DataStoreStore`: a LangGraph `BaseStore` over the SDK (`pip install 'agent-datastore-sdk[langgraph]'`).

    from agent_datastore_sdk import AsyncDataStore, DataStore
    from agent_datastore_sdk.langgraph import DataStoreStore

    store = DataStoreStore(DataStore.from_env(), async_client=AsyncDataStore.from_env())
    graph = builder.compile(store=store)

**Namespaces.** A LangGraph namespace is a tuple of labels; LangGraph forbids
`.` in a label and empty labels. Ours is a string, so a tuple is stored in
the namespace `namespace_prefix + ".".join(labels)` (default prefix
`langgraph:`): `("memories", "user:1/a")` is `langgraph:memories.user:1/a`.
Because no label holds a `.`, the mapping is one-to-one and every other
character (`:`, `/`, spaces, emoji) round-trips; a namespace under the
prefix that splits into an empty label is not LangGraph's and is never
listed. NUL, or more than 256 bytes in all, is `InvalidNamespaceError`.

**Operations.** `batch`/`abatch` take `GetOp`, `PutOp`, `SearchOp` and
`ListNamespacesOp`. Reads run first (concurrently in `abatch`), writes
after, as LangGraph's in-memory store does; puts of one namespace and TTL go
out as one `set_many` (the SDK splits it at 100 items), deletions as
`delete`s (the contract has no batch delete), and one `list_namespaces`
serves every search and listing of a batch. `search` lists the namespaces
under its prefix, then walks each one's records in key order until it holds
`offset + limit` matches: over one namespace of up to 1000 records that is 2
calls. `filter` matches value fields exactly (nested objects and lists
included) or with `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, as LangGraph's
own stores do. Results come ordered by namespace, then key.

**TTL.** `ttl` is in minutes, as in LangGraph, and becomes the contract's
whole `ttl_seconds` (rounded up); an expired item is gone for every
operation at once. Reads refresh it (`refresh_ttl`, on by default or as
`TTLConfig.refresh_on_read` says). **Semantic search is not supported**:
passing an `index` raises, and a search's `query` is ignored, as
LangGraph's stores do without an index.

A `GetOp` needs the record's timestamps, which the contract's `get_many`
does not return, so each distinct key read is one `get` (concurrent in
`abatch`).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import os
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from ._ops import Record
from .client import AsyncDataStore, DataStore

DEFAULT_PREFIX = "langgraph:"
SEPARATOR = "."
MAX_NAMESPACE_BYTES = 256

Labels = tuple[str, ...]


# -- namespaces ---------------------------------------------------------------


def to_namespace(prefix: str, labels: Labels) -> str:
    """Our namespace for a LangGraph namespace tuple (see the module's docstring)."""
    if not labels:
        raise InvalidNamespaceError("Namespace cannot be empty.")
    for label in labels:
        if not isinstance(label, str) or not label:
            raise InvalidNamespaceError(f"Namespace labels must be non-empty strings, got {label!r} in {labels}")
        if SEPARATOR in label:
            raise InvalidNamespaceError(f"Namespace labels cannot contain periods ('.'), got {label!r}")
        if "\x00" in label:
            raise InvalidNamespaceError(f"Namespace labels cannot contain NUL, got {label!r}")
    name = prefix + SEPARATOR.join(labels)
    if len(name.encode("utf-8")) > MAX_NAMESPACE_BYTES:
        raise InvalidNamespaceError(
            f"{labels} is {len(name.encode('utf-8'))} bytes as a data store namespace (prefix included); "
            f"the limit is {MAX_NAMESPACE_BYTES}"
        )
    return name


def from_namespace(prefix: str, name: str) -> Labels | None:
    """The LangGraph namespace stored as `name`, or None when `name` is not one."""
    if not name.startswith(prefix) or len(name) == len(prefix):
        return None
    labels = tuple(name[len(prefix) :].split(SEPARATOR))
    return None if "" in labels else labels


def _literal(path: Iterable[str]) -> Labels | None:
    """The labels of `path` before its first wildcard; None when a label cannot occur."""
    labels: list[str] = []
    for label in path:
        if label == "*":
            break
        if not label or SEPARATOR in label:
            return None
        labels.append(label)
    return tuple(labels)


def _matches(condition: MatchCondition, labels: Labels) -> bool:
    path = tuple(condition.path)
    if len(labels) < len(path):
        return False
    window = labels[: len(path)] if condition.match_type == "prefix" else labels[len(labels) - len(path) :]
    return all(want in ("*", got) for want, got in zip(path, window, strict=True))


# -- filters (as LangGraph's in-memory store compares) --------------------------


def _compare(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if any(str(name).startswith("$") for name in wanted):
            return all(_operator(value, op, operand) for op, operand in wanted.items())
        return isinstance(value, dict) and all(_compare(value.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, (list, tuple)):
        return (
            isinstance(value, (list, tuple))
            and len(value) == len(wanted)
            and all(_compare(a, b) for a, b in zip(value, wanted, strict=True))
        )
    return bool(value == wanted)


def _operator(value: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return bool(value == operand)
    if op == "$ne":
        return bool(value != operand)
    if op not in ("$gt", "$gte", "$lt", "$lte"):
        raise ValueError(f"Unsupported operator: {op}")
    try:
        left, right = float(value), float(operand)
    except (TypeError, ValueError):
        return False
    return {"$gt": left > right, "$gte": left >= right, "$lt": left < right, "$lte": left <= right}[op]


def matches_filter(value: Any, wanted: Mapping[str, Any] | None) -> bool:
    if not wanted:
        return True
    fields = value if isinstance(value, dict) else {}
    return all(_compare(fields.get(name), condition) for name, condition in wanted.items())


def ttl_seconds(ttl: float | timedelta | datetime | None) -> int | None:
    """The contract's whole seconds for a LangGraph TTL: minutes, or a `timedelta`, or the `datetime`
    to expire at (as langgraph's proposed `_ensure_ttl` reads them)."""
    if ttl is None:
        return None
    if isinstance(ttl, datetime):
        moment = ttl if ttl.tzinfo else ttl.astimezone()  # a naive datetime is local time
        seconds = (moment - datetime.now(UTC)).total_seconds()
    elif isinstance(ttl, timedelta):
        seconds = ttl.total_seconds()
    else:
        seconds = ttl * 60
    return max(1, math.ceil(seconds))


# -- the batch, as a plan: waves of SDK calls, run by a sync or an async driver --------


@dataclass(frozen=True)
class _Ask:
    """One SDK method on the namespace's view (`namespace` None: the client itself)."""

    namespace: str | None
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Walk:
    """Every record of a namespace in key order, handed to `take(key, value, record)` until it says stop."""

    namespace: str
    take: Callable[[str, Any, Record | None], bool]


Step = _Ask | _Walk
Plan = Generator[list[Step], list[Any], list[Result]]


def _item(labels: Labels, record: Record) -> Item:
    return Item(
        value=record.value,
        key=record.key,
        namespace=labels,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


class DataStoreStore(BaseStore):
    """A LangGraph store whose items are records of the Agent Data Store (see the module's docstring)."""

    supports_ttl = True

    def __init__(
        self,
        client: DataStore | None = None,
        *,
        async_client: AsyncDataStore | None = None,
        namespace_prefix: str = DEFAULT_PREFIX,
        ttl: TTLConfig | None = None,
        index: IndexConfig | None = None,
    ) -> None:
        if index is not None:
            raise NotImplementedError(
                "DataStoreStore does not support semantic search: the Agent Data Store keeps no embeddings. "
                "Create it without `index` (search then filters on value fields; `query` is ignored)."
            )
        if client is None and async_client is None:
            raise ValueError("DataStoreStore needs a DataStore, an AsyncDataStore, or both")
        self.client = client
        self.async_client = async_client
        self.namespace_prefix = namespace_prefix
        self.ttl_config = ttl
        # until include_records/refresh_ttl land: the SDK of this tree has neither; look before using them.
        probe: Any = client if client is not None else async_client
        self._records = hasattr(probe, "iter_records")
        self._refresh_get = "refresh_ttl" in inspect.signature(probe.get_record).parameters
        self._refresh_many = "refresh_ttl" in inspect.signature(probe.get_many).parameters
        self._owned = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> DataStoreStore:
        """Both clients from `DATASTORE_URL` / `DATASTORE_TOKEN`; `close()` / `aclose()` close them."""
        env = os.environ if env is None else env
        store = cls(DataStore.from_env(env), async_client=AsyncDataStore.from_env(env), **kwargs)
        store._owned = True
        return store

    def close(self) -> None:
        if self._owned and self.client is not None:
            self.client.close()

    async def aclose(self) -> None:
        self.close()
        if self._owned and self.async_client is not None:
            await self.async_client.aclose()

    # -- BaseStore -------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        client = self.client
        if client is None:
            raise TypeError("this DataStoreStore has only an AsyncDataStore: use the async methods (aget, ...)")
        plan = self._plan(list(ops))
        try:
            steps = next(plan)
            while True:
                steps = plan.send([self._run(client, step) for step in steps])
        except StopIteration as done:
            results: list[Result] = done.value
            return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        client = self.async_client
        if client is None:
            return await asyncio.to_thread(self.batch, list(ops))
        plan = self._plan(list(ops))
        try:
            steps = next(plan)
            while True:
                answers = await asyncio.gather(*(self._arun(client, step) for step in steps))
                steps = plan.send(list(answers))
        except StopIteration as done:
            results: list[Result] = done.value
            return results

    # -- drivers -----------------------------------------------------------------

    def _run(self, client: DataStore, step: Step) -> Any:
        view = client if step.namespace is None else client.use_namespace(step.namespace)
        if isinstance(step, _Ask):
            return getattr(view, step.method)(*step.args, **step.kwargs)
        if self._records:
            for record in getattr(view, "iter_records")():  # noqa: B009 - not in this tree's SDK yet
                if step.take(record.key, record.value, record):
                    break
        else:
            # until include_records/refresh_ttl land: values now, the results' records afterwards.
            for key, value in view.get_all(track_access=False).items():
                if step.take(key, value, None):
                    break
        return None

    async def _arun(self, client: AsyncDataStore, step: Step) -> Any:
        view = client if step.namespace is None else client.use_namespace(step.namespace)
        if isinstance(step, _Ask):
            return await getattr(view, step.method)(*step.args, **step.kwargs)
        if self._records:
            records = getattr(view, "iter_records")()  # noqa: B009 - not in this tree's SDK yet
            try:
                async for record in records:
                    if step.take(record.key, record.value, record):
                        break
            finally:
                await records.aclose()
        else:
            # until include_records/refresh_ttl land: values now, the results' records afterwards.
            for key, value in (await view.get_all(track_access=False)).items():
                if step.take(key, value, None):
                    break
        return None

    # -- the plan ------------------------------------------------------------------

    def _ns(self, labels: Labels) -> str:
        return to_namespace(self.namespace_prefix, tuple(labels))

    def _read(self, namespace: str, key: str, refresh: bool, track_access: bool = True) -> _Ask:
        kwargs: dict[str, Any] = {"track_access": track_access}
        if self._refresh_get:
            kwargs["refresh_ttl"] = refresh
        return _Ask(namespace, "get_record", (key,), kwargs)

    def _plan(self, ops: list[Op]) -> Plan:
        results: list[Result] = [None] * len(ops)
        known = yield from self._known_namespaces(ops)

        reads: dict[tuple[str, str, bool], list[int]] = {}
        for index, op in enumerate(ops):
            if isinstance(op, GetOp):
                reads.setdefault((self._ns(op.namespace), op.key, op.refresh_ttl), []).append(index)
        if reads:
            records: list[Record | None] = yield [self._read(*read) for read in reads]
            refreshed: list[tuple[str, str, Record | None]] = []
            for (name, key, refresh), indices, record in zip(reads, reads.values(), records, strict=True):
                for index in indices:
                    labels = tuple(getattr(ops[index], "namespace"))  # noqa: B009 - a GetOp
                    results[index] = None if record is None else _item(labels, record)
                if refresh and not self._refresh_get:
                    refreshed.append((name, key, record))
            yield from self._refresh_expiring(refreshed)

        for index, op in enumerate(ops):
            if isinstance(op, ListNamespacesOp):
                results[index] = self._list(op, known)
            elif isinstance(op, SearchOp):
                results[index] = yield from self._search(op, known)

        yield from self._write([op for op in ops if isinstance(op, PutOp)])
        return results

    def _known_namespaces(self, ops: list[Op]) -> Generator[list[Step], list[Any], list[Labels]]:
        """One `list_namespaces` for every search and listing of the batch, under their common prefix."""
        literals: list[str] = []
        for op in ops:
            if isinstance(op, SearchOp):
                literals.append(self.namespace_prefix + SEPARATOR.join(op.namespace_prefix))
            elif isinstance(op, ListNamespacesOp):
                prefixes = [c.path for c in op.match_conditions or () if c.match_type == "prefix"]
                labels = _literal(prefixes[0]) if prefixes else ()
                literals.append(self.namespace_prefix + SEPARATOR.join(labels or ()))
        if not literals:
            return []
        common = os.path.commonprefix(literals)  # noqa: RUF071 - a string prefix is what is meant
        (names,) = yield [_Ask(None, "list_namespaces", (common or None,))]
        decoded = (from_namespace(self.namespace_prefix, name) for name in names)
        return sorted(labels for labels in decoded if labels is not None)

    def _list(self, op: ListNamespacesOp, known: list[Labels]) -> list[Labels]:
        found = [labels for labels in known if all(_matches(c, labels) for c in op.match_conditions or ())]
        if op.max_depth is not None:
            found = sorted({labels[: op.max_depth] for labels in found})
        return found[op.offset : op.offset + op.limit]

    def _search(self, op: SearchOp, known: list[Labels]) -> Generator[list[Step], list[Any], list[SearchItem]]:
        prefix = tuple(op.namespace_prefix)
        wanted = op.offset + op.limit
        hits: list[tuple[Labels, str, Any, Record | None]] = []
        seen = 0
        for labels in (labels for labels in known if labels[: len(prefix)] == prefix):
            if len(hits) >= op.limit:
                break

            def take(key: str, value: Any, record: Record | None, labels: Labels = labels) -> bool:
                nonlocal seen
                if matches_filter(value, op.filter):
                    seen += 1
                    if seen > op.offset:
                        hits.append((labels, key, value, record))
                return seen >= wanted

            yield [_Walk(self._ns(labels), take)]
        if any(record is None for *_, record in hits):
            # until include_records/refresh_ttl land: the timestamps of each result, one get apiece.
            fetched: list[Record | None] = yield [
                self._read(self._ns(labels), key, op.refresh_ttl, track_access=False) for labels, key, *_ in hits
            ]
            hits = [(labels, key, value, got) for (labels, key, value, _), got in zip(hits, fetched, strict=True)]
        elif op.refresh_ttl:
            yield from self._refresh_expiring([(self._ns(labels), key, record) for labels, key, _, record in hits])
        return [
            SearchItem(labels, key, record.value, record.created_at, record.updated_at)
            for labels, key, _, record in hits
            if record is not None
        ]

    def _refresh_expiring(self, read: list[tuple[str, str, Record | None]]) -> Generator[list[Step], Any, None]:
        """Records read (a search's results; gets, when `get_record` cannot refresh) that have a TTL get
        it refreshed: one `get_many` per namespace, and only when some record expires at all."""
        expiring: dict[str, list[str]] = {}
        for name, key, record in read:
            if record is not None and record.expires_at is not None:
                expiring.setdefault(name, []).append(key)
        if expiring and self._refresh_many:
            kwargs = {"track_access": False, "refresh_ttl": True}
            yield [_Ask(name, "get_many", (keys,), kwargs) for name, keys in expiring.items()]

    def _write(self, puts: list[PutOp]) -> Generator[list[Step], Any, None]:
        last: dict[tuple[str, str], PutOp] = {}
        for op in puts:
            last[(self._ns(op.namespace), op.key)] = op  # the last put of a key wins
        groups: dict[tuple[str, int | None], dict[str, Any]] = {}
        asks: list[Step] = []
        for (name, key), op in last.items():
            if op.value is None:
                asks.append(_Ask(name, "delete", (key,)))
            else:
                groups.setdefault((name, ttl_seconds(op.ttl)), {})[key] = op.value
        for (name, seconds), items in groups.items():
            asks.append(_Ask(name, "set_many", (items,), {"ttl": seconds}))
        if asks:
            yield asks


__all__ = ["DEFAULT_PREFIX", "DataStoreStore", "from_namespace", "matches_filter", "to_namespace"]
