"""`DataStore` and `AsyncDataStore`: the `data_store` object agent code uses.

The original API, unchanged: `get(key, default=None)`, `set`, `delete`,
`list_keys`, `list_namespaces`, `use_namespace`, `clear`, `get_many`,
`set_many`, `get_all`; plus `ttl`/`if_version`, `refresh_ttl`, `get_record`,
`increment`, `iter_keys`, `iter_records` and `stats`. The logic of each method
lives once in `_ops`.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from . import _ops
from ._ops import NamespaceStats, Plan, Record, Sleep
from .transports.base import AsyncTransport, RetryPolicy, ThreadedAsyncTransport, Transport

T = TypeVar("T")
Ttl = int | float | timedelta | None


def _env_settings(env: Mapping[str, str] | None) -> tuple[str, str | None, str, str | None]:
    env = os.environ if env is None else env
    url = env.get("DATASTORE_URL") or ""
    if not url:
        raise ValueError("DATASTORE_URL is not set (e.g. http://127.0.0.1:8787 for the sandbox proxy)")
    token = env.get("DATASTORE_TOKEN") or None
    namespace = env.get("DATASTORE_NAMESPACE") or _ops.DEFAULT_NAMESPACE
    agent = env.get("DATASTORE_AGENT_NAME") or None
    return url, token, namespace, agent


class DataStore:
    """Blocking client. One instance shares one connection pool; it is safe to use from several threads."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        namespace: str = _ops.DEFAULT_NAMESPACE,
        transport: Transport | None = None,
        agent: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if transport is None:
            if not url:
                raise ValueError("DataStore needs a url (or a transport)")
            from .transports.http import HttpTransport

            transport = HttpTransport(url, token, agent=agent, timeout=timeout, retry=retry)
        self._transport = transport
        self._namespace = namespace
        self._owner = True

    # -- construction ---------------------------------------------------------

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> DataStore:
        """`DATASTORE_URL` (required), `DATASTORE_TOKEN` (none behind the sandbox proxy),
        `DATASTORE_NAMESPACE`, `DATASTORE_AGENT_NAME`."""
        url, token, namespace, agent = _env_settings(env)
        kwargs.setdefault("namespace", namespace)
        kwargs.setdefault("agent", agent)
        return cls(url, token, **kwargs)

    @classmethod
    def in_process(cls, user_id: str = "local", agent_name: str = "api", **kwargs: Any) -> DataStore:
        """Call the core in this process (needs the `agent-datastore` package)."""
        from .transports.inprocess import InProcessTransport

        namespace = kwargs.pop("namespace", _ops.DEFAULT_NAMESPACE)
        return cls(transport=InProcessTransport(user_id, agent_name, **kwargs), namespace=namespace)

    @classmethod
    def direct(cls, user_id: str, agent_name: str = "api", **kwargs: Any) -> DataStore:
        """Invoke the deployed Lambda functions with boto3 (trusted services only)."""
        from .transports.aws import LambdaTransport

        namespace = kwargs.pop("namespace", _ops.DEFAULT_NAMESPACE)
        return cls(transport=LambdaTransport(user_id, agent_name, **kwargs), namespace=namespace)

    @property
    def namespace(self) -> str:
        return self._namespace

    def use_namespace(self, namespace: str) -> DataStore:
        """The same API over another namespace, sharing this client's connection."""
        other = object.__new__(DataStore)
        other._transport, other._namespace, other._owner = self._transport, namespace, False
        return other

    def close(self) -> None:
        if self._owner:
            self._transport.close()

    def __enter__(self) -> DataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DataStore(namespace={self._namespace!r}, transport={type(self._transport).__name__})"

    def _run(self, plan: Plan[T]) -> T:
        try:
            step = next(plan)
            while True:
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    step = plan.send(None)
                else:
                    step = plan.send(self._transport.call(step))
        except StopIteration as stop:
            result: T = stop.value
            return result

    # -- the original API -----------------------------------------------------

    def get(self, key: str, default: Any = None, *, track_access: bool = True, refresh_ttl: bool = False) -> Any:
        """The stored value, or `default` only when the key does not exist (or has expired).
        `refresh_ttl`: a value written with a `ttl` lives that long again from this read."""
        return self._run(_ops.get(self._namespace, key, default, track_access, refresh_ttl))

    def set(
        self,
        key: str,
        value: Any,
        metadata: Mapping[str, Any] | None = None,
        *,
        ttl: Ttl = None,
        if_version: int | None = None,
    ) -> int:
        """Store `value` (any JSON); returns the new version. `ttl` in seconds or a timedelta;
        `if_version` writes only at that version (0: only if absent), else `VersionConflict`."""
        return self._run(_ops.set_(self._namespace, key, value, metadata, ttl, if_version))

    def delete(self, key: str, *, if_version: int | None = None) -> bool:
        return self._run(_ops.delete(self._namespace, key, if_version))

    def list_keys(self, prefix: str | None = None) -> list[str]:
        """Every key (with `prefix`), in UTF-8 byte order, following every page."""
        return self._run(_ops.list_keys(self._namespace, prefix))

    def list_namespaces(self, prefix: str | None = None) -> list[str]:
        return self._run(_ops.list_namespaces(prefix))

    def clear(self) -> int:
        """Delete every key of this namespace; returns how many were deleted."""
        return self._run(_ops.clear(self._namespace))

    def get_many(self, keys: Iterable[str], *, track_access: bool = True, refresh_ttl: bool = False) -> dict[str, Any]:
        """`{key: value}` for the keys that exist, any number of keys."""
        return self._run(_ops.get_many(self._namespace, keys, track_access, refresh_ttl))

    def set_many(
        self,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        metadata: Mapping[str, Any] | None = None,
        *,
        ttl: Ttl = None,
    ) -> int:
        """Write every item (in requests of at most 100 items / 6 MiB); returns how many were written."""
        return self._run(_ops.set_many(self._namespace, items, metadata, ttl))

    def get_all(self, prefix: str | None = None, *, track_access: bool = True) -> dict[str, Any]:
        """`{key: value}` of the whole namespace (or of the keys with `prefix`)."""
        return self._run(_ops.get_all(self._namespace, prefix, track_access))

    # -- beyond the original ------------------------------------------------------

    def get_record(self, key: str, *, track_access: bool = True, refresh_ttl: bool = False) -> Record | None:
        return self._run(_ops.get_record(self._namespace, key, track_access, refresh_ttl))

    def increment(self, key: str, by: int | float = 1, *, ttl: Ttl = None) -> int | float:
        """Atomically add `by` (a missing key counts as 0); returns the new value."""
        return self._run(_ops.increment(self._namespace, key, by, ttl))

    def iter_keys(self, prefix: str | None = None, *, page_size: int | None = None) -> Iterator[str]:
        """Keys one page at a time, fetched as the iteration goes."""
        cursor: str | None = None
        while True:
            page = self._run(_ops.list_page(self._namespace, prefix, cursor, page_size))
            yield from page["keys"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def iter_records(
        self, prefix: str | None = None, *, page_size: int | None = None, refresh_ttl: bool = False
    ) -> Iterator[Record]:
        """Every record (with `prefix`) in key order, value and metadata included, one page
        (at most `page_size` keys, and 6 MiB) at a time as the iteration goes. A listing:
        no read is counted. `refresh_ttl`: each record written with a `ttl` lives that long
        again from its page's read."""
        cursor: str | None = None
        while True:
            records, cursor = self._run(_ops.records_page(self._namespace, prefix, cursor, page_size, refresh_ttl))
            yield from records
            if cursor is None:
                return

    def stats(self, namespace: str | None = None) -> list[NamespaceStats]:
        """Key count, bytes and last write per namespace: every namespace, or the one named."""
        return self._run(_ops.stats(namespace))


class AsyncDataStore:
    """asyncio client with the same methods as `DataStore`, as coroutines."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        namespace: str = _ops.DEFAULT_NAMESPACE,
        transport: AsyncTransport | Transport | None = None,
        agent: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if transport is None:
            if not url:
                raise ValueError("AsyncDataStore needs a url (or a transport)")
            from .transports.http import AsyncHttpTransport

            transport = AsyncHttpTransport(url, token, agent=agent, timeout=timeout, retry=retry)
        elif not hasattr(transport, "aclose"):
            transport = ThreadedAsyncTransport(transport)
        self._transport: AsyncTransport = transport  # type: ignore[assignment]
        self._namespace = namespace
        self._owner = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> AsyncDataStore:
        url, token, namespace, agent = _env_settings(env)
        kwargs.setdefault("namespace", namespace)
        kwargs.setdefault("agent", agent)
        return cls(url, token, **kwargs)

    @property
    def namespace(self) -> str:
        return self._namespace

    def use_namespace(self, namespace: str) -> AsyncDataStore:
        other = object.__new__(AsyncDataStore)
        other._transport, other._namespace, other._owner = self._transport, namespace, False
        return other

    async def aclose(self) -> None:
        if self._owner:
            await self._transport.aclose()

    async def __aenter__(self) -> AsyncDataStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncDataStore(namespace={self._namespace!r}, transport={type(self._transport).__name__})"

    async def _run(self, plan: Plan[T]) -> T:
        import asyncio

        try:
            step = next(plan)
            while True:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    step = plan.send(None)
                else:
                    step = plan.send(await self._transport.call(step))
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def get(self, key: str, default: Any = None, *, track_access: bool = True, refresh_ttl: bool = False) -> Any:
        return await self._run(_ops.get(self._namespace, key, default, track_access, refresh_ttl))

    async def set(
        self,
        key: str,
        value: Any,
        metadata: Mapping[str, Any] | None = None,
        *,
        ttl: Ttl = None,
        if_version: int | None = None,
    ) -> int:
        return await self._run(_ops.set_(self._namespace, key, value, metadata, ttl, if_version))

    async def delete(self, key: str, *, if_version: int | None = None) -> bool:
        return await self._run(_ops.delete(self._namespace, key, if_version))

    async def list_keys(self, prefix: str | None = None) -> list[str]:
        return await self._run(_ops.list_keys(self._namespace, prefix))

    async def list_namespaces(self, prefix: str | None = None) -> list[str]:
        return await self._run(_ops.list_namespaces(prefix))

    async def clear(self) -> int:
        return await self._run(_ops.clear(self._namespace))

    async def get_many(
        self, keys: Iterable[str], *, track_access: bool = True, refresh_ttl: bool = False
    ) -> dict[str, Any]:
        return await self._run(_ops.get_many(self._namespace, keys, track_access, refresh_ttl))

    async def set_many(
        self,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        metadata: Mapping[str, Any] | None = None,
        *,
        ttl: Ttl = None,
    ) -> int:
        return await self._run(_ops.set_many(self._namespace, items, metadata, ttl))

    async def get_all(self, prefix: str | None = None, *, track_access: bool = True) -> dict[str, Any]:
        return await self._run(_ops.get_all(self._namespace, prefix, track_access))

    async def get_record(self, key: str, *, track_access: bool = True, refresh_ttl: bool = False) -> Record | None:
        return await self._run(_ops.get_record(self._namespace, key, track_access, refresh_ttl))

    async def increment(self, key: str, by: int | float = 1, *, ttl: Ttl = None) -> int | float:
        return await self._run(_ops.increment(self._namespace, key, by, ttl))

    async def iter_keys(self, prefix: str | None = None, *, page_size: int | None = None) -> AsyncIterator[str]:
        cursor: str | None = None
        while True:
            page = await self._run(_ops.list_page(self._namespace, prefix, cursor, page_size))
            for key in page["keys"]:
                yield key
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def iter_records(
        self, prefix: str | None = None, *, page_size: int | None = None, refresh_ttl: bool = False
    ) -> AsyncIterator[Record]:
        cursor: str | None = None
        while True:
            plan = _ops.records_page(self._namespace, prefix, cursor, page_size, refresh_ttl)
            records, cursor = await self._run(plan)
            for record in records:
                yield record
            if cursor is None:
                return

    async def stats(self, namespace: str | None = None) -> list[NamespaceStats]:
        return await self._run(_ops.stats(namespace))
