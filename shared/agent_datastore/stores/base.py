"""The storage interface every backend implements.

Backends translate their SDK's rows and errors into `Record`s and domain
errors; the service never sees an SDK type. The rules that change a record
live in `records.py`; a backend only has to run them atomically.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from agent_datastore.core.errors import BackendUnavailable, DataStoreError
from agent_datastore.core.jsonutil import dumps, utf8_len
from agent_datastore.core.records import NamespaceStats, Record, Scope, Write, merge_metadata


def key_cost(key: str) -> int:
    """Bytes a key takes in a response body, quotes and separators included."""
    return utf8_len(dumps(key)) + 2


def response_cost(key: str, record: Record) -> int:
    """Bytes a found record adds to a `get_many` / `list_keys` response: its key and value."""
    return key_cost(key) + utf8_len(record.value_json)


def record_cost(key: str, record: Record) -> int:
    """Bytes a found record adds to a `list_keys` response with `include_records`: its key
    and the whole record (value, metadata and the other fields)."""
    return key_cost(key) + record.answer_size


# What one found record costs a response: `response_cost` or `record_cost`.
Cost = Callable[[str, Record], int]


@dataclass
class ManyResult:
    """What `get_many` read: found records, and keys not read this time."""

    found: dict[str, Record] = field(default_factory=dict)
    unprocessed: list[str] = field(default_factory=list)


def within_budget(
    keys: list[str],
    found: Mapping[str, Record] | Callable[[str], Record | None],
    max_bytes: int,
    cost: Cost = response_cost,
) -> ManyResult:
    """Take the records, in request order, while they fit in `max_bytes` (each costing `cost`);
    from the first that does not fit on, keys are `unprocessed`. `found` holds the records read,
    or reads one key (None: not found): then it is called in order, and for no key past the
    first that does not fit, so that reading stops once the budget is spent."""
    read = found.get if isinstance(found, Mapping) else found
    result = ManyResult()
    budget = max_bytes
    for index, key in enumerate(keys):
        record = read(key)
        if record is None:
            continue
        size = cost(key, record)
        if size > budget:
            result.unprocessed.extend(keys[index:])
            break
        result.found[key] = record
        budget -= size
    return result


def partial_write(written: list[str], total: int, cause: DataStoreError) -> BackendUnavailable:
    """The 503 of a `set_many` that stopped part-way: a retry of the same request is safe."""
    return BackendUnavailable(
        f"set_many stopped after {len(written)} of {total} items: {cause.message}", {"written": written}
    )


class Store(ABC):
    """One logical table of records, partitioned by user, then namespace."""

    name = "abstract"

    @abstractmethod
    def get(self, scope: Scope, key: str, *, reader: str | None, now: int, refresh_ttl: bool = False) -> Record | None:
        """The live record, after counting this read when `reader` is given and, with
        `refresh_ttl`, moving its expiry to `now` + its TTL (`records.apply_read`), in the
        same atomic step as the read."""

    @abstractmethod
    def put(self, scope: Scope, key: str, write: Write, now: int) -> tuple[Record, bool]:
        """Apply `records.apply_write` atomically; returns (record, created)."""

    @abstractmethod
    def delete(self, scope: Scope, key: str, *, if_version: int | None, now: int) -> bool:
        """Delete the live record; VersionConflict when `if_version` does not match."""

    @abstractmethod
    def increment(
        self, scope: Scope, key: str, by: int | float, *, agent: str, expires_at: int | None, now: int
    ) -> Record:
        """Add `by` to a number atomically (a missing key starts at 0)."""

    @abstractmethod
    def list_keys(self, scope: Scope, *, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
        """Up to `limit` live keys starting with `prefix`, greater than `after`,
        in ascending order of their UTF-8 bytes."""

    @abstractmethod
    def list_namespaces(self, user_id: str, *, prefix: str, now: int) -> list[str]:
        """Namespaces of the user holding at least one live key, by UTF-8 bytes."""

    @abstractmethod
    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        """Delete keys of the namespace until done or `deadline` (time.monotonic());
        returns (live keys deleted, done)."""

    @abstractmethod
    def stats(self, user_id: str, *, namespace: str | None, now: int) -> list[NamespaceStats]:
        """Per-namespace live key count, bytes and last write time."""

    def get_many(
        self,
        scope: Scope,
        keys: list[str],
        *,
        reader: str | None,
        now: int,
        max_bytes: int,
        refresh_ttl: bool = False,
        cost: Cost = response_cost,
    ) -> ManyResult:
        """Read distinct keys in order while they fit in `max_bytes` (each costing `cost`).

        This default reads one key at a time until the budget is spent, then counts the
        reads (and refreshes the TTLs) of the records that fit; backends override it with
        their batch reads. A read is only counted, and a TTL only refreshed, for a record
        that is returned.
        """
        result = within_budget(keys, lambda key: self.get(scope, key, reader=None, now=now), max_bytes, cost)
        if reader is not None or refresh_ttl:
            for key in list(result.found):
                tracked = self.get(scope, key, reader=reader, now=now, refresh_ttl=refresh_ttl)
                if tracked is None:  # deleted or expired in between
                    del result.found[key]
                else:
                    result.found[key] = tracked
        return result

    def put_many(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
        """Write every item; on a failure part-way raise BackendUnavailable with
        `details.written` so that a retry of the same request is safe."""
        self.check_merged_metadata(scope, items, now)
        versions: dict[str, int] = {}
        for key, write in items:
            try:
                record, _ = self.put(scope, key, write, now)
            except DataStoreError as exc:
                if not versions:
                    raise
                raise partial_write(list(versions), len(items), exc) from exc
            versions[key] = record.version
        return versions

    # -- operator interface (admin CLI: export, import, migrate, purge) --------
    # These may scan; request handlers never call them.

    @abstractmethod
    def users(self) -> Iterator[str]:
        """Every user id that holds at least one record, each once."""

    @abstractmethod
    def scan(self, user_id: str, namespace: str | None = None) -> Iterator[Record]:
        """Every stored record of a user (or of one namespace), expired ones included,
        ordered by namespace then key (UTF-8 bytes)."""

    @abstractmethod
    def restore(self, record: Record) -> None:
        """Write `record` exactly as given (every field), replacing any stored one,
        keeping the namespace registry exact. Re-running it changes nothing."""

    @abstractmethod
    def purge_expired(self, now: int, user_id: str | None = None) -> int:
        """Physically remove expired records (of one user, or of everyone); returns how many."""

    def purge_user(self, user_id: str, now: int) -> int:
        """Delete every record of one user; returns how many were stored."""
        count = 0
        for namespace in {record.namespace for record in self.scan(user_id)}:
            scope = Scope(user_id, namespace)
            while True:
                deleted, done = self.clear(scope, now=now, deadline=float("inf"))
                count += deleted
                if done:
                    break
        self.purge_expired(now, user_id)
        return count

    def check_merged_metadata(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> None:
        """Refuse a batch up front when any item's merged metadata would be too large,
        so that nothing is written (backends that write the batch atomically skip this)."""
        if not items or not items[0][1].metadata:
            return
        for key, write in items:
            existing = self.get(scope, key, reader=None, now=now)
            if existing is not None:
                merge_metadata(existing.metadata, write.metadata)

    def create(self) -> None:  # noqa: B027 - optional hook
        """Create tables/indexes (admin command only, never request handlers)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
