"""The admin operations, over any `Store`. Each returns a JSON-ready summary."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from agent_datastore.admin import gofannon
from agent_datastore.admin.ndjson import Checksum, Position, position, position_key, read_records, record_line
from agent_datastore.core.records import Record, Scope, format_ts, now_ms
from agent_datastore.stores.base import Store

Tick = Callable[[int], None]  # progress: called with how many items were just done


def _noop(_: int) -> None:
    pass


def sorted_users(store: Store) -> list[str]:
    return sorted(set(store.users()), key=lambda user: user.encode("utf-8"))


# -- inspect ------------------------------------------------------------------


def inspect_users(store: Store, now: int | None = None) -> list[dict[str, Any]]:
    now = now_ms() if now is None else now
    rows = []
    for user in sorted_users(store):
        stats = store.stats(user, namespace=None, now=now)
        rows.append(
            {
                "userId": user,
                "namespaces": len(stats),
                "keys": sum(row.keys for row in stats),
                "bytes": sum(row.bytes for row in stats),
                "updatedAt": format_ts(max((row.updated_at for row in stats), default=None)),
            }
        )
    return rows


def inspect_namespaces(store: Store, user_id: str, now: int | None = None) -> list[dict[str, Any]]:
    now = now_ms() if now is None else now
    return [row.to_dict() for row in store.stats(user_id, namespace=None, now=now)]


def inspect_keys(
    store: Store, scope: Scope, *, prefix: str = "", after: str | None = None, limit: int = 100, now: int | None = None
) -> dict[str, Any]:
    now = now_ms() if now is None else now
    keys = store.list_keys(scope, prefix=prefix, after=after, limit=limit + 1, now=now)
    return {"keys": keys[:limit], "next_after": keys[limit - 1] if len(keys) > limit else None}


def inspect_record(store: Store, scope: Scope, key: str, now: int | None = None) -> dict[str, Any] | None:
    """The record in full, without counting a read; an expired one is shown as expired."""
    now = now_ms() if now is None else now
    for record in store.scan(scope.user_id, scope.namespace):
        if record.key == key:
            return {**record.to_export_dict(), "expired": not record.is_live(now), "bytes": record.size}
    return None


# -- export / import ------------------------------------------------------------


def iter_records(
    store: Store, *, user_id: str | None = None, namespace: str | None = None, after: Position | None = None
) -> Iterator[Record]:
    """Records in export order (user, namespace, key by UTF-8 bytes), strictly after `after`."""
    users = [user_id] if user_id is not None else sorted_users(store)
    for user in users:
        if after is not None and user.encode("utf-8") < after[0].encode("utf-8"):
            continue  # exported before the interruption
        for record in store.scan(user, namespace):
            if after is None or position_key(position(record)) > position_key(after):
                yield record


@dataclass
class ExportResult:
    records: int = 0
    users: set[str] = field(default_factory=set)
    last: Position | None = None
    checksum: Checksum = field(default_factory=Checksum)

    def to_dict(self) -> dict[str, Any]:
        return {
            "exported": self.records,
            "users": len(self.users),
            "last": list(self.last) if self.last else None,
            "checksum": self.checksum.hex,
        }


def live_records(
    store: Store, *, user_id: str | None = None, namespace: str | None = None, now: int | None = None
) -> int:
    """Live records of a selection as the namespace registry counts them (`stats`: no scan), the
    total for a progress bar; expired records not yet swept are stored too and come on top."""
    now = now_ms() if now is None else now
    users = [user_id] if user_id is not None else sorted_users(store)
    return sum(row.keys for user in users for row in store.stats(user, namespace=namespace, now=now))


def export(store: Store, out: IO[str], *, tick: Tick = _noop, **selection: Any) -> ExportResult:
    result = ExportResult()
    for record in iter_records(store, **selection):
        out.write(record_line(record))
        result.records += 1
        result.users.add(record.user_id)
        result.last = position(record)
        result.checksum.add(record)
        tick(1)
    out.flush()
    return result


@dataclass
class ImportResult:
    imported: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "rejected": len(self.errors),
            "errors": self.errors[:100],
        }


def _restore(store: Store, record: Record, result: ImportResult) -> None:
    # A record already stored exactly as given is left alone: re-running an import changes nothing.
    scope = Scope(record.user_id, record.namespace)
    seen_at = record.expires_at - 1 if record.expires_at is not None else record.updated_at  # live then
    current = store.get(scope, record.key, reader=None, now=seen_at)
    if current == record:
        result.unchanged += 1
        return
    store.restore(record)
    result.imported += 1


def import_ndjson(store: Store, lines: Iterable[str], *, tick: Tick = _noop) -> ImportResult:
    result = ImportResult()
    for number, item in read_records(lines):
        if isinstance(item, Exception):
            result.errors.append(f"line {number}: {item}")
        else:
            _restore(store, item, result)
        tick(1)
    return result


def import_gofannon(
    store: Store,
    text: str,
    *,
    user_map: dict[str, str] | None = None,
    tick: Tick = _noop,
    counted: Callable[[int], None] = _noop,
) -> ImportResult:
    """`counted` is told how many documents there are before the first is imported."""
    result = ImportResult()
    now = now_ms()
    docs = list(gofannon.documents(text))
    counted(len(docs))
    for number, doc in enumerate(docs, 1):
        try:
            record = gofannon.to_record(doc, user_map=user_map, now=now)
        except gofannon.Skipped:
            result.skipped += 1
        except (ValueError, KeyError, TypeError) as exc:
            result.errors.append(f"document {number}: {exc}")
        else:
            _restore(store, record, result)
        tick(1)
    return result


# -- migrate ------------------------------------------------------------------------


def checksums(store: Store, users: Iterable[str]) -> dict[str, Checksum]:
    sums: dict[str, Checksum] = {}
    for user in users:
        checksum = sums.setdefault(user, Checksum())
        for record in store.scan(user):
            checksum.add(record)
    return sums


def migrate(source: Store, target: Store, *, tick: Tick = _noop) -> dict[str, Any]:
    """Copy every record (expired ones too, every field), then compare per-user counts and checksums."""
    copied = 0
    users = sorted_users(source)
    for user in users:
        for record in source.scan(user):
            target.restore(record)
            copied += 1
            tick(1)
    before = checksums(source, users)
    after = checksums(target, users)
    mismatches = [
        {
            "userId": user,
            "source": {"records": before[user].count, "checksum": before[user].hex},
            "target": {"records": after[user].count, "checksum": after[user].hex},
        }
        for user in users
        if (before[user].count, before[user].total) != (after[user].count, after[user].total)
    ]
    total = Checksum()
    total.count = sum(item.count for item in before.values())
    total.total = sum(item.total for item in before.values()) % Checksum.MOD
    return {
        "copied": copied,
        "users": len(users),
        "records": total.count,
        "checksum": total.hex,
        "verified": not mismatches,
        "mismatches": mismatches,
    }


# -- erase / sweep ----------------------------------------------------------------------


def purge_user(store: Store, user_id: str, now: int | None = None) -> dict[str, Any]:
    """Erase one user (data-protection request) and prove nothing of theirs remains."""
    now = now_ms() if now is None else now
    stored = Checksum()
    namespaces = set()
    for record in store.scan(user_id):
        stored.add(record)
        namespaces.add(record.namespace)
    deleted = store.purge_user(user_id, now)
    remaining = sum(1 for _ in store.scan(user_id))
    still_listed = user_id in set(store.users())
    return {
        "userId": user_id,
        "stored": stored.count,
        "deleted_live": deleted,
        "namespaces": len(namespaces),
        "remaining": remaining,
        "verified": remaining == 0 and not still_listed,
    }


def sweep_expired(store: Store, *, user_id: str | None = None, now: int | None = None) -> dict[str, Any]:
    now = now_ms() if now is None else now
    return {"removed": store.purge_expired(now, user_id), "now": format_ts(now)}
