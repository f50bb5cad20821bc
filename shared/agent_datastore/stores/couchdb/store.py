"""CouchDB: one database, one document per record, over CouchDB's HTTP API.

`CouchDBStore` runs the operations on its parts: the layout (ids, design
document, record <-> document) in `layout.py`, the HTTP calls and their
error translation in `http.CouchDBHttp`.

Every record change is a compare-and-swap on `_rev` (`writeloop.OptimisticStore`):
read the document, apply the pure rules of `records.py`, write it back with
the `_rev` that was read. A 409 means someone else won the race; the loop
reads again and re-applies, with jittered backoff and a bounded number of
attempts (then a retryable 503, nothing half-done). `if_version` and access
tracking are exact because of this. The threads of one process take turns on a
record (the write loop's locks): racing each other they would only lose (a 409,
a read again, a backoff: ~12 requests per increment of one key by 20 threads
where 2 do), so that only writers in other processes race.

The batches read the `sizes` view first, then page their document reads by
bytes and stop reading once the response budget is spent.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx

from agent_datastore.core.errors import BackendUnavailable, DataStoreError
from agent_datastore.core.records import NamespaceStats, Record, Scope, Write, apply_read, apply_write
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import Cost, ManyResult, key_cost, partial_write, response_cost, within_budget
from agent_datastore.stores.couchdb.http import DOC_PAGE, Conflict, CouchDBHttp, DesignMissing
from agent_datastore.stores.couchdb.layout import (
    DESIGN_ID,
    DESIGNS,
    SIZES_ID,
    from_doc,
    hex_of,
    namespace_prefix,
    record_id,
    to_doc,
    unhex,
)
from agent_datastore.stores.writeloop import Contention, OptimisticStore

PAGE = 500  # ids per _all_docs page
Doc = dict[str, Any]
logger = logging.getLogger("agent_datastore.couchdb")


def install_designs(http: CouchDBHttp) -> None:
    """Write every design document that is missing or differs from this version's (idempotent).
    One that another process wrote meanwhile (409) is left as it wrote it: the same version's."""
    for design_id, design in DESIGNS.items():
        current = http.get_doc(design_id)
        if current is None or {name: current.get(name) for name in design} != design:
            with contextlib.suppress(Conflict):
                http.put_doc({"_id": design_id, **design}, current["_rev"] if current else None)


class CouchDBStore(OptimisticStore[Doc]):
    name = "couchdb"

    def __init__(
        self,
        url: str,
        db: str = "agent_data_store",
        *,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        max_attempts: int = 60,
    ) -> None:
        super().__init__()
        self.http = CouchDBHttp(url, db, client=client, timeout=timeout)
        self.contention = Contention(attempts=max_attempts, base=0.004, cap=0.25)

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def db(self) -> str:
        return self.http.db

    @property
    def client(self) -> httpx.Client:
        return self.http.client

    # -- admin -----------------------------------------------------------------

    def create(self) -> None:
        """The database and its design documents (idempotent); waits up to 30 s for a server
        that is still starting."""
        http = self.http.patient()
        http.create_database()
        install_designs(http)

    def _view(self, design_id: str, name: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """A view's rows; a database made before the view existed gets its design documents here
        (the upgrade happens on first use; `admin create` does the same ahead of time). When they
        cannot be written (credentials without the admin rights a design document needs), the
        answer stays the 503 that names `admin create`."""
        try:
            return self.http.view(design_id, name, body)
        except DesignMissing as missing:
            try:
                install_designs(self.http)
            except DataStoreError:
                raise missing from None
            logger.warning("CouchDB database %r had no %s: design documents installed", self.http.db, design_id)
            return self.http.view(design_id, name, body)

    def drop(self) -> None:
        """Delete the whole database (test fixtures)."""
        self.http.drop_database()

    def close(self) -> None:
        self.http.close()

    # -- the storage calls of the write loop ----------------------------------------

    def read_stored(self, scope: Scope, key: str, *, with_value: bool) -> Doc | None:
        return self.http.get_doc(record_id(scope, key))

    def live_record(self, scope: Scope, stored: Doc | None, now: int, *, with_value: bool) -> Record | None:
        return self._live(stored, now)

    def write_stored(self, scope: Scope, stored: Doc | None, record: Record) -> None:
        self.http.put_doc(to_doc(record), stored["_rev"] if stored else None)

    def remove_stored(self, scope: Scope, stored: Doc, now: int) -> None:
        self.http.delete_doc(stored["_id"], stored["_rev"])

    def holds(self, stored: Doc | None, record: Record) -> bool:
        return stored is not None and from_doc(stored) == record

    def too_busy(self, operation: str, key: str) -> BackendUnavailable:
        return BackendUnavailable(f"{operation}: too much contention on one record, retry later")

    @staticmethod
    def _live(doc: Doc | None, now: int) -> Record | None:
        if doc is None:
            return None
        record = from_doc(doc)
        return record if record.is_live(now) else None

    # -- operations --------------------------------------------------------------

    def get(self, scope: Scope, key: str, *, reader: str | None, now: int, refresh_ttl: bool = False) -> Record | None:
        if reader is None and not refresh_ttl:  # nothing to write: no race, no turn to take
            return self._live(self.http.get_doc(record_id(scope, key)), now)

        def attempt(doc: Doc | None) -> Record | None:
            record = self._live(doc, now)
            if record is None or doc is None:
                return None
            read = apply_read(record, reader, now if refresh_ttl else None)
            if read is not record:  # the count and the refresh: one PUT under the `_rev` read
                self.http.put_doc(to_doc(read), doc["_rev"])
            return read

        return self.retry_lost_races("get", scope, key, attempt, with_value=True)

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
        # The sizes first (one small request): then only the documents that fit are read, a page
        # by bytes at a time, and the reads they get are counted with one `_bulk_docs` per round.
        # The view is an index, not the truth: a key it does not list is still read (estimated at
        # no bytes, so the absent ones cost no page of their own) and the documents decide.
        sizes = self._sizes(scope, keys)
        sizes.update({ident: 0 for key in keys if (ident := record_id(scope, key)) not in sizes})
        pending = list(keys)
        result = ManyResult()
        budget = max_bytes
        while pending:
            planned = self._fitting(scope, pending, sizes, budget)
            docs = self.http.docs([record_id(scope, key) for key in planned], sizes)
            live: dict[str, tuple[Record, dict[str, Any]]] = {}
            for key in planned:
                doc = docs.get(record_id(scope, key))
                record = self._live(doc, now)
                if record is not None and doc is not None:
                    live[key] = (record, doc)
            del docs
            fits = within_budget(planned, {key: record for key, (record, _) in live.items()}, budget, cost)
            budget -= sum(cost(key, record) for key, record in fits.found.items())
            if reader is None and not refresh_ttl:
                result.found.update(fits.found)
            else:
                self._track_reads(scope, [(key, *live[key]) for key in fits.found], reader, now, refresh_ttl, result)
            if fits.unprocessed:
                result.unprocessed.extend(keys[keys.index(fits.unprocessed[0]) :])  # the rest of `keys`
                break
            pending = pending[len(planned) :]
        return result

    def _sizes(self, scope: Scope, keys: list[str]) -> dict[str, int]:
        """id -> `size` of the stored record documents (live or expired) of `keys`."""
        if not keys:
            return {}
        rows = self._view(SIZES_ID, "sizes", {"keys": [record_id(scope, key) for key in keys]})
        return {row["id"]: int(row["value"]) for row in rows}

    @staticmethod
    def _fitting(scope: Scope, keys: list[str], sizes: dict[str, int], budget: int) -> list[str]:
        """The first of `keys` whose records fit in `budget` by their `sizes`, and the one after
        them (the one that does not fit by the sizes, which may have changed: what was read decides)."""
        for index, key in enumerate(keys):
            budget -= sizes[record_id(scope, key)] + key_cost(key)
            if budget < 0:
                return keys[: index + 1]
        return keys

    def _track_reads(
        self,
        scope: Scope,
        taken: list[tuple[str, Record, dict[str, Any]]],
        reader: str | None,
        now: int,
        refresh_ttl: bool,
        result: ManyResult,
    ) -> None:
        """Count the reads (and refresh the TTLs) of `taken` in one `_bulk_docs`, each under its `_rev`."""
        updates = {key: apply_read(record, reader, now if refresh_ttl else None) for key, record, _ in taken}
        changed = [(key, doc) for key, record, doc in taken if updates[key] is not record]
        revs: dict[str, str | None] = {}
        if changed:
            revs = self.http.bulk([{**to_doc(updates[key]), "_rev": doc["_rev"]} for key, doc in changed])
        for key, record, _ in taken:
            if updates[key] is record or revs.get(record_id(scope, key)):
                result.found[key] = updates[key]
                continue
            # Lost a race: read (count, refresh) this one on its own, exactly once.
            again = self.get(scope, key, reader=reader, now=now, refresh_ttl=refresh_ttl)
            if again is not None:
                result.found[key] = again

    def put_many(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
        sizes = self._sizes(scope, [key for key, _ in items])
        docs = self.http.docs(list(sizes), sizes) if sizes else {}
        # Every new record is computed (and checked) before anything is written.
        planned: list[tuple[str, Write, Record, dict[str, Any] | None]] = []
        for key, write in items:
            doc = docs.get(record_id(scope, key))
            planned.append((key, write, apply_write(scope, key, self._live(doc, now), write, now), doc))
        revs: dict[str, str | None] = {}
        versions: dict[str, int] = {}

        def written() -> list[str]:
            """Keys written so far: by `_bulk_docs`, or since through the CAS loop."""
            return [key for key, _ in items if key in versions or revs.get(record_id(scope, key))]

        try:
            self.http.bulk(
                [{**to_doc(record), **({"_rev": doc["_rev"]} if doc else {})} for _, _, record, doc in planned], revs
            )
        except BackendUnavailable as exc:
            if not written():
                raise
            raise partial_write(written(), len(items), exc) from exc
        for key, write, record, _ in planned:
            if revs.get(record_id(scope, key)):
                versions[key] = record.version
                continue
            try:  # lost a race with another writer: write this one through the CAS loop
                versions[key] = self.put(scope, key, write, now)[0].version
            except DataStoreError as exc:
                raise partial_write(written(), len(items), exc) from exc
        return {key: versions[key] for key, _ in items}

    # -- listing ---------------------------------------------------------------

    def _expired_ids(self, start: list[Any], now: int) -> dict[str, str]:
        """id -> rev of documents expired at `now`, from the expiry view range `start`."""
        rows = self._view(DESIGN_ID, "expiry", {"startkey": start, "endkey": [*start, now], "reduce": False})
        return {row["id"]: row["value"] for row in rows}

    def _sweep(self, expired: dict[str, str]) -> int:
        if not expired:
            return 0
        revs = self.http.bulk([{"_id": doc_id, "_rev": rev, "_deleted": True} for doc_id, rev in expired.items()])
        return sum(1 for rev in revs.values() if rev)

    def list_keys(self, scope: Scope, *, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
        base = namespace_prefix(scope)
        start = base + hex_of(prefix)
        end = start + "g"  # above every hex digit: the end of the prefix range
        if after is not None:
            start = max(start, base + hex_of(after) + "00")  # the smallest key greater than `after`
        expired = self._expired_ids(["ns", hex_of(scope.user_id), hex_of(scope.namespace)], now)
        keys: list[str] = []
        while len(keys) < limit:
            want = min(PAGE, limit - len(keys) + len(expired))
            rows = self.http.range(start, end, limit=want)
            keys.extend(unhex(row["id"][len(base) :]) for row in rows if row["id"] not in expired)
            if len(rows) < want:
                break
            start = rows[-1]["id"] + "00"
        self._try_sweep(expired)
        return keys[:limit]

    def _try_sweep(self, expired: dict[str, str]) -> None:
        with contextlib.suppress(BackendUnavailable):  # opportunistic: the sweeper gets it otherwise
            self._sweep(expired)

    def _registry(self, user_id: str, body: dict[str, Any], now: int) -> list[NamespaceStats]:
        self._sweep(self._expired_ids(["user", hex_of(user_id)], now))
        rows = self._view(DESIGN_ID, "namespaces", {**body, "group_level": 2})
        stats = [
            NamespaceStats(unhex(row["key"][1]), row["value"][0], row["value"][1], row["value"][2])
            for row in rows
            if row["value"][0] > 0
        ]
        return sorted(stats, key=lambda item: item.namespace.encode("utf-8"))

    def list_namespaces(self, user_id: str, *, prefix: str, now: int) -> list[str]:
        user, low = hex_of(user_id), hex_of(prefix)
        rows = self._registry(user_id, {"startkey": [user, low], "endkey": [user, low + "g"]}, now)
        return [row.namespace for row in rows]

    def stats(self, user_id: str, *, namespace: str | None, now: int) -> list[NamespaceStats]:
        user = hex_of(user_id)
        if namespace is None:
            body: dict[str, Any] = {"startkey": [user], "endkey": [user, {}]}
        else:
            body = {"key": [user, hex_of(namespace)]}
        return self._registry(user_id, body, now)

    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        base = namespace_prefix(scope)
        deleted = 0
        while True:
            expired = self._expired_ids(["ns", hex_of(scope.user_id), hex_of(scope.namespace)], now)
            rows = self.http.range(base, base + "g", limit=PAGE)
            if not rows:
                return deleted, True
            revs = self.http.bulk([{"_id": row["id"], "_rev": row["value"]["rev"], "_deleted": True} for row in rows])
            deleted += sum(1 for doc_id, rev in revs.items() if rev and doc_id not in expired)
            if time.monotonic() >= deadline:
                return deleted, False

    # -- operator interface --------------------------------------------------------

    def users(self) -> Iterator[str]:
        rows = self._view(DESIGN_ID, "namespaces", {"group_level": 1})
        return iter([unhex(row["key"][0]) for row in rows if row["value"][0] > 0])

    def scan(self, user_id: str, namespace: str | None = None) -> Iterator[Record]:
        start = f"r-{hex_of(user_id)}-" + (f"{hex_of(namespace)}-" if namespace is not None else "")
        end = start + "g"
        while True:
            rows = self.http.range(start, end, limit=DOC_PAGE, include_docs=True)
            for row in rows:
                if row.get("doc"):
                    yield from_doc(row["doc"])
            if len(rows) < DOC_PAGE:
                return
            start = rows[-1]["id"] + "0"

    def purge_expired(self, now: int, user_id: str | None = None) -> int:
        start = ["all"] if user_id is None else ["user", hex_of(user_id)]
        return self._sweep(self._expired_ids(start, now))


def from_settings(settings: Settings) -> CouchDBStore:
    return CouchDBStore(settings.couchdb_url, settings.couchdb_db)
